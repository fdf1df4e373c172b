// The whole verdict in Node on the golden CAR: same JSON as `mirror verify --json`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { verify } from '../../mirror/verifier/js/verify.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const V = JSON.parse(readFileSync(`${ROOT}manifests/vectors/vectors.json`, 'utf8'));
const CAR = new Uint8Array(readFileSync(`${ROOT}manifests/vectors/bundle.car`));

test('golden CAR verifies under its key', async () => {
  const v = await verify(CAR, 'bundle.car', { trust: [{ name: 'pub', key: V.public_key }] });
  assert.equal(v.ok, true, v.error);
  assert.equal(v.root_cid, V.root_cid);
  assert.equal(v.key_id, V.key_id);
  assert.equal(v.source, 'car');
  assert.equal(v.reason, null);
});

test('another key: exit 3, untrusted-key', async () => {
  const other = 'ed25519:' + Buffer.from(new Uint8Array(32).fill(9)).toString('base64');
  const v = await verify(CAR, 'bundle.car', { trust: [{ name: 'x', key: other }] });
  assert.deepEqual([v.ok, v.exit_code, v.reason], [false, 3, 'untrusted-key']);
});

test('not a CAR at all: exit 2 (reason usage, as the CLI), no exception', async () => {
  const v = await verify(new TextEncoder().encode('hello'), 'x.car', { trust: [{ name: 'pub', key: V.public_key }] });
  assert.deepEqual([v.ok, v.exit_code, v.reason], [false, 2, 'usage']);
});
