// Errors, byte helpers, base encodings and varints shared by the verifier modules.
// Exit codes and reason codes follow the project's contract (README: exit codes).

export class MirrorError extends Error {
  constructor(message, exitCode, reason) {
    super(message);
    this.exitCode = exitCode;
    this.reason = reason;
  }
}
// Exit 2 as mirror/errors.py: UsageError (reason usage), MalformedInput for input that
// does not parse as what it claims to be, HostileJSON for constructs refused on principle.
export class UsageError extends MirrorError {
  constructor(message, reason = 'usage') { super(message, 2, reason); }
}
export class MalformedInput extends UsageError {
  constructor(message) { super(message, 'malformed'); }
}
export class HostileJSON extends MalformedInput {}
export class VerificationError extends MirrorError {
  constructor(message, reason = 'content-mismatch') { super(message, 3, reason); }
}
export class LimitExceeded extends MirrorError {
  constructor(message) { super(message, 5, 'limit'); }
}
export class NetworkError extends MirrorError {
  constructor(message) { super(message, 4, 'network'); }
}

export function concatBytes(parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export function bytesEqual(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const HEX = '0123456789abcdef';
export function toHex(b) {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX[b[i] >> 4] + HEX[b[i] & 15];
  return s;
}
export function fromHex(s) {
  if (s.length % 2 || /[^0-9a-fA-F]/.test(s)) throw new UsageError('bad hex');
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
  return out;
}

const ENC = new TextEncoder();
const DEC = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
export function utf8(s) { return ENC.encode(s); }
// Strict UTF-8: invalid sequences throw (as Python's bytes.decode does); null if invalid.
export function utf8DecodeOrNull(b) {
  try { return DEC.decode(b); } catch { return null; }
}

// -- base64 (RFC 4648, standard alphabet, padded; canonical only) --------------------
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64_INDEX[B64.charCodeAt(i)] = i;

export function b64encode(b) {
  let out = '';
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const n = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
  }
  if (i < b.length) {
    const n = (b[i] << 16) | ((i + 1 < b.length ? b[i + 1] : 0) << 8);
    out += B64[n >> 18] + B64[(n >> 12) & 63];
    out += i + 1 < b.length ? B64[(n >> 6) & 63] + '=' : '==';
  }
  return out;
}

// Standard base64 that must re-encode to the same text (mirror/keys.py b64decode_strict).
export function b64decodeStrict(text, what) {
  if (typeof text !== 'string') throw new UsageError(`${what} must be a base64 string`);
  if (text.length % 4) throw new UsageError(`${what} is not valid base64`);
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const n = (text.length / 4) * 3 - pad;
  const out = new Uint8Array(n);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let v = 0;
    for (let j = 0; j < 4; j++) {
      const c = text.charCodeAt(i + j);
      const last = i + 4 === text.length;
      if (c === 61 && last && j >= 4 - pad) { v <<= 6; continue; }
      const d = c < 128 ? B64_INDEX[c] : -1;
      if (d < 0) throw new UsageError(`${what} is not valid base64`);
      v = (v << 6) | d;
    }
    if (o < n) out[o++] = (v >> 16) & 255;
    if (o < n) out[o++] = (v >> 8) & 255;
    if (o < n) out[o++] = v & 255;
  }
  if (b64encode(out) !== text) throw new UsageError(`${what} is not canonical base64`);
  return out;
}

// -- base32 (RFC 4648 lower case, no padding; multibase 'b') --------------------------
const B32 = 'abcdefghijklmnopqrstuvwxyz234567';
export function b32encode(b) {
  let out = '';
  let bits = 0;
  let value = 0;
  for (let i = 0; i < b.length; i++) {
    value = (value << 8) | b[i];
    bits += 8;
    while (bits >= 5) { out += B32[(value >>> (bits - 5)) & 31]; bits -= 5; }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}
export function b32decode(text) {
  const out = [];
  let bits = 0;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const d = B32.indexOf(text[i]);
    if (d < 0) throw new UsageError('invalid base32 character in CID');
    value = (value << 5) | d;
    bits += 5;
    if (bits >= 8) { out.push((value >>> (bits - 8)) & 255); bits -= 8; }
    value &= (1 << bits) - 1;
  }
  const raw = Uint8Array.from(out);
  if (b32encode(raw) !== text) throw new UsageError('non-canonical base32 in CID');
  return raw;
}

// -- base58btc (CIDv0 'Qm...', multibase 'z') ------------------------------------------
const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
export function b58encode(b) {
  let n = 0n;
  for (const x of b) n = n * 256n + BigInt(x);
  let s = '';
  while (n > 0n) { s = B58[Number(n % 58n)] + s; n /= 58n; }
  for (let i = 0; i < b.length && b[i] === 0; i++) s = '1' + s;
  return s;
}
export function b58decode(text) {
  let n = 0n;
  for (const ch of text) {
    const d = B58.indexOf(ch);
    if (d < 0) throw new UsageError('invalid base58 character in CID');
    n = n * 58n + BigInt(d);
  }
  const body = [];
  while (n > 0n) { body.unshift(Number(n & 255n)); n >>= 8n; }
  let zeros = 0;
  while (zeros < text.length && text[zeros] === '1') zeros++;
  return Uint8Array.from([...new Array(zeros).fill(0), ...body]);
}

// -- unsigned varint (multiformats): at most 9 bytes, minimal encoding only ------------
export function varintEncode(value) {
  if (!Number.isSafeInteger(value) || value < 0) throw new UsageError(`varint out of range: ${value}`);
  const out = [];
  while (value >= 0x80) { out.push((value % 128) | 0x80); value = Math.floor(value / 128); }
  out.push(value);
  return Uint8Array.from(out);
}
export function varintLen(value) {
  let n = 1;
  while (value >= 0x80) { value = Math.floor(value / 128); n++; }
  return n;
}
// Decode one varint at `offset`; returns [value, offset after]. Values above 2^53
// are refused: no size, count or code used here comes near that.
export function varintDecode(buf, offset = 0) {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 9; i++) {
    const pos = offset + i;
    if (pos >= buf.length) throw new UsageError('truncated varint');
    const byte = buf[pos];
    value += (byte & 0x7f) * mul;
    if (byte < 0x80) {
      if (byte === 0 && i > 0) throw new UsageError('varint is not minimally encoded');
      if (!Number.isSafeInteger(value)) throw new UsageError('varint too large');
      return [value, pos + 1];
    }
    mul *= 128;
  }
  throw new UsageError('varint longer than 9 bytes');
}

// -- hashing through WebCrypto ---------------------------------------------------------
export async function sha256(data) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', data));
}
export async function sha512(data) {
  return new Uint8Array(await crypto.subtle.digest('SHA-512', data));
}
export async function sha256Tag(data) { return 'sha256:' + toHex(await sha256(data)); }
