/**
 * `sagegen autotune`: its flags, and the stages it runs (dry run, compile a bundle, measure it on this
 * host's GPUs, select a tuned configuration), each through autotune/'s modules and the same build.
 */
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { formatIssue, GRANULARITIES, POLY_EXP2_FORMS, ROW_MAX, ROW_SUMS, type Tiling } from '../dsl/spec.js';
import { build } from '../build/build.js';
import { projectRoot } from '../build/paths.js';
import { defaultAxes, PV_FORMS, type SpaceAxes, type SpaceOptions } from '../autotune/space.js';
import { dryRun, dryRunJson, formatDryRun } from '../autotune/dryrun.js';
import { prune, searchSpace } from '../autotune/space.js';
import { pruneCompiled } from '../autotune/occupancy.js';
import { parseRecords, RecordError, selectConfig } from '../autotune/select.js';
import { checkTunedSources, tunedSourceWarning } from '../autotune/provenance.js';
import { MeasureError, measureBundle, type MeasureSummary } from '../autotune/measure-runner.js';
import { buildMeasureRunner } from '../autotune/runner-build.js';
import { parseArchs, parseBooleans, parseChoice, parseHeadDims, parseJobs, parseNonNegativeInts, parsePositiveInts, specOptions, UsageError, writeOutFile } from './flags.js';

/** --warmup-ms: the runner's back-to-back warm-up before each timing, 0 to 60000 ms. */
function parseWarmupMs(value: number | undefined): number | undefined {
  if (value !== undefined && !(Number.isFinite(value) && value >= 0 && value <= 60000))
    throw new UsageError(`--warmup-ms = "${value}": must be milliseconds from 0 to 60000`);
  return value;
}

// Default of --refine-rounds: each bucket's close candidates timed again in 5 interleaved rounds
// (a single sweep timing mis-ranked candidates a few percent apart: results/wgmma/score-bias/).
const DEFAULT_REFINE_ROUNDS = 5;

/** --refine-rounds, --refine-margin, --refine-max: the runner's rules, checked before anything runs. */
function parseRefine(argv: AutotuneFlags): { refineRounds: number; refineMargin?: number; refineMax?: number } {
  const rounds = argv['refine-rounds'] ?? DEFAULT_REFINE_ROUNDS;
  if (!(Number.isInteger(rounds) && rounds >= 0 && rounds <= 100))
    throw new UsageError(`--refine-rounds = "${rounds}": must be a whole number of rounds from 0 (no refinement) to 100`);
  const margin = argv['refine-margin'];
  if (margin !== undefined && !(Number.isFinite(margin) && margin > 0 && margin <= 0.5))
    throw new UsageError(`--refine-margin = "${margin}": must be a fraction above 0 and at most 0.5 (0.05: within 5% of the fastest)`);
  const max = argv['refine-max'];
  if (max !== undefined && !(Number.isInteger(max) && max >= 2 && max <= 16)) throw new UsageError(`--refine-max = "${max}": must be from 2 to 16 candidates per bucket`);
  return { refineRounds: rounds, refineMargin: margin, refineMax: max };
}

/** What `sagegen autotune` is asked to do: one stage, or compile + measure + select on a machine with both nvcc and a GPU. */
type AutotuneStage = 'dry-run' | 'compile-only' | 'measure' | 'select' | 'all';

interface AutotuneFlags {
  arch?: unknown;
  headdim?: unknown;
  dtype?: unknown;
  causal?: unknown;
  layout?: string;
  'warp-q'?: string;
  warps?: string;
  'cta-k'?: string;
  stages?: string;
  'min-blocks'?: string;
  pv?: string;
  granularity?: string;
  'smooth-k'?: string;
  'fold-dequant'?: string;
  'overlap-qk'?: string;
  producer?: string;
  'overlap-kv-quant'?: string;
  'row-sums'?: string;
  'poly-exp2'?: string;
  'row-max'?: string;
  'poly-exp2-form'?: string;
  'dry-run'?: boolean;
  'compile-only'?: boolean;
  measure?: string;
  select?: string[];
  json?: boolean;
  out?: string;
  'max-candidates'?: number;
  'min-warps'?: number;
  'max-spill-bytes'?: number;
  seqs?: string;
  gpus?: string;
  jobs?: number;
  'warmup-ms'?: number;
  'refine-rounds'?: number;
  'refine-margin'?: number;
  'refine-max'?: number;
}

