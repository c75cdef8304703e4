/**
 * The wgmma family (sm_90a) through the real build: the default wgmma specs at D=64 and D=128 compile
 * with nvcc here (CI has nvcc but no GPU), without register spills, into PTX that holds the warpgroup
 * instructions of their plans and no mma.sync. The GPU results of these kernels are in
 * results/wgmma/ (checked on the lent H100); this suite keeps a template or plan change from
 * breaking their compilation, or from making them spill, unnoticed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { build, planAll, type BuildManifest } from '../build/build.js';
import { defaultSpecInput } from '../dsl/builder.js';
import { parseSpec, variantName } from '../dsl/spec.js';
import { describeNvcc, requireNvcc } from './helpers/nvcc.js';
import { oneConsumerWgmmaD128 } from './helpers/specs.js';
import { attentionKernelPtx, loadsAfterFirstOutputStore } from './helpers/ptx.js';

/** Builds `specs` once into a fresh temp dir for the enclosing describe block (removed after it). */
function builtOnce(specs: Parameters<typeof build>[0]['specs'], prefix: string): { out: string; manifest: () => BuildManifest } {
  const state = { tmp: '', out: '', manifest: undefined as BuildManifest | undefined };
  beforeAll(async () => {
    state.tmp = mkdtempSync(path.join(os.tmpdir(), prefix));
    state.out = path.join(state.tmp, 'out');
    state.manifest = await build({ specs, outDir: state.out, jobs: 2, nvcc: requireNvcc() });
  }, 600_000);
  afterAll(() => {
    if (state.tmp) rmSync(state.tmp, { recursive: true, force: true });
  });
  return {
    get out() {
      return state.out;
    },
    manifest: () => state.manifest!,
  };
}

describeNvcc('build() of the wgmma variants (sm_90a, fp16, the defaults at D=64 and D=128, causal and not; D=128 causal also in one consumer warpgroup with overlapKvQuant)', () => {
  const specs = [64, 128].flatMap((headDim) =>
    [false, true].map((causal) => parseSpec(defaultSpecInput({ arch: 'sm_90a', headDim: headDim as 64 | 128, causal, dtype: 'fp16', mma: 'wgmma' }))),
  );
  // and D=128 causal in the tuned set's 1K–2K block (one consumer, three blocks per SM, FADD row
  // sums) with its attention kernel started beside the K/V kernel (the D=64 defaults start it so too)
  const beside = oneConsumerWgmmaD128(true);
  beside.tiling.overlapKvQuant = true;
  specs.push(parseSpec(beside));
  const besideName = variantName(specs[specs.length - 1]!);
  const plans = planAll(specs);
  const built = builtOnce(specs, 'sagegen-wgmma-build-');

  it('every kernel compiles without spills; the attention kernel launches with the registers its block shape leaves', () => {
    expect(built.manifest().variants).toHaveLength(5);
    for (const v of built.manifest().variants) {
      const plan = plans.find((p) => p.name === v.name)!;
      for (const e of v.ptxas) expect([e.spillStoreBytes, e.spillLoadBytes], `${v.name} ${e.kernel}`).toEqual([0, 0]);
      const attention = v.ptxas.find((e) => e.kernel === 'attentionKernel')!;
      // all its shared memory is the plan's dynamic layout (the occupancy the plan checks is the real one)
      expect(attention.sharedBytes, v.name).toBe(0);
      // 64K registers over the block's warpgroups × blocks per SM, in steps of 8; with a producer,
      // setmaxnreg then moves them from the producer to the consumers.
      const launch = Math.floor(65536 / (plan.threads * plan.minBlocksPerSm) / 8) * 8;
      expect(attention.registers, v.name).toBeLessThanOrEqual(launch);
      expect(plan.wgmma!.producerRegisters * 128 + plan.wgmma!.consumerRegisters * 128 * plan.wgmma!.consumers).toBeLessThanOrEqual(launch * plan.threads);
      // the fused K/V quantization: its static shared memory is what the plan budgets beside the staged tiles
      const kv = v.ptxas.find((e) => e.kernel === 'kvClusterQuantKernel');
      expect(kv, `${v.name} has no kvClusterQuantKernel`).toBeDefined();
      expect(kv!.sharedBytes, v.name).toBe(plan.quant.kvCluster!.staticBytes);
    }
  });

  it('the epilogue loads its V scales and LSE corrections before the first O store, and nothing after it', () => {
    // A load after a store to O waits for it in order (they might alias): loads between the stores
    // cost a third of a D=128 1K block (results/wgmma/session21/).
    for (const v of built.manifest().variants) {
      const plan = plans.find((p) => p.name === v.name)!;
      const kernel = attentionKernelPtx(readFileSync(path.join(built.out, v.ptx!), 'utf8'));
      const { outputStores, loadsAfter } = loadsAfterFirstOutputStore(kernel);
      expect(outputStores, v.name).toBe(plan.wgmma!.pvAccumulators / 2);
      expect(loadsAfter, v.name).toBe(0);
    }
  });

  it('the PTX holds the INT8 and the head-dim (+ row sums) FP8 wgmma, TMA, setmaxnreg where a producer is, the operand swizzles of the plan, and no mma.sync', () => {
    for (const v of built.manifest().variants) {
      const plan = plans.find((p) => p.name === v.name)!;
      const ptx = readFileSync(path.join(built.out, v.ptx!), 'utf8');
      expect(v.ptxEmbedded).toBe(false);
      expect(ptx).toContain('wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8');
      // P·V's N: the head dim, and 8 row-sum columns more where the block sums on the tensor cores
      // (every default; not the one-consumer D=128 block, which sums in FADDs)
      expect(ptx).toContain(`wgmma.mma_async.sync.aligned.m64n${plan.headDim + plan.wgmma!.rowSumColumns}k32.f32.e4m3.e4m3`);
      expect(plan.wgmma!.rowSumColumns, v.name).toBe(v.name === besideName ? 0 : 8);
      expect(ptx).toContain('cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes');
      // with a producer the registers move by setmaxnreg; without, the launch bounds give them all
      if (plan.wgmma!.producerWarpgroups) expect(ptx).toContain(`setmaxnreg.inc.sync.aligned.u32 ${plan.wgmma!.consumerRegisters}`);
      else expect(ptx, v.name).not.toContain('setmaxnreg');
      expect(plan.wgmma!.producerWarpgroups, v.name).toBe(0);  // every default is producerless now
      // the D=128 defaults: three consumers in one block; D=64 and the extra D=128 block: one
      expect(plan.wgmma!.consumers, v.name).toBe(plan.headDim === 128 && v.name !== besideName ? 3 : 1);
      expect(ptx).not.toContain('mma.sync.aligned');
      // two consumers stagger (consumer 0 arrives at a named barrier) only when not causal
      expect(ptx.includes('bar.arrive'), v.name).toBe(plan.wgmma!.consumerOrder === 'stagger');
      const cu = readFileSync(path.join(built.out, v.source), 'utf8');
      expect(cu).toContain(plan.wgmma!.qkOperand.tmaSwizzle);
      expect(plan.wgmma!.qkOperand.rowBytes).toBe(plan.headDim);
      // one-consumer blocks quantize the queries in the prologue of whole calls: their INT8 rows go
      // to shared memory by ordinary stores, so the async proxy is fenced and the warpgroup meets at a
      // named barrier of 128 threads before the first wgmma; three-consumer blocks keep the TMA load only
      const inKernel = plan.wgmma!.consumers === 1;
      expect(plan.quant.queryInAttention, v.name).toBe(inKernel);
      expect(/bar\.sync\s+%r\d+, 128;/.test(ptx), v.name).toBe(inKernel);
      expect(ptx.includes('fence.proxy.async.shared::cta'), v.name).toBe(inKernel || plan.wgmma!.rowSumColumns > 0);
      // there the K/V kernel is the only one before the attention kernel, which with
      // tiling.overlapKvQuant starts beside it and waits for its own head's ready words (acquire in
      // the attention kernel, release in the K/V kernel)
      const overlaps = plan.quant.kvReady !== null;
      expect(overlaps, v.name).toBe(specs.find((s) => variantName(s) === v.name)!.tiling.overlapKvQuant === true);
      expect(ptx.includes('griddepcontrol.launch_dependents'), v.name).toBe(overlaps);
      expect(attentionKernelPtx(ptx).includes('ld.acquire.gpu.global.u64'), v.name).toBe(overlaps);
      expect(ptx.includes('st.release.gpu.global.u64'), v.name).toBe(overlaps);
    }
    // the two D=64 defaults and the extra D=128 block
    expect(plans.filter((p) => p.quant.kvReady !== null).map((p) => p.name)).toEqual(plans.filter((p) => p.headDim === 64 || p.name === besideName).map((p) => p.name));
  });
});

