// The reader's verdict over a CAR or a single-file export, the same as `mirror verify
// --json` (mirror/verify.py, mirror/export.py and the project contract): signature by
// a trusted key under the publisher's identity, every listed file's size, sha256 and
// CID, no unlisted file, and the root CID rebuilt from the signed file list.
import { MirrorError, UsageError, HostileJSON, VerificationError, LimitExceeded, utf8, utf8DecodeOrNull, concatBytes, bytesEqual, b64encode, b64decodeStrict, sha256, toHex } from './util.js';
import { loads, dumps, dumpsText, fromPlain, toPlain } from './json.js';
import { CID, RAW, openCar, walk, readFile, makeBudget, fileEntry, fileTsize, directoryRoot } from './ipld.js';
import { rootFromPem, stampToJson, parseReply, formatTime } from './tsp.js';
import { PublicKey, checkManifest, MANIFEST_NAME, CHAIN_NAME, MAX_MANIFEST, MAX_CHAIN } from './trust.js';

export const EXPORT_FORMAT = 'mirror-export/1';
const PAGE = 'index.html';
export const EXPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";
const CSP_META = `<meta http-equiv="Content-Security-Policy" content="${EXPORT_CSP}">`;
const BLOCK_OPEN = '<script type="application/json" id="mirror-export">';
const BLOCK_CLOSE = '<\/script>'; // escaped: this code sits inside a script element
const INSERT_PREFIX = '\n<meta charset="utf-8">\n' + CSP_META + '\n' + BLOCK_OPEN;
const MIME = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', avif: 'image/avif' };
export const MAX_EXPORT = 64 << 20;

// Python's re semantics on str patterns: \w is Unicode letters, digits and '_', and
// \s includes \x1c-\x1f and \x85; spelled out so both sides cut the same markup.
const W = '[\\p{L}\\p{N}_]';
const S = '[\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const HEAD_RE = new RegExp(`<head(?!${W})[^>]*>`, 'iu');
const BODY_RE = new RegExp(`<body(?!${W})[^>]*>`, 'iu');
const STAMP_STYLE = 'margin:0;padding:6px 10px;background:#eef3ff;font:14px/1.4 sans-serif';

// The visible line an export of a stamped bundle opens its body with: the earliest time
// its signatures' tokens claim (export_format.stamp_line, byte for byte).
export function stampLine(envelope) {
  const times = [];
  for (const sig of envelope.get('signatures') || []) {
    const token = sig instanceof Map ? sig.get('tst') : undefined;
    if (typeof token !== 'string') continue;
    try {
      times.push(parseReply(b64decodeStrict(token, 'timestamp token')).genTime);
    } catch {
      // a token that does not parse claims nothing; the verdict refuses it
    }
  }
  if (!times.length) return null;
  const at = formatTime(Math.floor(Math.min(...times) / 1000) * 1000);
  return `<p class="mirror-stamp" style="${STAMP_STYLE}">Timestamp: this article's signature existed by ${at} (an RFC 3161 token in this file; mirror verify and the verifier page check it).</p>`;
}
const CSP_TAG_RE = new RegExp(`<meta(?!${W})[^>]*(?<!${W})http-equiv${S}*=${S}*["']?content-security-policy(?!${W})[^>]*>`, 'giu');
const SRC_RE = new RegExp(`(?<!${W})src="([^"<>]*)"`, 'gu');
const DATA_SRC_RE = new RegExp(`(?<!${W})src="data:([A-Za-z0-9.+/-]*);base64,([A-Za-z0-9+/=]*)"`, 'gu');
const WRAPPED_SRC_RE = new RegExp(`(?<!${W})src="data:[A-Za-z0-9.+/-]*;base64,[A-Za-z0-9+/=\\s]*"`, 'gu');
const ANY_DATA_SRC_RE = new RegExp(`(?<!${W})src${S}*=${S}*["']?${S}*data:`, 'iu');
const SCRIPT_RE = new RegExp(`<script(?!${W})`, 'iu');

export function mimeOf(path) {
  if (!path.startsWith('assets/') || !path.includes('.')) return null;
  return MIME[path.split('.').pop().toLowerCase()] || null;
}

