/**
 * Defaults per architecture and a typed builder over AttentionSpec.
 *
 *   const spec = attention({ arch: 'sm_89', headDim: 128 })
 *     .causal()
 *     .tiling({ ctaQ: 128, ctaK: 64, warpQ: 32, warps: 4, stages: 2 })
 *     .qk({ granularity: 'per-thread' })
 *     .pvFp8({ accumulator: 'f32', flushKeys: 64, vRange: 448 })
 *     .build();
 *
 * `build()` runs the same validation as a spec file (parseSpec), so both paths refuse the same things.
 */
import type { Arch } from './capabilities.js';
import { CAPABILITIES } from './capabilities.js';
import { parseSpec, type AttentionSpec, type AttentionSpecInput, type Granularity, type Tiling } from './spec.js';

/**
 * Default tiles: CTA_Q 128, CTA_K 64 as published for SageAttention2's mma.sync path, but WARP_Q 16
 * with 8 warps instead of WARP_Q 32 with 4. With WARP_Q 32, nvcc 13.0's ptxas reaches 255 registers
 * and spills (D=128 on sm_89; D=64 on sm_80); WARP_Q 16 builds without spills everywhere
 * (170–180 registers). The autotuner is free to pick other shapes.
 *
 * sm_90a is the one arch measured here (H100, autotune/tuned/h100-sm90a.json and
 * results/bench/NOTES.md): WARP_Q 32 × 4 warps with the 16-bit P·V wins every problem from 2K keys
 * on, with CTA_K 64 at D=64 and CTA_K 32 at D=128 (the 64-key S tile spills there beside the
 * 128 O accumulators).
 */
export function defaultTiling(arch: Arch, headDim: 64 | 128): Tiling {
  if (arch === 'sm_90a') {
    const ctaK = headDim === 128 ? 32 : 64;
    return { ctaQ: 128, ctaK, warpQ: 32, warps: 4, stages: 2, minBlocksPerSm: 1, overlapQk: false };
  }
  return { ctaQ: 128, ctaK: 64, warpQ: 16, warps: 8, stages: 2, minBlocksPerSm: 1, overlapQk: false };
}

/**
 * Default P·V for an arch: the SageAttention2++ FP8 f16-accumulate form where FP8 mma.sync runs
 * natively (sm_89, sm_120); the 16-bit m16n8k16 form elsewhere. On sm_90a FP8 mma.sync exists only
 * as an emulation (F2FP unpack + fp16 HMMA), measured 8–12% slower than the 16-bit form at equal
 * tiles on the H100, and the 16-bit P is also the more accurate one.
 */
export function defaultPv(arch: Arch): AttentionSpec['pv'] {
  if (CAPABILITIES[arch].native.includes('mma.m16n8k32.e4m3.f16')) {
    return { instruction: 'm16n8k32.e4m3', accumulator: 'f16', flushKeys: 64, pRange: 448, vRange: 2.25 };
  }
  return { instruction: 'm16n8k16' };
}

/**
 * Default qk.foldDequant: on sm_90a the dequantization rides in the exp2 FFMA wherever the spec
 * allows it (16-bit P·V, one scale per row and tile) except for D=128 causal, where the measured
 * winner keeps it separate (results/bench/NOTES.md item 22). The other archs keep the separate
 * dequantizing FFMA: the fold was measured only on the H100.
 */
export function defaultFoldDequant(
  arch: Arch,
  headDim: 64 | 128,
  causal: boolean,
  granularity: Granularity,
  pvInstruction: AttentionSpec['pv']['instruction'],
): boolean {
  if (arch !== 'sm_90a' || pvInstruction !== 'm16n8k16' || granularity === 'per-thread') return false;
  return !(headDim === 128 && causal);
}

export interface DefaultSpecOptions {
  arch: Arch;
  headDim: 64 | 128;
  causal?: boolean;
  dtype?: 'fp16' | 'bf16';
  layout?: 'HND' | 'NHD';
  /** "wgmma": the sm_90a warpgroup kernel (results/wgmma/README.md); absent: mma.sync. */
  mma?: 'mma.sync' | 'wgmma';
}

/**
 * The wgmma variant of this version, measured on the H100 (results/wgmma/README.md): 128-key tiles,
 * per-warp INT8 scales with the dequantization folded into the exp2 (+11–14% over not folding), FP8
 * P·V in full e4m3 range with f32 accumulation, no producer warpgroup, each tile's Q·Kᵀ waited for
 * in its step. The block per head dim is the one the shipped tuned set
 * (autotune/tuned/h100-sm90a-wgmma.json) picks most often:
 * - D=128, causal or not: three consumer warpgroups in one block (ctaQ 192), 2 stages, the row sums
 *   on the tensor cores (P·V m64n136k32). Non-causal it is the tuner's pick from 4K up, +4–13% over
 *   summing in FADDs and over two consumers with a producer (results/wgmma/experiments/rowsums/);
 *   causal, against one consumer × three blocks in a same-run A/B (results/wgmma/session29/), it
 *   runs +15% at 16K, even at 4K and −12% at 1K, where the one-consumer block is faster
 *   (`sagegen autotune` picks per kv_len).
 * - D=64, causal or not: one consumer warpgroup per block, two blocks per SM, the row sums on the
 *   tensor cores, the row maximum in three-input VIMNMX, every 4th exponential pair in the f16x2
 *   polynomial, and the attention kernel started beside the K/V quantization (overlapKvQuant): the
 *   tuner's pick in 9 of its 20 D=64 buckets (7 more differ only in blocks per SM or the
 *   polynomial). Against three blocks per SM without those options, same run (session29): +1–8% in
 *   5 of 6 rows; at causal 1K the kernel read 0.91 at a 10–12% spread and the whole call 1.01.
 * parseSpec refuses it on other archs, naming the field.
 */
