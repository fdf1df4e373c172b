// RFC 3161 timestamps on signatures, checked as mirror/timestamp.py does (decision
// 0008): a strict DER reader (X.690) for the few structures involved, the CMS
// signature (RFC 5652) and the certificate chain (RFC 5280) through WebCrypto, at
// the stamped time. Reasons: bad-timestamp, untrusted-tsa.
import { UsageError, VerificationError, bytesEqual } from './util.js';

export const BAD = 'bad-timestamp';
export const UNTRUSTED = 'untrusted-tsa';
const MAX_REPLY = 64 << 10;
const MAX_CERTIFICATE = 64 << 10;
const MAX_CHAIN_DEPTH = 10;

const OID = {
  signedData: '1.2.840.113549.1.7.2', tstInfo: '1.2.840.113549.1.9.16.1.4',
  contentType: '1.2.840.113549.1.9.3', messageDigest: '1.2.840.113549.1.9.4',
  timeStamping: '1.3.6.1.5.5.7.3.8', rsa: '1.2.840.113549.1.1.1', ec: '1.2.840.10045.2.1',
  basicConstraints: '2.5.29.19', keyUsage: '2.5.29.15', extKeyUsage: '2.5.29.37',
};
const HASHES = { '2.16.840.1.101.3.4.2.1': 'SHA-256', '2.16.840.1.101.3.4.2.2': 'SHA-384', '2.16.840.1.101.3.4.2.3': 'SHA-512' };
const SIG_ALGS = {
  '1.2.840.10045.4.3.2': ['ec', 'SHA-256'], '1.2.840.10045.4.3.3': ['ec', 'SHA-384'], '1.2.840.10045.4.3.4': ['ec', 'SHA-512'],
  '1.2.840.113549.1.1.11': ['rsa', 'SHA-256'], '1.2.840.113549.1.1.12': ['rsa', 'SHA-384'], '1.2.840.113549.1.1.13': ['rsa', 'SHA-512'],
  [OID.rsa]: ['rsa', null], [OID.ec]: ['ec', null], // CMS: the hash is the SignerInfo's digestAlgorithm
};
const CURVES = { '1.2.840.10045.3.1.7': ['P-256', 32], '1.3.132.0.34': ['P-384', 48], '1.3.132.0.35': ['P-521', 66] };
// extensions OpenSSL handles; any other marked critical makes a certificate unusable
const KNOWN_CRITICAL = new Set(['2.5.29.19', '2.5.29.15', '2.5.29.37', '2.5.29.14', '2.5.29.35', '2.5.29.17', '2.5.29.18']);

// -- DER (X.690 section 10: definite, minimal lengths; low tag numbers only) -------------

class DerError extends Error {}
const fail = (m) => { throw new DerError(m); };

export class DerNode {
  constructor(buf, tag, start, body, end) { this.buf = buf; this.tag = tag; this.start = start; this.body = body; this.end = end; }
  get constructed() { return (this.tag & 0x20) !== 0; }
  get value() { return this.buf.subarray(this.body, this.end); }
  get raw() { return this.buf.subarray(this.start, this.end); }
  children() {
    if (!this.constructed) fail('primitive where constructed expected');
    const out = [];
    let at = this.body;
    while (at < this.end) { const n = readAt(this.buf, at, this.end); out.push(n); at = n.end; }
    return out;
  }
}

function readAt(buf, at, limit) {
  if (at + 2 > limit) fail('truncated');
  const tag = buf[at];
  if ((tag & 0x1f) === 0x1f) fail('high tag number');
  let len = buf[at + 1];
  let body = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3) fail('indefinite or huge length');
    if (body + n > limit) fail('truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[body + i];
    if (buf[body] === 0 || len < 128) fail('non-minimal length');
    body += n;
  }
  if (body + len > limit) fail('truncated value');
  return new DerNode(buf, tag, at, body, body + len);
}

export function parseDer(bytes) {
  const n = readAt(bytes, 0, bytes.length);
  if (n.end !== bytes.length) fail('trailing bytes');
  return n;
}

function expect(node, tag, what) {
  if (!node || node.tag !== tag) fail(`${what}: unexpected tag`);
  return node;
}
const seq = (node, what) => expect(node, 0x30, what).children();