function autotuneStage(argv: AutotuneFlags): AutotuneStage {
  if (argv['dry-run']) return 'dry-run';
  if (argv['compile-only']) return 'compile-only';
  if (argv.measure !== undefined) return 'measure';
  if (argv.select !== undefined) return 'select';
  return 'all';
}

/** The problems and axis overrides of the autotune flags (defaults: fp16, non-causal, each arch's axes). */
function spaceFromFlags(argv: AutotuneFlags): SpaceOptions {
  if (argv.arch === undefined || argv.headdim === undefined) throw new UsageError('autotune: give --arch and --headdim');
  const causal = parseChoice('causal', argv.causal ?? 'false', ['true', 'false', 'both'] as const);
  const axes: Partial<SpaceAxes> = {};
  if (argv['warp-q'] !== undefined) axes.warpQ = parsePositiveInts('warp-q', argv['warp-q']);
  // Values the spec refuses (e.g. 3 warps) are not usage errors: the dry run lists them as pruned with the rule.
  if (argv.warps !== undefined) axes.warps = parsePositiveInts('warps', argv.warps) as Tiling['warps'][];
  if (argv['cta-k'] !== undefined) axes.ctaK = parsePositiveInts('cta-k', argv['cta-k']);
  if (argv.stages !== undefined) axes.stages = parsePositiveInts('stages', argv.stages);
  if (argv['min-blocks'] !== undefined) axes.minBlocksPerSm = parsePositiveInts('min-blocks', argv['min-blocks']);
  if (argv.pv !== undefined) axes.pv = parseChoice('pv', argv.pv, PV_FORMS);
  if (argv.granularity !== undefined) axes.granularity = parseChoice('granularity', argv.granularity, GRANULARITIES);
  if (argv['smooth-k'] !== undefined) axes.smoothK = parseBooleans('smooth-k', argv['smooth-k']);
  if (argv['fold-dequant'] !== undefined) axes.foldDequant = parseBooleans('fold-dequant', argv['fold-dequant']);
  if (argv['overlap-qk'] !== undefined) axes.overlapQk = parseBooleans('overlap-qk', argv['overlap-qk']);
  if (argv.producer !== undefined) axes.producer = parseBooleans('producer', argv.producer);
  if (argv['overlap-kv-quant'] !== undefined) axes.overlapKvQuant = parseBooleans('overlap-kv-quant', argv['overlap-kv-quant']);
  if (argv['row-sums'] !== undefined) axes.rowSums = parseChoice('row-sums', argv['row-sums'], ROW_SUMS);
  // Values the spec refuses (above 64) are listed as pruned with the rule, as for --warps.
  if (argv['poly-exp2'] !== undefined) axes.polyExp2 = parseNonNegativeInts('poly-exp2', argv['poly-exp2']);
  if (argv['row-max'] !== undefined) axes.rowMax = parseChoice('row-max', argv['row-max'], ROW_MAX);
  if (argv['poly-exp2-form'] !== undefined) axes.polyExp2Form = parseChoice('poly-exp2-form', argv['poly-exp2-form'], POLY_EXP2_FORMS);
  return {
    archs: parseArchs(argv.arch),
    headDims: parseHeadDims(argv.headdim),
    dtypes: parseChoice('dtype', argv.dtype ?? 'fp16', ['fp16', 'bf16'] as const),
    causal: causal.includes('both') ? [false, true] : causal.map((c) => c === 'true'),
    layout: parseChoice('layout', argv.layout ?? 'HND', ['HND', 'NHD'] as const)[0]!,
    axes,
  };
}

