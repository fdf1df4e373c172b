// Content addressing in the verifier page, on vectors from public specs (DESIGN.md)
// and the project's golden bundle (manifests/vectors).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CID, fileEntry, fileTsize, directoryRoot, openCar, walk, pbDecode, pbEncode, DIR_DATA, CarReader } from '../../mirror/verifier/js/ipld.js';
import { varintEncode, varintDecode, b64decodeStrict, b64encode, b32encode, b32decode, utf8, concatBytes } from '../../mirror/verifier/js/util.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VECTORS = JSON.parse(readFileSync(`${ROOT}manifests/vectors/vectors.json`, 'utf8'));

test('varints: minimal only, at most 9 bytes', () => {
  for (const n of [0, 1, 127, 128, 300, 2 ** 31, 2 ** 53 - 1]) assert.equal(varintDecode(varintEncode(n))[0], n);
  assert.throws(() => varintDecode(Uint8Array.of(0x80, 0x00)), /minimally/);
  assert.throws(() => varintDecode(Uint8Array.of(0x80)), /truncated/);
  assert.throws(() => varintDecode(new Uint8Array(10).fill(0x81)), /9 bytes/);
});

test('base64 and base32 are strict and canonical', () => {
  assert.equal(b64encode(b64decodeStrict('aGVsbG8=', 'x')), 'aGVsbG8=');
  assert.throws(() => b64decodeStrict('aGVsbG8', 'x'));
  assert.throws(() => b64decodeStrict('aGVsbG9=', 'x'), /canonical/); // trailing bits set
  assert.throws(() => b64decodeStrict('aGVs\nbG8=', 'x'));
  const raw = utf8('any bytes at all');
  assert.deepEqual(b32decode(b32encode(raw)), raw);
  assert.throws(() => b32decode('ab1'), /base32/);
});