export function oidOf(node) {
  const v = expect(node, 0x06, 'OID').value;
  if (!v.length || v[v.length - 1] & 0x80) fail('bad OID');
  const parts = [];
  let x = 0n;
  for (let i = 0; i < v.length; i++) {
    if (x === 0n && v[i] === 0x80) fail('non-minimal OID');
    x = (x << 7n) | BigInt(v[i] & 0x7f);
    if (!(v[i] & 0x80)) { parts.push(x); x = 0n; }
  }
  const first = parts[0] < 80n ? [parts[0] / 40n, parts[0] % 40n] : [2n, parts[0] - 80n];
  return [...first, ...parts.slice(1)].join('.');
}

function intBytes(node) {
  const v = expect(node, 0x02, 'INTEGER').value;
  if (!v.length || (v.length > 1 && ((v[0] === 0 && !(v[1] & 0x80)) || (v[0] === 0xff && v[1] & 0x80)))) fail('bad INTEGER');
  return v;
}
function smallInt(node) {
  const v = intBytes(node);
  if (v.length > 4 || v[0] & 0x80) fail('INTEGER out of range');
  let n = 0;
  for (const b of v) n = n * 256 + b;
  return n;
}

// UTCTime (RFC 5280 4.1.2.5.1: YYMMDDHHMMSSZ, 50-99 is 19xx) or GeneralizedTime
// (YYYYMMDDHHMMSS[.fff]Z); milliseconds since the epoch.
export function timeOf(node) {
  const s = new TextDecoder().decode(node.value);
  let m;
  if (node.tag === 0x17 && (m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))) {
    const y = Number(m[1]);
    return stamp(y < 50 ? 2000 + y : 1900 + y, m.slice(2, 7).map(Number), 0);
  }
  if (node.tag === 0x18 && (m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.(\d*[1-9]))?Z$/.exec(s))) {
    return stamp(Number(m[1]), m.slice(2, 7).map(Number), m[7] ? Math.floor(Number('0.' + m[7]) * 1000) : 0);
  }
  fail('bad time');
}
function stamp(y, [mo, d, h, mi, se], ms) {
  const t = Date.UTC(y, mo - 1, d, h, mi, se, ms);
  const back = new Date(t);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) fail('bad time');
  return t;
}

