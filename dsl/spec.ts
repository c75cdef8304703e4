/**
 * The attention-forward kernel spec: zod schemas (the single source of the TypeScript types and of the
 * published JSON Schema) plus the semantic rules that make a spec buildable.
 *
 * This module knows nothing of plans, templates or nvcc. Every refusal is a SpecIssue naming the
 * field (a dotted path), the offending value and the rule it breaks.
 */
import { z } from 'zod';
import { ARCHS, INSTRUCTIONS, archSupports, type InstructionName } from './capabilities.js';

/** Largest finite fp16 value: an f16 accumulator must never exceed it. */
export const FP16_MAX = 65504;
/** Largest finite e4m3 value. */
export const E4M3_MAX = 448;

export const HEAD_DIMS = [64, 128] as const;
export const GRANULARITIES = ['per-block', 'per-warp', 'per-thread'] as const;

const positiveInt = z.number().int().positive();

export const TilingSchema = z
  .object({
    ctaQ: positiveInt.describe('query rows per thread block (CTA_Q); must equal warpQ × warps'),
    ctaK: positiveInt.describe('keys per main-loop iteration (CTA_K); multiple of 32'),
    warpQ: positiveInt.describe('query rows per warp (WARP_Q); multiple of 16'),
    warps: z.literal([1, 2, 4, 8, 12]).describe('warps per block (12: three wgmma consumer warpgroups, mma "wgmma" only)'),
    stages: z.number().int().min(2).max(4).describe('shared-memory stages of the K/V cp.async pipeline (2 = double buffering)'),
    minBlocksPerSm: z
      .number()
      .int()
      .min(1)
      .max(4)
      .default(1)
      .describe('blocks per SM the attention kernel must fit (__launch_bounds__): caps registers at 65536 / (threads × this)'),
    overlapQk: z
      .boolean()
      .default(false)
      .describe('issue the Q·Kᵀ mma of the next key tile before the softmax of this one (needs stages ≥ 3)'),
    producer: z
      .boolean()
      .optional()
      .describe(
        'mma "wgmma" only: a producer warpgroup issues the TMA loads (true, the default), or the consumer warpgroup\'s first thread does (false: 128 threads per block, so more blocks fit on an SM)',
      ),
    overlapKvQuant: z
      .boolean()
      .optional()
      .describe(
        'mma "wgmma" blocks of one consumer warpgroup without a producer only: a whole call starts the attention kernel while the K/V quantization kernel still runs (a programmatic dependent launch), and each attention block waits only for its own head\'s quantized K and V (default false)',
      ),
  })
  .strict();

export const QkSchema = z
  .object({
    type: z.literal('int8').default('int8'),
    granularity: z.enum(GRANULARITIES).describe('rows that share one INT8 scale (see shared/facts/sageattention.md)'),
    smoothK: z.boolean().describe('subtract the per-channel mean of K over the sequence before quantizing'),
    foldDequant: z
      .boolean()
      .default(false)
      .describe(
        'take the softmax row max on raw INT32 scores and dequantize inside the exp2 FFMA (one instruction less per score); needs one K scale per tile row (per-warp or per-block) and the 16-bit or the wgmma P·V',
      ),
  })
  .strict();

export const PvFp8Schema = z
  .object({
    instruction: z.literal('m16n8k32.e4m3'),
    accumulator: z.enum(['f16', 'f32']).describe('mma accumulator type; f16 is the SageAttention2++ form'),
    flushKeys: positiveInt.describe('keys accumulated in the mma accumulator before it is added into fp32'),
    pRange: z.number().positive().describe('P is scaled to (0, pRange] before FP8 quantization'),
    vRange: z.number().positive().describe('V is scaled per channel to [-vRange, vRange] before FP8 quantization'),
  })
  .strict();

export const PvHalfSchema = z
  .object({
    instruction: z.literal('m16n8k16').describe('16-bit P·V in the input dtype with an f32 accumulator (archs without FP8)'),
  })
  .strict();

/**
 * The instruction a wgmma kernel takes each row's maximum of an unmasked tile with: the float max
 * (FMNMX, two inputs) on the scores, or sm_90's three-input integer max (VIMNMX3) on the raw biased
 * accumulators, whose bits order as the scores do (half the instructions).
 */
