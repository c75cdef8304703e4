/**
 * Selection: measurement records (the JSON lines autotune/measure.py and the native runner write) → a TunedConfig.
 *
 * Per (arch, GPU) and (head dim, causal, dtype, measured sequence length), the winner is the fastest
 * candidate by whole-call TOP/s among those that passed the accuracy gate. Candidates within
 * `tieTolerance` of the fastest count as tied; among the tied ones whose whole calls run the same
 * quantization passes as the fastest (`quantizationPath`), the faster kernel (kernel-only TOP/s, again
 * within the tolerance), then the more accurate (higher cosine) wins, then the lexically smaller name,
 * so the choice never depends on record order. Rejected candidates
 * are counted, never chosen. Where the runner re-timed a bucket's close candidates in interleaved
 * rounds (`refined` records, sagegen-measure --refine-rounds), those timings replace the sweep's
 * single ones for that candidate and length. Buckets split at the geometric means of neighbouring measured lengths.
 */
import { z } from 'zod';
import { AttentionSpecSchema, type AttentionSpec } from '../dsl/spec.js';
import { packageVersion } from '../build/paths.js';
import { planKernel } from '../plan/plan.js';
import { SourceSha256Schema, TunedConfigSchema, type MeasuredCandidate, type TunedConfig, type TunedEntry } from './config.js';

/**
 * One line of a results file, as autotune/measure.py and the native runner (autotune/runner/) write
 * it. Fields beyond these (torch or CUDA versions, commit, kernel_ms, ptxas figures, an error) are
 * kept as they are.
 */
export const GateRecordSchema = z.looseObject({
  kind: z.literal('gate'),
  name: z.string().min(1),
  seq: z.null(),
  passed: z.boolean(),
  accuracy: z.looseObject({ cos: z.number(), rel_l1: z.number().nonnegative(), nonfinite: z.number().int().nonnegative() }),
  spec: z.unknown(),
  device: z.string().min(1),
  capability: z.string().regex(/^\d+\.\d+$/),
  nvcc: z.looseObject({ version: z.string(), build: z.string() }),
  date: z.string().min(1),
  /** sha256 of the candidate's generated .cu, from the bundle's manifest (absent in records of runners before it). */
  sourceSha256: SourceSha256Schema.optional(),
});

export const TimingRecordSchema = z.looseObject({
  kind: z.literal('timing'),
  name: z.string().min(1),
  seq: z.number().int().positive(),
  kernel_ms: z.number().positive().optional(),
  whole_ms: z.number().positive().optional(),
  kernel_tops: z.number().positive(),
  whole_tops: z.number().positive(),
  device: z.string().min(1),
  /** Present on a re-timing of a bucket's close candidates: medians over interleaved rounds. */
  refined: z.looseObject({ rounds: z.number().int().positive(), candidates: z.number().int().min(2) }).optional(),
});

export const MeasureRecordSchema = z.discriminatedUnion('kind', [GateRecordSchema, TimingRecordSchema]);

export type GateRecord = z.infer<typeof GateRecordSchema>;
export type TimingRecord = z.infer<typeof TimingRecordSchema>;
export type MeasureRecord = z.infer<typeof MeasureRecordSchema>;

export interface SelectOptions {
  tieTolerance?: number;
  date?: string;
}

export const CRITERION =
  'highest whole-call TOP/s (interleaved re-timings where the runner refined a bucket) among candidates passing the accuracy gate; within the tie tolerance and among candidates running the same quantization passes as the fastest, higher kernel-only TOP/s (kernels within the tolerance tie again), then higher cosine, then name';

/** [minSeq, maxSeq) per measured length: boundaries at geometric means of neighbours. */
export function seqBuckets(measured: number[]): { seq: number; minSeq: number; maxSeq: number | null }[] {
  const seqs = [...new Set(measured)].sort((a, b) => a - b);
  const cut = (i: number) => Math.round(Math.sqrt(seqs[i]! * seqs[i + 1]!));
  return seqs.map((seq, i) => ({ seq, minSeq: i === 0 ? 0 : cut(i - 1), maxSeq: i === seqs.length - 1 ? null : cut(i) }));
}

