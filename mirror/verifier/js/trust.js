// What is signed and who signed it: DSSE envelopes (mirror/envelope.py), the bundle
// manifest (mirror/manifest.py) and the publisher identity chain (mirror/identity.py:
// verify_link, verify_chain, anchored_by, merge, judge). Pure: nothing is stored here.
import { UsageError, MalformedInput, HostileJSON, VerificationError, LimitExceeded, MirrorError, utf8, concatBytes, b64decodeStrict, b64encode, sha256, sha256Tag, toHex, bytesEqual } from './util.js';
import { loads, dumps } from './json.js';
import { casefold } from './ipld.js';
import { verify as edVerify, pointOk } from './ed25519.js';
import { verifyEnvelopeStamps, mergedRoots, rootFromPem } from './tsp.js';

export const MANIFEST_TYPE = 'application/vnd.mirror.manifest+json';
export const IDENTITY_TYPE = 'application/vnd.mirror.identity+json';
export const MAX_MANIFEST = 4 << 20;
const MAX_SIGNATURES = 16;
const MAX_FILES = 10000;
export const MAX_CHAIN = 8 << 20;
const MAX_DOCUMENT = 64 << 10;
const MAX_VERSIONS = 1000;
const MAX_KEYS = 8;
const MAX_REVOKED = 256;
export const MANIFEST_NAME = 'manifest.json';
export const CHAIN_NAME = 'identity.json';

// -- keys ------------------------------------------------------------------------------

export class PublicKey {
  constructor(raw) { this.raw = raw; this.id = toHex(raw); }
  static async of(raw) {
    const k = new PublicKey(raw);
    const d = toHex(await sha256(raw));
    k.keyId = d.slice(0, 16);
    k.fingerprint = d.match(/.{4}/g).join(' ');
    return k;
  }
  static async fromText(text) {
    text = String(text).trim();
    if (!text.startsWith('ed25519:')) throw new UsageError("a public key looks like 'ed25519:<base64>'");
    const raw = b64decodeStrict(text.slice(8), 'public key');
    if (raw.length !== 32) throw new UsageError('an Ed25519 public key is 32 bytes');
    if (!pointOk(raw)) throw new UsageError('public key is a small-order or non-canonical point');
    return PublicKey.of(raw);
  }
  toText() { return 'ed25519:' + b64encode(this.raw); }
  verify(sig, msg) { return edVerify(this.raw, sig, msg); }
}

// -- envelopes -------------------------------------------------------------------------

export function pae(type, payload) {
  const t = utf8(type);
  return concatBytes([utf8(`DSSEv1 ${t.length} `), t, utf8(` ${payload.length} `), payload]);
}

function stripNewlines(b) {
  let n = b.length;
  while (n && b[n - 1] === 10) n--;
  return b.subarray(0, n);
}

// Parse an envelope document (a Map from the strict parser); damage is UsageError.
export function envelopeFromDoc(doc, what) {
  const keys = [...doc.keys()].sort().join(',');
  if (keys !== 'payload,payloadType,signatures') throw new UsageError(`${what} must have exactly payload, payloadType and signatures`);
  const type = doc.get('payloadType');
  const payload = doc.get('payload');
  const sigs = doc.get('signatures');
  if (typeof type !== 'string' || typeof payload !== 'string') throw new UsageError(`${what}: payloadType and payload must be strings`);
  if (!Array.isArray(sigs) || sigs.length < 1 || sigs.length > MAX_SIGNATURES) throw new UsageError(`${what} must carry 1 to ${MAX_SIGNATURES} signatures`);
  const signatures = sigs.map((entry) => {
    const keys = entry instanceof Map ? [...entry.keys()].sort().join(',') : '';
    if (keys !== 'keyid,sig' && keys !== 'keyid,sig,tst') throw new UsageError(`${what}: each signature has keyid, sig and an optional tst`);
    if (typeof entry.get('keyid') !== 'string' || typeof entry.get('sig') !== 'string') throw new UsageError(`${what}: keyid and sig must be strings`);
    if (entry.has('tst') && typeof entry.get('tst') !== 'string') throw new UsageError(`${what}: tst must be a base64 string`);
    return { keyid: entry.get('keyid'), sig: b64decodeStrict(entry.get('sig'), 'signature'), tst: entry.has('tst') ? b64decodeStrict(entry.get('tst'), 'timestamp token') : null };
  });
  return { type, payload: b64decodeStrict(payload, 'payload'), signatures, doc };
}

