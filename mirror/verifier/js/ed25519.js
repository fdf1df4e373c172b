// Ed25519 verification under the project's strict policy (docs/decisions/0003):
// canonical A and R (y < p), neither of small order, S < L, then cofactorless
// verification. WebCrypto does the curve work when it can; a verify-only fallback
// written here (RFC 8032 sections 5.1.3-5.1.7, BigInt arithmetic mod 2^255-19,
// SHA-512 through WebCrypto digest) takes over whenever any Ed25519 WebCrypto call
// is missing or rejects, so both paths give the same answers.
import { sha512 } from './util.js';

const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const MASK = (1n << 255n) - 1n;

function leInt(b) {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]);
  return n;
}
const mod = (a) => { const r = a % P; return r < 0n ? r + P : r; };
function pow(b, e) {
  let r = 1n;
  b = mod(b);
  while (e > 0n) { if (e & 1n) r = (r * b) % P; b = (b * b) % P; e >>= 1n; }
  return r;
}
const inv = (a) => pow(a, P - 2n);
const D = mod(-121665n * inv(121666n));
const D2 = mod(2n * D);
const SQRT_M1 = pow(2n, (P - 1n) / 4n);

// y coordinates of the points of small order (as mirror/keys.py lists them)
const Y8 = leInt(Uint8Array.from('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a'.match(/../g).map((h) => parseInt(h, 16)))) & MASK;
const SMALL_ORDER_Y = new Set([0n, 1n, P - 1n, Y8, P - Y8]);

export function pointOk(enc) {
  const y = leInt(enc) & MASK;
  return y < P && !SMALL_ORDER_Y.has(y);
}

// Extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, xy = T/Z.
function add(p, q) {
  const a = mod((p[1] - p[0]) * (q[1] - q[0]));
  const b = mod((p[1] + p[0]) * (q[1] + q[0]));
  const c = mod(p[3] * D2 * q[3]);
  const d = mod(p[2] * 2n * q[2]);
  const e = b - a, f = d - c, g = d + c, h = b + a;
  return [mod(e * f), mod(g * h), mod(f * g), mod(e * h)];
}
function double(p) {
  const a = mod(p[0] * p[0]);
  const b = mod(p[1] * p[1]);
  const c = mod(2n * p[2] * p[2]);
  const h = a + b;
  const s = p[0] + p[1];
  const e = mod(h - s * s), g = a - b, f = c + g;
  return [mod(e * f), mod(g * h), mod(f * g), mod(e * h)];
}
const ZERO = [0n, 1n, 1n, 0n];
function mul(k, p) {
  let r = ZERO;
  let q = p;
  while (k > 0n) { if (k & 1n) r = add(r, q); q = double(q); k >>= 1n; }
  return r;
}
function decompress(enc) {
  const n = leInt(enc);
  const y = n & MASK;
  const sign = n >> 255n;
  if (y >= P) return null;
  const y2 = mod(y * y);
  const x2 = mod((y2 - 1n) * inv(D * y2 + 1n));
  let x = pow(x2, (P + 3n) / 8n);
  if (mod(x * x - x2) !== 0n) {
    x = mod(x * SQRT_M1);
    if (mod(x * x - x2) !== 0n) return null;
  }
  if (x === 0n && sign === 1n) return null;
  if ((x & 1n) !== sign) x = P - x;
  return [x, y, 1n, mod(x * y)];
}
function encode(p) {
  const zi = inv(p[2]);
  const x = mod(p[0] * zi);
  const y = mod(p[1] * zi);
  let n = y | ((x & 1n) << 255n);
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) { out[i] = Number(n & 255n); n >>= 8n; }
  return out;
}
const BY = mod(4n * inv(5n));
const BASE = decompress((() => { const b = new Uint8Array(32); let n = BY; for (let i = 0; i < 32; i++) { b[i] = Number(n & 255n); n >>= 8n; } return b; })());

function policyOk(pub, sig) {
  return pub.length === 32 && sig.length === 64 && pointOk(pub) && pointOk(sig.subarray(0, 32)) && leInt(sig.subarray(32)) < L;
}

// The fallback: R == [S]B - [h]A, compared as encodings (cofactorless).
export async function verifyFallback(pub, sig, msg) {
  if (!policyOk(pub, sig)) return false;
  const a = decompress(pub);
  if (a === null) return false;
  const r = sig.subarray(0, 32);
  const s = leInt(sig.subarray(32));
  const h = leInt(await sha512(new Uint8Array([...r, ...pub, ...msg]))) % L;
  const negA = [P - a[0] === P ? 0n : P - a[0], a[1], a[2], a[3] === 0n ? 0n : P - a[3]];
  const rr = add(mul(s, BASE), mul(h, negA));
  const got = encode(rr);
  for (let i = 0; i < 32; i++) if (got[i] !== r[i]) return false;
  return true;
}

export const engine = { forceFallback: false, usedFallback: false, webcryptoFailed: false };
const imported = new Map();

async function verifyWebCrypto(pub, sig, msg) {
  const id = Array.from(pub).join(',');
  let key = imported.get(id);
  if (!key) {
    key = await crypto.subtle.importKey('raw', pub, { name: 'Ed25519' }, false, ['verify']);
    imported.set(id, key);
  }
  return await crypto.subtle.verify({ name: 'Ed25519' }, key, sig, msg);
}

// Strict Ed25519 verification (never throws; false for anything that is not valid).
export async function verify(pub, sig, msg) {
  if (!policyOk(pub, sig)) return false;
  if (!engine.forceFallback && !engine.webcryptoFailed) {
    try {
      if (!globalThis.crypto || !crypto.subtle || typeof crypto.subtle.importKey !== 'function' || typeof crypto.subtle.verify !== 'function') throw new Error('no WebCrypto');
      const ok = await verifyWebCrypto(pub, sig, msg);
      if (typeof ok !== 'boolean') throw new Error('odd WebCrypto answer');
      return ok;
    } catch {
      engine.webcryptoFailed = true; // missing or rejecting: the fallback from now on
    }
  }
  engine.usedFallback = true;
  return verifyFallback(pub, sig, msg);
}
