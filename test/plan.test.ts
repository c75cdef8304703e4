/**
 * spec → plan arithmetic. Expected values are derived here from the spec's own numbers with the
 * mma shapes written out, never copied from a plan:
 *
 *   Q·Kᵀ: mma.m16n8k32 INT8  → M 16 query rows, N 8 keys, K 32 channels per mma
 *   P·V:  mma.m16n8k32 e4m3  → M 16 query rows, N 8 channels, K 32 keys per mma
 *         mma.m16n8k16 16-bit → K 16 keys per mma
 *   Shared memory: Q INT8 [ctaQ][D]; per stage K INT8 [ctaK][D] and V either FP8 Vᵀ [D][ctaK]
 *   (1 byte) or 16-bit V [ctaK][D] (2 bytes); Q first, then the K stages, then the V stages.
 */
import { describe, expect, it } from 'vitest';
import { ARCHS, CAPABILITIES, INSTRUCTIONS } from '../dsl/capabilities.js';
import { attention, defaultSpec, defaultSpecInput } from '../dsl/builder.js';
import { HEAD_DIMS, parseSpec, SpecError, variantName, type AttentionSpec } from '../dsl/spec.js';
import { planKernel } from '../plan/plan.js';
import { renderVariant } from '../render/render.js';
import { oneConsumerWgmmaD128 } from './helpers/specs.js';

/** A deep copy of x, changed by f. */
function edited<T>(x: T, f: (copy: T) => void): T {
  const copy = structuredClone(x);
  f(copy);
  return copy;
}

const MMA_M = 16;
const MMA_N = 8;
const QK_MMA_K = 32; // INT8 channels per Q·Kᵀ mma
const FP8_PV_MMA_K = 32;
const HALF_PV_MMA_K = 16;
const KiB = 1024;

function planRefusal(spec: AttentionSpec): SpecError {
  let caught: unknown;
  try {
    planKernel(spec);
  } catch (e) {
    caught = e;
  }
  expect(caught, 'planKernel accepted the spec but should have refused it').toBeInstanceOf(SpecError);
  return caught as SpecError;
}