// The bundle's manifest.json as an envelope (verify.parse_envelope): hostile JSON is
// exit 2, other damage exit 3 (a tst field is judged later, with the signatures).
export function parseManifestEnvelope(data) {
  let env;
  try {
    env = envelopeFromDoc(loads(stripNewlines(data), MAX_MANIFEST, 'manifest.json'), 'manifest.json');
  } catch (e) {
    if (e instanceof HostileJSON || e instanceof LimitExceeded) throw e;
    if (e instanceof UsageError) throw new VerificationError(`manifest.json is damaged: ${e.message}`);
    throw e;
  }
  env.raw = data;
  return env;
}

// The bytes mirror writes for this envelope: canonical JSON, signatures by key id.
function canonicalBytes(env) {
  const sigs = [...env.signatures].sort((a, b) => (a.keyid < b.keyid ? -1 : a.keyid > b.keyid ? 1 : 0));
  const entry = (s) => new Map([['keyid', s.keyid], ['sig', b64encode(s.sig)], ...(s.tst === null ? [] : [['tst', b64encode(s.tst)]])]);
  const doc = new Map([
    ['payload', b64encode(env.payload)],
    ['payloadType', env.type],
    ['signatures', sigs.map(entry)],
  ]);
  return concatBytes([dumps(doc), utf8('\n')]);
}

// Count valid signatures by distinct trusted keys ({name, key}); key ids are hints
// that must name the key that made the signature (envelope.verify).
export async function verifyEnvelope(env, type, trusted, threshold, what) {
  if (env.type !== type) throw new VerificationError(`${what}: payload type is '${env.type}', expected '${type}'`, 'wrong-type');
  const msg = pae(env.type, env.payload);
  const signers = new Map();
  for (const s of env.signatures) {
    for (const t of trusted) {
      if (!signers.has(t.key.id) && s.keyid === t.key.keyId && (await t.key.verify(s.sig, msg))) {
        signers.set(t.key.id, t);
        break;
      }
    }
  }
  if (signers.size < threshold) {
    if (threshold === 1) throw new VerificationError(`${what}: not signed by a trusted key`, 'untrusted-key');
    throw new VerificationError(`${what}: ${signers.size} valid signature(s) by trusted keys, ${threshold} required`, 'threshold-not-met');
  }
  return [...signers.values()];
}

// Only the publisher's own encoding passes (verify._check_signatures): every signature
// valid under a key the verdict knows, each key once, and the bytes as mirror writes them.
export async function checkSignatures(env, keys) {
  const msg = pae(env.type, env.payload);
  const byId = new Map();
  for (const k of keys) if (!byId.has(k.keyId)) byId.set(k.keyId, k);
  const seen = new Set();
  for (const s of env.signatures) {
    const named = byId.get(s.keyid);
    if (!named || !(await named.verify(s.sig, msg))) {
      throw new VerificationError(`manifest.json carries a signature that no key of the publisher made (key id ${s.keyid.slice(0, 16)}): not the publisher's envelope`, 'non-canonical');
    }
    if (seen.has(s.keyid)) throw new VerificationError('manifest.json carries two signatures by one key', 'non-canonical');
    seen.add(s.keyid);
  }
  if (!bytesEqual(canonicalBytes(env), env.raw)) {
    throw new VerificationError("manifest.json is not byte for byte as the publisher's tool wrote it (re-serialized, re-indented or signatures reordered)", 'non-canonical');
  }
}