export function formatTime(ms) { return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'); }

// Algorithms whose parameters are fixed, as the CLI's parser knows them: absent (ECDSA,
// DSA, EdDSA) or absent/NULL (digests, RSA PKCS #1 v1.5).
const NO_PARAMS = /^(1\.2\.840\.10045\.4\.3\.[1-4]|2\.16\.840\.1\.101\.3\.4\.3\.([1-2]|9|1[0-2])|1\.3\.101\.11[23])$/;
const NULL_PARAMS = /^(1\.3\.14\.3\.2\.26|2\.16\.840\.1\.101\.3\.4\.2\.([1-9]|10)|2\.16\.840\.1\.101\.3\.4\.3\.1[3-6]|1\.2\.840\.113549\.1\.1\.(1|[4-5]|1[1-4]))$/;
function algorithm(node) {
  const parts = seq(node, 'AlgorithmIdentifier');
  if (parts.length < 1 || parts.length > 2) fail('bad AlgorithmIdentifier');
  const oid = oidOf(parts[0]), params = parts[1] || null;
  if (params && NO_PARAMS.test(oid)) fail('unexpected parameters');
  if (params && NULL_PARAMS.test(oid) && (params.tag !== 0x05 || params.end !== params.body)) fail('parameters must be NULL');
  return { oid, params, raw: node.raw };
}

// A digest AlgorithmIdentifier: for SHA-256/384/512 the parameters are absent or NULL;
// `known` refuses any other digest.
function hashAlgorithm(node, known = true) {
  const a = algorithm(node);
  if (known && !HASHES[a.oid]) fail('unsupported digest');
  return a;
}
// digests OpenSSL knows (md5, sha1, SHA-2 and SHA-3): others in digestAlgorithms fail PKCS7_verify
const DIGESTS = new Set(['1.2.840.113549.2.5', '1.3.14.3.2.26', ...[1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => `2.16.840.1.101.3.4.2.${n}`)]);

// Names equal as the CLI's certificate library compares them: attribute types and
// value bytes, whatever string type carries them.
// (string and time types it reads: BIT, OCTET, UTF8, Numeric, Printable, T61, IA5,
// UTC/Generalized time, Visible, Universal, BMP)
const NAME_VALUE_TAGS = new Set([0x03, 0x04, 0x0c, 0x12, 0x13, 0x14, 0x16, 0x17, 0x18, 0x1a, 0x1c, 0x1e]);
function nameKey(der) {
  return seq(parseDer(der), 'Name').map((rdn) => rdn.children().map((atv) => {
    const [t, v] = atv.children();
    if (!NAME_VALUE_TAGS.has(v.tag)) fail('name value of an unknown type');
    return oidOf(t) + '=' + [...v.value].join(',');
  }).join('+')).join('/');
}
function sameName(a, b) {
  try { return nameKey(a) === nameKey(b); } catch (e) { if (e instanceof DerError) return false; throw e; }
}

// Name (RFC 5280 4.1.2.4): SEQUENCE OF SET OF SEQUENCE {type OID, value}.
function name(node, what) {
  for (const rdn of seq(node, what)) {
    const atvs = expect(rdn, 0x31, what).children();
    if (!atvs.length) fail(`${what}: empty RDN`);
    for (const atv of atvs) { const p = seq(atv, what); if (p.length !== 2) fail(`${what}: bad attribute`); oidOf(p[0]); }
  }
  return node;
}

// DER SET OF is sorted by encoding (X.690 11.6): the parser the CLI uses refuses others.
function sortedSet(items) {
  for (let i = 1; i < items.length; i++) {
    const a = items[i - 1].raw, b = items[i].raw;
    let c = 0;
    for (let j = 0; j < Math.max(a.length, b.length) && !c; j++) c = (a[j] || 0) - (b[j] || 0);
    if (c > 0) fail('SET OF not in DER order');
  }
  return items;
}

// -- X.509 (RFC 5280 section 4.1) --------------------------------------------------------

export function parseCertificate(node) {
  const [tbs, sigAlg, sigValue, ...rest] = seq(node, 'Certificate');
  if (rest.length || !sigValue) fail('bad Certificate');
  const f = seq(tbs, 'TBSCertificate');
  let i = 0;
  let version = 0;
  if (f[i] && f[i].tag === 0xa0) { const inner = f[i].children(); if (inner.length !== 1) fail('bad version'); version = smallInt(inner[0]); if (version === 0) fail('DEFAULT encoded'); i++; }
  const serial = intBytes(f[i++]);
  const innerAlg = algorithm(f[i++]);
  const issuer = name(f[i++], 'issuer');
  const validity = seq(f[i++], 'Validity');
  if (validity.length !== 2) fail('bad Validity');
  const subject = name(f[i++], 'subject');
  const spki = expect(f[i++], 0x30, 'SubjectPublicKeyInfo');
  const [keyAlgNode, keyBits] = spki.children();
  const keyAlg = algorithm(keyAlgNode);
  bitString(keyBits, 'subjectPublicKey');
  if (keyAlg.oid === OID.ec && !(keyAlg.params && keyAlg.params.tag === 0x06 && oidOf(keyAlg.params))) fail('EC key without a named curve');
  while (f[i] && (f[i].tag === 0x81 || f[i].tag === 0xa1 || f[i].tag === 0x82 || f[i].tag === 0xa2)) i++;
  const extensions = new Map();
  let malformed = false;
  if (f[i] && f[i].tag === 0xa3) {
    const outer = f[i++].children();
    if (outer.length !== 1) fail('bad extensions');
    for (const e of seq(outer[0], 'Extensions')) {
      const parts = seq(e, 'Extension');
      const id = oidOf(parts[0]);
      let critical = false, k = 1;
      if (parts[k] && parts[k].tag === 0x01) {
        const b = parts[k].value;
        if (b.length !== 1 || (b[0] !== 0 && b[0] !== 0xff)) fail('bad BOOLEAN');
        if (b[0] === 0) fail('DEFAULT encoded'); // DER leaves a false critical out
        critical = true; k++;
      }
      const value = expect(parts[k], 0x04, 'extnValue').value;
      if (parts.length !== k + 1) fail('bad Extension');
      if (extensions.has(id)) malformed = true;
      extensions.set(id, { critical, value });
    }
  }
  if (i !== f.length || version > 2) fail('bad TBSCertificate');
  return {
    der: node.raw, tbs: tbs.raw, sigAlg: algorithm(sigAlg), innerAlg, sig: bitString(sigValue, 'signatureValue'), serial, issuer: issuer.raw, subject: subject.raw,
    notBefore: timeOf(validity[0]), notAfter: timeOf(validity[1]), spki: spki.raw, keyAlg, extensions, malformed,
  };
}

// A DER BIT STRING (X.690 11.2): at most 7 unused bits, all zero; its bytes with the count first.
function bitString(node, what) {
  const v = expect(node, 0x03, what).value;
  if (!v.length || v[0] > 7 || (v.length === 1 && v[0]) || (v.length > 1 && v[v.length - 1] & ((1 << v[0]) - 1))) fail(`${what}: bad BIT STRING`);
  return v;
}

export function certificateFromDer(der) { return parseCertificate(parseDer(der)); }

// basicConstraints (RFC 5280 4.2.1.9): {ca, pathLen}; null when absent.
function basicConstraints(cert) {
  const e = cert.extensions.get(OID.basicConstraints);
  if (!e) return null;
  const parts = seq(parseDer(e.value), 'BasicConstraints');
  let ca = false, pathLen = null, k = 0;
  if (parts[k] && parts[k].tag === 0x01) { if (parts[k].value.length !== 1 || parts[k].value[0] !== 0xff) fail('bad cA'); ca = true; k++; }
  if (parts[k]) { pathLen = smallInt(parts[k]); k++; }
  if (k !== parts.length) fail('bad BasicConstraints');
  return { ca, pathLen };
}

// keyUsage (RFC 5280 4.2.1.3) as a bit mask (bit 0 = digitalSignature is 1 << 0); null when absent.
function keyUsage(cert) {
  const e = cert.extensions.get(OID.keyUsage);
  if (!e) return null;
  const v = bitString(parseDer(e.value), 'KeyUsage');
  let mask = 0;
  for (let i = 1; i < v.length; i++) for (let b = 0; b < 8; b++) if (v[i] & (0x80 >> b)) mask |= 1 << ((i - 1) * 8 + b);
  return mask;
}

// other extensions whose value the CLI's certificate library reads: a SEQUENCE each
// (subject directory attributes, name constraints, CRL distribution points, policies,
// policy mappings, policy constraints, freshest CRL, authority/subject information access)
const SEQUENCE_EXTENSIONS = new Set(['2.5.29.9', '2.5.29.30', '2.5.29.31', '2.5.29.32', '2.5.29.33', '2.5.29.36', '2.5.29.46', '1.3.6.1.5.5.7.1.1', '1.3.6.1.5.5.7.1.11']);

// The values of the extensions read here must parse (as the CLI's certificate library
// requires): basic constraints, key usage, extended key usage, key identifiers, names.
function checkExtensions(cert) {
  if (cert.malformed) fail('extension twice');
  for (const [id, e] of cert.extensions) {
    const v = () => parseDer(e.value);
    if (id === OID.basicConstraints) basicConstraints(cert);
    else if (id === OID.keyUsage) keyUsage(cert);
    else if (id === OID.extKeyUsage) { const p = seq(v(), 'ExtKeyUsage'); if (!p.length) fail('empty EKU'); p.forEach(oidOf); }
    else if (id === '2.5.29.14') expect(v(), 0x04, 'SubjectKeyIdentifier');
    else if (id === '2.5.29.35') { for (const c of seq(v(), 'AuthorityKeyIdentifier')) if (![0x80, 0xa1, 0x82].includes(c.tag)) fail('bad AKI'); }
    else if (id === '2.5.29.17' || id === '2.5.29.18') { for (const c of seq(v(), 'GeneralNames')) if ((c.tag & 0xc0) !== 0x80) fail('bad GeneralName'); }
    else if (SEQUENCE_EXTENSIONS.has(id)) seq(v(), id);
    else if (id === '2.5.29.54') intBytes(v());
  }
}

// RFC 3161 section 2.3: the extended key usage present, critical, id-kp-timeStamping alone.
function checkTimestampingUsage(cert) {
  try { checkExtensions(cert); } catch (err) {
    if (err instanceof DerError) throw new VerificationError('TSA certificate has malformed extensions', BAD);
    throw err;
  }
  const e = cert.extensions.get(OID.extKeyUsage);
  if (!e) throw new VerificationError('TSA certificate lacks the timestamping extended key usage', BAD);
  let purposes;
  try { purposes = seq(parseDer(e.value), 'ExtKeyUsage').map(oidOf); } catch (err) {
    if (err instanceof DerError) throw new VerificationError('TSA certificate has malformed extensions', BAD);
    throw err;
  }
  if (!e.critical) throw new VerificationError("TSA certificate's extended key usage is not critical", BAD);
  if (purposes.length !== 1 || purposes[0] !== OID.timeStamping) throw new VerificationError("TSA certificate's extended key usage must be timestamping only", BAD);
}

// -- signatures through WebCrypto --------------------------------------------------------

function ecdsaRaw(der, size) {
  const parts = seq(parseDer(der), 'ECDSA-Sig-Value');
  if (parts.length !== 2) fail('bad ECDSA signature');
  const out = new Uint8Array(2 * size);
  parts.forEach((p, i) => {
    let v = intBytes(p);
    if (v[0] & 0x80) fail('negative');
    while (v.length > 1 && v[0] === 0) v = v.subarray(1);
    if (v.length > size) fail('too long');
    out.set(v, (i + 1) * size - v.length);
  });
  return out;
}

// Does `sig` over `data` verify under the SubjectPublicKeyInfo `spki`? Never throws.
export async function verifySignature(spki, alg, hash, sig, data) {
  try {
    const kind = SIG_ALGS[alg.oid];
    if (!kind) return false;
    hash = kind[1] || hash;
    if (!hash) return false;
    const [keyAlgNode] = seq(parseDer(spki), 'SubjectPublicKeyInfo');
    const keyAlg = algorithm(keyAlgNode);
    if (kind[0] === 'ec') {
      if (keyAlg.oid !== OID.ec || !keyAlg.params) return false;
      const curve = CURVES[oidOf(keyAlg.params)];
      if (!curve) return false;
      const key = await crypto.subtle.importKey('spki', spki, { name: 'ECDSA', namedCurve: curve[0] }, false, ['verify']);
      return await crypto.subtle.verify({ name: 'ECDSA', hash }, key, ecdsaRaw(sig, curve[1]), data);
    }
    if (keyAlg.oid !== OID.rsa) return false;
    const key = await crypto.subtle.importKey('spki', spki, { name: 'RSASSA-PKCS1-v1_5', hash }, false, ['verify']);
    return await crypto.subtle.verify({ name: 'RSASSA-PKCS1-v1_5' }, key, sig, data);
  } catch {
    return false;
  }
}

// `loose`: as the CLI's certificate library when it only tells a broken token from a
// stranger's, the BIT STRING's unused-bits count is not looked at.
async function issuedBy(cert, issuer, loose = false) {
  if (!(loose ? sameName(cert.issuer, issuer.subject) : bytesEqual(cert.issuer, issuer.subject)) || (cert.sig[0] !== 0 && !loose)) return false;
  return verifySignature(issuer.spki, cert.sigAlg, null, cert.sig.subarray(1), cert.tbs);
}

async function digest(hash, data) { return new Uint8Array(await crypto.subtle.digest(hash, data)); }

// -- TSA roots ---------------------------------------------------------------------------

function pemBlocks(text) {
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----/g)].map((m) => {
    const b64 = m[1].replace(/\s+/g, '');
    try { return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)); } catch { return null; }
  });
}

