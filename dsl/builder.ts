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
 * on, with CTA_K 64 (D=128 non-causal, D=64) or CTA_K 32 (D=128 causal, whose mask code leaves no
 * room for the 64-key S tile without spills).
 */
export function defaultTiling(arch: Arch, headDim: 64 | 128, causal = false): Tiling {
  if (arch === 'sm_90a') {
    const ctaK = headDim === 128 && causal ? 32 : 64;
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

export interface DefaultSpecOptions {
  arch: Arch;
  headDim: 64 | 128;
  causal?: boolean;
  dtype?: 'fp16' | 'bf16';
  layout?: 'HND' | 'NHD';
}

export function defaultSpecInput(o: DefaultSpecOptions): AttentionSpecInput {
  return {
    arch: o.arch,
    headDim: o.headDim,
    causal: o.causal ?? false,
    dtype: o.dtype ?? 'fp16',
    layout: o.layout ?? 'HND',
    tiling: defaultTiling(o.arch, o.headDim, o.causal ?? false),
    qk: { type: 'int8', granularity: 'per-warp', smoothK: true },
    pv: defaultPv(o.arch),
  };
}

export function defaultSpec(o: DefaultSpecOptions): AttentionSpec {
  return parseSpec(defaultSpecInput(o));
}

export class AttentionSpecBuilder {
  private draft: AttentionSpecInput;

  constructor(options: DefaultSpecOptions) {
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

  qk(qk: { granularity?: Granularity; smoothK?: boolean }): this {
    this.draft.qk = { ...this.draft.qk, ...qk };
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
    return parseSpec(structuredClone(this.draft));
  }
}

export function attention(options: DefaultSpecOptions): AttentionSpecBuilder {
  return new AttentionSpecBuilder(options);
}