/** Every derived number checked against the formulas above. */
function checkArithmetic(spec: AttentionSpec): void {
  const plan = planKernel(spec);
  const { ctaQ, ctaK, warpQ, warps, stages } = spec.tiling;
  const D = spec.headDim;
  const fp8 = spec.pv.instruction === 'm16n8k32.e4m3';

  expect(plan.threads).toBe(warps * 32);
  expect(plan.mTiles).toBe(warpQ / MMA_M);
  expect(plan.qkNTiles).toBe(ctaK / MMA_N);
  expect(plan.qkKSteps).toBe(D / QK_MMA_K);
  expect(plan.pvNTiles).toBe(D / MMA_N);
  expect(plan.pvMmaK).toBe(fp8 ? FP8_PV_MMA_K : HALF_PV_MMA_K);
  expect(plan.pvKSteps).toBe(ctaK / (fp8 ? FP8_PV_MMA_K : HALF_PV_MMA_K));
  // The tile the warps cover is the CTA tile.
  expect(plan.mTiles * MMA_M * plan.warps).toBe(ctaQ);

  if (spec.pv.instruction === 'm16n8k32.e4m3') {
    expect(plan.pv.fp8).toBe(true);
    expect(plan.pv.f16Accumulator).toBe(spec.pv.accumulator === 'f16');
    expect(plan.pv.flushSteps).toBe(spec.pv.flushKeys / FP8_PV_MMA_K);
    expect(plan.pv.flushesPerTile).toBe(ctaK / spec.pv.flushKeys);
    expect(plan.pv.log2PRange).toBeCloseTo(Math.log2(spec.pv.pRange), 12);
  } else {
    // Real fp32 accumulators: one flush per key tile covering all of its mma steps.
    expect(plan.pv.fp8).toBe(false);
    expect(plan.pv.flushesPerTile).toBe(1);
    expect(plan.pv.flushSteps).toBe(ctaK / HALF_PV_MMA_K);
  }
  // Flushes × steps × keys per step always cover the key tile exactly.
  expect(plan.pv.flushesPerTile * plan.pv.flushSteps * plan.pvMmaK).toBe(ctaK);

  const expectedGroups = { 'per-block': [1, 1], 'per-warp': [warps, 1], 'per-thread': [warps * 8, 4] }[spec.qk.granularity];
  expect([plan.quant.qGroupsPerTile, plan.quant.kGroupsPerTile]).toEqual(expectedGroups);

  const qBytes = ctaQ * D;
  const kBytes = ctaK * D;
  const vBytes = fp8 ? D * ctaK : ctaK * D * 2;
  expect(plan.smem.q).toMatchObject({ offset: 0, bytes: qBytes, rowBytes: D, rows: ctaQ });
  expect(plan.smem.k).toMatchObject({ offset: qBytes, bytes: kBytes, rowBytes: D, rows: ctaK, stages });
  expect(plan.smem.v).toMatchObject(
    fp8
      ? { offset: qBytes + stages * kBytes, bytes: vBytes, rowBytes: ctaK, rows: D, stages }
      : { offset: qBytes + stages * kBytes, bytes: vBytes, rowBytes: D * 2, rows: ctaK, stages },
  );
  const total = qBytes + stages * (kBytes + vBytes);
  expect(plan.smem.totalBytes).toBe(total);
  expect(plan.smem.needsOptIn).toBe(total > 48 * KiB);
  expect(total).toBeLessThanOrEqual(CAPABILITIES[spec.arch].maxSharedMemoryPerBlock);
  for (const tile of [plan.smem.q, plan.smem.k, plan.smem.v]) {
    expect(tile.chunksPerRow).toBe(tile.rowBytes / 16);
    expect(tile.copies).toBe(tile.bytes / 16);
    expect(tile.copiesPerThread).toBe(Math.ceil(tile.bytes / 16 / plan.threads));
    // Every tile starts 16-byte aligned (cp.async / ldmatrix granularity), every stage too.
    expect(tile.offset % 16).toBe(0);
    expect(tile.bytes % 16).toBe(0);
  }

  // Register estimate: fp32 output accumulators (4 per m16n8 tile per thread) and s32 scores.
  expect(plan.registers.outputAccumulator).toBe(plan.mTiles * plan.pvNTiles * 4);
  expect(plan.registers.scoreAccumulator).toBe(plan.mTiles * plan.qkNTiles * 4);
  expect(plan.registers.queryFragments).toBe(plan.qFragmentsInRegisters ? plan.mTiles * plan.qkKSteps * 4 : 0);
  expect(plan.registers.total).toBe(
    plan.registers.outputAccumulator + plan.registers.scoreAccumulator + plan.registers.queryFragments + plan.registers.overhead,
  );
  expect(plan.registers.total).toBeLessThanOrEqual(CAPABILITIES[spec.arch].maxRegistersPerThread);

  // The PTX the templates print is the capability table's for the chosen instructions.
  const pvName = fp8
    ? spec.pv.instruction === 'm16n8k32.e4m3' && spec.pv.accumulator === 'f16'
      ? 'mma.m16n8k32.e4m3.f16'
      : 'mma.m16n8k32.e4m3.f32'
    : spec.dtype === 'bf16'
      ? 'mma.m16n8k16.bf16.f32'
      : 'mma.m16n8k16.f16.f32';
  expect(plan.ptx).toEqual({ qk: INSTRUCTIONS['mma.m16n8k32.s8.s32'].ptx, pv: INSTRUCTIONS[pvName].ptx, rowSums: null });
  expect(plan.arch.gencodeArch).toBe(CAPABILITIES[spec.arch].gencodeArch);
}

describe('plan arithmetic', () => {
  it('default sm_89 D=128 spec', () => checkArithmetic(parseSpec(defaultSpecInput({ arch: 'sm_89', headDim: 128 }))));
  it('default sm_89 D=64 spec', () => checkArithmetic(parseSpec(defaultSpecInput({ arch: 'sm_89', headDim: 64 }))));
  it('per-thread spec (warpQ 32 × 4 warps, D=64, f32 accumulator, 32-key flushes)', () =>
    checkArithmetic(
      attention({ arch: 'sm_89', headDim: 64 })
        .tiling({ ctaQ: 128, ctaK: 64, warpQ: 32, warps: 4, stages: 2 })
        .qk({ granularity: 'per-thread' })
        .pvFp8({ accumulator: 'f32', flushKeys: 32 })
        .build(),
    ));
  it('per-block spec with 3 stages on sm_90a', () =>
    checkArithmetic(attention({ arch: 'sm_90a', headDim: 128 }).tiling({ stages: 3 }).qk({ granularity: 'per-block' }).build()));
  it('16-bit P·V spec on sm_80 (bf16)', () => checkArithmetic(parseSpec(defaultSpecInput({ arch: 'sm_80', headDim: 128, dtype: 'bf16' }))));

  for (const arch of ARCHS)
    for (const headDim of HEAD_DIMS)
      it(`default ${arch} D=${headDim} plans within the arch's limits`, () => checkArithmetic(parseSpec(defaultSpecInput({ arch, headDim }))));

  it('the per-thread spec really has the group counts of its granularity (not the per-warp ones)', () => {
    const spec = attention({ arch: 'sm_89', headDim: 128 }).qk({ granularity: 'per-thread' }).build();
    const plan = planKernel(spec);
    expect(plan.quant.qGroupsPerTile).toBe(spec.tiling.warps * 8);
    expect(plan.quant.kGroupsPerTile).toBe(4);
    expect(plan.quant.qGroupsPerTile).not.toBe(planKernel(parseSpec(defaultSpecInput({ arch: 'sm_89', headDim: 128 }))).quant.qGroupsPerTile);
  });

  it('Hopper runs FP8 mma emulated, Ada natively', () => {
    expect(planKernel(attention({ arch: 'sm_90a', headDim: 128 }).pvFp8({ accumulator: 'f16', flushKeys: 32 }).build()).arch.pvNative).toBe(false);
    expect(planKernel(parseSpec(defaultSpecInput({ arch: 'sm_90a', headDim: 128 }))).arch.pvNative).toBe(true); // 16-bit default
    expect(planKernel(parseSpec(defaultSpecInput({ arch: 'sm_89', headDim: 128 }))).arch.pvNative).toBe(true);
    expect(planKernel(parseSpec(defaultSpecInput({ arch: 'sm_90a', headDim: 128 }))).arch.archSpecific).toBe(true);
  });
});

