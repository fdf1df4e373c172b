// Strict JSON for signed documents, as mirror/canonjson.py: UTF-8, no BOM, no floats,
// no NaN/Infinity, no duplicate keys, no lone surrogates, integers of at most 19
// digits, depth at most 32, nothing after the value; and the canonical bytes (keys
// sorted by code point, compact, non-ASCII kept as UTF-8).
import { UsageError, MalformedInput, HostileJSON, LimitExceeded, utf8, utf8DecodeOrNull } from './util.js';

export const MAX_DEPTH = 32;
const MAX_INT_DIGITS = 19;
const STRING_RE = /"[^"\\]*(?:\\.[^"\\]*)*"/gs;

// Integers beyond 2^53 stay exact as BigInt (they re-serialize digit for digit).
function checkDepth(text, what) {
  let depth = 0;
  const stripped = text.replace(STRING_RE, '');
  for (let i = 0; i < stripped.length; i++) {
    const c = stripped[i];
    if (c === '[' || c === '{') {
      if (++depth > MAX_DEPTH) throw new HostileJSON(`${what} is nested deeper than ${MAX_DEPTH} levels`);
    } else if (c === ']' || c === '}') depth--;
  }
}

class Parser {
  constructor(text) { this.t = text; this.i = 0; }
  fail(msg) { throw new MalformedInput(`is not valid JSON: ${msg}`); }
  ws() {
    const t = this.t;
    while (this.i < t.length) {
      const c = t.charCodeAt(this.i);
      if (c === 32 || c === 9 || c === 10 || c === 13) this.i++;
      else break;
    }
  }
  value() {
    this.ws();
    const c = this.t[this.i];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    if (this.t.startsWith('true', this.i)) { this.i += 4; return true; }
    if (this.t.startsWith('false', this.i)) { this.i += 5; return false; }
    if (this.t.startsWith('null', this.i)) { this.i += 4; return null; }
    if (this.t.startsWith('NaN', this.i)) throw new HostileJSON('NaN is not allowed in signed JSON');
    if (this.t.startsWith('Infinity', this.i)) throw new HostileJSON('Infinity is not allowed in signed JSON');
    this.fail('Expecting value');
  }
  object() {
    this.i++;
    const pairs = [];
    this.ws();
    if (this.t[this.i] === '}') { this.i++; return finishObject(pairs); }
    for (;;) {
      this.ws();
      if (this.t[this.i] !== '"') this.fail('Expecting property name enclosed in double quotes');
      const key = this.string();
      this.ws();
      if (this.t[this.i] !== ':') this.fail("Expecting ':' delimiter");
      this.i++;
      pairs.push([key, this.value()]);
      this.ws();
      const c = this.t[this.i++];
      if (c === '}') return finishObject(pairs);
      if (c !== ',') this.fail("Expecting ',' delimiter");
    }
  }
  array() {
    this.i++;
    const out = [];
    this.ws();
    if (this.t[this.i] === ']') { this.i++; return out; }
    for (;;) {
      out.push(this.value());
      this.ws();
      const c = this.t[this.i++];
      if (c === ']') return out;
      if (c !== ',') this.fail("Expecting ',' delimiter");
    }
  }
  string() {
    const t = this.t;
    this.i++;
    let out = '';
    let start = this.i;
    for (;;) {
      if (this.i >= t.length) this.fail('Unterminated string');
      const c = t.charCodeAt(this.i);
      if (c === 34) { out += t.slice(start, this.i); this.i++; return out; }
      if (c < 0x20) this.fail('Invalid control character');
      if (c === 92) {
        out += t.slice(start, this.i);
        const e = t[this.i + 1];
        const simple = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' }[e];
        if (simple !== undefined) { out += simple; this.i += 2; }
        else if (e === 'u') {
          const hex = t.slice(this.i + 2, this.i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('Invalid \\uXXXX escape');
          out += String.fromCharCode(parseInt(hex, 16));
          this.i += 6;
        } else this.fail('Invalid \\escape');
        start = this.i;
        continue;
      }
      this.i++;
    }
  }
  number() {
    const m = /^-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/.exec(this.t.slice(this.i, this.i + 400));
    if (!m) this.fail('Expecting value');
    if (m[1] || m[2]) throw new HostileJSON('floating-point numbers are not allowed in signed JSON');
    const text = m[0];
    if (text.replace('-', '').length > MAX_INT_DIGITS) throw new HostileJSON('integer too long in signed JSON');
    this.i += text.length;
    const n = Number(text);
    return Number.isSafeInteger(n) ? (Object.is(n, -0) ? 0 : n) : BigInt(text);
  }
}

// Objects are Maps (insertion order kept, any key allowed, no prototype surprises).
function finishObject(pairs) {
  const out = new Map();
  for (const [k, v] of pairs) {
    if (out.has(k)) throw new HostileJSON(`duplicate JSON key '${k}'`);
    out.set(k, v);
  }
  return out;
}

function checkStrings(value) {
  if (typeof value === 'string') {
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff) {
        const d = value.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) { i++; continue; }
        throw new HostileJSON('lone surrogate in signed JSON string');
      }
      if (c >= 0xdc00 && c <= 0xdfff) throw new HostileJSON('lone surrogate in signed JSON string');
    }
  } else if (value instanceof Map) {
    for (const [k, v] of value) { checkStrings(k); checkStrings(v); }
  } else if (Array.isArray(value)) value.forEach(checkStrings);
}

