import fs from 'node:fs';
import { parseSpec, variantName } from '../../../dist/dsl/spec.js';
const f = process.argv[2]; const d = JSON.parse(fs.readFileSync(f, 'utf8'));
for (const t of d.targets) for (const e of t.entries) e.winner.name = variantName(parseSpec(e.winner.spec));
fs.writeFileSync(f, JSON.stringify(d, null, 1));