// Python string offsets count code points; JS strings count UTF-16 units.
const cpLen = (s) => { let n = 0; for (const _ of s) n++; return n; };
function cpToUnit(s, cp) {
  let i = 0;
  for (let n = 0; n < cp; n++) i += s.codePointAt(i) > 0xffff ? 2 : 1;
  return i;
}

function blockJson(block) { return dumpsText(block).replace(/</g, '\\u003c'); }

// The export bytes of (page, images, manifest.json, identity chain): export.render.
export function render(page, images, manifestJson, identity) {
  const text = utf8DecodeOrNull(page);
  if (text === null) throw new UsageError('the reader page is not UTF-8; cannot export it');
  if (SCRIPT_RE.test(text)) throw new UsageError('the reader page contains a <script>; exports carry no script');
  if (ANY_DATA_SRC_RE.test(text)) throw new UsageError('the reader page already holds data: URLs; cannot export it');
  const head = HEAD_RE.exec(text);
  if (!head) throw new UsageError('the reader page has no <head>; cannot export it');
  let n = manifestJson.length;
  while (n && manifestJson[n - 1] === 10) n--;
  const envelope = loads(manifestJson.subarray(0, n), MAX_MANIFEST, 'manifest.json');
  if (!bytesEqual(concatBytes([dumps(envelope), utf8('\n')]), manifestJson)) throw new UsageError('manifest.json is not in canonical form; re-sign the bundle to export it');
  const edits = [];
  const removed = [];
  for (const m of text.matchAll(CSP_TAG_RE)) {
    edits.push([m.index, m.index + m[0].length, '']);
    removed.push([cpLen(text.slice(0, m.index)), m[0]]);
  }
  const inlined = [];
  for (const m of text.matchAll(SRC_RE)) {
    const path = m[1];
    const mime = mimeOf(path);
    if (mime === null || !images.has(path)) continue;
    edits.push([m.index, m.index + m[0].length, `src="data:${mime};base64,${b64encode(images.get(path))}"`]);
    inlined.push(path);
  }
  const block = new Map([['format', EXPORT_FORMAT], ['page', PAGE], ['envelope', envelope], ['identity', identity], ['inlined', inlined], ['removed', removed]]);
  const at = head.index + head[0].length;
  edits.push([at, at, INSERT_PREFIX + blockJson(block) + BLOCK_CLOSE]);
  const line = stampLine(envelope);
  const body = BODY_RE.exec(text);
  if (line !== null && body) edits.push([body.index + body[0].length, body.index + body[0].length, line]);
  edits.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out = [];
  let pos = 0;
  for (const [start, end, rep] of edits) {
    if (start < pos) throw new UsageError('the reader page has overlapping markup; cannot export it');
    out.push(text.slice(pos, start), rep);
    pos = end;
  }
  out.push(text.slice(pos));
  return utf8(out.join(''));
}

const altered = (detail, reason = 'content-mismatch') => new VerificationError(`not a mirror single-file export, or it was altered: ${detail}`, reason);