// Parse `data` (bytes) under the strict rules; the top level must be an object.
export function loads(data, maxSize, what = 'document') {
  if (data.length > maxSize) throw new LimitExceeded(`${what} is larger than ${maxSize} bytes`);
  const text = utf8DecodeOrNull(data);
  if (text === null) throw new MalformedInput(`${what} is not valid UTF-8`);
  if (text.startsWith('\ufeff')) throw new MalformedInput(`${what} starts with a byte-order mark`);
  checkDepth(text, what);
  const p = new Parser(text);
  let value;
  try {
    value = p.value();
    p.ws();
    if (p.i !== text.length) throw new MalformedInput('has bytes after the JSON value');
  } catch (e) {
    if (e instanceof UsageError) {
      const Cls = e instanceof HostileJSON ? HostileJSON : MalformedInput;
      throw new Cls(e.message.startsWith('is not') || e.message.startsWith('has ') ? `${what} ${e.message}` : `${what}: ${e.message}`);
    }
    throw e;
  }
  if (!(value instanceof Map)) throw new MalformedInput(`${what} must be a JSON object`);
  try { checkStrings(value); } catch (e) { throw new HostileJSON(`${what}: ${e.message}`); }
  return value;
}

// Code point order, as Python sorts str keys (UTF-16 order differs above U+FFFF).
function cpCompare(a, b) {
  const x = [...a];
  const y = [...b];
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const d = x[i].codePointAt(0) - y[i].codePointAt(0);
    if (d) return d;
  }
  return x.length - y.length;
}

function dumpValue(v) {
  if (v === null) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new UsageError('no floats in canonical JSON');
    return String(v);
  }
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'string') return JSON.stringify(v); // same escapes as Python with ensure_ascii=False
  if (Array.isArray(v)) return '[' + v.map(dumpValue).join(',') + ']';
  if (v instanceof Map) {
    const keys = [...v.keys()].sort(cpCompare);
    return '{' + keys.map((k) => JSON.stringify(k) + ':' + dumpValue(v.get(k))).join(',') + '}';
  }
  if (typeof v === 'object') return dumpValue(new Map(Object.entries(v)));
  throw new UsageError('value cannot be serialized');
}

export function dumpsText(value) { return dumpValue(value); }
export function dumps(value) { return utf8(dumpValue(value)); }

// Plain JS values for display and for the verdict JSON (BigInt kept as string).
export function toPlain(v) {
  if (v instanceof Map) { const o = {}; for (const [k, x] of v) o[k] = toPlain(x); return o; }
  if (Array.isArray(v)) return v.map(toPlain);
  if (typeof v === 'bigint') return v.toString();
  return v;
}
export function fromPlain(v) {
  if (Array.isArray(v)) return v.map(fromPlain);
  if (v && typeof v === 'object' && !(v instanceof Map)) return new Map(Object.entries(v).map(([k, x]) => [k, fromPlain(x)]));
  return v;
}