export const ROW_MAX = ['fmnmx', 'vimnmx3'] as const;
export type RowMax = (typeof ROW_MAX)[number];

/**
 * How a wgmma kernel evaluates the exponentials pv.polyExp2Every moves onto the FMA pipe: one fp32
 * quadratic per exponential, or one packed-half quadratic per pair of a row's adjacent columns
 * (HADD2/HFMA2, 9 instructions a pair against 8 a single exponential in fp32).
 */
export const POLY_EXP2_FORMS = ['f32', 'f16x2'] as const;
export type PolyExp2Form = (typeof POLY_EXP2_FORMS)[number];

/** Where a wgmma P·V sums the softmax denominators (see wgmmaRowSums). */
export const ROW_SUMS = ['tensor', 'alu', 'tensor-shared'] as const;
export type RowSums = (typeof ROW_SUMS)[number];

export const PvWgmmaSchema = z
  .object({
    instruction: z.literal('wgmma.e4m3').describe('FP8 P·V on wgmma (mma "wgmma"): P from registers, Vᵀ from shared memory, f32 accumulator'),
    pRange: z.number().positive().describe('P is scaled to (0, pRange] before FP8 quantization'),
    vRange: z.number().positive().describe('V is scaled per channel to [-vRange, vRange] before FP8 quantization'),
    rowSums: z
      .enum(ROW_SUMS)
      .optional()
      .describe(
        'where the softmax denominators are summed: "tensor" puts 8 rows of ones after Vᵀ in every stage so P·V (N = D + 8) returns the row sums; "tensor-shared" keeps one block of 8 ones rows for all stages and sums with an m64n8k32 wgmma per k32 step beside P·V (N = D); "alu" sums P in FADDs; default "tensor" at D=64, "alu" at D=128',
      ),
    polyExp2Every: z
      .number()
      .int()
      .min(0)
      .max(64)
      .optional()
      .describe(
        "every n-th of a thread's exponentials of a tile (n-1, 2n-1, …) by a quadratic polynomial on the FMA pipe instead of MUFU.EX2: moves work off the SM's 16 exponential lanes onto the issue slots (for MUFU-bound shapes such as D=64); absent or 0: every exponential on MUFU",
      ),
    polyExp2Form: z
      .enum(POLY_EXP2_FORMS)
      .optional()
      .describe(
        'how pv.polyExp2Every\'s exponentials are evaluated: "f32" (default) one fp32 quadratic per exponential, n counting exponentials; "f16x2" one packed-half quadratic per pair of adjacent columns of a row (P is FP8, so half precision costs no accuracy), n counting pairs: pair p (exponentials 2p, 2p+1) when p mod n = n − 1. "f16x2" needs the row sums from the tensor cores (rowSums "tensor" or "tensor-shared")',
      ),
    rowMax: z
      .enum(ROW_MAX)
      .optional()
      .describe(
        'the row maximum of a tile with no masked key: "fmnmx" (default) takes it on the scores with the two-input float max; "vimnmx3" on the raw Q·Kᵀ accumulators (biased floats whose bits order as integers) with sm_90\'s three-input integer max, 32 instructions fewer a tile. Measured on the H100 (results/wgmma/vimax3/): +1–2% at D=64, 2–5% slower at D=128 long rows',
      ),
  })
  .strict();

export const PvSchema = z.discriminatedUnion('instruction', [PvFp8Schema, PvHalfSchema, PvWgmmaSchema]);

export const MMAS = ['mma.sync', 'wgmma'] as const;
/**
 * The wgmma block shapes: consumer warpgroups (warps / 4) of 64 query rows with 128-key tiles, blocks
 * per SM, and who issues the TMA loads. Two or three consumers share each K/V stage in one block; one
 * consumer per block runs two to four blocks per SM, which pipeline independently (more K/V traffic
 * from L2).
 * Without a producer warpgroup a block is 128 threads and takes the whole register share of its
 * blocks per SM (255 at two, 168 at three).
 */
