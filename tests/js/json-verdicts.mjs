// Strict JSON parsing of a list of inputs, for the test comparing it with the CLI's:
//   node tests/js/json-verdicts.mjs LIST.json -> one JSON line per input:
//   {"class": "ok" | "hostile" | "malformed" | "limit", "canonical": base64 or null}
import { readFileSync } from 'node:fs';
import { loads, dumps } from '../../mirror/verifier/js/json.js';
import { HostileJSON, MalformedInput, LimitExceeded, b64decodeStrict, b64encode } from '../../mirror/verifier/js/util.js';

for (const text of JSON.parse(readFileSync(process.argv[2], 'utf8'))) {
  const data = b64decodeStrict(text, 'input');
  let out;
  try {
    out = { class: 'ok', canonical: b64encode(dumps(loads(data, 4096, 'doc'))) };
  } catch (e) {
    const cls = e instanceof HostileJSON ? 'hostile' : e instanceof MalformedInput ? 'malformed' : e instanceof LimitExceeded ? 'limit' : `other ${e.message}`;
    out = { class: cls, canonical: null };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}