describe('lazy O rescaling', () => {
  it('16-bit P·V tolerates a row maximum growing by 2^8 before rescaling; FP8 P (scaled to pRange) never', () => {
    expect(planKernel(parseSpec(defaultSpecInput({ arch: 'sm_80', headDim: 128 }))).pv.rescaleSlack).toBe(8);
    expect(planKernel(parseSpec(defaultSpecInput({ arch: 'sm_89', headDim: 128 }))).pv.rescaleSlack).toBe(0);
  });
});

describe('cp.async pipeline counts', () => {
  // One group per key tile, Q in the first: at iteration t, prefetchTiles + t groups were committed and
  // tile t is group t, so the loop may leave prefetchTiles - 1 pending (one fewer when it also reads t + 1).
  const planOf = (stages: number, overlapQk: boolean) => {
    const input = defaultSpecInput({ arch: 'sm_89', headDim: 64 });
    return planKernel(parseSpec({ ...input, tiling: { ...input.tiling, stages, overlapQk } })).pipeline;
  };
  it('without overlapQk the loop waits for its own tile', () => {
    for (const stages of [2, 3, 4]) {
      expect(planOf(stages, false)).toEqual({ prefetchTiles: stages - 1, prologueWaitPending: stages - 2, loopWaitPending: stages - 2 });
    }
  });
  it('with overlapQk the loop also waits for the next tile', () => {
    for (const stages of [3, 4]) {
      expect(planOf(stages, true)).toEqual({ prefetchTiles: stages - 1, prologueWaitPending: stages - 2, loopWaitPending: stages - 3 });
    }
  });
});

describe('query quantization blocks', () => {
  // The scale of query row r of tile T sits at T·qGroupsPerTile + group(r); a quantization block of
  // qQuantRows rows must therefore hold whole scale groups and write them at the same places.
  const planOf = (granularity: AttentionSpec['qk']['granularity'], warpQ: number, warps: number, headDim: 64 | 128) => {
    const input = defaultSpecInput({ arch: 'sm_89', headDim });
    return planKernel(parseSpec({ ...input, qk: { ...input.qk, granularity }, tiling: { ...input.tiling, warpQ, warps, ctaQ: warpQ * warps } }));
  };
  it('per-warp and per-thread scales: one block per warp band of warpQ rows', () => {
    for (const [granularity, groupsPerWarp] of [['per-warp', 1], ['per-thread', 8]] as const) {
      for (const [warpQ, warps] of [[16, 8], [32, 4]] as const) {
        const plan = planOf(granularity, warpQ, warps, 128);
        expect(plan.quant.qQuantRows).toBe(warpQ);
        expect(plan.quant.qQuantGroups).toBe(groupsPerWarp);
        expect(plan.quant.qQuantGroups * plan.ctaQ).toBe(plan.quant.qGroupsPerTile * plan.quant.qQuantRows);
        expect(plan.quant.qQuantRows % plan.quant.rowsPerPass).toBe(0);
      }
    }
  });
  it('per-block scales: one block per query tile', () => {
    const plan = planOf('per-block', 32, 4, 64);
    expect(plan.quant.qQuantRows).toBe(128);
    expect(plan.quant.qQuantGroups).toBe(1);
  });
});

describe('block schedule', () => {
  it('causal kernels start the heaviest query tiles first, in head groups of two waves; others keep launch order', () => {
    for (const causal of [false, true]) {
      const plan = planKernel(parseSpec({ ...defaultSpecInput({ arch: 'sm_90a', headDim: 128 }), causal }));
      expect(plan.schedule).toEqual({ heaviestFirst: causal, wavesPerHeadGroup: 2 });
    }
  });
});