// One PEM certificate that is a self-signed CA (timestamp.load_root_certificate).
export async function rootFromPem(name, pem, what = 'TSA certificate') {
  if (typeof pem !== 'string' || pem.length > MAX_CERTIFICATE) throw new UsageError(`${what} is not a PEM certificate`);
  const blocks = pemBlocks(pem);
  if (!blocks.length) throw new UsageError(`${what} is not a PEM certificate`);
  if (blocks.length !== 1) throw new UsageError(`${what} must hold exactly one certificate, found ${blocks.length}`);
  let cert, bc;
  try {
    if (!blocks[0]) fail('base64');
    cert = certificateFromDer(blocks[0]);
    bc = basicConstraints(cert);
  } catch (e) {
    if (e instanceof DerError) throw new UsageError(`${what} is not a PEM certificate`);
    throw e;
  }
  if (!bc || !bc.ca) throw new UsageError(`${what} is not a CA certificate: give the TSA's root certificate, not the TSA's own certificate`);
  if (!bytesEqual(cert.issuer, cert.subject) || !(await issuedBy(cert, cert))) throw new UsageError(`${what} is not self-signed: give the root of the TSA's chain`);
  return { name: String(name), cert };
}

// The reader's roots first (their names win), then every root the known versions list.
export function mergedRoots(reader, policies) {
  const out = [];
  for (const r of [...reader, ...policies.flatMap((p) => p.roots)]) if (!out.some((o) => bytesEqual(o.cert.der, r.cert.der))) out.push(r);
  return out;
}