describeNvcc('build() of pv.rowMax "vimnmx3" (sm_90a D=64 causal, the dequantization folded into exp2 and not)', () => {
  // The tuned D=64 block; causal, so both the masked (float max) and unmasked (VIMNMX3) tiles are built.
  const input = (foldDequant: boolean, rowMax?: 'vimnmx3') => ({
    arch: 'sm_90a', mma: 'wgmma', headDim: 64, causal: true, dtype: 'fp16', layout: 'HND',
    tiling: { ctaQ: 64, ctaK: 128, warpQ: 16, warps: 4, stages: 2, minBlocksPerSm: 3, overlapQk: false, producer: false },
    qk: { type: 'int8', granularity: 'per-warp', smoothK: true, foldDequant },
    pv: { instruction: 'wgmma.e4m3', pRange: 448, vRange: 448, ...(rowMax ? { rowMax } : {}) },
  });
  const specs = [true, false].flatMap((fold) => [parseSpec(input(fold)), parseSpec(input(fold, 'vimnmx3'))]);
  const built = builtOnce(specs, 'sagegen-wgmma-rowmax-');

  it('compiles without spills; the unmasked step trades its 64 float maxima for 62 integer ones (ptxas fuses them in pairs into VIMNMX3)', () => {
    expect(built.manifest().variants).toHaveLength(4);
    const maxCounts = (spec: (typeof specs)[number]) => {
      const v = built.manifest().variants.find((x) => x.name === variantName(spec))!;
      for (const e of v.ptxas) expect([e.spillStoreBytes, e.spillLoadBytes], `${v.name} ${e.kernel}`).toEqual([0, 0]);
      const ptx = readFileSync(path.join(built.out, v.ptx!), 'utf8');
      return { s32: ptx.match(/\bmax\.s32\b/g)?.length ?? 0, f32: ptx.match(/\bmax\.f32\b/g)?.length ?? 0 };
    };
    for (const i of [0, 2]) {
      const plainSpec = specs[i]!;
      const int3Spec = specs[i + 1]!;
      const plain = maxCounts(plainSpec);
      const int3 = maxCounts(int3Spec);
      // a row: max() of its first pair, then 15 __vimax3_s32 of two PTX max.s32 each = 31; two rows
      expect(int3.s32 - plain.s32, variantName(int3Spec)).toBe(62);
      // the float chain of the unmasked step (32 fmaxf a row) is gone; the masked step keeps its own
      expect(plain.f32 - int3.f32, variantName(int3Spec)).toBe(64);
    }
  });
});