describe('resource refusals', () => {
  it('shared memory over the arch limit: sm_86, 4 stages, ctaK 256, D=128', () => {
    const spec = attention({ arch: 'sm_86', headDim: 128 }).tiling({ ctaK: 256, stages: 4 }).build();
    expect(spec.pv.instruction).toBe('m16n8k16'); // sm_86 has no FP8: V is 16-bit [ctaK][D]
    const { ctaQ, ctaK, stages } = spec.tiling;
    const D = spec.headDim;
    const total = ctaQ * D + stages * (ctaK * D + ctaK * D * 2);
    const limit = 99 * KiB;
    expect(CAPABILITIES.sm_86.maxSharedMemoryPerBlock).toBe(limit);
    expect(total).toBeGreaterThan(limit);

    const err = planRefusal(spec);
    const issue = err.issues.find((i) => i.field === 'tiling');
    expect(issue, err.message).toBeDefined();
    expect(issue!.value).toEqual(spec.tiling);
    expect(issue!.rule).toContain(String(total));
    expect(issue!.rule).toContain(String(limit));
    expect(issue!.rule).toContain('sm_86');
    expect(issue!.rule).toMatch(/shared memory/);
    expect(err.message).toContain(`tiling = ${JSON.stringify(spec.tiling)}`);
  });

  it('the same tiling that exceeds 99 KiB on sm_89 fits 227 KiB on sm_90a', () => {
    const tiling = { ctaQ: 128, warpQ: 16, warps: 8 as const, ctaK: 256, stages: 2, minBlocksPerSm: 1 };
    const sm89 = attention({ arch: 'sm_89', headDim: 128 }).tiling(tiling).build();
    const sm90a = attention({ arch: 'sm_90a', headDim: 128 }).tiling(tiling).pvFp8({ accumulator: 'f16' }).build();
    const D = 128;
    const total = sm89.tiling.ctaQ * D + 2 * (256 * D + D * 256);
    expect(total).toBeGreaterThan(99 * KiB);
    expect(total).toBeLessThanOrEqual(227 * KiB);
    expect(planRefusal(sm89).issues.map((i) => i.field)).toContain('tiling');
    expect(planKernel(sm90a).smem.totalBytes).toBe(total);
  });

  it('register estimate over 255: warpQ 64 with ctaK 256 at D=128', () => {
    // sm_90a so shared memory fits (Q 256·128 + 2·(K 256·128 + V 128·256) = 160 KiB < 227 KiB) and
    // 4 warps so the copy bands are whole: only the register rule can refuse it.
    const spec = attention({ arch: 'sm_90a', headDim: 128 }).tiling({ ctaQ: 256, ctaK: 256, warpQ: 64, warps: 4, stages: 2 }).build();
    expect(256 * 128 + 2 * (256 * 128 + 128 * 256)).toBeLessThanOrEqual(227 * KiB);
    const mTiles = 64 / MMA_M;
    const o = mTiles * (128 / MMA_N) * 4; // fp32 output accumulators
    const s = mTiles * (256 / MMA_N) * 4; // s32 score accumulators
    expect(o + s).toBeGreaterThan(255);

    const err = planRefusal(spec);
    expect(err.issues.map((i) => i.field)).toEqual(['tiling.warpQ']);
    const issue = err.issues[0]!;
    expect(issue.value).toBe(64);
    expect(issue.rule).toContain(`O ${o}`);
    expect(issue.rule).toContain(`S ${s}`);
    expect(issue.rule).toMatch(/over 255/);
    const total = Number(/about (\d+) registers/.exec(issue.rule)?.[1]);
    expect(total).toBeGreaterThanOrEqual(o + s);
    expect(err.message).toContain('tiling.warpQ = 64');
  });

  it('too few warps for whole copy bands: 1 warp at D=128', () => {
    // 32 threads copy 32 / (128 B / 16 B) = 4 rows of a 128-byte-row tile per pass; bands need 8 rows.
    const spec = attention({ arch: 'sm_89', headDim: 128 }).tiling({ ctaQ: 16, warpQ: 16, warps: 1 }).build();
    const chunksPerRow = 128 / 16;
    const rowsPerPass = 32 / chunksPerRow;
    expect(rowsPerPass % 8).not.toBe(0);
    const warpsNeeded = (8 * chunksPerRow) / 32;
    const err = planRefusal(spec);
    const issues = err.issues.filter((i) => i.field === 'tiling.warps');
    expect(issues.length, err.message).toBeGreaterThan(0);
    for (const issue of issues) {
      expect(issue.value).toBe(1);
      expect(issue.rule).toContain(`at least ${warpsNeeded} warps`);
    }
    expect(err.message).toContain('tiling.warps = 1');
    // and the same tile with enough warps plans
    expect(() => planKernel(attention({ arch: 'sm_89', headDim: 128 }).tiling({ ctaQ: 32, warpQ: 16, warps: 2 }).build())).not.toThrow();
  });
});

