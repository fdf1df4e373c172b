// Content addressing, as mirror/ipld does it: CIDs (multiformats/cid), dag-pb
// (ipld.io/specs/codecs/dag-pb), UnixFS v1 with the unixfs-v1-2025 profile (IPIP-0499),
// and CARv1/CARv2 (ipld.io/specs/transport/car). Same limits and strictness as the CLI.
import { UsageError, VerificationError, LimitExceeded, b32encode, b32decode, b58encode, b58decode, varintEncode, varintDecode, varintLen, concatBytes, bytesEqual, sha256, toHex, utf8, utf8DecodeOrNull } from './util.js';

export const RAW = 0x55;
export const DAG_PB = 0x70;
export const DAG_CBOR = 0x71;
const SHA2_256 = 0x12;
const IDENTITY = 0x00;
const CODECS = new Set([RAW, DAG_PB, DAG_CBOR]);
const MAX_IDENTITY_DIGEST = 128;
const MAX_CID_TEXT = 256;

export class CID {
  constructor(version, codec, multihash) {
    if (version !== 0 && version !== 1) throw new UsageError(`unsupported CID version ${version}`);
    if (!CODECS.has(codec)) throw new UsageError(`unsupported CID codec 0x${codec.toString(16)}`);
    if (version === 0 && (codec !== DAG_PB || !isSha256Mh(multihash))) throw new UsageError('CIDv0 must be dag-pb over sha2-256');
    checkMultihash(multihash);
    this.version = version;
    this.codec = codec;
    this.multihash = multihash;
  }
  get hashCode() { return this.multihash[0]; }
  get digest() {
    const [, p1] = varintDecode(this.multihash, 0);
    const [, p2] = varintDecode(this.multihash, p1);
    return this.multihash.subarray(p2);
  }
  toBytes() {
    if (this.version === 0) return this.multihash;
    return concatBytes([varintEncode(1), varintEncode(this.codec), this.multihash]);
  }
  toString() {
    if (this.version === 0) return b58encode(this.multihash);
    return 'b' + b32encode(this.toBytes());
  }
  // a map key: two CIDs are equal when version, codec and multihash are
  get key() { return this.version + ':' + this.codec + ':' + toHex(this.multihash); }
  equals(other) { return this.key === other.key; }

  static fromDigest(codec, digest) {
    return new CID(1, codec, concatBytes([Uint8Array.of(SHA2_256, 32), digest]));
  }
  static parse(text) {
    if (typeof text !== 'string' || !text || text.length > MAX_CID_TEXT) throw new UsageError('not a CID: empty or too long');
    if (text.length === 46 && text.startsWith('Qm')) {
      const mh = b58decode(text);
      if (!isSha256Mh(mh) || b58encode(mh) !== text) throw new UsageError(`not a valid CIDv0: ${text}`);
      return new CID(0, DAG_PB, mh);
    }
    const prefix = text[0];
    const body = text.slice(1);
    let raw;
    if (prefix === 'b') {
      if (!body) throw new UsageError('invalid base32 character in CID');
      raw = b32decode(body);
    } else if (prefix === 'z') raw = b58decode(body);
    else throw new UsageError(`unsupported CID encoding (want base32 'b...'): ${text.slice(0, 20)}`);
    const [cid, end] = CID.fromBytes(raw, 0);
    if (end !== raw.length) throw new UsageError('trailing bytes after CID');
    if (cid.version === 0) throw new UsageError("CIDv0 must be written in base58 'Qm...'");
    return cid;
  }
  static fromBytes(buf, offset = 0) {
    if (offset + 2 <= buf.length && buf[offset] === SHA2_256 && buf[offset + 1] === 32) {
      const stop = offset + 34;
      if (stop > buf.length) throw new UsageError('truncated CIDv0');
      return [new CID(0, DAG_PB, buf.slice(offset, stop)), stop];
    }
    let [version, pos] = varintDecode(buf, offset);
    if (version !== 1) throw new UsageError(`unsupported CID version ${version}`);
    let codec;
    [codec, pos] = varintDecode(buf, pos);
    if (!CODECS.has(codec)) throw new UsageError(`unsupported CID codec 0x${codec.toString(16)}`);
    const mhStart = pos;
    let code;
    [code, pos] = varintDecode(buf, pos);
    if (code !== SHA2_256 && code !== IDENTITY) throw new UsageError(`unsupported multihash 0x${code.toString(16)}`);
    let length;
    [length, pos] = varintDecode(buf, pos);
    checkDigestLen(code, length);
    const stop = pos + length;
    if (stop > buf.length) throw new UsageError('truncated CID digest');
    return [new CID(1, codec, buf.slice(mhStart, stop)), stop];
  }
  // Raise unless `block` hashes to this CID.
  async verify(block) {
    const ok = this.hashCode === SHA2_256 ? bytesEqual(await sha256(block), this.digest) : bytesEqual(block, this.digest);
    if (!ok) throw new VerificationError(`block does not match its CID ${this}`, 'content-mismatch');
  }
}