// -- the token (RFC 3161 section 2.4.2, RFC 5652 section 5) ------------------------------

export function parseReply(bytes) {
  const top = seq(parseDer(bytes), 'TimeStampResp');
  if (top.length !== 2) fail('no token');
  const status = smallInt(seq(top[0], 'PKIStatusInfo')[0]);
  const [ctype, content, ...x] = seq(top[1], 'ContentInfo');
  if (x.length || oidOf(ctype) !== OID.signedData) fail('not SignedData');
  const inner = expect(content, 0xa0, 'content').children();
  if (inner.length !== 1) fail('bad content');
  const sd = seq(inner[0], 'SignedData');
  let i = 0;
  smallInt(sd[i++]);
  const digestAlgs = expect(sd[i++], 0x31, 'digestAlgorithms').children();
  const digestOids = digestAlgs.map((d) => hashAlgorithm(d, false).oid);
  sortedSet(digestAlgs);
  const encap = seq(sd[i++], 'EncapsulatedContentInfo');
  if (encap.length !== 2 || oidOf(encap[0]) !== OID.tstInfo) fail('not TSTInfo');
  const ec = expect(encap[1], 0xa0, 'eContent').children();
  if (ec.length !== 1) fail('bad eContent');
  const eContent = expect(ec[0], 0x04, 'eContent').value;
  let certs = [];
  if (sd[i] && sd[i].tag === 0xa0) certs = sortedSet(sd[i++].children()).map(parseCertificate);
  if (sd[i] && sd[i].tag === 0xa1) i++;
  const signerNodes = sortedSet(expect(sd[i++], 0x31, 'signerInfos').children());
  if (i !== sd.length) fail('bad SignedData');
  const signers = signerNodes.map((node) => {
    const p = seq(node, 'SignerInfo');
    let k = 0;
    smallInt(p[k++]);
    const sid = p[k++];
    let issuer = null, serial = null;
    if (sid.tag === 0x30) { const s = sid.children(); if (s.length !== 2) fail('bad sid'); issuer = name(s[0], 'issuer').raw; serial = intBytes(s[1]); }
    else if (sid.tag !== 0x80) fail('bad sid');
    const digestAlg = hashAlgorithm(p[k++], false);
    let signedAttrs = null;
    if (p[k] && p[k].tag === 0xa0) signedAttrs = p[k++];
    const sigAlg = algorithm(p[k++]);
    const signature = expect(p[k++], 0x04, 'signature').value;
    if (p[k] && p[k].tag === 0xa1) k++;
    if (k !== p.length) fail('bad SignerInfo');
    const attrs = [];
    if (signedAttrs) {
      for (const a of signedAttrs.children()) {
        const [t, values, ...y] = seq(a, 'Attribute');
        if (y.length) fail('bad Attribute');
        attrs.push([oidOf(t), expect(values, 0x31, 'AttributeValues').children()]);
      }
    }
    return { issuer, serial, digestAlg, signedAttrs, attrs, sigAlg, signature };
  });
  // TSTInfo (RFC 3161 section 2.4.2)
  const t = seq(parseDer(eContent), 'TSTInfo');
  smallInt(t[0]);
  oidOf(t[1]);
  const mi = seq(t[2], 'MessageImprint');
  if (mi.length !== 2) fail('bad MessageImprint');
  const imprintAlg = hashAlgorithm(mi[0], false).oid;
  const imprint = expect(mi[1], 0x04, 'hashedMessage').value;
  intBytes(t[3]);
  const genTime = timeOf(expect(t[4], 0x18, 'genTime'));
  tstInfoRest(t.slice(5));
  return { status, digestOids, eContent, certs, signers, imprintAlg, imprint, genTime };
}