export async function autotune(argv: AutotuneFlags): Promise<void> {
  const stage = autotuneStage(argv);
  switch (stage) {
    case 'dry-run': {
      const report = dryRun(spaceFromFlags(argv));
      process.stdout.write(argv.json ? dryRunJson(report) : formatDryRun(report));
      return;
    }
    case 'compile-only': {
      await compileBundle(argv, bundleDirOf(argv));
      return;
    }
    case 'measure': {
      if (!argv.out) throw new UsageError('--measure BUNDLE needs --out RESULTS.jsonl');
      await measure(argv.measure!, argv.out, argv);
      return;
    }
    case 'select': {
      if (!argv.out) throw new UsageError('--select RESULTS.jsonl... needs --out CONFIG.json');
      await selectToFile(argv.select!, argv.out);
      return;
    }
    case 'all': {
      if (!argv.out) throw new UsageError('autotune needs --out CONFIG.json (or one stage: --dry-run, --compile-only, --measure, --select)');
      // the measurement flags are checked before the compile, not after it
      parseGpus(argv.gpus);
      parseSeqs(argv.seqs);
      parseWarmupMs(argv['warmup-ms']);
      parseRefine(argv);
      const bundle = bundleDirOf({ ...argv, out: undefined });
      await compileBundle(argv, bundle);
      const results = path.join(bundle, 'measurements.jsonl');
      await measure(bundle, results, argv);
      await selectToFile([results], argv.out);
      return;
    }
  }
}

/** --gpus: 'all' or a positive count (default 1). */
function parseGpus(value: string | undefined): 'all' | number {
  if (value === undefined) return 1;
  if (value === 'all') return 'all';
  if (!/^[1-9]\d*$/.test(value)) throw new UsageError(`--gpus = "${value}": must be "all" or a positive integer`);
  return Number(value);
}

/** --seqs: the sequence lengths to time, positive integers (the runner's default when absent). */
function parseSeqs(value: string | undefined): string | undefined {
  return value === undefined ? undefined : parsePositiveInts('seqs', value).join(',');
}

/** Measures a bundle with its native runner, one worker per GPU, with a progress display. */
async function measure(bundle: string, out: string, argv: AutotuneFlags): Promise<void> {
  const gpus = parseGpus(argv.gpus);
  let summary: MeasureSummary;
  try {
    const seqs = parseSeqs(argv.seqs);
    summary = await measureBundle({ bundle, out, seqs, gpus, warmupMs: parseWarmupMs(argv['warmup-ms']), ...parseRefine(argv) });
  } catch (e) {
    if (e instanceof MeasureError) throw new UsageError(e.message);
    throw e;
  }
  process.stdout.write(
    `${out}: ${summary.gated} candidates gated (${summary.rejected} rejected), ${summary.timed} timings, ${summary.workers} worker(s)\n`,
  );
}

/** The Python runner and what it imports, copied into a bundle as the alternative to the native one (a host with Python and PyTorch). */
async function copyRunner(dir: string): Promise<void> {
  const root = projectRoot();
  await mkdir(dir, { recursive: true });
  for (const file of ['autotune/measure.py', 'autotune/sweep.py', 'runtime/bench/shapes.py']) {
    await cp(path.join(root, file), path.join(dir, path.basename(file)));
  }
  await cp(path.join(root, 'runtime', 'python', 'sagegen'), path.join(dir, 'sagegen'), {
    recursive: true,
    filter: (src) => !src.includes('__pycache__'),
  });
}

function bundleDirOf(argv: AutotuneFlags): string {
  if (argv.out) return argv.out;
  const space = spaceFromFlags(argv);
  return path.join('generated', `autotune-${space.archs.join('-')}_d${space.headDims.join('-')}`);
}