interface Timed extends MeasuredCandidate {
  cosine: number;
  quantPath: string;
}

/**
 * The quantization a whole call runs besides the attention kernel, as the plan derives it: whether
 * the queries are quantized inside the attention kernel (one-consumer wgmma blocks) or by the query
 * kernel, the K/V path (one cluster kernel or the split kernels, and its shape), and the scale
 * groups. Candidates with the same path run the same passes, so between them a whole-call gap
 * within the tolerance is noise of those passes; between different paths it is a real difference.
 */
export function quantizationPath(spec: AttentionSpec): string {
  let q: ReturnType<typeof planKernel>['quant'];
  try {
    q = planKernel(spec).quant;
  } catch {
    // A spec this sagegen no longer plans (records of an older version): a path of its own, so its
    // whole call alone ranks it. Building it would be refused anyway.
    return JSON.stringify({ unplanned: spec });
  }
  return JSON.stringify({
    queryInAttention: q.queryInAttention,
    kvCluster: q.kvCluster,
    granularity: q.granularity,
    smoothK: q.smoothK,
    ctaK: spec.tiling.ctaK,
    kGroupsPerTile: q.kGroupsPerTile,
  });
}

/** Orders candidates best first under the tie rule. */
export function rankCandidates<T extends { wholeTops: number; kernelTops: number; cosine: number; name: string; quantPath?: string }>(
  items: T[],
  tieTolerance: number,
): T[] {
  const bySpeed = [...items].sort((a, b) => b.wholeTops - a.wholeTops || a.name.localeCompare(b.name));
  const ranked: T[] = [];
  let rest = bySpeed;
  while (rest.length) {
    const top = rest[0]!.wholeTops;
    // Among whole-call ties that run the fastest whole call's quantization passes, the faster
    // attention kernel: with the same passes a whole-call gap inside the tolerance is mostly noise
    // of those passes, while the kernel time is what the block shape changes (H100, D=128 causal
    // 16K: whole 734 / 729, kernel 812 / 885). A candidate on another path is judged by its whole
    // call alone: a one-consumer block that quantizes its queries in the attention kernel skips the
    // query kernel, so its whole call can win while its kernel is slower (H100, D=128 2K: whole
    // 529 / 525, kernel 692 / 708 in the sweep; 555 / 510 whole in a same-run A/B,
    // results/wgmma/consumer-skip/). Kernels within the tolerance of each other tie again.
    const path = rest[0]!.quantPath;
    const wholeTied = rest.filter((c) => c.wholeTops >= top * (1 - tieTolerance) && c.quantPath === path);
    const kernelTop = Math.max(...wholeTied.map((c) => c.kernelTops));
    const tied = wholeTied.filter((c) => c.kernelTops >= kernelTop * (1 - tieTolerance));
    tied.sort((a, b) => b.cosine - a.cosine || a.name.localeCompare(b.name));
    ranked.push(tied[0]!);
    rest = rest.filter((c) => c !== tied[0]);
  }
  return ranked;
}