// TSTInfo after genTime, in order, each optional: accuracy, ordering (DEFAULT FALSE, so
// only TRUE is encoded), nonce, tsa [0] GeneralName, extensions [1] IMPLICIT.
function tstInfoRest(rest) {
  let k = 0;
  if (rest[k] && rest[k].tag === 0x30) {
    let prev = -1;
    for (const c of rest[k++].children()) {
      const order = { 0x02: 0, 0x80: 1, 0x81: 2 }[c.tag];
      if (order === undefined || order <= prev) fail('bad Accuracy');
      prev = order;
      if (intBytes(new DerNode(c.buf, 0x02, c.start, c.body, c.end))[0] & 0x80) fail('negative accuracy');
    }
  }
  if (rest[k] && rest[k].tag === 0x01) { if (rest[k].value.length !== 1 || rest[k].value[0] !== 0xff) fail('bad ordering'); k++; }
  if (rest[k] && rest[k].tag === 0x02 && intBytes(rest[k++])[0] & 0x80) fail('negative nonce');
  if (rest[k] && rest[k].tag === 0xa0) {
    const g = rest[k++].children();
    // GeneralName (RFC 5280 4.2.1.6): [0], [3], [4], [5] constructed; [1], [2], [6], [7], [8] primitive
    const n = g.length === 1 ? g[0].tag : 0;
    if ((n & 0xc0) !== 0x80 || (n & 0x1f) > 8 || ([0, 3, 4, 5].includes(n & 0x1f) !== ((n & 0x20) !== 0))) fail('bad tsa name');
    if (g[0].tag === 0xa4) { const inner = g[0].children(); if (inner.length !== 1) fail('bad directoryName'); name(inner[0], 'tsa'); }
  }
  if (rest[k] && rest[k].tag === 0xa1) for (const e of rest[k++].children()) seq(e, 'Extension');
  if (k !== rest.length) fail('bad TSTInfo');
}