// Recover index.html, the inlined images, manifest.json and the identity chain from an
// export: nothing here is trusted, the caller checks every part and re-renders.
export function takeApart(data) {
  const text = utf8DecodeOrNull(data);
  if (text === null) throw new VerificationError('the file is not UTF-8: it was re-encoded in transit (charset changed)', 'non-canonical');
  const head = HEAD_RE.exec(text);
  if (!head) throw altered('no <head>');
  const headEnd = head.index + head[0].length;
  if (!text.startsWith(INSERT_PREFIX, headEnd)) {
    if (text.startsWith(INSERT_PREFIX.replace(/\n/g, '\r\n'), headEnd)) throw new VerificationError("the file's line endings were changed in transit (LF to CRLF); ask for the original file", 'non-canonical');
    throw altered('no signed data block after <head>');
  }
  const start = headEnd + INSERT_PREFIX.length;
  const end = text.indexOf(BLOCK_CLOSE, start);
  if (end < 0) throw altered('unterminated data block');
  // a data block that does not parse is malformed input (exit 2), as on the CLI
  const block = loads(utf8(text.slice(start, end)), MAX_MANIFEST * 2, 'export data block');
  if (block.get('format') !== EXPORT_FORMAT) throw altered(`unknown format '${block.get('format')}'`);
  const identity = block.has('identity') ? block.get('identity') : null;
  if (block.get('page') !== PAGE || !(identity === null || identity instanceof Map)) throw altered('unexpected page or identity');
  const envelope = block.get('envelope');
  const inlined = block.get('inlined');
  if (!(envelope instanceof Map)) throw altered('no manifest envelope');
  if (!Array.isArray(inlined) || !inlined.every((p) => typeof p === 'string')) throw altered("bad 'inlined' list");
  const removedRaw = block.get('removed');
  if (!Array.isArray(removedRaw)) throw altered("bad 'removed' list");
  const removed = removedRaw.map((item) => {
    if (!Array.isArray(item) || item.length !== 2 || typeof item[0] !== 'number' || !Number.isInteger(item[0]) || typeof item[1] !== 'string') throw altered("bad 'removed' entry");
    return item;
  });
  let rest = text.slice(0, headEnd) + text.slice(end + BLOCK_CLOSE.length);
  const line = stampLine(envelope);
  const body = BODY_RE.exec(rest);
  if (line !== null && body && rest.startsWith(line, body.index + body[0].length)) {
    const cut = body.index + body[0].length;
    rest = rest.slice(0, cut) + rest.slice(cut + line.length);
  }
  const images = new Map();
  const pieces = [];
  let pos = 0;
  const matches = [...rest.matchAll(DATA_SRC_RE)];
  if (matches.length !== inlined.length) {
    // base64 broken into lines (a mail or messenger re-wrapping it) is re-encoding, not tampering
    if ([...rest.matchAll(WRAPPED_SRC_RE)].length === inlined.length) throw new VerificationError("an inlined image's base64 was re-wrapped in transit; ask for the original file", 'non-canonical');
    throw altered(`${matches.length} inlined images, ${inlined.length} listed`);
  }
  matches.forEach((m, i) => {
    const path = inlined[i];
    let raw;
    try { raw = b64decodeStrict(m[2], `inlined image ${path}`); } catch (e) {
      throw new VerificationError(`inlined image ${path} was re-encoded in transit (${e.message})`, 'non-canonical');
    }
    if (images.has(path) && !bytesEqual(images.get(path), raw)) throw new VerificationError(`two different images claim to be ${path}`, 'content-mismatch');
    if (!images.has(path)) images.set(path, raw);
    pieces.push(rest.slice(pos, m.index), `src="${path}"`);
    pos = m.index + m[0].length;
  });
  pieces.push(rest.slice(pos));
  let page = pieces.join('');
  for (const [offset, tag] of [...removed].sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))) {
    if (offset < 0 || offset > cpLen(page)) throw altered('bad offset of a removed tag');
    const u = cpToUnit(page, offset);
    page = page.slice(0, u) + tag + page.slice(u);
  }
  return {
    page: utf8(page),
    images,
    manifestJson: concatBytes([dumps(envelope), utf8('\n')]),
    identity,
    identityJson: identity === null ? null : concatBytes([dumps(identity), utf8('\n')]),
  };
}

// -- verdicts --------------------------------------------------------------------------

async function checkFile(manifest, path, data) {
  const record = manifest.file(path);
  if (record === null) throw new VerificationError(`${path} is not listed in the signed manifest`, 'unlisted-file');
  if (data.length !== record.size || 'sha256:' + toHex(await sha256(data)) !== record.sha256) throw new VerificationError(`${path}: content differs from what the publisher signed`, 'content-mismatch');
  const entry = await fileEntry(data);
  if (!entry.cid.equals(CID.parse(record.cid))) throw new VerificationError(`${path}: CID differs from what the publisher signed`);
  return entry.tsize;
}

// The bundle's root from its signed file list, carried files' DAG sizes measured,
// the others computed from their signed sizes.
async function bundleRoot(manifest, manifestJson, tsizes) {
  const me = await fileEntry(manifestJson);
  const leaves = [[MANIFEST_NAME, me]];
  for (const rec of manifest.files) {
    leaves.push([rec.path, { cid: CID.parse(rec.cid), tsize: tsizes.has(rec.path) ? tsizes.get(rec.path) : fileTsize(rec.size) }]);
  }
  return directoryRoot(leaves);
}