function wgmmaSpecInput(o: DefaultSpecOptions): AttentionSpecInput {
  const causal = o.causal ?? false;
  const threeConsumers = o.headDim === 128;
  const tiling = threeConsumers
    ? { ctaQ: 192, ctaK: 128, warpQ: 16, warps: 12 as const, minBlocksPerSm: 1, stages: 2, overlapQk: false, producer: false }
    : { ctaQ: 64, ctaK: 128, warpQ: 16, warps: 4 as const, minBlocksPerSm: 2, stages: 2, overlapQk: false, producer: false, overlapKvQuant: true };
  const pv = {
    instruction: 'wgmma.e4m3' as const, pRange: 448, vRange: 448, rowSums: 'tensor' as const,
    // the exponentials bind D=64, not the three-consumer D=128 block (results/wgmma/polypair/, vimax3/)
    ...(threeConsumers ? {} : { polyExp2Every: 4, polyExp2Form: 'f16x2' as const, rowMax: 'vimnmx3' as const }),
  };
  return {
    arch: o.arch,
    mma: 'wgmma',
    headDim: o.headDim,
    causal,
    dtype: o.dtype ?? 'fp16',
    layout: o.layout ?? 'HND',
    tiling,
    qk: { type: 'int8', granularity: 'per-warp', smoothK: true, foldDequant: true },
    pv,
  };
}

export function defaultSpecInput(o: DefaultSpecOptions): AttentionSpecInput {
  if (o.mma === 'wgmma') return wgmmaSpecInput(o);
  const pv = defaultPv(o.arch);
  return {
    arch: o.arch,
    headDim: o.headDim,
    causal: o.causal ?? false,
    dtype: o.dtype ?? 'fp16',
    layout: o.layout ?? 'HND',
    tiling: defaultTiling(o.arch, o.headDim),
    qk: { type: 'int8', granularity: 'per-warp', smoothK: true, foldDequant: defaultFoldDequant(o.arch, o.headDim, o.causal ?? false, 'per-warp', pv.instruction) },
    pv,
  };
}

export function defaultSpec(o: DefaultSpecOptions): AttentionSpec {
  return parseSpec(defaultSpecInput(o));
}

/**
 * qk.foldDequant, when the caller leaves it alone, is computed in build() from the final causal
 * flag, granularity and P·V form (so `.causal()` or `.pvFp8()` after the constructor still get the
 * default measured for that combination).
 */
export class AttentionSpecBuilder {
  private draft: AttentionSpecInput;
  private foldDequantSet: boolean | undefined;

  constructor(private readonly options: DefaultSpecOptions) {
    this.draft = defaultSpecInput(options);
  }

  name(name: string): this {
    this.draft.name = name;
    return this;
  }

  causal(causal = true): this {
    this.draft.causal = causal;
    return this;
  }

  dtype(dtype: 'fp16' | 'bf16'): this {
    this.draft.dtype = dtype;
    return this;
  }

  layout(layout: 'HND' | 'NHD'): this {
    this.draft.layout = layout;
    return this;
  }

  tiling(tiling: Partial<Tiling>): this {
    this.draft.tiling = { ...this.draft.tiling, ...tiling };
    return this;
  }

  qk(qk: { granularity?: Granularity; smoothK?: boolean; foldDequant?: boolean }): this {
    const { foldDequant, ...rest } = qk;
    this.draft.qk = { ...this.draft.qk, ...rest };
    if (foldDequant !== undefined) this.foldDequantSet = foldDequant;
    return this;
  }

  pvFp8(pv: { accumulator: 'f16' | 'f32'; flushKeys?: number; pRange?: number; vRange?: number }): this {
    this.draft.pv = {
      instruction: 'm16n8k32.e4m3',
      accumulator: pv.accumulator,
      flushKeys: pv.flushKeys ?? 64,
      pRange: pv.pRange ?? 448,
      // f16 accumulation needs the narrowed V range; f32 keeps the full e4m3 range.
      vRange: pv.vRange ?? (pv.accumulator === 'f16' ? 2.25 : 448),
    };
    return this;
  }

  pvHalf(): this {
    this.draft.pv = { instruction: 'm16n8k16' };
    return this;
  }

  /** Validates and returns the spec; throws SpecError naming each bad field. */
  build(): AttentionSpec {
    const { arch, headDim } = this.options;
    const causal = this.draft.causal ?? false;
    const granularity = this.draft.qk?.granularity ?? 'per-warp';
    const foldDequant = this.foldDequantSet ?? defaultFoldDequant(arch, headDim, causal, granularity, this.draft.pv.instruction);
    return parseSpec(
      structuredClone({ ...this.draft, qk: { ...this.draft.qk, foldDequant } }),
    );
  }
}

export function attention(options: DefaultSpecOptions): AttentionSpecBuilder {
  return new AttentionSpecBuilder(options);
}