function isSha256Mh(mh) { return mh.length === 34 && mh[0] === SHA2_256 && mh[1] === 32; }
function checkDigestLen(code, length) {
  if (code === SHA2_256 && length !== 32) throw new UsageError('sha2-256 multihash must have a 32-byte digest');
  if (code === IDENTITY && length > MAX_IDENTITY_DIGEST) throw new UsageError(`identity CID over ${MAX_IDENTITY_DIGEST} bytes refused`);
}
function checkMultihash(mh) {
  const [code, p1] = varintDecode(mh, 0);
  if (code !== SHA2_256 && code !== IDENTITY) throw new UsageError(`unsupported multihash 0x${code.toString(16)}`);
  const [length, p2] = varintDecode(mh, p1);
  checkDigestLen(code, length);
  if (mh.length - p2 !== length) throw new UsageError('multihash length does not match its digest');
}

// -- dag-pb: Links (field 2) before Data (field 1); PBLink Hash, Name, Tsize ----------

export function pbEncode(links, data) {
  const parts = [];
  for (const link of links) {
    const cid = link.hash.toBytes();
    const body = [Uint8Array.of(0x0a), varintEncode(cid.length), cid];
    if (link.name !== null && link.name !== undefined) {
      const name = utf8(link.name);
      body.push(Uint8Array.of(0x12), varintEncode(name.length), name);
    }
    if (link.tsize !== null && link.tsize !== undefined) body.push(Uint8Array.of(0x18), varintEncode(link.tsize));
    const b = concatBytes(body);
    parts.push(Uint8Array.of(0x12), varintEncode(b.length), b);
  }
  if (data !== null && data !== undefined) parts.push(Uint8Array.of(0x0a), varintEncode(data.length), data);
  return concatBytes(parts);
}

function bytesField(buf, pos, end) {
  const [length, p] = varintDecode(buf, pos);
  const stop = p + length;
  if (stop > end) throw new UsageError('dag-pb: field runs past the end of the block');
  return [buf.subarray(p, stop), stop];
}

function decodeLink(buf, pos, end) {
  let cid = null;
  let name = null;
  let tsize = null;
  let last = 0;
  while (pos < end) {
    const tag = buf[pos++];
    const field = tag === 0x0a ? 1 : tag === 0x12 ? 2 : tag === 0x18 ? 3 : 0;
    if (!field) throw new UsageError(`dag-pb: unexpected field tag 0x${tag.toString(16)} in link`);
    if (field <= last) throw new UsageError('dag-pb: link fields duplicated or out of order');
    last = field;
    if (field === 1) {
      let raw;
      [raw, pos] = bytesField(buf, pos, end);
      let used;
      [cid, used] = CID.fromBytes(raw, 0);
      if (used !== raw.length) throw new UsageError('dag-pb: trailing bytes after link CID');
    } else if (field === 2) {
      let raw;
      [raw, pos] = bytesField(buf, pos, end);
      name = utf8DecodeOrNull(raw);
      if (name === null) throw new UsageError('dag-pb: link name is not UTF-8');
    } else {
      [tsize, pos] = varintDecode(buf, pos);
      if (pos > end) throw new UsageError('dag-pb: Tsize runs past the end of the link');
    }
  }
  if (cid === null) throw new UsageError('dag-pb: link without Hash');
  return { hash: cid, name, tsize };
}

