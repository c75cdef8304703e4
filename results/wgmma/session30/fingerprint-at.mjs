// Prints the source fingerprint (build/fingerprint.ts) of builds, computed with the modules of a
// checkout: node fingerprint-at.mjs CHECKOUT BUILDS.json, BUILDS.json mapping a label to the flags of
// `sagegen build` ({"arch", "headdim", "mma"}, {"spec": [file]} or {"config": file}, paths relative
// to the checkout). It resolves the flags as that checkout's CLI did: default specs for
// --arch/--headdim, each spec of a --spec file, a --config file's winners with their dispatch.
import { readFileSync } from 'node:fs';
import path from 'node:path';

const [root, buildsFile] = process.argv.slice(2).map((p) => path.resolve(p));
const load = (p) => import(path.join(root, 'dist', p));
const { defaultSpecInput } = await load('dsl/builder.js');
const { parseSpec } = await load('dsl/spec.js');
const { fingerprintOf } = await load('build/fingerprint.js');
const readJson = (file) => JSON.parse(readFileSync(path.join(root, file), 'utf8'));

const out = {};
for (const [label, b] of Object.entries(JSON.parse(readFileSync(buildsFile, 'utf8')))) {
  let specs;
  let dispatch;
  if (b.config) {
    const { TunedConfigSchema } = await load('autotune/config.js');
    const { tunedBuildInputs } = await load('autotune/tuned-build.js');
    ({ specs, dispatch } = tunedBuildInputs(TunedConfigSchema.parse(readJson(b.config))));
  } else if (b.spec) {
    specs = b.spec.flatMap((f) => [readJson(f)].flat()).map(parseSpec);
  } else {
    specs = [];
    for (const arch of b.arch.split(','))
      for (const headDim of b.headdim.split(',').map(Number))
        for (const dtype of ['fp16', 'bf16'])
          for (const causal of [false, true])
            specs.push(parseSpec(defaultSpecInput({ arch, headDim, dtype, causal, layout: 'HND', ...(b.mma ? { mma: b.mma } : {}) })));
  }
  out[label] = await fingerprintOf(specs, dispatch);
}
process.stdout.write(JSON.stringify(out, null, 1) + '\n');
