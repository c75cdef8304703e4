/**
 * The autotuner's search space and its pruning before anything is compiled.
 *
 *   searchSpace({ archs, headDims, dtypes, causal, axes })   → Candidate[]  (every point, named, unique)
 *   prune(candidates)                                        → { kept: {spec, plan}[], pruned: {input, reasons}[] }
 *
 * A candidate is one spec input per point of the cartesian product of the axes (SpaceAxes) for one
 * problem (arch, head dim, dtype, causal). Candidates are not validated when they are made: prune()
 * runs the same checks as every other spec (dsl parseSpec, then plan planKernel) and keeps the
 * SpecError issues verbatim as the reasons a candidate was dropped, so the tuner never needs rules of
 * its own about what is buildable. Post-compile pruning (spills, occupancy) is in ./occupancy.ts.
 */
import { ARCHS, CAPABILITIES, archSupports, type Arch } from '../dsl/capabilities.js';
import { parseSpec, SpecError, variantName, type AttentionSpec, type Granularity, type PolyExp2Form, type RowMax, type RowSums, type SpecIssue, type Tiling } from '../dsl/spec.js';
import { planKernel, type KernelPlan } from '../plan/plan.js';

export { occupancy, pruneCompiled, type CompiledEntry, type CompiledLimits, type Occupancy, type OccupancyInput } from './occupancy.js';

/**
 * The P·V forms the tuner can try; each maps to one `pv` object of the spec (see pvSpec). `wgmma` is
 * the sm_90a warpgroup kernel (spec mma "wgmma", FP8 P·V by wgmma e4m3); its other axes go through
 * the same product, and the spec keeps the shapes that family builds (WGMMA_SHAPES).
 */
export const PV_FORMS = ['m16n8k16', 'fp8-f16', 'fp8-f32', 'wgmma'] as const;
export type PvForm = (typeof PV_FORMS)[number];

/** P is scaled to (0, 448] before e4m3 quantization in both FP8 forms (the whole e4m3 range). */
export const FP8_P_RANGE = 448;
/**
 * V's per-channel range. With an f16 accumulator pRange × vRange × flushKeys must stay below 65504:
 * 448 × 2.25 × 64 = 64512 (the SageAttention2++ setting); an f32 accumulator keeps the full 448.
 */
export const FP8_V_RANGE = { f16: 2.25, f32: 448 } as const;

/**
 * The axes of the search space. Every axis is an explicit list of values; the space is their
 * cartesian product (nested in AXIS_ORDER, first axis outermost), per problem. `ctaQ` is not an axis:
 * it is warpQ × warps. `flushKeys` is not a product axis either: it is chosen per candidate (below).
 */