// A signed payload that is not a manifest we can read is malformed (exit 2).
function readManifest(payload) {
  try {
    return parseManifest(payload);
  } catch (e) {
    if (e instanceof MalformedInput || e instanceof LimitExceeded) throw e;
    if (e instanceof UsageError) throw new MalformedInput(`manifest: ${e.message}`);
    throw e;
  }
}

// -- the manifest ----------------------------------------------------------------------

const SHA_RE = /^sha256:[0-9a-f]{64}$/;
const ARTICLE_FIELDS = ['title', 'byline', 'authors', 'language', 'direction', 'published', 'site_name', 'canonical_url', 'description'];
const isInt = (v) => (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint';

export function checkRelativePath(path) {
  if (typeof path !== 'string' || !path || path.startsWith('/') || path.length > 1024) throw new UsageError(`bad path in bundle: ${JSON.stringify(path)}`);
  for (const part of path.split('/')) {
    if (part === '' || part === '.' || part === '..' || part.includes('\\') || part.includes('\0') || part.startsWith('.')) throw new UsageError(`bad path in bundle: ${JSON.stringify(path)}`);
  }
  if (/^[A-Za-z]:/.test(path)) throw new UsageError(`bad path in bundle: ${JSON.stringify(path)}`);
  return path;
}

export function parseManifest(payload) {
  const d = loads(payload, MAX_MANIFEST, 'manifest');
  if (d.get('format') !== 'mirror-manifest/1') throw new UsageError(`manifest format is '${d.get('format')}', expected 'mirror-manifest/1'`);
  for (const name of ['publisher', 'article', 'capture']) if (!(d.get(name) instanceof Map)) throw new UsageError(`manifest: ${name} must be an object`);
  if (typeof d.get('created_at') !== 'string') throw new UsageError('manifest: created_at must be a string');
  const files = d.get('files');
  if (!Array.isArray(files) || files.length > MAX_FILES) throw new UsageError(`manifest: files must be a list of at most ${MAX_FILES}`);
  const records = files.map((f) => {
    if (!(f instanceof Map) || [...f.keys()].sort().join(',') !== 'cid,path,sha256,size') throw new UsageError('manifest file entries have exactly path, size, sha256 and cid');
    const path = f.get('path'), size = f.get('size'), sha = f.get('sha256'), cid = f.get('cid');
    if (!isInt(size) || size < 0) throw new UsageError(`manifest: bad size for '${path}'`);
    if (typeof sha !== 'string' || !SHA_RE.test(sha)) throw new UsageError(`manifest: bad sha256 for '${path}'`);
    if (typeof cid !== 'string' || !cid.startsWith('b') || cid.length > 200) throw new UsageError(`manifest: bad cid for '${path}'`);
    return { path: checkRelativePath(path), size: Number(size), sha256: sha, cid };
  });
  const seen = new Set();
  for (const r of records) {
    if (seen.has(r.path) || seen.has(casefold(r.path))) throw new UsageError(`manifest lists '${r.path}' twice`);
    if (r.path === MANIFEST_NAME) throw new UsageError('manifest must not list manifest.json');
    seen.add(r.path);
    seen.add(casefold(r.path));
  }
  const article = d.get('article');
  for (const key of ARTICLE_FIELDS) {
    const v = article.get(key);
    if (key === 'authors') {
      if (v !== undefined && v !== null && !(Array.isArray(v) && v.every((a) => typeof a === 'string'))) throw new UsageError('manifest: article.authors must be a list of strings');
    } else if (v !== undefined && v !== null && typeof v !== 'string') throw new UsageError(`manifest: article.${key} must be a string`);
  }
  const publisher = d.get('publisher');
  if (typeof publisher.get('key_id') !== 'string') throw new UsageError('manifest: publisher.key_id must be a string');
  const iv = publisher.has('identity_version') ? publisher.get('identity_version') : null;
  if (iv !== null && !(typeof iv === 'number' && Number.isInteger(iv) && iv >= 1)) throw new UsageError('manifest: publisher.identity_version must be a positive integer');
  const resigned = publisher.get('resigned_at');
  if (resigned !== undefined && resigned !== null && typeof resigned !== 'string') throw new UsageError('manifest: publisher.resigned_at must be a string');
  const capture = d.get('capture');
  for (const key of ['requested_url', 'final_url', 'fetched_at', 'tool']) {
    const v = capture.get(key);
    if (v !== undefined && v !== null && typeof v !== 'string') throw new UsageError(`manifest: capture.${key} must be a string`);
  }
  const str = (v) => (v === undefined || v === null ? '' : String(v));
  return {
    doc: d,
    createdAt: d.get('created_at'),
    publisher: d.get('publisher'),
    article,
    capture,
    files: records,
    file(path) { return records.find((r) => r.path === path) || null; },
    title: str(article.get('title')),
    url: str(article.get('canonical_url') || capture.get('final_url')),
    capturedAt: str(capture.get('fetched_at') || d.get('created_at')),
  };
}

// -- identity chains -------------------------------------------------------------------

const TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

async function keyList(value, what, limit) {
  if (!Array.isArray(value) || value.length > limit) throw new UsageError(`identity ${what} must be a list of at most ${limit} keys`);
  const out = [];
  for (const item of value) {
    if (typeof item !== 'string') throw new UsageError(`identity ${what} must hold 'ed25519:...' strings`);
    const key = await PublicKey.fromText(item);
    if (out.some((k) => k.id === key.id)) throw new UsageError(`identity ${what} lists key ${key.keyId} twice`);
    out.push(key);
  }
  return out;
}

function validTime(text) {
  const t = Date.parse(text);
  if (Number.isNaN(t)) return false;
  return new Date(t).toISOString().replace('.000Z', 'Z') === text; // no 2026-02-31
}

async function parseIdentity(payload) {
  const d = loads(payload, MAX_DOCUMENT, 'identity');
  if (d.get('format') !== 'mirror-identity/1') throw new UsageError(`identity format is '${d.get('format')}', expected 'mirror-identity/1'`);
  const name = d.get('name'), version = d.get('version'), expires = d.get('expires');
  const threshold = d.get('threshold'), previous = d.has('previous') ? d.get('previous') : null;
  if (typeof name !== 'string') throw new UsageError('identity name must be a string');
  if (!NAME_RE.test(name)) throw new UsageError(`invalid identity name '${name}'`);
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1 || version > MAX_VERSIONS) throw new UsageError(`identity version must be an integer from 1 to ${MAX_VERSIONS}`);
  if (typeof expires !== 'string' || !TIME_RE.test(expires)) throw new UsageError('identity expires must be a UTC time like 2026-01-31T12:00:00Z');
  if (!validTime(expires)) throw new UsageError(`identity expires is not a valid time: '${expires}'`);
  const keys = await keyList(d.get('keys'), 'keys', MAX_KEYS);
  const revoked = await keyList(d.has('revoked') ? d.get('revoked') : [], 'revoked', MAX_REVOKED);
  if (!keys.length) throw new UsageError('identity must list at least one key');
  if (typeof threshold !== 'number' || !Number.isInteger(threshold)) throw new UsageError('identity threshold must be an integer');
  if (threshold < 1 || threshold > keys.length) throw new UsageError(`identity threshold ${threshold} is not between 1 and ${keys.length}`);
  if (keys.some((k) => revoked.some((r) => r.id === k.id))) throw new UsageError('identity lists a key as both current and revoked');
  if ((version === 1) !== (previous === null)) throw new UsageError('identity previous must be null for version 1 and a hash after it');
  if (previous !== null && (typeof previous !== 'string' || !SHA_RE.test(previous))) throw new UsageError("identity previous must be 'sha256:<64 hex>'");
  return { name, version, expires, threshold, keys, revoked, previous, timestamps: d.has('timestamps') ? d.get('timestamps') : undefined };
}