export function pbDecode(buf) {
  const end = buf.length;
  let pos = 0;
  const links = [];
  let data = null;
  while (pos < end) {
    const tag = buf[pos++];
    if (tag === 0x12) {
      if (data !== null) throw new UsageError('dag-pb: link after Data');
      const [length, p] = varintDecode(buf, pos);
      const stop = p + length;
      if (stop > end) throw new UsageError('dag-pb: link runs past the end of the block');
      links.push(decodeLink(buf, p, stop));
      pos = stop;
    } else if (tag === 0x0a) {
      if (data !== null) throw new UsageError('dag-pb: Data appears twice');
      [data, pos] = bytesField(buf, pos, end);
    } else throw new UsageError(`dag-pb: unexpected field tag 0x${tag.toString(16)}`);
  }
  return { links, data };
}

// -- UnixFS Data protobuf --------------------------------------------------------------

export const CHUNK_SIZE = 1 << 20;
export const MAX_LINKS = 1024;
export const HAMT_THRESHOLD = 262144;
const T_RAW = 0, T_DIRECTORY = 1, T_FILE = 2, T_HAMT = 5;
const WIRE = { 1: 0, 2: 2, 3: 0, 4: 0, 5: 0, 6: 0, 7: 0, 8: 2 };

export function fsEncode(type, filesize, blocksizes) {
  const parts = [Uint8Array.of(0x08), varintEncode(type)];
  if (filesize !== null && filesize !== undefined) parts.push(Uint8Array.of(0x18), varintEncode(filesize));
  for (const s of blocksizes || []) parts.push(Uint8Array.of(0x20), varintEncode(s));
  return concatBytes(parts);
}
export const DIR_DATA = fsEncode(T_DIRECTORY, null, []);

export function fsDecode(buf) {
  let pos = 0;
  let last = 0;
  const values = {};
  const blocksizes = [];
  while (pos < buf.length) {
    let tag;
    [tag, pos] = varintDecode(buf, pos);
    const num = Math.floor(tag / 8);
    const wire = tag & 7;
    const expected = WIRE[num];
    if (expected === undefined || wire !== expected) throw new UsageError(`unixfs: unexpected field ${num} (wire type ${wire})`);
    if (num < last || (num === last && num !== 4)) throw new UsageError('unixfs: fields duplicated or out of order');
    last = num;
    if (wire === 0) {
      let v;
      [v, pos] = varintDecode(buf, pos);
      if (num === 4) blocksizes.push(v);
      else if (num !== 7) values[num] = v;
    } else {
      let length;
      [length, pos] = varintDecode(buf, pos);
      if (pos + length > buf.length) throw new UsageError('unixfs: field runs past the end');
      if (num === 2) values[2] = buf.subarray(pos, pos + length);
      pos += length;
    }
  }
  if (!(1 in values)) throw new UsageError('unixfs: Data without Type');
  return { type: values[1], data: values[2] || null, filesize: 3 in values ? values[3] : null, blocksizes };
}

// -- building: the CID and DAG size of a file held in memory (as unixfs.add_stream) ----

async function fileNode(links, emit) {
  const sizes = links.map((l) => l.filesize);
  const filesize = sizes.reduce((a, b) => a + b, 0);
  const block = pbEncode(links.map((l) => ({ hash: l.cid, name: '', tsize: l.tsize })), fsEncode(T_FILE, filesize, sizes));
  const cid = CID.fromDigest(DAG_PB, await sha256(block));
  if (emit) emit(cid, block);
  return { cid, tsize: block.length + links.reduce((a, l) => a + l.tsize, 0), filesize };
}

// {cid, tsize} of `data` laid out as the profile does: one raw leaf, or 1 MiB raw
// leaves under a balanced DAG 1024 wide. `emit(cid, block)` receives every block.
export async function fileEntry(data, emit = null) {
  if (data.length <= CHUNK_SIZE) {
    const cid = CID.fromDigest(RAW, await sha256(data));
    if (emit) emit(cid, data);
    return { cid, tsize: data.length };
  }
  const levels = [[]];
  const push = async (level, link) => {
    if (level === levels.length) levels.push([]);
    if (levels[level].length === MAX_LINKS) {
      await push(level + 1, await fileNode(levels[level], emit));
      levels[level] = [];
    }
    levels[level].push(link);
  };
  for (let off = 0; off < data.length; off += CHUNK_SIZE) {
    const chunk = data.subarray(off, Math.min(off + CHUNK_SIZE, data.length));
    const cid = CID.fromDigest(RAW, await sha256(chunk));
    if (emit) emit(cid, chunk);
    await push(0, { cid, tsize: chunk.length, filesize: chunk.length });
  }
  let level = 0;
  let link;
  for (;;) {
    link = await fileNode(levels[level], emit);
    if (level === levels.length - 1) break;
    levels[level] = [];
    await push(level + 1, link);
    level++;
  }
  return { cid: link.cid, tsize: link.tsize };
}