export interface SpaceAxes {
  /** P·V form: 16-bit `m16n8k16` (f32 accumulator), or FP8 `m16n8k32.e4m3` with an f16 or f32 accumulator. */
  pv: readonly PvForm[];
  /** Query rows per warp (WARP_Q); the spec requires a multiple of 16, at most 64. */
  warpQ: readonly number[];
  /** Warps per block; ctaQ = warpQ × warps. */
  warps: readonly Tiling['warps'][];
  /** Keys per main-loop iteration (CTA_K): a power of two, 32 to 256. */
  ctaK: readonly number[];
  /** Shared-memory stages of the K/V pipeline (2 to 4); overlapQk needs 3 or more. */
  stages: readonly number[];
  /** __launch_bounds__ minimum blocks per SM (1 to 4): caps registers at 65536 / (threads × this). */
  minBlocksPerSm: readonly number[];
  /** Issue the next tile's Q·Kᵀ before this tile's softmax (needs stages ≥ 3). */
  overlapQk: readonly boolean[];
  /** wgmma only (the other forms take true): a producer warpgroup issues the TMA loads, or the consumer's first thread does (tiling.producer). */
  producer: readonly boolean[];
  /**
   * wgmma only (the other forms take false): tiling.overlapKvQuant, the attention kernel of a whole
   * call started beside the K/V kernel (one-consumer blocks without a producer; the spec refuses it
   * elsewhere, so prune lists those as pruned). Default [false]: measured +0.2–2.2% on the whole call
   * at 1K–16K (results/wgmma/session25/) and a 1.010 geomean over 8 rows of the tuned set
   * (results/wgmma/session27/), within the rounds' spread in most rows, so it is tried only when asked
   * ([false, true]). The shipped H100 set has it on by an amendment of its tuning run.
   */
  overlapKvQuant: readonly boolean[];
  /** wgmma only (the other forms take "alu"): pv.rowSums, the softmax denominators from the tensor cores or from FADDs. */
  rowSums: readonly RowSums[];
  /**
   * wgmma only (the other forms take 0): pv.polyExp2Every, every n-th exponential of a tile on the
   * FMA pipe (0: none). Default [0]: measured +1–4% in most D=64 buckets at 16 and neutral or slower
   * at D=128 (results/wgmma/row-max/), so it is tried only when asked (e.g. [0, 16]).
   */
  polyExp2: readonly number[];
  /**
   * wgmma only (the other forms take "f32"): pv.polyExp2Form, for candidates whose polyExp2 is not 0
   * (those with 0 take "f32" alone). Default ["f32"]; "f16x2" (pairs, packed-half quadratic) measured
   * +2–12% at D=64 in one- and two-consumer blocks at 1 pair in 4, 1–3% slower in three-consumer
   * blocks and at D=128 (results/wgmma/polypair/), so it is tried only when asked.
   */
  polyExp2Form: readonly PolyExp2Form[];
  /**
   * wgmma only (the other forms take "fmnmx"): pv.rowMax. Default ["fmnmx"]: "vimnmx3" measured
   * +1–2% at D=64 and 2–5% slower at D=128 long rows (results/wgmma/vimax3/), so it is tried only
   * when asked (e.g. ["fmnmx", "vimnmx3"]).
   */
  rowMax: readonly RowMax[];
  /** Rows sharing one INT8 scale of Q and K. */
  granularity: readonly Granularity[];
  /** Subtract K's per-channel mean before quantizing. */
  smoothK: readonly boolean[];
  /** qk.foldDequant: dequantize inside the exp2 FFMA (16-bit P·V with per-warp/per-block scales only). */
  foldDequant: readonly boolean[];
  /**
   * FP8 forms only, not a product axis: flush lengths in order of preference. Each FP8 candidate takes
   * the first one that divides its ctaK (default [64, 32]: 64 keys, the SageAttention2++ setting, where
   * ctaK allows, else 32), so a 32-key tile is never paired with a 64-key flush. When none divides,
   * the first is used and prune() reports the pv.flushKeys rule.
   */
  flushKeys: readonly number[];
}

/** Nesting of the product, outermost first: the candidates' order within one problem. */
export const AXIS_ORDER = ['pv', 'warpQ', 'warps', 'ctaK', 'stages', 'minBlocksPerSm', 'overlapQk', 'producer', 'overlapKvQuant', 'rowSums', 'polyExp2', 'polyExp2Form', 'rowMax', 'granularity', 'smoothK', 'foldDequant'] as const;
/** Axes only the wgmma form varies; the mma.sync forms take WGMMA_ONLY_FIXED's value. */
export const WGMMA_ONLY_AXES = ['producer', 'overlapKvQuant', 'rowSums', 'polyExp2', 'polyExp2Form', 'rowMax'] as const;
export const WGMMA_ONLY_FIXED = { producer: true, overlapKvQuant: false, rowSums: 'alu', polyExp2: 0, polyExp2Form: 'f32', rowMax: 'fmnmx' } as const;
export type ProductAxis = (typeof AXIS_ORDER)[number];