// The envelopes of a chain object ({format, versions}); damage is UsageError.
export function parseChainObj(doc, what = CHAIN_NAME) {
  if (!(doc instanceof Map) || doc.get('format') !== 'mirror-identity-chain/1' || !Array.isArray(doc.get('versions'))) throw new UsageError(`${what} is not an identity chain (mirror-identity-chain/1)`);
  const versions = doc.get('versions');
  if (versions.length < 1 || versions.length > MAX_VERSIONS) throw new LimitExceeded(`${what} must hold 1 to ${MAX_VERSIONS} identity versions`);
  return versions.map((item) => {
    if (!(item instanceof Map)) throw new UsageError(`${what}: each version is a signed envelope object`);
    const again = loads(dumps(item), MAX_DOCUMENT, what);
    return envelopeFromDoc(again, what);
  });
}

// identity.json bytes: hostile JSON stays exit 2, other damage is a broken chain.
export function parseChain(data, what = CHAIN_NAME) {
  try {
    return parseChainObj(loads(stripNewlines(data), MAX_CHAIN, what), what);
  } catch (e) {
    if (e instanceof HostileJSON || e instanceof LimitExceeded) throw e;
    if (e instanceof UsageError) throw new VerificationError(`${what} is damaged: ${e.message}`, 'identity-invalid');
    throw e;
  }
}