// DAG size of a file of `size` bytes, arithmetically: every CID in the layout is 36
// bytes, so block lengths follow from the sizes alone (never by hashing stand-in bytes).
// Any declared size costs microseconds: only the last node of each level is not a
// full subtree, and full subtrees are computed once (as unixfs.file_tsize).
export function fileTsize(size) {
  if (size <= CHUNK_SIZE) return size;
  let height = 1;
  let span = CHUNK_SIZE * MAX_LINKS; // bytes under one node of this height
  while (span < size) { height++; span *= MAX_LINKS; }
  const memo = new Map();
  const node = (bytes, h) => {
    const key = bytes + '/' + h;
    if (memo.has(key)) return memo.get(key);
    const childSpan = CHUNK_SIZE * MAX_LINKS ** (h - 1);
    let blockLen = 0;
    let total = 0;
    const sizes = [];
    for (let off = 0; off < bytes; off += childSpan) {
      const part = Math.min(childSpan, bytes - off);
      const t = h === 1 ? part : node(part, h - 1);
      sizes.push(part);
      const body = 2 + 36 + 2 + 1 + varintLen(t); // Hash, empty Name, Tsize
      blockLen += 1 + varintLen(body) + body;
      total += t;
    }
    let fs = 2 + 1 + varintLen(bytes);
    for (const s of sizes) fs += 1 + varintLen(s);
    blockLen += 1 + varintLen(fs) + fs;
    memo.set(key, blockLen + total);
    return blockLen + total;
  };
  return node(size, height);
}

// Root CID of a directory tree given as path -> {cid, tsize}, built as add_path does.
export async function directoryRoot(leaves) {
  const tree = new Map();
  for (const [path, leaf] of leaves) {
    let node = tree;
    const parts = path.split('/');
    for (const d of parts.slice(0, -1)) {
      if (!node.has(d)) node.set(d, new Map());
      node = node.get(d);
    }
    node.set(parts[parts.length - 1], leaf);
  }
  const build = async (node) => {
    const names = [...node.keys()].sort(compareUtf8);
    const links = [];
    let total = 0;
    for (const name of names) {
      const child = node.get(name);
      const { cid, tsize } = child instanceof Map ? await build(child) : child;
      links.push({ hash: cid, name, tsize });
      total += tsize;
    }
    const block = pbEncode(links, DIR_DATA);
    return { cid: CID.fromDigest(DAG_PB, await sha256(block)), tsize: block.length + total };
  };
  return (await build(tree)).cid;
}