export interface WgmmaShape {
  warps: 4 | 8 | 12;
  minBlocksPerSm: number;
  producer: boolean;
}
export const WGMMA_SHAPES: readonly WgmmaShape[] = [
  { warps: 8, minBlocksPerSm: 1, producer: true },
  { warps: 4, minBlocksPerSm: 2, producer: true },
  { warps: 4, minBlocksPerSm: 2, producer: false },
  { warps: 4, minBlocksPerSm: 3, producer: false },
  { warps: 4, minBlocksPerSm: 4, producer: false },
  { warps: 8, minBlocksPerSm: 1, producer: false },
  { warps: 12, minBlocksPerSm: 1, producer: false },
];
const describeShape = (s: WgmmaShape) => `${s.warps} warps × ${s.minBlocksPerSm} blocks per SM ${s.producer ? 'with' : 'without'} a producer`;

export const AttentionSpecSchema = z
  .object({
    $schema: z.string().optional(),
    name: z
      .string()
      .regex(/^[a-z][a-z0-9_]*$/, 'lower-case identifier')
      .optional()
      .describe('variant name; derived from the fields when absent'),
    arch: z.enum(ARCHS),
    mma: z
      .enum(MMAS)
      .optional()
      .describe('tensor-core instruction family: warp-level "mma.sync" (every arch; the default when absent) or warpgroup "wgmma" with TMA loads (sm_90a)'),
    headDim: z.literal([64, 128]),
    causal: z.boolean(),
    dtype: z.enum(['fp16', 'bf16']).describe('input and output element type'),
    layout: z
      .enum(['HND', 'NHD'])
      .describe('layout of the inputs the variant is tuned for; every variant accepts any strides at run time'),
    tiling: TilingSchema,
    qk: QkSchema,
    pv: PvSchema,
  })
  .strict();

export type AttentionSpec = z.infer<typeof AttentionSpecSchema>;
export type AttentionSpecInput = z.input<typeof AttentionSpecSchema>;
export type Tiling = AttentionSpec['tiling'];
export type PvSpec = AttentionSpec['pv'];
export type Granularity = (typeof GRANULARITIES)[number];

export interface SpecIssue {
  /** Dotted path of the field, e.g. "tiling.ctaQ". */
  field: string;
  value: unknown;
  rule: string;
}

export class SpecError extends Error {
  constructor(readonly issues: SpecIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'SpecError';
  }
}

export function formatIssue(issue: SpecIssue): string {
  return `${issue.field} = ${formatValue(issue.value)}: ${issue.rule}`;
}

/** JSON for the value, except what JSON cannot show: a missing field, NaN, ±Infinity. */
function formatValue(value: unknown): string {
  if (value === undefined) return '(missing)';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return JSON.stringify(value);
}

/** The instructions a spec's mma steps lower to. */
/**
 * Where a wgmma P·V sums the softmax denominators when pv.rowSums is absent: on the tensor cores at
 * D=64 (measured faster on the H100); in FADDs at D=128, where the ones rows fit only some block shapes
 * (one score buffer, and shared memory for them in every stage: results/wgmma/README.md).
 */
function defaultRowSums(headDim: number): RowSums {
  return headDim === 64 ? 'tensor' : 'alu';
}

/** Where a wgmma P·V sums the softmax denominators (pv.rowSums, else the head dim's default). */
export function wgmmaRowSums(spec: AttentionSpec): RowSums {
  const explicit = spec.pv.instruction === 'wgmma.e4m3' ? spec.pv.rowSums : undefined;
  return explicit ?? defaultRowSums(spec.headDim);
}

export function instructionsOf(spec: AttentionSpec): InstructionName[] {
  // pv "wgmma.e4m3" under mma.sync is refused by wgmmaIssues before any instruction is looked up.
  // wgmma: N of Q·Kᵀ is the 128-key tile, N of P·V the head dim (at D=64 with 8 row-sum columns more).
  if (spec.mma === 'wgmma' || spec.pv.instruction === 'wgmma.e4m3') {
    const rowSums = wgmmaRowSums(spec);
    const tensorSums = rowSums === 'tensor';
    const pv: InstructionName =
      spec.headDim === 64
        ? tensorSums ? 'wgmma.m64n72k32.e4m3.f32' : 'wgmma.m64n64k32.e4m3.f32'
        : tensorSums ? 'wgmma.m64n136k32.e4m3.f32' : 'wgmma.m64n128k32.e4m3.f32';
    // "tensor-shared": the row sums by their own wgmma on the shared block of ones rows
    return rowSums === 'tensor-shared' ? ['wgmma.m64n128k32.s8.s32', pv, 'wgmma.m64n8k32.e4m3.f32'] : ['wgmma.m64n128k32.s8.s32', pv];
  }
  const qk: InstructionName = 'mma.m16n8k32.s8.s32';
  if (spec.pv.instruction === 'm16n8k16') {
    return [qk, spec.dtype === 'bf16' ? 'mma.m16n8k16.bf16.f32' : 'mma.m16n8k16.f16.f32'];
  }
  return [qk, spec.pv.accumulator === 'f16' ? 'mma.m16n8k32.e4m3.f16' : 'mma.m16n8k32.e4m3.f32'];
}