/** --max-candidates, --min-warps, --max-spill-bytes: checked before anything compiles. */
function parseCompileLimits(argv: AutotuneFlags): { limit?: number; minWarpsPerSm: number; maxSpillBytes: number } {
  const limit = argv['max-candidates'];
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1)) throw new UsageError(`--max-candidates = "${limit}": must be a positive whole number of candidates`);
  const minWarps = argv['min-warps'] ?? 4;
  // 64 warps is the most any arch sagegen targets keeps resident on one SM.
  if (!(Number.isInteger(minWarps) && minWarps >= 1 && minWarps <= 64)) throw new UsageError(`--min-warps = "${minWarps}": must be a whole number of warps per SM from 1 to 64`);
  const maxSpill = argv['max-spill-bytes'] ?? 0;
  if (!(Number.isInteger(maxSpill) && maxSpill >= 0)) throw new UsageError(`--max-spill-bytes = "${maxSpill}": must be a whole number of bytes, 0 or more`);
  return { limit, minWarpsPerSm: minWarps, maxSpillBytes: maxSpill };
}

/** "reason (count)" for the most frequent reasons, most frequent first. */
function frequentReasons(reasons: string[], shown = 3): string {
  const counts = new Map<string, number>();
  for (const r of reasons) counts.set(r, (counts.get(r) ?? 0) + 1);
  const top = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, shown);
  return top.map(([r, n]) => `${r} (${n})`).join('; ') + (counts.size > shown ? `; and ${counts.size - shown} other reason(s)` : '');
}

/** Compiles the kept candidates into one library (a bundle), then prunes by spills and occupancy. */
async function compileBundle(argv: AutotuneFlags, outDir: string): Promise<void> {
  const limits = parseCompileLimits(argv);
  const { kept, pruned } = prune(searchSpace(spaceFromFlags(argv)));
  // Nothing to compile is the flags' doing (an axis value every spec refuses): say why, and build nothing.
  if (!kept.length)
    throw new UsageError(
      `autotune: none of the ${pruned.length} candidates passes the spec rules, so there is nothing to compile. ` +
        `Most frequent reasons: ${frequentReasons(pruned.flatMap((p) => p.reasons.map(formatIssue)))}. --dry-run lists each candidate with its reasons`,
    );
  const chosen = limits.limit !== undefined ? kept.slice(0, limits.limit) : kept;
  process.stderr.write(`  ${kept.length} candidates pass the spec rules (${pruned.length} pruned); compiling ${chosen.length}\n`);
  const manifest = await build({ specs: chosen.map((k) => k.spec), outDir, jobs: parseJobs(argv.jobs), log: (l) => process.stderr.write(`  ${l}\n`) });
  const verdict = pruneCompiled(
    manifest.variants.map((v) => ({ name: v.name, ptxas: v.ptxas, plan: v.plan })),
    { minWarpsPerSm: limits.minWarpsPerSm, maxSpillBytes: limits.maxSpillBytes },
  );
  const candidates = {
    measure: verdict.kept.map((v) => v.name),
    prunedAfterCompile: verdict.pruned.map((v) => ({ name: v.name, reasons: v.reasons })),
    prunedBeforeCompile: pruned.map((p) => ({ name: p.name, reasons: p.reasons.map(formatIssue) })),
  };
  await writeFile(path.join(outDir, 'candidates.json'), JSON.stringify(candidates, null, 2) + '\n');
  await copyRunner(path.join(outDir, 'runner'));
  process.stderr.write('  nvcc the native measurement runner\n');
  const runner = await buildMeasureRunner(outDir, manifest);
  process.stdout.write(
    `bundle ${outDir}: ${chosen.length} compiled, ${verdict.kept.length} to measure, ${verdict.pruned.length} pruned after compile (spills / occupancy)\n` +
      `measure it on the GPU host (only the CUDA driver needed: no Node, Python or repository): ${runner} ${outDir} --out RESULTS.jsonl [--device I --shard I/N]\n` +
      `  or, with Node there: npx sagegen autotune --measure ${outDir} --out RESULTS.jsonl [--gpus all]\n` +
      `  or, with Python and PyTorch there: python3 ${path.join(outDir, 'runner', 'measure.py')} ${outDir} --out RESULTS.jsonl [--gpus all]\n`,
  );
  // A whole bundle with nothing in it to measure: written (candidates.json says why each was pruned), but not a success.
  if (!verdict.kept.length)
    throw new UsageError(
      `autotune: all ${verdict.pruned.length} compiled candidates were pruned after compile, so there is nothing to measure. ` +
        `Most frequent reasons: ${frequentReasons(verdict.pruned.flatMap((v) => v.reasons))}. ${path.join(outDir, 'candidates.json')} lists each; ` +
        `--max-spill-bytes N or a lower --min-warps lets some through`,
    );
}