async function signersOf(env, candidates) {
  const msg = pae(env.type, env.payload);
  const found = new Map();
  const pool = [];
  for (const k of candidates) if (!pool.some((p) => p.id === k.id)) pool.push(k);
  for (const s of env.signatures) {
    for (const k of pool) {
      if (!found.has(k.id) && (await k.verify(s.sig, msg))) { found.set(k.id, k); break; }
    }
  }
  return found;
}

async function parseLink(env) {
  if (env.type !== IDENTITY_TYPE) throw new VerificationError(`identity: payload type is '${env.type}', expected '${IDENTITY_TYPE}'`, 'identity-invalid');
  try {
    return await parseIdentity(env.payload);
  } catch (e) {
    if (e instanceof HostileJSON || e instanceof LimitExceeded) throw e;
    if (e instanceof UsageError) throw new VerificationError(`identity version is damaged: ${e.message}`, 'identity-invalid');
    throw e;
  }
}

const invalid = (m) => new VerificationError(m, 'identity-invalid');

export async function verifyLink(previous, env, revokedBefore) {
  const doc = await parseLink(env);
  const digest = await sha256Tag(env.payload);
  const label = `identity '${doc.name}' version ${doc.version}`;
  if (previous === null) {
    if (doc.version !== 1) throw invalid(`${label}: the chain must start at version 1`);
  } else {
    const prev = previous.identity;
    if (doc.version !== prev.version + 1) throw invalid(`${label} follows version ${prev.version}: versions must go up by one`);
    if (doc.name !== prev.name) throw invalid(`${label}: name differs from version ${prev.version}`);
    if (doc.previous !== previous.digest) throw invalid(`${label}: its previous hash does not match version ${prev.version}`);
  }
  const revoked = new Set([...revokedBefore, ...doc.revoked.map((k) => k.id)]);
  const reused = doc.keys.filter((k) => revoked.has(k.id));
  if (reused.length) throw invalid(`${label} lists key ${reused[0].keyId}, revoked earlier`);
  const own = await signersOf(env, doc.keys);
  if (own.size < doc.threshold) throw invalid(`${label}: signed by ${own.size} of its own keys, ${doc.threshold} required`);
  if (previous !== null) {
    const prev = previous.identity;
    const old = await signersOf(env, prev.keys.filter((k) => !revoked.has(k.id)));
    if (old.size < prev.threshold) throw invalid(`${label}: signed by ${old.size} unrevoked keys of version ${prev.version}, ${prev.threshold} required`);
  }
  return { identity: doc, envelope: env, digest };
}