/**
 * The wgmma rules: sm_90a only; a shape of WGMMA_SHAPES (consumer warpgroups of 64 query rows,
 * 128-key tiles, one 16-row INT8 scale band per warp); at least three K/V stages when the next
 * tile's Q·Kᵀ is issued before this tile's softmax (overlapQk, required with a producer warpgroup),
 * two otherwise. D = 64 and 128 (Q and K rows of 64 or 128 bytes, in TMA's 64- or 128-byte swizzle).
 */
function wgmmaIssues(spec: AttentionSpec, add: (field: string, value: unknown, rule: string) => void): void {
  const { tiling, pv, qk } = spec;
  if (spec.mma !== 'wgmma') {
    if (tiling.warps === 12) add('tiling.warps', 12, 'must be 1, 2, 4 or 8 with mma "mma.sync" (12 is three wgmma consumer warpgroups)');
    if (tiling.producer !== undefined) add('tiling.producer', tiling.producer, 'only with mma "wgmma" (mma.sync blocks load with every thread)');
    if (tiling.overlapKvQuant) add('tiling.overlapKvQuant', true, 'only with mma "wgmma" (its one-consumer blocks quantize their queries, so the K/V kernel is the only one before them)');
    if (pv.instruction === 'wgmma.e4m3') add('pv.instruction', pv.instruction, 'needs mma "wgmma" (with mma "mma.sync" use "m16n8k32.e4m3" or "m16n8k16")');
    return;
  }
  if (spec.arch !== 'sm_90a') add('mma', spec.mma, `wgmma exists only on sm_90a (arch is ${spec.arch}); use mma "mma.sync"`);
  if (pv.instruction !== 'wgmma.e4m3') add('pv.instruction', pv.instruction, 'mma "wgmma" needs pv.instruction "wgmma.e4m3"');
  if (tiling.warpQ !== 16) add('tiling.warpQ', tiling.warpQ, 'must be 16 with mma "wgmma" (a warp owns 16 rows of its warpgroup\'s 64)');
  if (tiling.ctaK !== 128) add('tiling.ctaK', tiling.ctaK, 'must be 128 with mma "wgmma" (one 128-byte swizzled row per operand row)');
  const producer = tiling.producer ?? true;
  const shape = WGMMA_SHAPES.find((s) => s.warps === tiling.warps && s.minBlocksPerSm === tiling.minBlocksPerSm && s.producer === producer);
  if (!WGMMA_SHAPES.some((s) => s.warps === tiling.warps)) add('tiling.warps', tiling.warps, `must be ${[...new Set(WGMMA_SHAPES.map((s) => s.warps))].sort((a, b) => a - b).join(', ')} (consumer warpgroups × 4) with mma "wgmma"`);
  else if (!shape)
    add(
      'tiling.minBlocksPerSm',
      tiling.minBlocksPerSm,
      `with mma "wgmma", ${tiling.warps} warps and producer ${producer}: the shapes are ${WGMMA_SHAPES.map(describeShape).join('; ')}`,
    );
  if (producer && !tiling.overlapQk) add('tiling.overlapQk', false, 'must be true with mma "wgmma" and a producer warpgroup (its schedule issues the next Q·Kᵀ before the softmax)');
  if (tiling.overlapKvQuant && (producer || tiling.warps !== 4))
    add(
      'tiling.overlapKvQuant',
      true,
      `needs one consumer warpgroup (warps 4) and producer false (got warps ${tiling.warps}, producer ${producer}): only those blocks quantize their own queries, so that the K/V kernel is the only one before the attention kernel`,
    );
  if (qk.granularity !== 'per-warp') add('qk.granularity', qk.granularity, 'must be "per-warp" with mma "wgmma" (one scale per 16-row band a warp owns)');
}