test('CIDs of the spec vectors: hello world and the empty file as raw leaves', async () => {
  assert.equal(String((await fileEntry(utf8('hello world'))).cid), 'bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e');
  assert.equal(String((await fileEntry(new Uint8Array(0))).cid), 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku');
  const c = CID.parse('bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e');
  assert.equal(String(c), 'bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e');
  assert.equal(String(CID.parse('QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n')), 'QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n');
  assert.throws(() => CID.parse('Bafkrei'), /encoding/);
  assert.throws(() => CID.parse('b' + 'a'.repeat(300)), /too long/);
});

test('directory vector: subdir/ascii.txt and subdir/hello.txt (parent of subdir)', async () => {
  const leaves = [
    ['subdir/ascii.txt', await fileEntry(utf8('hello application/vnd.ipld.car\n'))],
    ['subdir/hello.txt', await fileEntry(utf8('hello world\n'))],
  ];
  assert.equal(String(await directoryRoot(leaves)), 'bafybeietjm63oynimmv5yyqay33nui4y4wx6u3peezwetxgiwvfmelutzu');
});

test('DAG sizes from sizes alone match the builder (values from mirror.export._file_tsize)', async () => {
  const M = 1 << 20;
  const python = [[0, 0], [5, 5], [M, M], [M + 1, 1048681], [3 * M + 5, 3145938], [1024 * M, 1073793035], [1024 * M + 1, 1073793198]];
  for (const [size, want] of python) assert.equal(fileTsize(size), want, `size ${size}`);
  const data = new Uint8Array(3 * M + 5).map((_, i) => i * 7);
  assert.equal((await fileEntry(data)).tsize, 3145938);
});

function goldenFolder() {
  const base = `${ROOT}manifests/vectors/bundle/`;
  const out = [];
  const visit = (rel) => {
    for (const name of readdirSync(base + rel)) {
      const p = rel ? `${rel}/${name}` : name;
      if (statSync(base + p).isDirectory()) visit(p);
      else out.push([p, readFileSync(base + p)]);
    }
  };
  visit('');
  return out;
}

test('the golden bundle folder has the root CID of vectors.json', async () => {
  const leaves = [];
  for (const [p, bytes] of goldenFolder()) leaves.push([p, await fileEntry(new Uint8Array(bytes))]);
  assert.equal(String(await directoryRoot(leaves)), VECTORS.root_cid);
});

test('the golden CAR: every block checked, walked from its root', async () => {
  const car = new Uint8Array(readFileSync(`${ROOT}manifests/vectors/bundle.car`));
  const store = await openCar(car);
  assert.equal(String(store.root), VECTORS.root_cid);
  const files = walk(store, store.root).filter((e) => e.kind === 'file').map((e) => e.path).sort();
  assert.deepEqual(files, goldenFolder().map(([p]) => p).sort());
  // fed a few bytes at a time, as from a network stream
  const r = new CarReader();
  for (let i = 0; i < car.length; i += 7) await r.feed(car.subarray(i, i + 7));
  await r.end();
  assert.equal(r.blocks.size, store.blocks.size);
});

test('a flipped byte in any block fails its CID check; truncation fails too', async () => {
  const car = new Uint8Array(readFileSync(`${ROOT}manifests/vectors/bundle.car`));
  const bad = car.slice();
  bad[bad.length - 3] ^= 1;
  await assert.rejects(openCar(bad), (e) => e.exitCode === 3 && e.reason === 'content-mismatch');
  await assert.rejects(openCar(car.subarray(0, car.length - 10)), (e) => e.exitCode === 2);
});

test('CARv2 wrapping the golden CARv1 reads the same', async () => {
  const v1 = new Uint8Array(readFileSync(`${ROOT}manifests/vectors/bundle.car`));
  const pragma = Uint8Array.of(0x0a, 0xa1, 0x67, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x02);
  const header = new Uint8Array(40);
  const dv = new DataView(header.buffer);
  dv.setBigUint64(16, 51n, true); // data offset: pragma (11) + header (40)
  dv.setBigUint64(24, BigInt(v1.length), true);
  dv.setBigUint64(32, 0n, true);
  const store = await openCar(concatBytes([pragma, header, v1]));
  assert.equal(String(store.root), VECTORS.root_cid);
  dv.setBigUint64(24, BigInt(v1.length + 5), true); // data size past the end
  await assert.rejects(openCar(concatBytes([pragma, header, v1])));
});

test('dag-pb decoding is strict: Data before Links, duplicated Data, unknown fields', () => {
  const node = pbEncode([{ hash: CID.parse(VECTORS.root_cid), name: 'a', tsize: 3 }], DIR_DATA);
  assert.equal(pbDecode(node).links[0].name, 'a');
  const swapped = concatBytes([Uint8Array.of(0x0a, DIR_DATA.length), DIR_DATA, node.subarray(0, node.length - DIR_DATA.length - 2)]);
  assert.throws(() => pbDecode(swapped), /link after Data/);
  assert.throws(() => pbDecode(concatBytes([node, Uint8Array.of(0x0a, 0)])), /twice/);
  assert.throws(() => pbDecode(Uint8Array.of(0x1a, 0)), /unexpected field/);
});

test('fetch targets: CID, ipfs://, path and subdomain gateway links', async () => {
  const { parseTarget } = await import('../../mirror/verifier/js/ipld.js');
  const cid = VECTORS.root_cid;
  for (const t of [cid, `ipfs://${cid}`, `ipfs://${cid}/index.html`, `https://gw.example/ipfs/${cid}?filename=x`, `https://${cid}.ipfs.dweb.example/`, `/ipfs/${cid}`, `  ${cid}\n`]) {
    assert.equal(parseTarget(t), cid, t);
  }
  assert.equal(parseTarget('QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n'), 'QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n');
  for (const bad of ['', 'https://example.org/', 'ipfs://', 'bafy!!']) assert.throws(() => parseTarget(bad), bad);
});