async function selectToFile(files: string[], out: string): Promise<void> {
  const texts = await Promise.all(files.map((f) => readFile(f, 'utf8').catch(() => {
    throw new UsageError(`--select: cannot read "${f}"`);
  })));
  const records = texts.flatMap((text, i) => {
    try {
      return parseRecords(text);
    } catch (e) {
      if (e instanceof RecordError) throw new UsageError(`--select: ${files[i]}: ${e.message}`);
      throw e;
    }
  });
  const config = selectConfig(records);
  await writeOutFile(out, JSON.stringify(config, null, 2) + '\n');
  const entries = config.targets.flatMap((t) => t.entries);
  process.stdout.write(`wrote ${out}: ${config.targets.length} target(s), ${entries.length} entries\n`);
  // Records measured with another sagegen's sources: the file is written, and says so.
  const stale = tunedSourceWarning(`--select wrote "${out}"`, checkTunedSources(config.targets), config);
  if (stale) process.stderr.write(`${stale}\n`);
  // What the interleaved re-timings changed: the picks of the sweep's single timings beside them.
  const refined = records.filter((r) => r.kind === 'timing' && r.refined);
  if (refined.length) {
    const sweepOnly = selectConfig(records.filter((r) => !(r.kind === 'timing' && r.refined)));
    const key = (t: { gpu: string; arch: string }, e: (typeof entries)[number]) => [t.gpu, t.arch, e.headDim, e.causal, e.dtype, e.measuredSeq].join('|');
    const before = new Map(sweepOnly.targets.flatMap((t) => t.entries.map((e) => [key(t, e), e.winner.name] as const)));
    const changed = config.targets.flatMap((t) => t.entries.filter((e) => before.get(key(t, e)) !== e.winner.name));
    process.stdout.write(`${refined.length} refined timing(s): ${changed.length} of ${entries.length} pick(s) differ from the sweep's single timings\n`);
  }
}