/**
 * Semantic rules that a shape-valid spec must also satisfy. Resource limits that need the plan
 * (shared memory, registers) are checked by plan/ and reported in the same SpecIssue form.
 */
export function semanticIssues(spec: AttentionSpec): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const { tiling, pv } = spec;
  const add = (field: string, value: unknown, rule: string) => issues.push({ field, value, rule });

  if (tiling.warpQ % 16 !== 0) add('tiling.warpQ', tiling.warpQ, 'must be a multiple of 16 (the mma M dimension)');
  if (tiling.ctaQ !== tiling.warpQ * tiling.warps) {
    add('tiling.ctaQ', tiling.ctaQ, `must equal warpQ × warps = ${tiling.warpQ} × ${tiling.warps} = ${tiling.warpQ * tiling.warps}`);
  }
  if (tiling.ctaK < 32 || (tiling.ctaK & (tiling.ctaK - 1)) !== 0) {
    add('tiling.ctaK', tiling.ctaK, 'must be a power of two, at least 32 (the k of the FP8 P·V mma; swizzled shared rows)');
  }
  if (tiling.ctaK > 256) add('tiling.ctaK', tiling.ctaK, 'must be at most 256');
  if (tiling.overlapQk && tiling.stages < 3) {
    add('tiling.stages', tiling.stages, 'must be at least 3 with overlapQk (the current tile, the next one, and one in flight)');
  }
  if (spec.qk.foldDequant) {
    if (spec.qk.granularity === 'per-thread') {
      add('qk.foldDequant', true, 'needs qk.granularity "per-warp" or "per-block" (per-thread K scales differ along a row, so its max cannot be taken on raw scores)');
    }
    if (pv.instruction === 'm16n8k32.e4m3') {
      add('qk.foldDequant', true, 'needs pv.instruction "m16n8k16" or "wgmma.e4m3" (the mma.sync FP8 path scales P into pRange with an exact reference max)');
    }
  }
  if (tiling.warpQ > 64) add('tiling.warpQ', tiling.warpQ, 'must be at most 64 (accumulators would not fit in registers)');
  wgmmaIssues(spec, add);
  // A wgmma mismatch makes the instruction and P·V rules below meaningless: report it alone.
  if (issues.length && (spec.mma === 'wgmma' || pv.instruction === 'wgmma.e4m3')) return issues;

  for (const instruction of instructionsOf(spec)) {
    if (!archSupports(spec.arch, instruction)) {
      add(
        instruction.startsWith('mma.m16n8k32.e4m3') ? 'pv.instruction' : 'arch',
        instruction.startsWith('mma.m16n8k32.e4m3') ? pv.instruction : spec.arch,
        `${spec.arch} has no ${INSTRUCTIONS[instruction].ptx} (needs ${INSTRUCTIONS[instruction].minArch} or newer with FP8; use pv.instruction "m16n8k16" on ${spec.arch})`,
      );
    }
  }

  if (pv.instruction === 'wgmma.e4m3') {
    if (pv.pRange > E4M3_MAX) add('pv.pRange', pv.pRange, `must be at most ${E4M3_MAX} (largest finite e4m3)`);
    if (pv.vRange > E4M3_MAX) add('pv.vRange', pv.vRange, `must be at most ${E4M3_MAX} (largest finite e4m3)`);
  }
  if (pv.instruction === 'm16n8k32.e4m3') {
    if (pv.flushKeys % 32 !== 0) add('pv.flushKeys', pv.flushKeys, 'must be a multiple of 32 (keys per FP8 mma)');
    else if (tiling.ctaK % pv.flushKeys !== 0) {
      add('pv.flushKeys', pv.flushKeys, `must divide tiling.ctaK = ${tiling.ctaK} (the accumulator is flushed within each key tile)`);
    }
    if (pv.pRange > E4M3_MAX) add('pv.pRange', pv.pRange, `must be at most ${E4M3_MAX} (largest finite e4m3)`);
    if (pv.vRange > E4M3_MAX) add('pv.vRange', pv.vRange, `must be at most ${E4M3_MAX} (largest finite e4m3)`);
    if (pv.accumulator === 'f16') {
      const worst = pv.pRange * pv.vRange * pv.flushKeys;
      if (worst > FP16_MAX) {
        add(
          'pv.vRange',
          pv.vRange,
          `with an f16 accumulator pRange × vRange × flushKeys = ${pv.pRange} × ${pv.vRange} × ${pv.flushKeys} = ${worst} must not exceed ${FP16_MAX} (fp16 overflow)`,
        );
      }
    }
  }
  return issues;
}