export class Chain {
  constructor(links) { this.links = links; }
  get current() { return this.links[this.links.length - 1].identity; }
  get name() { return this.links[0].identity.name; }
  version(n) { return this.links[n - 1].identity; }
  get revoked() { const s = new Set(); for (const l of this.links) for (const k of l.identity.revoked) s.add(k.id); return s; }
  revokedIn(key) { const l = this.links.find((x) => x.identity.revoked.some((k) => k.id === key.id)); return l ? l.identity.version : null; }
  allKeys() { const out = []; for (const l of this.links) for (const k of l.identity.keys) if (!out.some((o) => o.id === k.id)) out.push(k); return out; }
  isPrefixOf(other) { return this.links.length <= other.links.length && this.links.every((l, i) => l.digest === other.links[i].digest); }
  // the chain object as identity.json holds it (for the remembered state)
  toObj() { return new Map([['format', 'mirror-identity-chain/1'], ['versions', this.links.map((l) => l.envelope.doc)]]); }
}

export async function anchoredBy(chain, key) {
  for (const l of chain.links) {
    if (l.identity.keys.some((k) => k.id === key.id) && (await signersOf(l.envelope, [key])).size) return true;
  }
  return false;
}

export async function verifyChain(envelopes, anchors) {
  if (envelopes.length < 1 || envelopes.length > MAX_VERSIONS) throw new LimitExceeded(`an identity chain holds 1 to ${MAX_VERSIONS} versions`);
  const links = [];
  let revoked = new Set();
  for (const env of envelopes) {
    const link = await verifyLink(links.length ? links[links.length - 1] : null, env, revoked);
    revoked = new Set([...revoked, ...link.identity.revoked.map((k) => k.id)]);
    links.push(link);
  }
  const chain = new Chain(links);
  for (const a of anchors) if (await anchoredBy(chain, a)) return chain;
  throw new VerificationError(`identity '${chain.name}' is not signed by a trusted key`, 'untrusted-key');
}

export function merge(chains) {
  const ordered = [...chains].sort((a, b) => a.links.length - b.links.length);
  const longest = ordered[ordered.length - 1];
  for (const c of ordered.slice(0, -1)) {
    if (!c.isPrefixOf(longest)) {
      const at = c.links.findIndex((l, i) => l.digest !== longest.links[i].digest) + 1;
      throw invalid(`identity '${longest.name}': two different version ${at} documents (a forked or forged chain)`);
    }
  }
  return longest;
}

// A manifest is valid when a threshold of the keys of the identity version it names
// signed it, or a threshold of the newest version's keys did; revoked keys never count.
export async function judge(env, chain, anchor) {
  const pool = chain.allKeys().map((k) => ({ name: anchor.name, key: k }));
  const verified = await verifyEnvelope(env, MANIFEST_TYPE, pool, 1, `manifest (identity '${chain.name}')`);
  const manifest = readManifest(env.payload);
  const signed = new Map(verified.map((t) => [t.key.id, t.key]));
  const revoked = chain.revoked;
  const good = new Set([...signed.keys()].filter((id) => !revoked.has(id)));
  const current = chain.current;
  const named = manifest.publisher.get('identity_version');
  let baseKeys, baseOk, baseThreshold, label;
  if (named === undefined || named === null) {
    baseKeys = [anchor.key];
    baseOk = good.has(anchor.key.id);
    baseThreshold = 1;
    label = 'the trusted key';
  } else {
    if (typeof named !== 'number' || !Number.isInteger(named) || named < 1) throw invalid('manifest: publisher.identity_version must be a positive integer');
    if (named > chain.links.length) throw invalid(`manifest names identity '${chain.name}' version ${named}, but only versions up to ${current.version} are known (missing or short ${CHAIN_NAME})`);
    const v = chain.version(named);
    baseKeys = v.keys;
    baseThreshold = v.threshold;
    baseOk = baseKeys.filter((k) => good.has(k.id)).length >= baseThreshold;
    label = `version ${named}`;
  }
  let signer;
  if (baseOk) signer = baseKeys.find((k) => good.has(k.id));
  else if (current.keys.filter((k) => good.has(k.id)).length >= current.threshold) signer = current.keys.find((k) => good.has(k.id));
  else {
    const bad = [...signed.values()].filter((k) => revoked.has(k.id)).sort((a, b) => (a.keyId < b.keyId ? -1 : 1));
    if (bad.length) throw new VerificationError(`manifest is signed by key ${bad[0].keyId}, revoked in identity '${chain.name}' version ${chain.revokedIn(bad[0])}, and not re-signed by current keys (see \`mirror identity resign\`)`, 'revoked-key');
    const count = baseKeys.filter((k) => good.has(k.id)).length;
    throw new VerificationError(`manifest: ${count} valid signature(s) by keys of identity '${chain.name}' ${label}, ${baseThreshold} required`, count ? 'threshold-not-met' : 'untrusted-key');
  }
  const byCurrent = current.keys.filter((k) => good.has(k.id)).length >= current.threshold;
  return { manifest, signer: { name: anchor.name, key: signer }, identityVersion: typeof named === 'number' ? named : null, byCurrent };
}