// OpenSSL's PKCS7_verify with the timestamp-signing purpose at genTime, for one root.
async function verifyUnderRoot(reply, signer, leaf, root) {
  // OpenSSL finds the signer by its canonical name; the same bytes are taken as the same name here
  if (reply.status !== 0 || !bytesEqual(signer.issuer, leaf.issuer)) return false;
  const hash = HASHES[signer.digestAlg.oid];
  if (!hash || !reply.digestOids.every((o) => DIGESTS.has(o)) || !reply.digestOids.includes(signer.digestAlg.oid)) return false;
  let signed = reply.eContent;
  if (signer.signedAttrs) {
    const one = (id) => { const found = signer.attrs.filter(([a]) => a === id); return found.length === 1 ? found[0][1] : null; };
    const type = one(OID.contentType), md = one(OID.messageDigest);
    if (!type || type.length !== 1 || oidOf(type[0]) !== OID.tstInfo) return false;
    if (!md || md.length !== 1 || !bytesEqual(expect(md[0], 0x04, 'messageDigest').value, await digest(hash, reply.eContent))) return false;
    signed = new Uint8Array(signer.signedAttrs.raw);
    signed[0] = 0x31; // RFC 5652 5.4: signed over the EXPLICIT SET OF encoding
  }
  // as OpenSSL: the signer's key type and the digestAlgorithm decide, not signatureAlgorithm
  if (!(await verifySignature(leaf.spki, { oid: leaf.keyAlg.oid }, hash, signer.signature, signed))) return false;
  // the chain: leaf up to the root, trusted issuer first, then the token's certificates
  const at = reply.genTime;
  let current = leaf, cas = 0;
  for (let depth = 0; depth < MAX_CHAIN_DEPTH; depth++) {
    if (!certUsable(current, at)) return false;
    if (depth > 0 && !caUsable(current, cas - 1)) return false;
    if (bytesEqual(current.der, root.cert.der)) return true;
    let parent = null;
    if (await issuedBy(current, root.cert)) parent = root.cert;
    else {
      for (const c of reply.certs) if (!bytesEqual(c.der, current.der) && (await issuedBy(current, c))) { parent = c; break; }
    }
    if (!parent) return false;
    if (depth === 0 && !leafUsable(current)) return false;
    current = parent;
    cas++;
  }
  return false;
}