/**
 * P·V forms per arch, read from the capability table: where FP8 mma.sync runs natively (sm_89,
 * sm_120) the FP8 forms come first and the 16-bit form is tried too; where it is only emulated
 * (sm_90a: F2FP unpack + fp16 HMMA) the 16-bit form comes first, being measured 8–12% faster on the
 * H100 at equal tiles (results/bench/NOTES.md), with the FP8 forms still tried; where there is no FP8
 * mma (sm_80, sm_86) only the 16-bit form.
 */
export function defaultPvForms(arch: Arch): PvForm[] {
  const cap = CAPABILITIES[arch];
  const fp8: PvForm[] = [];
  if (archSupports(arch, 'mma.m16n8k32.e4m3.f16')) fp8.push('fp8-f16');
  if (archSupports(arch, 'mma.m16n8k32.e4m3.f32')) fp8.push('fp8-f32');
  if (!fp8.length) return ['m16n8k16'];
  const fp8Native = cap.native.includes('mma.m16n8k32.e4m3.f16');
  const forms: PvForm[] = fp8Native ? [...fp8, 'm16n8k16'] : ['m16n8k16', ...fp8];
  // Where the warpgroup mma exists (sm_90a) its kernel comes first: measured 1.6–1.7× the mma.sync
  // default on the H100 at D=128 (results/wgmma/README.md).
  return archSupports(arch, 'wgmma.m64n128k32.e4m3.f32') ? ['wgmma', ...forms] : forms;
}

/**
 * Default axes of an arch. The tile axes are the same everywhere (the spec and plan refuse what an
 * arch cannot hold, e.g. 3 stages of 128-key tiles at D=128 in sm_86/89/120's 99 KiB); the P·V axis
 * follows the arch's mma support (defaultPvForms).
 *
 *   warpQ {16, 32} × warps {4, 8} (ctaQ 64–256); ctaK {32, 64, 128}; stages {2, 3};
 *   minBlocksPerSm {1, 2}; overlapQk {false, true}; producer {true, false}, overlapKvQuant {false}, rowSums {tensor, alu,
 *   tensor-shared} and polyExp2 {0} (wgmma only); granularity {per-warp, per-thread, per-block};
 *   smoothK {true}; foldDequant {false, true} (the spec refuses it with per-thread scales and FP8
 *   P·V); flushKeys [64, 32] (FP8 only, first that divides ctaK).
 */
export function defaultAxes(arch: Arch): SpaceAxes {
  return {
    pv: defaultPvForms(arch),
    warpQ: [16, 32],
    warps: [4, 8],
    ctaK: [32, 64, 128],
    stages: [2, 3],
    minBlocksPerSm: [1, 2],
    overlapQk: [false, true],
    producer: [true, false],
    overlapKvQuant: [false],
    rowSums: ['tensor', 'alu', 'tensor-shared'],
    polyExp2: [0],
    polyExp2Form: ['f32'],
    rowMax: ['fmnmx'],
    granularity: ['per-warp', 'per-thread', 'per-block'],
    smoothK: [true],
    foldDequant: [false, true],
    flushKeys: [64, 32],
  };
}

/** The arch's defaults with any axis replaced by the override (the override's order is kept, repeats dropped). */
export function resolveAxes(arch: Arch, overrides: Partial<SpaceAxes> = {}): SpaceAxes {
  const axes = { ...defaultAxes(arch) } as Record<keyof SpaceAxes, readonly unknown[]>;
  for (const [key, values] of Object.entries(overrides) as [keyof SpaceAxes, readonly unknown[] | undefined][]) {
    if (values === undefined) continue;
    if (!(key in axes)) throw new RangeError(`unknown search-space axis "${key}"`);
    if (values.length === 0) throw new RangeError(`search-space axis "${key}" is empty`);
    axes[key] = [...new Set(values)];
  }
  return axes as unknown as SpaceAxes;
}

/** One problem the tuner picks a variant for. */
export interface Problem {
  arch: Arch;
  headDim: 64 | 128;
  dtype: 'fp16' | 'bf16';
  causal: boolean;
  layout: 'HND' | 'NHD';
}

