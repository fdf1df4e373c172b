// Strict JSON as mirror/canonjson.py: what it refuses, and why (exit 2 hostile vs damage).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loads, dumps } from '../../mirror/verifier/js/json.js';
import { HostileJSON, UsageError, LimitExceeded, utf8 } from '../../mirror/verifier/js/util.js';

const parse = (s, max = 1 << 20) => loads(typeof s === 'string' ? utf8(s) : s, max, 'doc');

test('hostile constructs are HostileJSON', () => {
  for (const s of ['{"a":1,"a":2}', '{"a":1.5}', '{"a":1e3}', '{"a":NaN}', '{"a":Infinity}', '{"a":"\\ud800"}', '{"a":12345678901234567890}', '['.repeat(40) + ']'.repeat(40)]) {
    assert.throws(() => parse(s), (e) => e instanceof HostileJSON, s.slice(0, 30));
  }
});

test('other damage is a plain UsageError; size is a limit', () => {
  for (const s of ['{"a":1} x', '{"a":01}', '[1]', '\ufeff{}', '{"a":"\u0001"}', '{a:1}']) {
    assert.throws(() => parse(s), (e) => e instanceof UsageError && !(e instanceof HostileJSON), JSON.stringify(s));
  }
  assert.throws(() => parse(Uint8Array.of(0x7b, 0xff, 0x7d)), /UTF-8/);
  assert.throws(() => parse('{"a":"bbbbbbbb"}', 8), (e) => e instanceof LimitExceeded);
});

test('canonical bytes: sorted by code point, compact, UTF-8 kept, big integers exact', () => {
  const doc = parse('{ "b": [1, -0, 9007199254740993], "a": "\\u00e9\\n", "\ud83d\ude00": 1, "\uffff": 2 }');
  assert.equal(new TextDecoder().decode(dumps(doc)), '{"a":"é\\n","b":[1,0,9007199254740993],"\uffff":2,"\ud83d\ude00":1}');
});
