// RFC 3161 tokens in the page (mirror/verifier/js/tsp.js) on the committed corpus
// material: the DER reader, each check of timestamp.verify_token, and the time rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseDer, oidOf, timeOf, formatTime, parseReply, verifyToken, rootFromPem, mergedRoots } from '../../mirror/verifier/js/tsp.js';
import { checkBundleTime } from '../../mirror/verifier/js/trust.js';
import { UsageError, VerificationError } from '../../mirror/verifier/js/util.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VERDICTS = `${ROOT}manifests/vectors/verdicts/`;
const MATERIAL = JSON.parse(readFileSync(`${ROOT}manifests/timestamps/material.json`, 'utf8'));
const b64 = (s) => new Uint8Array(Buffer.from(s, 'base64'));

// the first signature of a stamped folder case: its raw bytes and its token
function signature(name) {
  const env = JSON.parse(readFileSync(`${VERDICTS}${name}/bundle/manifest.json`, 'utf8'));
  const s = env.signatures[0];
  return { sig: b64(s.sig), tst: s.tst ? b64(s.tst) : null };
}
const corpus = () => rootFromPem('corpus-tsa', MATERIAL.roots['corpus-tsa']);
const stranger = () => rootFromPem('stranger-tsa', MATERIAL.roots['stranger-tsa']);

async function refused(promise, reason) {
  await assert.rejects(promise, (e) => e instanceof VerificationError && e.reason === reason, `expected ${reason}`);
}

test('DER: definite minimal lengths, no trailing bytes', () => {
  const n = parseDer(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x05]));
  assert.equal(n.children().length, 1);
  for (const bad of [[0x30, 0x80, 0x00, 0x00], [0x04, 0x81, 0x01, 0x00], [0x02, 0x01, 0x05, 0x00], [0x30, 0x05, 0x02, 0x01], [0x1f, 0x01, 0x00]]) {
    assert.throws(() => parseDer(new Uint8Array(bad)).children());
  }
});

test('DER: OIDs and times', () => {
  assert.equal(oidOf(parseDer(new Uint8Array([0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08]))), '1.3.6.1.5.5.7.3.8');
  const gen = (s) => parseDer(new Uint8Array([0x18, s.length, ...Buffer.from(s)]));
  assert.equal(formatTime(timeOf(gen('20261201093819Z'))), '2026-12-01T09:38:19Z');
  assert.equal(timeOf(gen('20261201093819.5Z')) - timeOf(gen('20261201093819Z')), 500);
  for (const bad of ['20261301093819Z', '20261201093819', '20261201093819.50Z', '20260230093819Z']) assert.throws(() => timeOf(gen(bad)));
  const utc = parseDer(new Uint8Array([0x17, 13, ...Buffer.from('491231235959Z')]));
  assert.equal(formatTime(timeOf(utc)), '2049-12-31T23:59:59Z');
});

test('every committed token parses: granted, SHA-256 imprint, one signer, its certificate', () => {
  for (const [label, token] of Object.entries(MATERIAL.tokens)) {
    const r = parseReply(b64(token));
    assert.equal(r.status, 0, label);
    assert.equal(r.imprintAlg, '2.16.840.1.101.3.4.2.1');
    assert.equal(Buffer.from(r.imprint).toString('hex'), label.split(':')[2]);
    assert.equal(r.signers.length, 1);
    assert.equal(r.certs.length, 1);
  }
});

test('a genuine token verifies under its root: time and the root name', async () => {
  const { sig, tst } = signature('timestamp-before-rotation-folder');
  const got = await verifyToken(tst, sig, [await stranger(), await corpus()]);
  assert.deepEqual([formatTime(got.time), got.tsa], ['2026-12-01T09:38:19Z', 'corpus-tsa']);
  // the reader's name wins over the identity's for the same root
  const mine = await rootFromPem('mine', MATERIAL.roots['corpus-tsa']);
  const merged = mergedRoots([mine], [{ required: true, roots: [await corpus()] }]);
  assert.equal(merged.length, 1);
  assert.equal((await verifyToken(tst, sig, merged)).tsa, 'mine');
});

test('over other bytes, altered, garbage or too large: bad-timestamp', async () => {
  const { sig, tst } = signature('timestamp-before-rotation-folder');
  const roots = [await corpus()];
  const other = sig.slice();
  other[0] ^= 1;
  await refused(verifyToken(tst, other, roots), 'bad-timestamp');
  const altered = signature('timestamp-altered-token-folder');
  await refused(verifyToken(altered.tst, altered.sig, roots), 'bad-timestamp');
  for (let at = 0; at < tst.length; at += 97) {
    const flipped = tst.slice();
    flipped[at] ^= 0x01;
    await assert.rejects(verifyToken(flipped, sig, roots), (e) => e instanceof VerificationError && ['bad-timestamp', 'untrusted-tsa'].includes(e.reason));
  }
  await refused(verifyToken(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]), sig, roots), 'bad-timestamp');
  await refused(verifyToken(new Uint8Array(65537), sig, roots), 'bad-timestamp');
});

test('a TSA nobody trusts, or no roots at all: untrusted-tsa', async () => {
  const s = signature('timestamp-untrusted-tsa-folder');
  await refused(verifyToken(s.tst, s.sig, [await corpus()]), 'untrusted-tsa');
  assert.equal((await verifyToken(s.tst, s.sig, [await stranger()])).tsa, 'stranger-tsa');
  const g = signature('timestamp-before-rotation-folder');
  await refused(verifyToken(g.tst, g.sig, []), 'untrusted-tsa');
  await refused(verifyToken(g.tst, g.sig, [await stranger()]), 'untrusted-tsa');
});

test('a root must be one self-signed CA certificate', async () => {
  const leaf = parseReply(b64(Object.values(MATERIAL.tokens)[0])).certs[0].der;
  const pem = `-----BEGIN CERTIFICATE-----\n${Buffer.from(leaf).toString('base64')}\n-----END CERTIFICATE-----\n`;
  await assert.rejects(rootFromPem('leaf', pem), (e) => e instanceof UsageError && /not a CA/.test(e.message));
  await assert.rejects(rootFromPem('two', MATERIAL.roots['corpus-tsa'] + MATERIAL.roots['stranger-tsa']), UsageError);
  await assert.rejects(rootFromPem('none', 'hello'), UsageError);
});

test('the time rule, as mirror/timeline.py', () => {
  const T = (s) => Date.parse(s);
  const chain = [{ version: 1, required: false, stamped: null }, { version: 2, required: true, stamped: T('2026-12-01T09:38:20Z') }];
  checkBundleTime(chain, 1, T('2026-12-01T09:38:19Z')); // stamped before v2 existed
  checkBundleTime(chain, 2, null); // the current version vouches for itself
  checkBundleTime([{ version: 1, required: false, stamped: null }, { version: 2, required: false, stamped: null }], 1, null);
  const after = (named, stamped, c = chain) => assert.throws(() => checkBundleTime(c, named, stamped), (e) => e.reason === 'signed-after-rotation');
  after(1, T('2026-12-01T09:38:21Z'));
  after(1, null);
  after(null, T('2026-12-01T09:38:21Z'));
  after(1, T('2026-12-01T09:38:19Z'), [chain[0], { ...chain[1], stamped: null }]); // no stamped later version
  const three = [...chain, { version: 3, required: true, stamped: T('2026-12-02T00:00:00Z') }];
  checkBundleTime(three, 2, T('2026-12-01T12:00:00Z'));
  after(2, T('2026-12-03T00:00:00Z'), three);
});