describe('wgmma plan', () => {
  const spec = parseSpec({
    arch: 'sm_90a', mma: 'wgmma', headDim: 128, causal: true, dtype: 'bf16', layout: 'HND',
    tiling: { ctaQ: 128, ctaK: 128, warpQ: 16, warps: 8, stages: 3, minBlocksPerSm: 1, overlapQk: true },
    qk: { type: 'int8', granularity: 'per-warp', smoothK: true },
    pv: { instruction: 'wgmma.e4m3', pRange: 448, vRange: 448 },
  });
  it('one producer and two consumer warpgroups, their register split within the register file', () => {
    const plan = planKernel(spec);
    const w = plan.wgmma!;
    expect(plan.threads).toBe(3 * 128);
    expect(w.consumers).toBe(2);
    expect(128 * w.producerRegisters + 2 * 128 * w.consumerRegisters).toBeLessThanOrEqual(65536);
    // m64nNk32: 64 rows × N columns over 128 threads; k32 steps over D channels and ctaK keys.
    expect(w.qkAccumulators).toBe((64 * 128) / 128);
    expect(w.pvAccumulators).toBe((64 * 128) / 128);
    expect([plan.qkKSteps, plan.pvKSteps]).toEqual([128 / 32, 128 / 32]);
    expect(w.qkRegisters).toEqual([...Array(64).keys()]);
    expect([w.qkOperandA, w.qkOperandB, w.qkOperandScale]).toEqual([64, 65, 66]);
    expect(w.pvOperandsA).toEqual([64, 65, 66, 67]);
    expect([w.pvOperandB, w.pvOperandScale]).toEqual([68, 69]);
  });
  it('shared memory: Q, then 3 stages of K (INT8 [ctaK][D]) and Vᵀ (FP8 [D][ctaK]), the barriers, the score bias words, 1 KiB of alignment slack', () => {
    const plan = planKernel(spec);
    const tile = 128 * 128;
    expect(plan.smem.q.offset).toBe(0);
    expect(plan.smem.k.offset).toBe(tile);
    expect(plan.smem.v.offset).toBe(tile + 3 * tile);
    expect(plan.wgmma!.barrierOffset).toBe(tile + 6 * tile);
    expect(plan.wgmma!.stageTxBytes).toBe(2 * tile);
    // 7 mbarriers (56 bytes), then 64 words of the score bias from the next 16-byte boundary
    expect(plan.wgmma!.scoreBiasOffset).toBe(7 * tile + 64);
    expect(plan.smem.totalBytes).toBe(7 * tile + 64 + 4 * 64 + 1024);
    expect(plan.smem.totalBytes).toBeLessThanOrEqual(227 * KiB);
  });
  it('the INT8 query scales fall on the 16-row bands a wgmma warp owns', () => {
    const plan = planKernel(spec);
    expect(plan.quant.qGroupsPerTile).toBe(8);
    expect(plan.quant.qQuantRows).toBe(16);
    expect(plan.ptx.qk).toBe('wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8');
    expect(plan.ptx.pv).toBe('wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3');
  });
  it('mma.sync plans carry no wgmma part', () => {
    expect(planKernel(parseSpec(defaultSpecInput({ arch: 'sm_90a', headDim: 128 }))).wgmma).toBeNull();
  });
  it('two consumers stagger when not causal (measured +4–6%), else run free; one consumer always runs free', () => {
    const order = (headDim: 64 | 128, causal: boolean) =>
      planKernel(parseSpec(defaultSpecInput({ arch: 'sm_90a', headDim, causal, mma: 'wgmma' }))).wgmma!;
    // the defaults: three consumers (D=128) or one (D=64); none staggers
    expect([order(128, false).consumers, order(128, false).consumerOrder]).toEqual([3, 'free']);
    expect([order(128, true).consumers, order(128, true).consumerOrder]).toEqual([3, 'free']);
    expect([order(64, false).consumers, order(64, false).consumerOrder]).toEqual([1, 'free']);
    const twoFull = parseSpec(edited(defaultSpecInput({ arch: 'sm_90a', headDim: 128, causal: false, mma: 'wgmma' }), (s) => {
      Object.assign(s.tiling, { ctaQ: 128, warps: 8, minBlocksPerSm: 1, stages: 3, overlapQk: true, producer: undefined });
      if (s.pv.instruction === 'wgmma.e4m3') delete s.pv.rowSums;
    }));
    expect([planKernel(twoFull).wgmma!.consumers, planKernel(twoFull).wgmma!.consumerOrder]).toEqual([2, 'stagger']);
    const twoCausal = parseSpec(edited(defaultSpecInput({ arch: 'sm_90a', headDim: 128, causal: true, mma: 'wgmma' }), (s) =>
      Object.assign(s.tiling, { ctaQ: 128, warps: 8, minBlocksPerSm: 1, stages: 3, overlapQk: true, producer: undefined })));
    expect([planKernel(twoCausal).wgmma!.consumers, planKernel(twoCausal).wgmma!.consumerOrder]).toEqual([2, 'free']);
    // and the rendered kernel holds the named barrier only where it staggers
    expect(renderVariant(planKernel(twoFull))).toContain('bar.sync %0, 256;');
    expect(renderVariant(planKernel(twoCausal))).not.toContain('bar.sync %0, 256;');
  });

  it('whole calls quantize the queries in the prologue of one-consumer blocks: 16 rows per warp in whole passes, the TMA swizzle of the Q operand, a named barrier', () => {
    const plan = (headDim: 64 | 128, causal: boolean) => planKernel(parseSpec(defaultSpecInput({ arch: 'sm_90a', headDim, causal, mma: 'wgmma' })));
    // D=128 in one consumer warpgroup × three blocks per SM (the tuned set's pick at 1K–2K)
    const oneConsumer128 = (causal: boolean) => planKernel(parseSpec(oneConsumerWgmmaD128(causal)));
    // 16-byte input chunks: 16 per row at D=128 (2 rows per 32-lane pass), 8 at D=64 (4 rows)
    expect(oneConsumer128(true).wgmma!.queryQuant).toEqual({ rowsPerPass: 2, passes: 8, firstBarrier: 3 });
    expect(plan(64, true).wgmma!.queryQuant).toEqual({ rowsPerPass: 4, passes: 4, firstBarrier: 3 });
    expect([oneConsumer128(true).quant.queryInAttention, plan(64, false).quant.queryInAttention]).toEqual([true, true]);
    // blocks of three consumers (the D=128 defaults) keep the query kernel (measured slower with the prologue compiled in)
    for (const causal of [false, true]) {
      expect([plan(128, causal).wgmma!.consumers, plan(128, causal).wgmma!.queryQuant, plan(128, causal).quant.queryInAttention]).toEqual([3, null, false]);
      expect(renderVariant(plan(128, causal))).not.toContain('quantizeQueries');
    }
    // and so do blocks with a producer warpgroup (not run on a GPU with the prologue)
    const producerBlock = planKernel(parseSpec(edited(defaultSpecInput({ arch: 'sm_90a', headDim: 128, causal: true, mma: 'wgmma' }), (s) =>
      Object.assign(s.tiling, { ctaQ: 64, warps: 4, minBlocksPerSm: 2, stages: 3, overlapQk: true, producer: true }))));
    expect([producerBlock.wgmma!.consumers, producerBlock.wgmma!.producerWarpgroups, producerBlock.quant.queryInAttention]).toEqual([1, 1, false]);
    // the chunk XOR mask TMA applies: 128-byte rows swizzle over 8 chunks, 64-byte rows over 4
    expect(plan(128, false).wgmma!.qkOperand.swizzleChunks).toBe(8);
    expect(plan(64, false).wgmma!.qkOperand.swizzleChunks).toBe(4);
    const source = renderVariant(oneConsumer128(true));
    expect(source).toContain('constexpr int kQueryPasses = 8;');
    expect(source).toContain('constexpr uint32_t kQkSwizzleChunks = 8;');
    // one named barrier per consumer warpgroup after its rows are written, ids from 3 (1–2: the stagger)
    expect(source).toContain('bar.sync %0, 128;');
    expect(source).toMatch(/p\.quantizeQueries = \(phases & 3u\) == 3u;/);
    // the query kernel runs only when the attention kernel does not quantize the queries
    expect(source).toMatch(/if \(queryKernel\)\s+quantizeInt8Kernel<Operand::Query/);
    // mma.sync variants keep the query kernel always
    const mmaSync = renderVariant(planKernel(parseSpec(defaultSpecInput({ arch: 'sm_90a', headDim: 128, causal: false }))));
    expect(mmaSync).toContain('const bool queryKernel = true;');
    expect(mmaSync).not.toContain('quantizeQueries');
    expect(planKernel(parseSpec(defaultSpecInput({ arch: 'sm_90a', headDim: 128, causal: false }))).quant.queryInAttention).toBe(false);
  });

  it('tiling.overlapKvQuant: the attention kernel starts beside the K/V cluster kernel, only in one-consumer blocks without a producer (the K/V kernel is the only one before them)', () => {
    // D=128 in one consumer warpgroup × three blocks per SM; D=64 as its default (one consumer, two blocks)
    const spec = (headDim: 64 | 128, causal: boolean, overlapKvQuant?: boolean) =>
      parseSpec(edited(headDim === 128 ? oneConsumerWgmmaD128(causal) : defaultSpecInput({ arch: 'sm_90a', headDim, causal, mma: 'wgmma' }), (s) => {
        if (overlapKvQuant !== undefined) s.tiling.overlapKvQuant = overlapKvQuant;
        else delete s.tiling.overlapKvQuant;
      }));
    // one ready word per block of the arch's largest cluster, for K and for V: 2 × 16 fit one warp's lanes
    expect([planKernel(spec(128, true, true)).quant.kvReady, planKernel(spec(64, false, true)).quant.kvReady]).toEqual([{ wordsPerHead: 16 }, { wordsPerHead: 16 }]);
    // the D=64 defaults have it on (the tuned set's pick), the D=128 defaults (three consumers) off
    for (const causal of [false, true]) {
      expect(planKernel(defaultSpec({ arch: 'sm_90a', headDim: 64, causal, mma: 'wgmma' })).quant.kvReady).toEqual({ wordsPerHead: 16 });
      expect(planKernel(defaultSpec({ arch: 'sm_90a', headDim: 128, causal, mma: 'wgmma' })).quant.kvReady).toBeNull();
    }
    // off unless asked for: left out or an explicit false renders no trace of it, and keeps the name
    for (const s of [spec(128, true), spec(64, false), spec(64, true, false)]) {
      expect(planKernel(s).quant.kvReady, variantName(s)).toBeNull();
      expect(variantName(s)).not.toMatch(/ckv_/);
      const source = renderVariant(planKernel(s));
      for (const marker of ['griddepcontrol', 'kvReady', 'cudaLaunchAttributeProgrammaticStreamSerialization']) expect(source, marker).not.toContain(marker);
    }
    expect(variantName(spec(128, true, true))).toMatch(/_q64k128w16x4s2b3ckv_/);
    const source = renderVariant(planKernel(spec(128, true, true)));
    for (const marker of ['griddepcontrol.launch_dependents', 'waitKvReady(p, batch, kvHead, threadIdx.x)', 'cudaLaunchAttributeProgrammaticStreamSerialization'])
      expect(source, marker).toContain(marker);
    // refused with the field, the value and the rule: three consumers (the query kernel runs between
    // the two), a producer warpgroup, mma.sync
    const refused = (edit: (s: ReturnType<typeof defaultSpecInput>) => void, mma: 'wgmma' | 'mma.sync' = 'wgmma'): SpecError => {
      const input = edited(defaultSpecInput({ arch: 'sm_90a', headDim: 128, causal: false, ...(mma === 'wgmma' ? { mma } : {}) }), (s) => {
        s.tiling.overlapKvQuant = true;
        edit(s);
      });
      try {
        parseSpec(input);
      } catch (e) {
        expect(e).toBeInstanceOf(SpecError);
        return e as SpecError;
      }
      throw new Error('parseSpec accepted the spec');
    };
    const three = refused(() => {});
    expect(three.issues.map((i) => [i.field, i.value])).toContainEqual(['tiling.overlapKvQuant', true]);
    expect(three.message).toContain('needs one consumer warpgroup (warps 4) and producer false (got warps 12, producer false)');
    const withProducer = refused((s) => Object.assign(s.tiling, { ctaQ: 64, warps: 4, minBlocksPerSm: 2, stages: 3, overlapQk: true, producer: true }));
    expect(withProducer.message).toContain('got warps 4, producer true');
    expect(refused(() => {}, 'mma.sync').message).toContain('tiling.overlapKvQuant');
  });

  it('without a producer: 128 threads per consumer, the whole register share, loads from the consumer, serial or overlapped', () => {
    const spec = (tiling: object) =>
      parseSpec(edited(defaultSpecInput({ arch: 'sm_90a', headDim: 128, causal: false, mma: 'wgmma' }), (s) => {
        Object.assign(s.tiling, tiling);
        if (s.pv.instruction === 'wgmma.e4m3') delete s.pv.rowSums;  // FADD sums: with the ones rows one consumer × 3 blocks does not fit the SM's shared memory
      }));
    const three = planKernel(spec({ ctaQ: 64, warps: 4, minBlocksPerSm: 3, stages: 2, overlapQk: false, producer: false }));
    // 65536 / (3 × 128) = 170.7 → 168 in steps of 8; no setmaxnreg split
    expect([three.threads, three.wgmma!.producerWarpgroups, three.wgmma!.consumerRegisters, three.registerBudget]).toEqual([128, 0, 168, 168]);
    const src = renderVariant(three);
    expect(src).not.toContain('setmaxnreg');
    expect(src).toContain('loadTile(j + kStages)');
    expect(src).toContain('issueQk(cur, j);');  // serial: each tile's Q·Kᵀ in its own step
    // two blocks per SM: 65536 / 256 = 256, capped at the ISA's 255
    expect(planKernel(spec({ ctaQ: 64, warps: 4, minBlocksPerSm: 2, stages: 3, overlapQk: true, producer: false })).wgmma!.consumerRegisters).toBe(255);
    // three consumers in one block: 384 threads, 168 registers, the last consumer done with a stage refills it
    const twelve = planKernel(spec({ ctaQ: 192, warps: 12, minBlocksPerSm: 1, stages: 3, overlapQk: false, producer: false }));
    expect([twelve.threads, twelve.wgmma!.consumers, twelve.wgmma!.consumerRegisters]).toEqual([384, 3, 168]);
    const twelveSrc = renderVariant(twelve);
    expect(twelveSrc).toContain('stageDoneAdd(smemBase + kStageCounterOffset + 4 * (j % kStages)) == kConsumers * (j / kStages + 1) - 1');
    expect(twelveSrc).toContain('atom.shared::cta.add.u32');  // a shared-memory atomic, not a generic one
    // with a producer: 384 threads, setmaxnreg 24 / 240
    const two = planKernel(spec({ ctaQ: 128, warps: 8, minBlocksPerSm: 1, stages: 3, overlapQk: true, producer: undefined }));
    expect([two.threads, two.wgmma!.producerWarpgroups, two.wgmma!.producerRegisters, two.wgmma!.consumerRegisters]).toEqual([384, 1, 24, 240]);
    expect(renderVariant(two)).toContain('setmaxnreg.inc.sync.aligned.u32');
  });
});