// The tile axes' defaults are the same for every arch (autotune/space.ts defaultAxes); only P·V differs.
const helpAxes = defaultAxes('sm_89');
export const autotuneOptions = {
  arch: specOptions.arch,
  headdim: specOptions.headdim,
  causal: { type: 'string', describe: 'true, false or both (default false)' },
  dtype: { type: 'string', describe: 'fp16, bf16 or both comma-separated (default fp16)' },
  layout: specOptions.layout,
  'warp-q': { type: 'string', describe: `WARP_Q values, comma-separated (default ${helpAxes.warpQ.join(',')}; ctaQ = warpQ × warps, warps ${helpAxes.warps.join(',')})` },
  warps: { type: 'string', describe: `warps per block, comma-separated (default ${helpAxes.warps.join(',')})` },
  'cta-k': { type: 'string', describe: `CTA_K values, comma-separated (default ${helpAxes.ctaK.join(',')})` },
  stages: { type: 'string', describe: `K/V pipeline stages, comma-separated (default ${helpAxes.stages.join(',')})` },
  'min-blocks': {
    type: 'string',
    describe: `__launch_bounds__ blocks per SM, comma-separated (default ${helpAxes.minBlocksPerSm.join(',')}; caps registers at 65536 / (threads × this))`,
  },
  pv: {
    type: 'string',
    describe: `P·V forms, comma-separated: ${PV_FORMS.join(', ')} (default per arch: FP8 forms where the arch has FP8 mma, m16n8k16 first where FP8 is emulated, m16n8k16 only without FP8)`,
  },
  granularity: { type: 'string', describe: `Q/K quantization granularities, comma-separated: ${GRANULARITIES.join(', ')} (default all)` },
  'smooth-k': { type: 'string', describe: 'K smoothing: true, false or both as "true,false" (default true)' },
  'fold-dequant': { type: 'string', describe: 'qk.foldDequant: true, false or both as "true,false" (default false)' },
  'overlap-qk': { type: 'string', describe: 'tiling.overlapQk: true, false or both as "true,false" (default both)' },
  producer: { type: 'string', describe: 'wgmma only, tiling.producer: true, false or both as "true,false" (default both)' },
  'overlap-kv-quant': { type: 'string', describe: 'wgmma only, tiling.overlapKvQuant (one-consumer blocks without a producer): true, false or both as "true,false" (default false)' },
  'row-sums': { type: 'string', describe: `wgmma only, pv.rowSums: ${ROW_SUMS.join(', ')}, comma-separated (default all)` },
  'poly-exp2': { type: 'string', describe: 'wgmma only, pv.polyExp2Every: every n-th exponential on the FMA pipe, comma-separated (default 0: none; e.g. 0,16)' },
  'poly-exp2-form': { type: 'string', describe: `wgmma only, pv.polyExp2Form for the candidates with --poly-exp2 above 0: ${POLY_EXP2_FORMS.join(', ')}, comma-separated (default f32; f16x2 measured +2–12% at D=64 in blocks of one or two consumers)` },
  'row-max': { type: 'string', describe: `wgmma only, pv.rowMax: ${ROW_MAX.join(', ')}, comma-separated (default fmnmx; vimnmx3 measured +1–2% at D=64)` },
  'dry-run': { type: 'boolean', describe: 'list every candidate and every pruned one with the rule that refused it; compile nothing' },
  json: { type: 'boolean', default: false, describe: 'with --dry-run: print the report as JSON' },
  'compile-only': { type: 'boolean', describe: 'compile the kept candidates into a bundle (--out DIR) and prune by spills and occupancy' },
  measure: { type: 'string', describe: "measure the candidates of a compiled BUNDLE on this host's GPU(s) into --out RESULTS.jsonl (runs the bundle's native runner; resumes)" },
  select: { type: 'array', string: true, describe: 'RESULTS.jsonl file(s): choose the fastest passing variant per problem and bucket into --out CONFIG.json' },
  out: { type: 'string', describe: 'bundle dir (--compile-only), results file (--measure) or config file (--select, or the whole run)' },
  'max-candidates': { type: 'number', describe: 'compile at most this many of the kept candidates (in space order)' },
  'min-warps': { type: 'number', describe: 'occupancy floor after compile: resident warps per SM (default 4)' },
  'max-spill-bytes': { type: 'number', describe: 'after compile: spill bytes per kernel a candidate may have and still be measured (default 0: any spill prunes it)' },
  seqs: { type: 'string', describe: 'sequence-length buckets to time, comma-separated (default 1024,4096,16384)' },
  gpus: { type: 'string', describe: 'with --measure (or a whole run): "all" or a count, one worker per GPU (default 1)' },
  'warmup-ms': { type: 'number', describe: 'with --measure (or a whole run): back-to-back calls before each timing, in ms (default 25; bench.py uses 500)' },
  'refine-rounds': {
    type: 'number',
    describe: `with --measure (or a whole run): after the sweep, time each bucket's close candidates again in this many interleaved rounds; the selection uses their medians (default ${DEFAULT_REFINE_ROUNDS}; 0: none)`,
  },
  'refine-margin': { type: 'number', describe: "with --refine-rounds: a candidate is close within this fraction of the bucket's fastest whole call (default 0.05)" },
  'refine-max': { type: 'number', describe: 'with --refine-rounds: at most this many close candidates per bucket (default 4)' },
  jobs: { type: 'number', describe: 'parallel nvcc processes (default: CPU count)' },
} as const;
