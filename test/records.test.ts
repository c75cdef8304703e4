/**
 * The benchmarks of record (measured on the lent H100; CI cannot re-run them) must be of the kernels
 * that the build makes now. Each record's JSON lists the variants of the library it timed; this
 * suite checks those names against what the builder or the shipped tuned configuration names today,
 * so a change of defaults or of the tuned set cannot land with its old figures still standing as
 * the record. It does not see template changes that keep a name (those are checked on the device
 * when they land: results/gpu/README.md).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TunedConfigSchema } from '../autotune/config.js';
import { tunedBuildInputs } from '../autotune/tuned-build.js';
import { defaultSpecInput, type DefaultSpecOptions } from '../dsl/builder.js';
import { parseSpec, variantName } from '../dsl/spec.js';

const root = path.join(__dirname, '..');
const readJson = (file: string): unknown => JSON.parse(readFileSync(path.join(root, file), 'utf8'));

/** The variant names of each library a bench.py record timed, by its label. */
function benchRecordVariants(file: string): Record<string, string[]> {
  const record = readJson(file) as { libraries: Record<string, { variants: { name: string }[] }> };
  return Object.fromEntries(Object.entries(record.libraries).map(([label, lib]) => [label, lib.variants.map((v) => v.name).sort()]));
}

/** What `sagegen build --arch sm_90a --headdim 64,128 [--mma wgmma]` builds: both dtypes, causal or not. */
function sm90aDefaults(mma: DefaultSpecOptions['mma']): string[] {
  const names: string[] = [];
  for (const headDim of [64, 128] as const)
    for (const dtype of ['fp16', 'bf16'] as const)
      for (const causal of [false, true]) names.push(variantName(parseSpec(defaultSpecInput({ arch: 'sm_90a', headDim, dtype, causal, mma }))));
  return names.sort();
}

describe('the benchmarks of record time the kernels the build makes now', () => {
  it('results/wgmma/bench/h100-wgmma.json: the wgmma defaults', () => {
    expect(benchRecordVariants('results/wgmma/bench/h100-wgmma.json')).toEqual({ wg: sm90aDefaults('wgmma') });
  });

  it('results/wgmma/bench/h100-wgmma-tuned.json: the shipped H100 tuned wgmma set', () => {
    const config = TunedConfigSchema.parse(readJson('autotune/tuned/h100-sm90a-wgmma.json'));
    const shipped = tunedBuildInputs(config).specs.map((s) => variantName(s)).sort();
    expect(benchRecordVariants('results/wgmma/bench/h100-wgmma-tuned.json')).toEqual({ tuned: shipped });
  });

  it('results/bench/h100-d{64,128}.json: the sm_90a mma.sync defaults', () => {
    for (const file of ['results/bench/h100-d64.json', 'results/bench/h100-d128.json'])
      expect(benchRecordVariants(file), file).toEqual({ 'sm_90a_d64-128': sm90aDefaults(undefined) });
  });
});