describe('fused K/V quantization on clusters', () => {
  const TILE_KEYS = 128;
  it('archs with clusters and FP8 P·V stage at most 64 KiB of 16-bit key tiles per block, in clusters of up to 16 on Hopper', () => {
    for (const headDim of [64, 128] as const) {
      const plan = planKernel(parseSpec(defaultSpecInput({ arch: 'sm_90a', headDim, mma: 'wgmma' })));
      const tileBytes = TILE_KEYS * headDim * 2; // ctaK rows of D fp16/bf16 values
      const threads = 256;
      expect(plan.quant.kvCluster).toEqual({
        threads,
        rowsPerPass: threads / ((headDim * 2) / 16),
        maxClusterBlocks: 16, // Hopper's non-portable cluster size
        portableClusterBlocks: 8,
        tileBytes,
        maxStagedTiles: (64 * KiB) / tileBytes, // D=128: 2 tiles, D=64: 4
        maxDynamicBytes: 64 * KiB,
        // per-warp partials, the block's partial and the head's statistic (D floats each), and an
        // amax word and a scale per staged tile (one K scale group per tile at per-warp granularity)
        staticBytes: 4 * headDim * (threads / 32 + 2) + 8 * ((64 * KiB) / tileBytes),
      });
      // Within the per-block limit with the static arrays.
      const k = plan.quant.kvCluster!;
      expect(k.maxStagedTiles * k.tileBytes + k.staticBytes).toBeLessThanOrEqual(CAPABILITIES.sm_90a.maxSharedMemoryPerBlock);
    }
  });
  it('archs without clusters, and 16-bit P·V (no V statistics), keep the split kernels', () => {
    expect(planKernel(parseSpec(defaultSpecInput({ arch: 'sm_89', headDim: 128 }))).quant.kvCluster).toBeNull();
    expect(planKernel(parseSpec(defaultSpecInput({ arch: 'sm_80', headDim: 128 }))).quant.kvCluster).toBeNull();
    // sm_90a's mma.sync default is 16-bit P·V (Hopper's FP8 mma.sync is emulated)
    const hopperMmaSync = planKernel(parseSpec(defaultSpecInput({ arch: 'sm_90a', headDim: 128 })));
    expect(hopperMmaSync.pv.fp8).toBe(false);
    expect(hopperMmaSync.quant.kvCluster).toBeNull();
  });
  it('sm_120 (clusters, FP8 mma.sync) takes the fused path with its own key tile', () => {
    const plan = planKernel(parseSpec(defaultSpecInput({ arch: 'sm_120', headDim: 128 })));
    expect(CAPABILITIES.sm_120.threadBlockClusters).toBe(true);
    expect(plan.quant.kvCluster?.tileBytes).toBe(plan.ctaK * 128 * 2);
  });
  it('only sm_90a and sm_120 have clusters; only Hopper goes past the portable 8 blocks', () => {
    expect(ARCHS.filter((a) => CAPABILITIES[a].threadBlockClusters)).toEqual(['sm_90a', 'sm_120']);
    expect(ARCHS.map((a) => CAPABILITIES[a].maxClusterBlocks)).toEqual([0, 0, 0, 16, 8]);
    expect(planKernel(parseSpec(defaultSpecInput({ arch: 'sm_120', headDim: 128 }))).quant.kvCluster?.maxClusterBlocks).toBe(8);
  });
});