function verdictOf(judged, root, checked, source) {
  const a = judged.manifest.article;
  const get = (k) => (a.has(k) && a.get(k) !== null ? a.get(k) : null);
  const authors = Array.isArray(get('authors')) ? get('authors') : [];
  return {
    ok: true,
    reason: null,
    root_cid: root,
    publisher: judged.signer.name,
    key_id: judged.signer.key.keyId,
    title: judged.manifest.title,
    byline: String(get('byline') || authors.join(', ')),
    url: judged.manifest.url,
    captured_at: judged.manifest.capturedAt,
    published: get('published'),
    language: get('language'),
    site_name: get('site_name'),
    files_checked: checked,
    source,
    identity_version: judged.identityVersion,
    timestamp: stampToJson(judged.stamp),
  };
}

export async function verifyExport(data, trusted, state, tsa = []) {
  if (data.length > MAX_EXPORT) throw new LimitExceeded(`single-file export is larger than ${MAX_EXPORT} bytes`);
  const parts = takeApart(data);
  const judged = await checkManifest(parts.manifestJson, trusted, parts.identityJson, state, tsa);
  const manifest = judged.manifest;
  const carried = new Map([[PAGE, parts.page], ...parts.images]);
  if (parts.identityJson !== null) carried.set(CHAIN_NAME, parts.identityJson);
  else if (manifest.file(CHAIN_NAME)) throw new VerificationError(`the export leaves out the signed ${CHAIN_NAME}`, 'missing-file');
  const tsizes = new Map();
  for (const path of [...carried.keys()].sort()) tsizes.set(path, await checkFile(manifest, path, carried.get(path)));
  // every signed image the page loads must travel inside the file
  const pageText = utf8DecodeOrNull(parts.page) || '';
  for (const m of pageText.matchAll(SRC_RE)) {
    if (mimeOf(m[1]) && manifest.file(m[1]) && !parts.images.has(m[1])) throw new VerificationError(`the export points at the signed image ${m[1]} instead of carrying it`, 'missing-file');
  }
  let again;
  try {
    again = render(parts.page, parts.images, parts.manifestJson, parts.identity);
  } catch (e) {
    if (e instanceof UsageError) throw new VerificationError(`the signed page cannot be exported: ${e.message}`, 'non-canonical');
    throw e;
  }
  if (!bytesEqual(again, data)) {
    throw new VerificationError("the file's bytes differ from the publisher's export although its parts verify: it was re-encoded or edited in transit (whitespace, line endings or base64 wrapping); ask for the original file", 'non-canonical');
  }
  const root = await bundleRoot(manifest, parts.manifestJson, tsizes);
  return {
    verdict: verdictOf(judged, root.toString(), tsizes.size, 'single-file'),
    remember: judged.chain ? { anchor: judged.anchor, chain: judged.chain } : null,
    fingerprint: judged.signer.key.fingerprint,
    display: data,
  };
}

