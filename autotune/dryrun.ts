/**
 * `sagegen autotune --dry-run`: the search space and its pre-compile pruning as a report (data), and
 * that report as text or JSON. Nothing is rendered or compiled.
 */
import { formatIssue, type SpecIssue } from '../dsl/spec.js';
import { prune, resolveAxes, searchSpace, type Candidate, type CandidateInput, type Problem, type SpaceAxes, type SpaceOptions } from './space.js';

/** The spec fields of an input as dotted paths (arch, tiling.ctaK, pv.flushKeys, …) in document order. */
export function flattenInput(input: CandidateInput): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const walk = (value: unknown, prefix: string) => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) walk(v, prefix ? `${prefix}.${k}` : k);
    } else out[prefix] = value;
  };
  walk(input, '');
  delete out.name;
  delete out.$schema;
  return out;
}

/** Dotted paths whose value differs between some of the inputs (a field absent in some counts as differing). */
export function varyingFields(inputs: readonly CandidateInput[]): string[] {
  const flat = inputs.map(flattenInput);
  const paths: string[] = [];
  for (const f of flat) for (const p of Object.keys(f)) if (!paths.includes(p)) paths.push(p);
  return paths.filter((p) => new Set(flat.map((f) => JSON.stringify(f[p]))).size > 1);
}

/** The varying fields of one input that it has (a 16-bit P·V has no pv.accumulator, so none is listed). */
function fieldsOf(input: CandidateInput, varying: readonly string[]): Record<string, unknown> {
  const flat = flattenInput(input);
  return Object.fromEntries(varying.filter((p) => p in flat).map((p) => [p, flat[p]]));
}

export interface DryRunKept {
  name: string;
  fields: Record<string, unknown>;
  /** A few plan numbers: threads, shared memory, the plan's register floor and budget. */
  plan: { threads: number; smemBytes: number; registerEstimate: number; registerBudget: number; qFragmentsInRegisters: boolean };
}

export interface DryRunPruned {
  name: string;
  fields: Record<string, unknown>;
  input: CandidateInput;
  reasons: SpecIssue[];
}

export interface DryRunGroup {
  problem: Problem;
  axes: SpaceAxes;
  /** The spec fields that differ between this problem's candidates. */
  varying: string[];
  candidates: number;
  kept: DryRunKept[];
  pruned: DryRunPruned[];
}

export interface DryRunSummary {
  candidates: number;
  kept: number;
  pruned: number;
}

export interface DryRunReport {
  groups: DryRunGroup[];
  summary: DryRunSummary;
}

const problemKey = (p: Problem) => `${p.arch}/${p.headDim}/${p.dtype}/${p.causal}/${p.layout}`;

/** Enumerates, prunes (parseSpec + planKernel) and groups by problem. */
export function dryRun(options: SpaceOptions): DryRunReport {
  const candidates = searchSpace(options);
  const { kept, pruned } = prune(candidates);
  const groups = new Map<string, { problem: Problem; candidates: Candidate[] }>();
  for (const c of candidates) {
    const key = problemKey(c.problem);
    if (!groups.has(key)) groups.set(key, { problem: c.problem, candidates: [] });
    groups.get(key)!.candidates.push(c);
  }
  const out: DryRunGroup[] = [...groups.values()].map(({ problem, candidates: cs }) => {
    const key = problemKey(problem);
    const varying = varyingFields(cs.map((c) => c.input));
    return {
      problem,
      axes: resolveAxes(problem.arch, options.axes),
      varying,
      candidates: cs.length,
      kept: kept
        .filter((k) => problemKey(k.candidate.problem) === key)
        .map((k) => ({
          name: k.name,
          fields: fieldsOf(k.candidate.input, varying),
          plan: {
            threads: k.plan.threads,
            smemBytes: k.plan.smem.totalBytes,
            registerEstimate: k.plan.registers.total,
            registerBudget: k.plan.registerBudget,
            qFragmentsInRegisters: k.plan.qFragmentsInRegisters,
          },
        })),
      pruned: pruned
        .filter((p) => problemKey(p.candidate.problem) === key)
        .map((p) => ({ name: p.name, fields: fieldsOf(p.input, varying), input: p.input, reasons: p.reasons })),
    };
  });
  return { groups: out, summary: { candidates: candidates.length, kept: kept.length, pruned: pruned.length } };
}

export function summaryLine(s: DryRunSummary): string {
  return `${s.candidates} candidates, ${s.kept} kept, ${s.pruned} pruned`;
}

const leaf = (p: string) => p.slice(p.lastIndexOf('.') + 1);
const fieldText = (fields: Record<string, unknown>) =>
  Object.entries(fields)
    .map(([p, v]) => `${leaf(p)}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');

function axesText(axes: SpaceAxes): string {
  const flush = axes.pv.some((f) => f !== 'm16n8k16') ? `; flushKeys ${axes.flushKeys.join(',')} (FP8: the first that divides ctaK)` : '';
  return (
    `pv ${axes.pv.join(',')}; warpQ ${axes.warpQ.join(',')}; warps ${axes.warps.join(',')}; ctaK ${axes.ctaK.join(',')}; ` +
    `stages ${axes.stages.join(',')}; minBlocksPerSm ${axes.minBlocksPerSm.join(',')}; overlapQk ${axes.overlapQk.join(',')}; producer ${axes.producer.join(',')}; rowSums ${axes.rowSums.join(',')}; ` +
    `granularity ${axes.granularity.join(',')}; smoothK ${axes.smoothK.join(',')}; foldDequant ${axes.foldDequant.join(',')}${flush}`
  );
}

/** The report as text: per problem its axes, every kept candidate, every pruned one with its reasons; the summary line last. */
export function formatDryRun(report: DryRunReport): string {
  const lines: string[] = [];
  for (const g of report.groups) {
    const p = g.problem;
    lines.push(
      `${p.arch} D=${p.headDim} ${p.dtype} ${p.causal ? 'causal' : 'non-causal'} ${p.layout}: ` +
        summaryLine({ candidates: g.candidates, kept: g.kept.length, pruned: g.pruned.length }),
    );
    lines.push(`  axes: ${axesText(g.axes)}`);
    const width = Math.max(0, ...g.kept.map((k) => k.name.length), ...g.pruned.map((k) => k.name.length));
    lines.push(`  kept (${g.kept.length}):`);
    for (const k of g.kept) lines.push(`    ${k.name.padEnd(width)}  ${fieldText(k.fields)}`);
    lines.push(`  pruned (${g.pruned.length}):`);
    for (const k of g.pruned) {
      lines.push(`    ${k.name.padEnd(width)}  ${fieldText(k.fields)}`);
      for (const r of k.reasons) lines.push(`      - ${formatIssue(r)}`);
    }
  }
  lines.push(summaryLine(report.summary));
  return lines.join('\n') + '\n';
}

/** The report as JSON (Infinity-free plain data). */
export function dryRunJson(report: DryRunReport): string {
  return JSON.stringify({ ...report, summaryLine: summaryLine(report.summary) }, null, 2) + '\n';
}