export function selectConfig(records: MeasureRecord[], options: SelectOptions = {}): TunedConfig {
  const tieTolerance = options.tieTolerance ?? 0.01;
  const gates = new Map<string, GateRecord>();
  for (const r of records) if (r.kind === 'gate') gates.set(`${r.device}\u0000${r.name}`, r);
  if (!gates.size) throw new Error('no gate records: nothing was measured');

  const targets = new Map<string, { arch: AttentionSpec['arch']; gpu: string; capability: string; entries: TunedEntry[] }>();
  const specOf = (g: GateRecord) => AttentionSpecSchema.parse(g.spec);
  const first = [...gates.values()][0]!;

  // (device, arch, D, causal, dtype) → timings per seq
  const groups = new Map<string, { gpu: string; capability: string; spec: AttentionSpec; seqs: Map<number, Timed[]>; rejected: Set<string> }>();
  const groupKey = (device: string, s: AttentionSpec) => [device, s.arch, s.headDim, s.causal, s.dtype].join('|');
  for (const g of gates.values()) {
    const spec = specOf(g);
    const key = groupKey(g.device, spec);
    if (!groups.has(key)) groups.set(key, { gpu: g.device, capability: g.capability, spec, seqs: new Map(), rejected: new Set() });
    if (!g.passed) groups.get(key)!.rejected.add(g.name);
  }
  // One timing per (device, candidate, length): a refined one over the sweep's, else the last.
  const timings = new Map<string, TimingRecord>();
  for (const r of records) {
    if (r.kind !== 'timing') continue;
    const key = `${r.device}\u0000${r.name}\u0000${r.seq}`;
    const had = timings.get(key);
    if (!had || r.refined || !had.refined) timings.set(key, r);
  }
  const quantPaths = new Map<GateRecord, string>();
  for (const r of timings.values()) {
    const g = gates.get(`${r.device}\u0000${r.name}`);
    if (!g || !g.passed) continue; // timings without a passing gate are never considered
    const spec = specOf(g);
    const group = groups.get(groupKey(r.device, spec))!;
    const list = group.seqs.get(r.seq) ?? [];
    // one plan per candidate, not per timing record
    const quantPath = quantPaths.get(g) ?? quantPaths.set(g, quantizationPath(spec)).get(g)!;
    const source = g.sourceSha256 === undefined ? {} : { sourceSha256: g.sourceSha256 };
    list.push({ name: r.name, spec, ...source, kernelTops: r.kernel_tops, wholeTops: r.whole_tops, accuracy: g.accuracy, cosine: g.accuracy.cos, quantPath });
    group.seqs.set(r.seq, list);
  }

  for (const group of groups.values()) {
    const tKey = `${group.gpu}|${group.spec.arch}`;
    if (!targets.has(tKey)) targets.set(tKey, { arch: group.spec.arch, gpu: group.gpu, capability: group.capability, entries: [] });
    for (const bucket of seqBuckets([...group.seqs.keys()])) {
      const ranked = rankCandidates(group.seqs.get(bucket.seq)!, tieTolerance);
      const strip = ({ cosine: _c, quantPath: _p, ...c }: Timed): MeasuredCandidate => c;
      targets.get(tKey)!.entries.push({
        headDim: group.spec.headDim,
        causal: group.spec.causal,
        dtype: group.spec.dtype,
        minSeq: bucket.minSeq,
        maxSeq: bucket.maxSeq,
        measuredSeq: bucket.seq,
        winner: strip(ranked[0]!),
        runnerUp: ranked[1] ? strip(ranked[1]) : null,
        candidates: ranked.length,
        rejected: group.rejected.size,
      });
    }
  }

  const config: TunedConfig = {
    format: 1,
    sagegenVersion: packageVersion(),
    date: options.date ?? new Date().toISOString(),
    toolchain: { nvcc: first.nvcc.version, build: first.nvcc.build },
    criterion: `${CRITERION} (tie tolerance ${tieTolerance * 100}%)`,
    targets: [...targets.values()].map((t) => ({
      ...t,
      entries: t.entries.sort((a, b) => a.headDim - b.headDim || Number(a.causal) - Number(b.causal) || a.dtype.localeCompare(b.dtype) || a.minSeq - b.minSeq),
    })),
  };
  return TunedConfigSchema.parse(config);
}

export class RecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordError';
  }
}

/**
 * Parses JSON-lines text; a line that is not JSON (cut by a killed run) is skipped, as the runners
 * measure it again on resume. A line that is JSON but not a record is an error naming the line, the
 * field and the rule.
 */
export function parseRecords(text: string): MeasureRecord[] {
  const out: MeasureRecord[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (!line.trim()) continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      continue; // cut by an interruption
    }
    const parsed = MeasureRecordSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.join('.') || '(record)';
      const value = issue.path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k as PropertyKey] : undefined), json);
      throw new RecordError(`line ${i + 1}: ${field} = ${JSON.stringify(value) ?? 'missing'}: ${issue.message}`);
    }
    out.push(parsed.data);
  }
  return out;
}