/** The value at `path` in the raw input (undefined where the path leads nowhere). */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/**
 * zod's issues as SpecIssues. The value is read from the input at the issue's path (zod reports the
 * enclosing object for a bad discriminator), and an unknown key becomes one issue on that key rather
 * than one on the object holding it, so that the field named is the one to fix.
 */
function zodIssues(error: z.ZodError, input: unknown): SpecIssue[] {
  const dotted = (path: readonly PropertyKey[]) => (path.length ? path.map(String).join('.') : '(spec)');
  return error.issues.flatMap((issue): SpecIssue[] => {
    if (issue.code === 'unrecognized_keys') {
      const where = issue.path.length ? `${dotted(issue.path)} has` : 'a spec has';
      return issue.keys.map((key) => ({ field: dotted([...issue.path, key]), value: valueAt(input, [...issue.path, key]), rule: `unknown field (${where} no "${key}")` }));
    }
    return [{ field: dotted(issue.path), value: valueAt(input, issue.path), rule: issue.message }];
  });
}

/** Parses and checks the spec's shape and semantic rules; throws SpecError listing every issue. */
export function parseSpec(input: unknown): AttentionSpec {
  const parsed = AttentionSpecSchema.safeParse(input);
  if (!parsed.success) throw new SpecError(zodIssues(parsed.error, input));
  const issues = semanticIssues(parsed.data);
  if (issues.length) throw new SpecError(issues);
  return parsed.data;
}

/** The spec's name: explicit, or derived from every field that changes the generated code. */
export function variantName(spec: AttentionSpec): string {
  if (spec.name) return spec.name;
  const t = spec.tiling;
  const gran = { 'per-block': 'pb', 'per-warp': 'pw', 'per-thread': 'pt' }[spec.qk.granularity];
  const pv =
    spec.pv.instruction === 'm16n8k16'
      ? 'pv16'
      : spec.pv.instruction === 'wgmma.e4m3'
        ? `pvwg8p${fmtNum(spec.pv.pRange)}v${fmtNum(spec.pv.vRange)}${wgmmaRowSumsTag(spec)}${spec.pv.polyExp2Every ? `${spec.pv.polyExp2Form === 'f16x2' ? 'h' : 'e'}${spec.pv.polyExp2Every}` : ''}${spec.pv.rowMax === 'vimnmx3' ? 'm3' : ''}`
        : `pv8${spec.pv.accumulator}f${spec.pv.flushKeys}p${fmtNum(spec.pv.pRange)}v${fmtNum(spec.pv.vRange)}`;
  return [
    'sage',
    spec.arch.replace('_', ''),
    `d${spec.headDim}`,
    spec.dtype,
    spec.causal ? 'causal' : 'full',
    ...(spec.mma === 'wgmma' ? ['wgmma'] : []),
    `q${t.ctaQ}k${t.ctaK}w${t.warpQ}x${t.warps}s${t.stages}b${t.minBlocksPerSm}${t.overlapQk ? 'o' : ''}${t.producer === false ? 'c' : ''}${t.overlapKvQuant ? 'kv' : ''}`,
    `qk${gran}${spec.qk.smoothK ? 'sm' : 'ns'}${spec.qk.foldDequant ? 'f' : ''}`,
    pv,
  ].join('_');
}

/** "rt" / "ra" / "rs" when the row sums are not where the head dim puts them by default (names stay stable). */
function wgmmaRowSumsTag(spec: AttentionSpec): string {
  const rowSums = wgmmaRowSums(spec);
  if (rowSums === defaultRowSums(spec.headDim)) return '';
  return { tensor: 'rt', alu: 'ra', 'tensor-shared': 'rs' }[rowSums];
}

function fmtNum(n: number): string {
  // 2.25 → 2p25, 1e-7 → 1em7: the name is a C++ namespace.
  return String(n).replace('.', 'p').replace('e-', 'em').replace('e+', 'ep');
}