/**
 * A spec input with every field given (defaults included), not yet validated: it has the spec's
 * shape, so variantName names it, but parseSpec/planKernel may still refuse it (see prune).
 */
export type CandidateInput = AttentionSpec;

/** The axis values of one candidate (flushKeys only for FP8 forms). */
export type AxisPoint = { [K in ProductAxis]: SpaceAxes[K][number] } & { flushKeys?: number };

export interface Candidate {
  name: string;
  problem: Problem;
  point: AxisPoint;
  input: CandidateInput;
}

export interface SpaceOptions {
  archs: readonly Arch[];
  headDims: readonly (64 | 128)[];
  /** Default ['fp16']. */
  dtypes?: readonly ('fp16' | 'bf16')[];
  /** Default [false]. */
  causal?: readonly boolean[];
  /** Default 'HND' (the layout the variants are tuned for; not part of the name). */
  layout?: 'HND' | 'NHD';
  /** Axes replacing each arch's defaults (defaultAxes); applied to every arch. */
  axes?: Partial<SpaceAxes>;
}

/** The wgmma-only pv settings of a candidate (the axes of the same names). */
export interface WgmmaPvAxes {
  rowSums: RowSums;
  polyExp2: number;
  polyExp2Form: PolyExp2Form;
  rowMax: RowMax;
}

/**
 * The spec `pv` object of a form; FP8 forms take the first of `flushKeys` that divides ctaK. Settings
 * at their spec default are left out, so a candidate is named as the same spec written by hand.
 */
export function pvSpec(form: PvForm, ctaK: number, flushKeys: readonly number[], wgmma: WgmmaPvAxes = WGMMA_ONLY_FIXED): AttentionSpec['pv'] {
  if (form === 'm16n8k16') return { instruction: 'm16n8k16' };
  if (form === 'wgmma') {
    const { rowSums, polyExp2: polyExp2Every, polyExp2Form, rowMax } = wgmma;
    return {
      instruction: 'wgmma.e4m3',
      pRange: FP8_P_RANGE,
      vRange: FP8_V_RANGE.f32,
      rowSums,
      ...(polyExp2Every ? { polyExp2Every } : {}),
      ...(polyExp2Every && polyExp2Form !== 'f32' ? { polyExp2Form } : {}),
      ...(rowMax === 'fmnmx' ? {} : { rowMax }),
    };
  }
  const accumulator = form === 'fp8-f16' ? 'f16' : 'f32';
  const flush = flushKeys.find((f) => f > 0 && ctaK % f === 0) ?? flushKeys[0] ?? 64;
  return { instruction: 'm16n8k32.e4m3', accumulator, flushKeys: flush, pRange: FP8_P_RANGE, vRange: FP8_V_RANGE[accumulator] };
}

/** Every problem of the options, in order arch → headDim → dtype → causal. */
export function problemsOf(options: SpaceOptions): Problem[] {
  const problems: Problem[] = [];
  for (const arch of options.archs) {
    if (!(ARCHS as readonly string[]).includes(arch)) throw new RangeError(`unknown arch "${arch}"`);
    for (const headDim of options.headDims)
      for (const dtype of options.dtypes ?? ['fp16'])
        for (const causal of options.causal ?? [false]) problems.push({ arch, headDim, dtype, causal, layout: options.layout ?? 'HND' });
  }
  return problems;
}