// The whole signature check of a manifest.json (verify.check_manifest with
// identity.check_manifest): the bundle's chain and the remembered chains of each
// trusted key (state: [{anchor: PublicKey, chain: Map}]) must agree; returns the
// manifest, the signer and the chain to remember (or null).
export async function checkManifest(data, trusted, chainData, state, tsaRoots = []) {
  const env = parseManifestEnvelope(data);
  const anchors = trusted.map((t) => t.key);
  const sources = new Map(); // anchor id -> chains
  const add = (t, c) => { if (!sources.has(t.key.id)) sources.set(t.key.id, [t, []]); sources.get(t.key.id)[1].push(c); };
  if (chainData !== null) {
    const bundled = await verifyChain(parseChain(chainData), anchors);
    for (const t of trusted) if (await anchoredBy(bundled, t.key)) add(t, bundled);
  }
  for (const t of trusted) {
    for (const s of state) {
      if (s.anchor.id !== t.key.id) continue;
      let known;
      try {
        known = await verifyChain(parseChainObj(s.chain, 'identity state'), [t.key]);
      } catch (e) {
        // remembered state is re-verified on every use; a corrupt one is an error, as in the CLI
        if (e instanceof MirrorError) throw new UsageError(`remembered identity state is not valid: ${e.message}`);
        throw e;
      }
      add(t, known);
    }
  }
  if (!sources.size) {
    const verified = await verifyEnvelope(env, MANIFEST_TYPE, trusted, 1, 'manifest');
    const manifest = readManifest(env.payload);
    await checkSignatures(env, anchors);
    const stamp = await verifyEnvelopeStamps(env, tsaRoots);
    return { manifest, signer: verified[0], chain: null, anchor: null, identityVersion: null, stamp };
  }
  let firstError = null;
  for (const [, [anchor, chains]] of sources) {
    let result, known;
    try {
      known = merge(chains);
      result = await judge(env, known, anchor);
    } catch (e) {
      if (!(e instanceof VerificationError)) throw e;
      firstError = firstError || e;
      continue;
    }
    await checkSignatures(env, known.allKeys());
    const named = result.manifest.publisher.get('identity_version');
    const stamp = await judgeTime(env, known, typeof named === 'number' ? named : null, result.byCurrent, tsaRoots);
    return { manifest: result.manifest, signer: result.signer, chain: known, anchor: anchor.key, identityVersion: typeof named === 'number' ? named : null, stamp };
  }
  throw firstError;
}

// -- the time rule (mirror/timeline.py, decision 0008) ---------------------------------

const MAX_TSA_ROOTS = 4;