export function compareUtf8(a, b) {
  const x = utf8(a);
  const y = utf8(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

// -- names (unixfs.check_name, fold_name) ----------------------------------------------

export function checkName(name, where) {
  if (name === '' || name === '.' || name === '..') throw new UsageError(`invalid name '${name}' in ${where}`);
  if (/[/\\\0]/.test(name) || /^[A-Za-z]:/.test(name)) throw new UsageError(`invalid name '${name}' in ${where}: separators, NUL or drive letter`);
}
// Python's str.casefold is full case folding; upper then lower case gives the same
// for the letters that matter here (ß -> ss, ﬃ -> ffi, final sigma).
export function casefold(text) { return text.toUpperCase().toLowerCase(); }
export function foldName(name) { return casefold(name.normalize('NFC')); }

// -- CAR --------------------------------------------------------------------------------

export const CAR_LIMITS = { maxBlockSize: 2 * 1024 * 1024, maxBlocks: 1000000, maxDepth: 1024 };
const MAX_HEADER = 64 * 1024;
const MAX_CID_BYTES = 128 + 8;
const CARV2_PRAGMA = Uint8Array.of(0x0a, 0xa1, 0x67, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x02);

function cborItem(buf, pos, depth) {
  if (depth > 4) throw new UsageError('CAR header nested too deeply');
  if (pos >= buf.length) throw new UsageError('truncated CAR header');
  const first = buf[pos++];
  const major = first >> 5;
  const info = first & 31;
  let arg;
  if (info < 24) arg = info;
  else if (info <= 27) {
    const size = 1 << (info - 24);
    if (pos + size > buf.length) throw new UsageError('truncated CAR header');
    arg = 0;
    for (let i = 0; i < size; i++) arg = arg * 256 + buf[pos + i];
    pos += size;
    if (arg < (size === 1 ? 24 : 2 ** (4 * size))) throw new UsageError('CAR header is not canonical dag-cbor');
  } else throw new UsageError('CAR header uses unsupported cbor (indefinite length?)');
  if (major === 0) return [arg, pos];
  if (major === 2 || major === 3) {
    if (pos + arg > buf.length) throw new UsageError('truncated CAR header');
    const raw = buf.subarray(pos, pos + arg);
    if (major === 2) return [{ bytes: raw }, pos + arg];
    const s = utf8DecodeOrNull(raw);
    if (s === null) throw new UsageError('CAR header has invalid UTF-8');
    return [s, pos + arg];
  }
  if (major === 4) {
    if (arg > buf.length) throw new UsageError('CAR header array too long');
    const items = [];
    for (let i = 0; i < arg; i++) { let it; [it, pos] = cborItem(buf, pos, depth + 1); items.push(it); }
    return [items, pos];
  }
  if (major === 5) {
    if (arg > buf.length) throw new UsageError('CAR header map too long');
    const out = new Map();
    for (let i = 0; i < arg; i++) {
      let k;
      [k, pos] = cborItem(buf, pos, depth + 1);
      if (typeof k !== 'string' || out.has(k)) throw new UsageError('CAR header has a bad or duplicate key');
      let v;
      [v, pos] = cborItem(buf, pos, depth + 1);
      out.set(k, v);
    }
    return [out, pos];
  }
  if (major === 6 && arg === 42) {
    let tagged;
    [tagged, pos] = cborItem(buf, pos, depth + 1);
    if (!tagged || !(tagged.bytes instanceof Uint8Array) || tagged.bytes[0] !== 0) throw new UsageError('CAR header has a malformed CID');
    const [cid, end] = CID.fromBytes(tagged.bytes, 1);
    if (end !== tagged.bytes.length) throw new UsageError('CAR header CID has trailing bytes');
    return [cid, pos];
  }
  throw new UsageError('CAR header has an unsupported cbor item');
}

function parseV1Header(body) {
  const [value, end] = cborItem(body, 0, 0);
  if (end !== body.length || !(value instanceof Map)) throw new UsageError('CAR header is not a single map');
  const keys = [...value.keys()].sort().join(',');
  if (keys !== 'roots,version' || value.get('version') !== 1) throw new UsageError('not a CARv1 header');
  const roots = value.get('roots');
  if (!Array.isArray(roots) || !roots.length || !roots.every((r) => r instanceof CID)) throw new UsageError('CAR header roots must be a non-empty list of CIDs');
  return roots;
}

// A push parser: feed() bytes as they arrive (a file or an HTTP body); every block is
// hashed against its CID as soon as it is complete, so a lying gateway fails early.
export class CarReader {
  constructor(limits = CAR_LIMITS) {
    this.limits = limits;
    this.buf = new Uint8Array(0);
    this.total = 0;
    this.state = 'start';
    this.roots = null;
    this.blocks = new Map(); // cid key -> {cid, block}
    this.count = 0;
    this.dataLeft = null; // CARv2: bytes of the inner CARv1 still to come
    this.skip = 0;
    this.pending = []; // chunks not yet joined: a block is joined once, when complete
    this.pendingLen = 0;
    this.need = 0; // bytes the parser waits for before it can make progress
  }
  async feed(chunk) {
    this.total += chunk.length;
    this.pending.push(chunk);
    this.pendingLen += chunk.length;
    if (this.buf.length + this.pendingLen < this.need) return;
    this.join();
    await this.pump(false);
  }
  join() {
    if (!this.pending.length) return;
    this.buf = concatBytes([this.buf, ...this.pending]);
    this.pending = [];
    this.pendingLen = 0;
  }
  async end() {
    this.join();
    this.need = 0;
    await this.pump(true);
    if (this.v2 && this.v2.indexOffset && this.v2.indexOffset >= this.total) throw new UsageError('CARv2 index offset points inside the data or past the end');
    if (this.state === 'start' || this.state === 'header' || this.state === 'v2') throw new UsageError('truncated CAR: header');
    if (this.dataLeft !== null && this.dataLeft > 0) throw new UsageError('truncated CAR: data ends early');
    if (this.buf.length && this.state !== 'after') throw new UsageError('truncated CAR: section');
  }
  take(n) {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    if (this.dataLeft !== null) this.dataLeft -= n;
    return out;
  }
  // [value, length] of a varint at the start of the buffer, or null if incomplete
  peekVarint(final) {
    try { return varintDecode(this.buf, 0); } catch (e) {
      if (!final && this.buf.length < 9 && e.message === 'truncated varint') return null;
      throw e;
    }
  }
  async pump(final) {
    for (;;) {
      if (this.state === 'start') {
        if (this.buf.length < CARV2_PRAGMA.length && !final) return;
        if (this.buf.length >= CARV2_PRAGMA.length && bytesEqual(this.buf.subarray(0, CARV2_PRAGMA.length), CARV2_PRAGMA)) {
          this.state = 'v2';
          continue;
        }
        this.state = 'header';
      }
      if (this.state === 'v2') {
        if (this.buf.length < CARV2_PRAGMA.length + 40) { if (final) throw new UsageError('truncated CAR: CARv2 header'); return; }
        const head = this.buf.subarray(CARV2_PRAGMA.length, CARV2_PRAGMA.length + 40);
        const u64 = (o) => { let v = 0; for (let i = 7; i >= 0; i--) v = v * 256 + head[o + i]; return v; };
        const dataOffset = u64(16), dataSize = u64(24), indexOffset = u64(32);
        if (dataOffset < CARV2_PRAGMA.length + 40 || !Number.isSafeInteger(dataOffset + dataSize)) throw new UsageError('CARv2 header points outside the file');
        if (indexOffset && indexOffset < dataOffset + dataSize) throw new UsageError('CARv2 index offset points inside the data or past the end');
        this.v2 = { dataOffset, dataSize, indexOffset };
        this.skip = dataOffset;
        this.state = 'v2skip';
      }
      if (this.state === 'v2skip') {
        const n = Math.min(this.skip, this.buf.length);
        this.buf = this.buf.subarray(n);
        this.skip -= n;
        if (this.skip > 0) { if (final) throw new UsageError('CARv2 header points outside the file'); return; }
        this.dataLeft = this.v2.dataSize;
        this.state = 'header';
      }
      if (this.state === 'header') {
        const v = this.peekVarint(final);
        if (!v) { if (final) throw new UsageError('truncated CAR: header length'); return; }
        const [length, used] = v;
        if (length === 0 || length > MAX_HEADER) throw new UsageError(`CAR header length ${length} is absurd`);
        if (this.buf.length < used + length) { if (final) throw new UsageError('truncated CAR: header'); return; }
        this.take(used);
        this.roots = parseV1Header(this.take(length));
        this.state = 'sections';
      }
      if (this.state === 'sections') {
        if (this.dataLeft !== null && this.dataLeft <= 0) { this.state = 'after'; continue; }
        if (!this.buf.length) {
          if (final && this.dataLeft !== null) throw new UsageError('truncated CAR: data ends early');
          return;
        }
        const v = this.peekVarint(final);
        if (!v) return;
        const [length, used] = v;
        if (length === 0) throw new UsageError('CAR section of length zero');
        if (length > this.limits.maxBlockSize + MAX_CID_BYTES) throw new UsageError(`CAR block over ${this.limits.maxBlockSize} bytes (${length} B section)`);
        if (this.dataLeft !== null && used + length > this.dataLeft) throw new UsageError('truncated CAR: section runs past the data');
        if (this.buf.length < used + length) {
          if (final) throw new UsageError('truncated CAR: section');
          this.need = used + length;
          return;
        }
        this.need = 0;
        this.take(used);
        const section = this.take(length).slice();
        const [cid, cidEnd] = CID.fromBytes(section, 0);
        const block = section.subarray(cidEnd);
        if (block.length > this.limits.maxBlockSize) throw new UsageError(`CAR block ${cid} over ${this.limits.maxBlockSize} bytes`);
        if (cid.hashCode === SHA2_256) {
          if (!bytesEqual(await sha256(block), cid.digest)) throw new VerificationError(`CAR block does not match its CID ${cid}`, 'content-mismatch');
        } else if (!bytesEqual(block, cid.digest)) throw new VerificationError(`CAR block does not match its CID ${cid}`, 'content-mismatch');
        this.count++;
        if (this.count > this.limits.maxBlocks) throw new LimitExceeded(`CAR holds more than ${this.limits.maxBlocks} blocks`);
        if (!this.blocks.has(cid.key)) this.blocks.set(cid.key, { cid, block });
        continue;
      }
      if (this.state === 'after') {
        this.buf = new Uint8Array(0); // CARv2 index (never used) or padding
        return;
      }
      return;
    }
  }
}

// A verified block store holding only what is reachable from `root`; missing fails.
export class BlockStore {
  constructor(roots, root, blocks) { this.roots = roots; this.root = root; this.blocks = blocks; }
  get(cid) {
    if (cid.hashCode === IDENTITY) return cid.digest;
    const hit = this.blocks.get(cid.key);
    if (!hit) throw new VerificationError(`block ${cid} is missing from the CAR`);
    return hit.block;
  }
}

export function reachable(reader, root, limits = CAR_LIMITS) {
  if (root === null || root === undefined) {
    if (reader.roots.length !== 1) throw new UsageError(`the CAR has ${reader.roots.length} roots; name the one to use`);
    root = reader.roots[0];
  }
  const index = reader.blocks;
  if (!index.has(root.key) && root.hashCode !== IDENTITY) throw new VerificationError(`the CAR does not contain its root ${root}`);
  const keep = new Map();
  const stack = [[root, 0]];
  const seen = new Set([root.key]);
  while (stack.length) {
    const [cid, depth] = stack.pop();
    if (depth > limits.maxDepth) throw new LimitExceeded(`DAG deeper than ${limits.maxDepth} levels`);
    let block;
    if (cid.hashCode === IDENTITY) block = cid.digest;
    else {
      const hit = index.get(cid.key);
      if (!hit) throw new VerificationError(`the CAR lacks block ${cid} (dangling link)`);
      keep.set(cid.key, hit);
      block = hit.block;
    }
    if (cid.codec === DAG_CBOR) throw new UsageError(`dag-cbor blocks are not supported in bundles: ${cid}`);
    if (cid.codec !== DAG_PB) continue;
    for (const link of pbDecode(block).links) {
      if (!seen.has(link.hash.key)) { seen.add(link.hash.key); stack.push([link.hash, depth + 1]); }
    }
  }
  return new BlockStore(reader.roots, root, keep);
}

export async function openCar(bytes, root = null, limits = CAR_LIMITS) {
  const reader = new CarReader(limits);
  await reader.feed(bytes);
  await reader.end();
  return reachable(reader, root, limits);
}

// -- walking a verified store (unixfs.walk) ---------------------------------------------

export const WALK_LIMITS = { maxDepth: 64, maxBlocks: 1000000, maxEntries: 100000, maxBytes: 2 ** 36 };

function parseNode(cid, block) {
  if (cid.codec !== DAG_PB) throw new UsageError(`unsupported codec in a UnixFS DAG: ${cid}`);
  const node = pbDecode(block);
  if (node.data === null) throw new UsageError(`dag-pb node without UnixFS data: ${cid}`);
  return [node, fsDecode(node.data)];
}

// The bytes of a file, every size checked on the way (as unixfs._file_chunks).
export function readFile(store, cid, size, budget) {
  const out = [];
  let produced = 0;
  const stack = [[cid, size, 0]];
  while (stack.length) {
    let [cur, expect, depth] = stack.pop();
    if (depth > budget.limits.maxDepth) throw new LimitExceeded(`file DAG deeper than ${budget.limits.maxDepth}`);
    budget.block();
    const block = store.get(cur);
    let data;
    let children = [];
    if (cur.codec === RAW) data = block;
    else {
      const [node, fs] = parseNode(cur, block);
      if (fs.type !== T_FILE && fs.type !== T_RAW) throw new UsageError(`unexpected UnixFS type ${fs.type} inside a file: ${cur}`);
      if (fs.blocksizes.length !== node.links.length) throw new VerificationError(`file node blocksizes do not match links: ${cur}`);
      data = fs.data || new Uint8Array(0);
      children = node.links.map((l, i) => [l, fs.blocksizes[i]]);
      const declared = data.length + fs.blocksizes.reduce((a, b) => a + b, 0);
      if (fs.filesize !== null && fs.filesize !== declared) throw new VerificationError(`file node size does not add up: ${cur}`);
      if (expect !== null && declared !== expect) throw new VerificationError(`file node has the wrong size: ${cur}`);
      expect = null;
    }
    if (expect !== null && data.length !== expect) throw new VerificationError(`file block has the wrong size: ${cur}`);
    if (data.length) {
      produced += data.length;
      if (produced > size) throw new VerificationError(`file is longer than declared: ${cid}`);
      out.push(data);
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push([children[i][0].hash, children[i][1], depth + 1]);
  }
  if (produced !== size) throw new VerificationError(`file is shorter than declared: ${cid}`);
  return out.length === 1 ? out[0] : concatBytes(out);
}

export function makeBudget(limits = WALK_LIMITS) {
  return {
    limits, blocks: 0, entries: 0, bytes: 0,
    block() { if (++this.blocks > limits.maxBlocks) throw new LimitExceeded(`DAG visits more than ${limits.maxBlocks} blocks`); },
    entry(size) {
      this.entries++;
      this.bytes += size;
      if (this.entries > limits.maxEntries) throw new LimitExceeded(`DAG has more than ${limits.maxEntries} entries`);
      if (this.bytes > limits.maxBytes) throw new LimitExceeded(`DAG holds more than ${limits.maxBytes} bytes`);
    },
  };
}

// Entries {path, kind, cid, size} of the DAG at root, parents first, names in order.
export function walk(store, root, budget = makeBudget()) {
  const entries = [];
  const stack = [['', root, 0]];
  while (stack.length) {
    const [path, cid, depth] = stack.pop();
    if (depth > budget.limits.maxDepth) throw new LimitExceeded(`directory tree deeper than ${budget.limits.maxDepth}`);
    budget.block();
    const block = store.get(cid);
    if (cid.codec === RAW) {
      budget.entry(block.length);
      entries.push({ path, kind: 'file', cid, size: block.length });
      continue;
    }
    const [node, fs] = parseNode(cid, block);
    if (fs.type === T_FILE || fs.type === T_RAW) {
      const size = (fs.data ? fs.data.length : 0) + fs.blocksizes.reduce((a, b) => a + b, 0);
      budget.entry(size);
      entries.push({ path, kind: 'file', cid, size });
      continue;
    }
    if (fs.type === T_HAMT) throw new UsageError(`HAMT sharded directories are not supported: ${path || cid}`);
    if (fs.type !== T_DIRECTORY) throw new UsageError(`unsupported UnixFS type ${fs.type} at ${path || cid}`);
    budget.entry(0);
    entries.push({ path, kind: 'dir', cid, size: 0 });
    const where = path || '.';
    const names = [];
    for (const link of node.links) {
      if (link.name === null) throw new UsageError(`directory entry without a name in ${where}`);
      checkName(link.name, where);
      names.push(link.name);
    }
    if (new Set(names).size !== names.length) throw new UsageError(`duplicate directory entries in ${where}`);
    const folded = new Map();
    for (const n of names) {
      const k = foldName(n);
      if (folded.has(k)) throw new UsageError(`names '${folded.get(k)}' and '${n}' in ${where} collide on case-insensitive systems`);
      folded.set(k, n);
    }
    const order = [...node.links].sort((a, b) => compareUtf8(a.name, b.name));
    for (let i = order.length - 1; i >= 0; i--) {
      const link = order[i];
      stack.push([path ? `${path}/${link.name}` : link.name, link.hash, depth + 1]);
    }
  }
  return entries;
}

// What a reader may paste to fetch: a CID, ipfs://CID/..., a path or subdomain gateway
// link (https://gw/ipfs/CID/..., https://CID.ipfs.gw/...); returns the CID, base32.
export function parseTarget(text) {
  let s = String(text).trim();
  let m;
  if ((m = /^ipfs:\/\/([^/?#]+)/i.exec(s))) s = m[1];
  else if ((m = /^https?:\/\/[^/]+\/ipfs\/([^/?#]+)/i.exec(s))) s = m[1];
  else if ((m = /^https?:\/\/([a-z0-9]+)\.ipfs\.[^/]+/i.exec(s))) s = m[1];
  else if ((m = /^\/ipfs\/([^/?#]+)/.exec(s))) s = m[1];
  const cid = CID.parse(s);
  return cid.version === 0 ? cid.toString() : 'b' + b32encode(cid.toBytes());
}

