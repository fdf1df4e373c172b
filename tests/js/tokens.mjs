// Timestamp verdicts for a list of tokens, for tests that compare them with the CLI's:
//   node tests/js/tokens.mjs LIST.json  ->  one JSON line per token on stdout
// LIST.json: {"roots": [{"name", "pem"}], "items": [{"token": b64, "data": b64}]}
// Each line: {"reason": null, "time", "tsa"} when it verifies, else {"reason", "error"}.
import { readFileSync } from 'node:fs';
import { verifyToken, rootFromPem, formatTime } from '../../mirror/verifier/js/tsp.js';

const list = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const roots = [];
for (const r of list.roots) roots.push(await rootFromPem(r.name, r.pem));
const bytes = (s) => new Uint8Array(Buffer.from(s, 'base64'));
for (const item of list.items) {
  let out;
  try {
    const got = await verifyToken(bytes(item.token), bytes(item.data), roots);
    out = { reason: null, time: formatTime(got.time), tsa: got.tsa };
  } catch (e) {
    out = { reason: e.reason || 'internal', error: e.message };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}
