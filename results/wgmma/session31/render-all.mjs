// Renders every spec of a wide sample (the autotune space of every arch, both dtypes, causal or not,
// with the wgmma-only axes widened, and both layouts), and the records' libraries; writes name -> sha256.
// Run from the repository root, after npm run build:ts: node results/wgmma/session31/render-all.mjs OUT.json
import { writeFileSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
const R = '../../../dist';
const { searchSpace, prune } = await import(`${R}/autotune/space.js`);
const { planKernel } = await import(`${R}/plan/plan.js`);
const { renderVariant, renderRegistry } = await import(`${R}/render/render.js`);
const { buildInputs } = await import(`${R}/cli/flags.js`);
const sha = (t) => createHash('sha256').update(t).digest('hex');
const out = {};
const archs = ['sm_80', 'sm_86', 'sm_89', 'sm_90a', 'sm_120'];
for (const layout of ['HND', 'NHD']) {
  const axes = layout === 'HND' ? { overlapKvQuant: [false, true], polyExp2: [0, 4], polyExp2Form: ['f32', 'f16x2'], rowMax: ['fmnmx', 'vimnmx3'] } : {};
  const kept = prune(searchSpace({ archs, headDims: [64, 128], dtypes: ['fp16', 'bf16'], causal: [false, true], layout, axes })).kept;
  for (const k of kept) out[`${layout}:${k.name}`] = sha(renderVariant(planKernel(k.spec)));
}
const recs = JSON.parse(readFileSync(new URL('../../records.json', import.meta.url), 'utf8'));
for (const [label, lib] of Object.entries(recs.libraries)) {
  const { specs, dispatch } = await buildInputs(lib.build);
  for (const s of specs) out[`${label}:${planKernel(s).name}`] = sha(renderVariant(planKernel(s)));
  out[`${label}:registry`] = sha(renderRegistry(specs.map((s) => planKernel(s).name), dispatch));
}
writeFileSync(process.argv[2], JSON.stringify(out, null, 1));
console.log(Object.keys(out).length, 'rendered');