export async function verifyCarBytes(data, trusted, state, rootText = null, tsa = []) {
  const store = await openCar(data, rootText ? CID.parse(rootText) : null);
  const root = store.root;
  const budget = makeBudget();
  const files = new Map();
  for (const e of walk(store, root, budget)) if (e.kind === 'file') files.set(e.path, e);
  const me = files.get(MANIFEST_NAME);
  if (!me) throw new VerificationError(`${root} has no manifest.json: not a signed bundle`, 'not-a-bundle');
  files.delete(MANIFEST_NAME);
  if (me.size > MAX_MANIFEST) throw new LimitExceeded(`manifest.json is larger than ${MAX_MANIFEST} bytes`);
  const ce = files.get(CHAIN_NAME);
  if (ce && ce.size > MAX_CHAIN) throw new LimitExceeded(`${CHAIN_NAME} is larger than ${MAX_CHAIN} bytes`);
  const manifestJson = readFile(store, me.cid, me.size, budget);
  const judged = await checkManifest(manifestJson, trusted, ce ? readFile(store, ce.cid, ce.size, budget) : null, state, tsa);
  const manifest = judged.manifest;
  // names and sizes first: time is bounded by what was signed, not by what was added
  const listed = new Map(manifest.files.map((f) => [f.path, f]));
  for (const path of [...files.keys()].sort()) if (!listed.has(path)) throw new VerificationError(`bundle holds a file its manifest does not list: ${path}`, 'unlisted-file');
  const sorted = [...listed.keys()].sort();
  for (const path of sorted) {
    const rec = listed.get(path);
    if (!files.has(path)) throw new VerificationError(`file listed in the manifest is missing: ${path}`, 'missing-file');
    const size = files.get(path).size;
    if (size !== rec.size) throw new VerificationError(`${path}: size ${size} differs from the signed ${rec.size}`, 'content-mismatch');
  }
  const contents = new Map();
  for (const path of sorted) {
    const rec = listed.get(path);
    const e = files.get(path);
    let sha;
    if (e.cid.codec === RAW && e.cid.hashCode === 0x12) {
      sha = 'sha256:' + toHex(e.cid.digest);
      if (path === PAGE || mimeOf(path)) contents.set(path, store.get(e.cid));
    } else {
      const bytes = readFile(store, e.cid, e.size, budget);
      sha = 'sha256:' + toHex(await sha256(bytes));
      if (path === PAGE || mimeOf(path)) contents.set(path, bytes);
    }
    if (sha !== rec.sha256) throw new VerificationError(`${path}: content differs from what the publisher signed`, 'content-mismatch');
    if (!e.cid.equals(CID.parse(rec.cid))) throw new VerificationError(`${path}: CID differs from what the publisher signed (re-chunked)`, 'non-canonical');
  }
  const rebuilt = await bundleRoot(manifest, manifestJson, new Map());
  if (!rebuilt.equals(root)) throw new VerificationError(`the CAR's root ${root} is not the one rebuilt from the signed file list (${rebuilt}): the DAG was re-encoded`, 'non-canonical');
  return {
    verdict: verdictOf(judged, root.toString(), listed.size, 'car'),
    remember: judged.chain ? { anchor: judged.anchor, chain: judged.chain } : null,
    fingerprint: judged.signer.key.fingerprint,
    display: contents.has(PAGE) ? inlinePage(contents.get(PAGE), contents) : null,
  };
}

// The reader page of a verified CAR with its signed images as data: URLs.
function inlinePage(page, files) {
  const text = utf8DecodeOrNull(page);
  if (text === null) return null;
  return utf8(text.replace(SRC_RE, (all, path) => {
    const mime = mimeOf(path);
    return mime && files.has(path) ? `src="data:${mime};base64,${b64encode(files.get(path))}"` : all;
  }));
}

export async function trustFromOptions(list) {
  const out = [];
  for (const t of list || []) out.push({ name: String(t.name), key: await PublicKey.fromText(t.key) });
  return out;
}
// The reader's TSA roots ({name, pem}: one self-signed CA certificate each).
export async function tsaFromOptions(list) {
  const out = [];
  for (const r of list || []) out.push(await rootFromPem(String(r.name), r.pem, `TSA root ${r.name}`));
  return out;
}
export async function stateFromOptions(list) {
  const out = [];
  for (const s of list || []) out.push({ anchor: await PublicKey.fromText(s.anchor), chain: s.chain instanceof Map ? s.chain : fromPlain(s.chain) });
  return out;
}

// One verdict for a file; never throws: a refusal is {ok: false, exit_code, reason, error}.
export async function verifyDetailed(bytes, name, options = {}) {
  try {
    if (!(bytes instanceof Uint8Array)) bytes = new Uint8Array(bytes);
    const trusted = await trustFromOptions(options.trust);
    if (!trusted.length) throw new UsageError('no trusted key: add the publisher\'s key first', 'usage');
    const state = await stateFromOptions(options.state);
    const tsa = await tsaFromOptions(options.tsa);
    const lower = String(name || '').toLowerCase();
    const isExport = lower.endsWith('.html') || lower.endsWith('.htm');
    return isExport ? await verifyExport(bytes, trusted, state, tsa) : await verifyCarBytes(bytes, trusted, state, options.root || null, tsa);
  } catch (e) {
    if (e instanceof MirrorError) return { verdict: { ok: false, exit_code: e.exitCode, reason: e.reason, error: e.message } };
    return { verdict: { ok: false, exit_code: 1, reason: 'internal', error: `internal error (${e && e.name}: ${e && e.message})` } };
  }
}

export async function verify(bytes, name, options = {}) {
  return (await verifyDetailed(bytes, name, options)).verdict;
}

export { toPlain };
