/**
 * Property: every drawn spec that validates and plans also compiles with nvcc (skipped without nvcc,
 * fatal under CI=true). A bounded sample per run (SAGEGEN_PROPERTY_COMPILES, default 10) of distinct
 * valid specs drawn with the run's seed is built by build() — the real per-variant compile, through
 * the compile cache — except the first SAGEGEN_PROPERTY_FRESH (default 3), which are built with the
 * cache off so that every run compiles some afresh. Settings and replay: test/helpers/property.ts.
 */
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { build, type BuildManifest } from '../build/build.js';
import { parseSpec, SpecError, type AttentionSpec } from '../dsl/spec.js';
import { planKernel, type KernelPlan } from '../plan/plan.js';
import { describeNvcc, requireNvcc } from './helpers/nvcc.js';
import { candidateSpecInput, describeSettings, propertySettings } from './helpers/property.js';

const settings = propertySettings();
console.log(describeSettings(settings));

/** The first `count` distinct (by variant name) drawn specs that parse and plan, in draw order. */
function sampleBuildable(count: number): KernelPlan[] {
  const plans = new Map<string, KernelPlan>();
  for (const input of fc.sample(candidateSpecInput, { seed: settings.seed, numRuns: 20 * count + 200 })) {
    if (plans.size >= count) break;
    let spec: AttentionSpec;
    let plan: KernelPlan;
    try {
      spec = parseSpec(input);
      plan = planKernel(spec);
    } catch (e) {
      if (e instanceof SpecError) continue; // refusals are spec.property.test.ts's business
      throw e;
    }
    if (!plans.has(plan.name)) plans.set(plan.name, plan);
  }
  return [...plans.values()];
}

describeNvcc(`drawn valid specs compile with nvcc (seed ${settings.seed})`, () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sagegen-property-nvcc-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const plans = sampleBuildable(settings.compiles);
  const groups = [
    { what: 'fresh (cache off)', plans: plans.slice(0, settings.fresh), cacheDir: false as const },
    { what: 'through the compile cache', plans: plans.slice(settings.fresh), cacheDir: undefined },
  ];

  it(`the sample holds ${settings.compiles} distinct valid specs`, () => {
    expect(plans.map((p) => p.name)).toHaveLength(settings.compiles);
    console.log(`[property] compiling: ${plans.map((p) => p.name).join(', ')}`);
  });

  for (const group of groups) {
    it.skipIf(group.plans.length === 0)(`${group.plans.length} of them build ${group.what}: kernels, cubin and PTX for each`, async () => {
      const lines: string[] = [];
      const outDir = path.join(tmp, group.cacheDir === false ? 'fresh' : 'cached');
      let manifest: BuildManifest;
      try {
        manifest = await build({ specs: group.plans.map((p) => p.spec), outDir, jobs: 2, nvcc: requireNvcc(), cacheDir: group.cacheDir, log: (l) => lines.push(l) });
      } catch (e) {
        throw new Error(`a valid spec failed to build (replay: SAGEGEN_PROPERTY_SEED=${settings.seed}): ${e instanceof Error ? e.message : String(e)}`);
      }
      expect(manifest.variants.map((v) => v.name)).toEqual(group.plans.map((p) => p.name));
      for (const [i, v] of manifest.variants.entries()) {
        const plan = group.plans[i]!;
        if (group.cacheDir === false) {
          expect(v.cache).toBe('off');
          expect(lines, `nvcc ran for ${v.name}`).toContain(`nvcc ${v.name} (${plan.arch.name})`);
        }
        const attention = v.ptxas.find((e) => e.kernel === 'attentionKernel');
        expect(attention, `${v.name}: ptxas reported no attentionKernel`).toBeDefined();
        expect(attention!.registers).toBeGreaterThan(0);
        expect(attention!.registers).toBeLessThanOrEqual(plan.registerBudget);
        for (const e of v.ptxas) expect(e.arch, `${v.name} ${e.kernel}`).toBe(plan.arch.gencodeCode);
        const cubin = readFileSync(path.join(outDir, v.cubin));
        expect(cubin.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
        expect(cubin.includes(Buffer.from(v.name))).toBe(true);
        const ptx = readFileSync(path.join(outDir, v.ptx!), 'utf8');
        for (const { ptx: mnemonic } of plan.instructions) expect(ptx, `${v.name} PTX`).toContain(mnemonic);
      }
    });
  }
});
