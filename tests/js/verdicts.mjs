// Verdicts for a list of files, for tests that compare them with the CLI's:
//   node tests/js/verdicts.mjs LIST.json  ->  one JSON verdict per line on stdout
// LIST.json: [{"path": ..., "name": ..., "options": {trust, state, now}}]
import { readFileSync } from 'node:fs';
import { verify } from '../../mirror/verifier/js/verify.js';

const list = JSON.parse(readFileSync(process.argv[2], 'utf8'));
for (const item of list) {
  const v = await verify(new Uint8Array(readFileSync(item.path)), item.name, item.options);
  process.stdout.write(JSON.stringify(v) + '\n');
}
