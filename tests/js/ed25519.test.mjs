// Strict Ed25519 policy (docs/decisions/0003) on the ed25519-speccheck vectors, on
// both paths: WebCrypto and the fallback written here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { verify, verifyFallback, engine } from '../../mirror/verifier/js/ed25519.js';
import { fromHex } from '../../mirror/verifier/js/util.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const CASES = [`${here}../../../shared/corpus/hostile/ed25519-speccheck-cases.json`, `${here}../fixtures/hostile/ed25519-speccheck-cases.json`].find(existsSync);
const ACCEPTED = new Set([3]); // as tests/unit/test_keys.py SPECCHECK_ACCEPTED

test('speccheck vectors: only the cases the Python side accepts', { skip: !CASES && 'no speccheck vectors' }, async () => {
  const cases = JSON.parse(readFileSync(CASES, 'utf8'));
  assert.equal(cases.length, 12);
  for (const [i, c] of cases.entries()) {
    const args = [fromHex(c.pub_key), fromHex(c.signature), fromHex(c.message)];
    assert.equal(await verifyFallback(...args), ACCEPTED.has(i), `fallback, case ${i}`);
    engine.forceFallback = false;
    assert.equal(await verify(...args), ACCEPTED.has(i), `webcrypto, case ${i}`);
  }
  assert.equal(engine.usedFallback, false);
});

test('a real signature verifies on both paths; any flipped bit fails', async () => {
  const k = await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']);
  const pub = new Uint8Array(await crypto.subtle.exportKey('raw', k.publicKey));
  const msg = new TextEncoder().encode('DSSEv1 4 test 5 hello');
  const sig = new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, k.privateKey, msg));
  assert.equal(await verifyFallback(pub, sig, msg), true);
  assert.equal(await verify(pub, sig, msg), true);
  for (const pos of [0, 31, 32, 63]) {
    const bad = sig.slice();
    bad[pos] ^= 1;
    assert.equal(await verifyFallback(pub, bad, msg), false, `sig byte ${pos}`);
  }
  assert.equal(await verifyFallback(pub, sig, msg.subarray(1)), false);
  assert.equal(await verifyFallback(pub, sig.subarray(0, 63), msg), false);
});