// An identity version's signed `timestamps` field: {required, roots}; damage is UsageError.
async function policyOf(value) {
  if (value === undefined) return { required: false, roots: [] };
  const what = 'identity timestamps';
  if (!(value instanceof Map) || [...value.keys()].sort().join(',') !== 'required,tsa') throw new UsageError(`${what} must be an object with exactly required and tsa`);
  const required = value.get('required'), entries = value.get('tsa');
  if (typeof required !== 'boolean') throw new UsageError(`${what}.required must be true or false`);
  if (!Array.isArray(entries) || entries.length > MAX_TSA_ROOTS) throw new UsageError(`${what}.tsa must be a list of at most ${MAX_TSA_ROOTS} roots`);
  const roots = [];
  for (const e of entries) {
    if (!(e instanceof Map) || [...e.keys()].sort().join(',') !== 'certificate,name' || typeof e.get('name') !== 'string' || typeof e.get('certificate') !== 'string') throw new UsageError(`${what}.tsa entries have exactly name and certificate`);
    if (!NAME_RE.test(e.get('name'))) throw new UsageError(`invalid TSA name '${e.get('name')}': use letters, digits, '.', '_' or '-' (at most 64)`);
    if (/[^\x00-\x7f]/.test(e.get('certificate'))) throw new UsageError(`${what}.tsa certificate is not PEM`);
    roots.push(await rootFromPem(e.get('name'), e.get('certificate'), `${what}.tsa certificate`));
  }
  return { required, roots };
}

export async function chainPolicies(chain) {
  const out = [];
  for (const l of chain.links) {
    try {
      out.push(await policyOf(l.identity.timestamps));
    } catch (e) {
      if (e instanceof UsageError) throw invalid(`identity version ${l.identity.version}: ${e.message}`);
      throw e;
    }
  }
  return out;
}

const utc = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

// timeline.check_bundle_time: versions [{version, required, stamped (ms|null)}], version 1 first.
export function checkBundleTime(versions, named, stamped) {
  const required = versions.filter((v) => v.required).map((v) => v.version);
  if (!required.length) return;
  const firstRequired = Math.min(...required);
  const number = named === null ? 0 : named;
  const what = named === null ? 'names no identity version' : `names identity version ${named}`;
  const current = Math.max(...versions.map((v) => v.version));
  if (number >= current) return;
  const namedRequires = versions.some((v) => v.version === number && v.required);
  if (number < firstRequired || namedRequires) {
    const later = versions.filter((v) => v.version > number && v.stamped !== null).map((v) => v.stamped);
    const limit = later.length ? Math.min(...later) : null;
    const why = 'signed-after-rotation';
    if (stamped === null) throw new VerificationError(`bundle ${what}, superseded before identity version ${current}, which requires timestamps, and carries no timestamp; current keys must re-sign it (\`mirror identity resign\`)`, why);
    if (limit === null) throw new VerificationError(`bundle ${what}, but no later version has a timestamp to show the bundle came before it; current keys must re-sign it (\`mirror identity resign\`)`, why);
    if (stamped > limit) throw new VerificationError(`bundle ${what} but was stamped ${utc(stamped)}, after that version was superseded (${utc(limit)}): signed after the rotation`, why);
  }
}

// verify._judge_time: the bundle's stamp under the reader's and the identity's roots,
// and the time rule when a known version requires timestamps.
async function judgeTime(env, chain, named, byCurrent, readerRoots) {
  const policies = await chainPolicies(chain);
  const roots = mergedRoots(readerRoots, policies);
  const stamp = await verifyEnvelopeStamps(env, roots);
  if (byCurrent || !policies.some((p) => p.required)) return stamp;
  const versions = [];
  for (let i = 0; i < chain.links.length; i++) {
    const s = await verifyEnvelopeStamps(chain.links[i].envelope, roots);
    versions.push({ version: chain.links[i].identity.version, required: policies[i].required, stamped: s === null ? null : s.time });
  }
  checkBundleTime(versions, named, stamp === null ? null : stamp.time);
  return stamp;
}