/** The candidates of one problem: the product of the axes in AXIS_ORDER. */
export function problemSpace(problem: Problem, axes: SpaceAxes): Candidate[] {
  const out: Candidate[] = [];
  for (const pv of axes.pv)
    for (const warpQ of axes.warpQ)
      for (const warps of axes.warps)
        for (const ctaK of axes.ctaK)
          for (const stages of axes.stages)
            for (const minBlocksPerSm of axes.minBlocksPerSm)
              for (const overlapQk of axes.overlapQk)
                for (const producer of pv === 'wgmma' ? axes.producer : [WGMMA_ONLY_FIXED.producer])
                for (const overlapKvQuant of pv === 'wgmma' ? axes.overlapKvQuant : [WGMMA_ONLY_FIXED.overlapKvQuant])
                for (const rowSums of pv === 'wgmma' ? axes.rowSums : [WGMMA_ONLY_FIXED.rowSums])
                for (const polyExp2 of pv === 'wgmma' ? axes.polyExp2 : [WGMMA_ONLY_FIXED.polyExp2])
                for (const polyExp2Form of pv === 'wgmma' && polyExp2 ? axes.polyExp2Form : [WGMMA_ONLY_FIXED.polyExp2Form])
                for (const rowMax of pv === 'wgmma' ? axes.rowMax : [WGMMA_ONLY_FIXED.rowMax])
                for (const granularity of axes.granularity)
                  for (const smoothK of axes.smoothK)
                    for (const foldDequant of axes.foldDequant) {
                    const pvObject = pvSpec(pv, ctaK, axes.flushKeys, { rowSums, polyExp2, polyExp2Form, rowMax });
                    const input: CandidateInput = {
                      arch: problem.arch,
                      ...(pv === 'wgmma' ? { mma: 'wgmma' as const } : {}),
                      headDim: problem.headDim,
                      causal: problem.causal,
                      dtype: problem.dtype,
                      layout: problem.layout,
                      tiling: { ctaQ: warpQ * warps, ctaK, warpQ, warps, stages, minBlocksPerSm, overlapQk, ...(producer ? {} : { producer }), ...(overlapKvQuant ? { overlapKvQuant } : {}) },
                      qk: { type: 'int8', granularity, smoothK, foldDequant },
                      pv: pvObject,
                    };
                    const point: AxisPoint = { pv, warpQ, warps, ctaK, stages, minBlocksPerSm, overlapQk, producer, overlapKvQuant, rowSums, polyExp2, polyExp2Form, rowMax, granularity, smoothK, foldDequant };
                    if (pvObject.instruction === 'm16n8k32.e4m3') point.flushKeys = pvObject.flushKeys;
                    out.push({ name: variantName(input), problem, point, input });
                  }
  return out;
}

/**
 * Every candidate of every problem, in a deterministic order (problems as in problemsOf, then the
 * axes in AXIS_ORDER with each axis's values in their listed order), each named by variantName, with
 * repeated names dropped (the first is kept).
 */
export function searchSpace(options: SpaceOptions): Candidate[] {
  const seen = new Set<string>();
  const out: Candidate[] = [];
  for (const problem of problemsOf(options)) {
    for (const c of problemSpace(problem, resolveAxes(problem.arch, options.axes))) {
      if (seen.has(c.name)) continue;
      seen.add(c.name);
      out.push(c);
    }
  }
  return out;
}

export interface KeptCandidate {
  name: string;
  candidate: Candidate;
  spec: AttentionSpec;
  plan: KernelPlan;
}

export interface PrunedCandidate {
  name: string;
  candidate: Candidate;
  input: CandidateInput;
  /** The SpecError issues of parseSpec or planKernel, verbatim. */
  reasons: SpecIssue[];
}

export interface PruneResult {
  kept: KeptCandidate[];
  pruned: PrunedCandidate[];
}

/**
 * Splits candidates into those parseSpec and planKernel accept and those they refuse, with the
 * refusal's issues as reasons. Pure and synchronous: nothing is rendered or compiled. Order is kept
 * within each list. Errors other than SpecError are bugs and are thrown.
 */
export function prune(candidates: readonly Candidate[]): PruneResult {
  const kept: KeptCandidate[] = [];
  const pruned: PrunedCandidate[] = [];
  for (const candidate of candidates) {
    try {
      const spec = parseSpec(structuredClone(candidate.input));
      const plan = planKernel(spec);
      kept.push({ name: plan.name, candidate, spec, plan });
    } catch (e) {
      if (!(e instanceof SpecError)) throw e;
      pruned.push({ name: candidate.name, candidate, input: candidate.input, reasons: e.issues });
    }
  }
  return { kept, pruned };
}