function certUsable(cert, at) {
  if (cert.malformed || !bytesEqual(cert.sigAlg.raw, cert.innerAlg.raw)) return false;
  for (const [id, e] of cert.extensions) if (e.critical && !KNOWN_CRITICAL.has(id)) return false;
  return cert.notBefore <= at && at <= cert.notAfter;
}

// a CA above `below` intermediate CAs: basicConstraints cA, keyCertSign, path length
function caUsable(cert, below) {
  const bc = basicConstraints(cert);
  const ku = keyUsage(cert);
  if (!bc || !bc.ca || (ku !== null && !(ku & (1 << 5)))) return false;
  return bc.pathLen === null || below <= bc.pathLen;
}

// the timestamp-signing purpose for the leaf: key usage, if present, only digitalSignature/nonRepudiation
function leafUsable(cert) {
  const ku = keyUsage(cert);
  return ku === null || ((ku & 3) !== 0 && (ku & ~3) === 0);
}

// Does the token's chain link up to a root by name and signature (timestamp._reaches_a_root)?
async function reachesARoot(leaf, embedded, roots) {
  let current = leaf;
  for (let seen = 0; seen <= embedded.length; seen++) {
    for (const r of roots) if (bytesEqual(current.der, r.cert.der) || (await issuedBy(current, r.cert, true))) return true;
    let parent = null;
    for (const c of embedded) if (!bytesEqual(c.der, current.der) && (await issuedBy(current, c, true))) { parent = c; break; }
    if (!parent) return false;
    current = parent;
  }
  return false;
}

// Check a DER TimeStampResp over `data` against `roots`: {time (ms), tsa} or a
// VerificationError, in the order of timestamp.verify_token.
export async function verifyToken(token, data, roots) {
  if (token.length > MAX_REPLY) throw new VerificationError(`timestamp is larger than ${MAX_REPLY} bytes`, BAD);
  let reply;
  try {
    reply = parseReply(token);
  } catch (e) {
    if (e instanceof DerError || e instanceof TypeError) throw new VerificationError('timestamp token does not parse', BAD);
    throw e;
  }
  if (reply.status !== 0 && reply.status !== 1) throw new VerificationError('timestamp reply was not granted', BAD);
  const hash = HASHES[reply.imprintAlg];
  if (!hash) throw new VerificationError(`timestamp uses an unsupported hash (${reply.imprintAlg})`, BAD);
  if (!bytesEqual(reply.imprint, await digest(hash, data))) throw new VerificationError('timestamp is over other bytes than this signature', BAD);
  if (reply.signers.length !== 1) throw new VerificationError('timestamp token must have exactly one signer', BAD);
  const signer = reply.signers[0];
  const leaf = signer.issuer && reply.certs.find((c) => sameName(c.issuer, signer.issuer) && bytesEqual(c.serial, signer.serial));
  if (!leaf) throw new VerificationError('timestamp token does not carry its TSA certificate', BAD);
  checkTimestampingUsage(leaf);
  if (!(leaf.notBefore <= reply.genTime && reply.genTime <= leaf.notAfter)) throw new VerificationError(`TSA certificate was not valid at the stamped time ${formatTime(reply.genTime)}`, BAD);
  if (!roots.length) throw new VerificationError('timestamp from a TSA you do not trust (no TSA roots)', UNTRUSTED);
  for (const root of roots) {
    let ok = false;
    try { ok = await verifyUnderRoot(reply, signer, leaf, root); } catch (e) { if (!(e instanceof DerError)) throw e; }
    if (ok) return { time: reply.genTime, tsa: root.name };
  }
  if (await reachesARoot(leaf, reply.certs, roots)) throw new VerificationError('timestamp does not verify (signature or chain broken)', BAD);
  throw new VerificationError('timestamp is from a TSA you do not trust (its root is not among your TSA roots)', UNTRUSTED);
}

// Every tst of an envelope over its signature's bytes; the earliest stamp, or null.
export async function verifyEnvelopeStamps(env, roots) {
  let earliest = null;
  for (const s of env.signatures) {
    if (s.tst === null) continue;
    const got = await verifyToken(s.tst, s.sig, roots);
    if (earliest === null || got.time < earliest.time) earliest = got;
  }
  return earliest;
}

export const stampToJson = (s) => (s === null ? null : { time: formatTime(s.time), tsa: s.tsa });
