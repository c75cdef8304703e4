/**
 * `sagegen autotune --measure BUNDLE --out RESULTS.jsonl`: runs the bundle's native runner
 * (BUNDLE/runner/sagegen-measure, autotune/runner/sagegen_measure.cu) as child processes, one per
 * GPU, and shows their progress.
 *
 * With one GPU the runner writes RESULTS.jsonl itself. With several, worker i measures every n-th
 * candidate from i on GPU i into RESULTS.jsonl.gpu<i> (so each resumes on its own, as measure.py's
 * workers do), and when all have finished their records are appended to RESULTS.jsonl once, nothing
 * twice. A killed or failed run is resumed by running the same command again: the runners skip what
 * their results files already hold.
 *
 * With refineRounds > 0 the runner then times each bucket's close candidates again in interleaved
 * rounds (sagegen-measure --refine-rounds, whose records the selection prefers). It needs every
 * candidate's sweep timing, so with several GPUs it runs once more after the merge, on GPU 0 and
 * the merged file: everything else there is resumed, only the refinement is measured.
 *
 * The runners report on stdout with --events, one JSON object a line: `start` (how many candidates),
 * `record` (each record, `resumed` when it was in the file already) and `candidate` (one finished).
 */
import { execa } from 'execa';
import { appendFile, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { createProgress, type MeasureProgress } from './progress.js';
import { runnerPath } from './runner-build.js';
import { MeasureRecordSchema, parseRecords, type MeasureRecord } from './select.js';

export class MeasureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MeasureError';
  }
}

export interface MeasureOptions {
  bundle: string;
  out: string;
  /** Sequence lengths to time, comma-separated (the runner's default otherwise). */
  seqs?: string;
  /** Back-to-back warm-up before each timing, in ms (the runner's default otherwise). */
  warmupMs?: number;
  /** Interleaved rounds re-timing each bucket's close candidates (0: none; the runner's --refine-rounds). */
  refineRounds?: number;
  /** Within this fraction of a bucket's fastest whole call a candidate is close (the runner's default otherwise). */
  refineMargin?: number;
  /** At most this many close candidates per bucket (the runner's default otherwise). */
  refineMax?: number;
  /** 'all': one worker per GPU the runner sees; a number: that many workers on GPUs 0..n-1. */
  gpus?: 'all' | number;
  /** Another executable speaking the runner's protocol (default: the bundle's sagegen-measure). */
  runner?: string;
  progress?: MeasureProgress;
}

export interface MeasureSummary {
  workers: number;
  /** Unique records in the results file after the run. */
  records: number;
  gated: number;
  rejected: number;
  timed: number;
}

const RunnerEventSchema = z.discriminatedUnion('event', [
  z.looseObject({ event: z.literal('start'), candidates: z.number().int().nonnegative() }),
  z.looseObject({ event: z.literal('record'), resumed: z.boolean(), record: z.unknown() }),
  z.looseObject({ event: z.literal('candidate'), name: z.string(), resumed: z.boolean() }),
  z.looseObject({ event: z.literal('refine'), group: z.string(), seq: z.number(), candidates: z.array(z.string()), rounds: z.number(), resumed: z.boolean() }),
]);

// A refined timing is a record of its own beside the sweep's of the same candidate and length.
const recordKey = (r: MeasureRecord) => `${r.name}\u0000${r.seq ?? 'gate'}${r.kind === 'timing' && r.refined ? '\u0000refined' : ''}`;

/** GPUs the runner sees (`sagegen-measure --device-count`). */
export async function deviceCount(runner: string): Promise<number> {
  const r = await execa(runner, ['--device-count'], { reject: false });
  const n = Number(r.stdout.trim());
  if (r.exitCode !== 0 || !Number.isInteger(n)) throw new MeasureError(`${runner} --device-count failed: ${r.stderr.trim() || r.stdout.trim() || `exit ${r.exitCode}`}`);
  return n;
}

/** The results file's lines that are records, with their keys; a line cut by a kill is left out. */
function recordLines(text: string, file: string): { key: string; line: string; record: MeasureRecord }[] {
  const out: { key: string; line: string; record: MeasureRecord }[] = [];
  for (const line of text.split('\n')) {
    let record: MeasureRecord | undefined;
    try {
      [record] = parseRecords(line);
    } catch (e) {
      throw new MeasureError(`${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (record) out.push({ key: recordKey(record), line, record });
  }
  return out;
}

async function readIfExists(file: string): Promise<string> {
  return existsSync(file) ? readFile(file, 'utf8') : '';
}

/**
 * Appends to `out` every record of `parts` whose (name, seq) `out` does not hold yet, each line as
 * the worker wrote it. Returns how many were appended.
 */
export async function mergeResults(out: string, parts: string[]): Promise<number> {
  const existing = await readIfExists(out);
  const have = new Set(recordLines(existing, out).map((r) => r.key));
  const add: string[] = [];
  for (const part of parts) {
    for (const r of recordLines(await readIfExists(part), part)) {
      if (have.has(r.key)) continue;
      have.add(r.key);
      add.push(r.line);
    }
  }
  if (add.length) {
    // A line cut by a kill ends the file without a newline: close it, so the first record stands alone.
    const lead = existing.length && !existing.endsWith('\n') ? '\n' : '';
    await appendFile(out, `${lead}${add.join('\n')}\n`);
  }
  return add.length;
}

interface Worker {
  gpu: number;
  out: string;
  /** Its shard: candidates shard, shard + shards, … */
  shard: number;
  shards: number;
  /** Runs the refinement after its sweep. */
  refine: boolean;
  label: string;
}

async function runWorker(runner: string, options: MeasureOptions, worker: Worker, progress: MeasureProgress): Promise<string | null> {
  const label = worker.label;
  const stderrTail: string[] = [];
  const onStdout = function* (line: unknown) {
    const text = String(line);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      progress.log(`[${label}] ${text}`);
      return;
    }
    const event = RunnerEventSchema.safeParse(json);
    if (!event.success) {
      progress.log(`[${label}] ${text}`);
      return;
    }
    const e = event.data;
    if (e.event === 'start') {
      progress.counter.setWorkerTotal(label, e.candidates);
      progress.update();
    } else if (e.event === 'record') {
      const r = MeasureRecordSchema.safeParse(e.record);
      if (!r.success) {
        progress.log(`[${label}] the runner reported an invalid record: ${r.error.issues[0]?.message}`);
        return;
      }
      progress.counter.record(r.data);
      if (!e.resumed && r.data.kind === 'gate' && !r.data.passed) {
        progress.log(`rejected ${r.data.name}: cos ${r.data.accuracy.cos}, rel L1 ${r.data.accuracy.rel_l1}, ${r.data.accuracy.nonfinite} non-finite`);
      }
    } else if (e.event === 'refine') {
      if (!e.resumed) progress.log(`re-timed ${e.group} N=${e.seq}: ${e.candidates.length} close candidates, ${e.rounds} interleaved rounds`);
    } else {
      progress.counter.candidateDone(e.resumed);
      progress.update({ name: e.name, resumed: e.resumed });
    }
  };
  const onStderr = function* (line: unknown) {
    const text = String(line);
    stderrTail.push(text);
    if (stderrTail.length > 5) stderrTail.shift();
    progress.log(`[${label}] ${text}`);
  };
  const args = [options.bundle, '--out', worker.out, '--device', String(worker.gpu), '--shard', `${worker.shard}/${worker.shards}`, '--events'];
  if (options.seqs) args.push('--seqs', options.seqs);
  if (options.warmupMs !== undefined) args.push('--warmup-ms', String(options.warmupMs));
  if (worker.refine) {
    args.push('--refine-rounds', String(options.refineRounds));
    if (options.refineMargin !== undefined) args.push('--refine-margin', String(options.refineMargin));
    if (options.refineMax !== undefined) args.push('--refine-max', String(options.refineMax));
  }
  const r = await execa(runner, args, { reject: false, stdout: onStdout, stderr: onStderr, stdin: 'ignore' });
  if (!r.failed) return null;
  const why = r.signal ? `killed by ${r.signal}` : r.exitCode !== undefined ? `exit ${r.exitCode}` : r.shortMessage;
  return `${label} (${worker.out}) ${why}${stderrTail.length ? `: ${stderrTail.at(-1)}` : ''}`;
}

export async function measureBundle(options: MeasureOptions): Promise<MeasureSummary> {
  const runner = options.runner ?? runnerPath(options.bundle);
  if (!existsSync(runner)) {
    throw new MeasureError(`${runner} does not exist: compile the bundle with \`sagegen autotune --compile-only --out ${options.bundle}\` (it links the runner)`);
  }
  const gpus = options.gpus === 'all' ? await deviceCount(runner) : (options.gpus ?? 1);
  if (gpus < 1) throw new MeasureError(`--gpus: the runner sees no CUDA device on this machine`);
  const refine = (options.refineRounds ?? 0) > 0;
  const workers: Worker[] = Array.from({ length: gpus }, (_, gpu) => ({
    gpu,
    out: gpus === 1 ? options.out : `${options.out}.gpu${gpu}`,
    shard: gpu,
    shards: gpus,
    refine: refine && gpus === 1,
    label: `gpu${gpu}`,
  }));
  const progress = options.progress ?? createProgress();
  try {
    const results = await Promise.all(workers.map((w) => runWorker(runner, options, w, progress)));
    const failures = results.filter((f): f is string => f !== null);
    if (failures.length) {
      throw new MeasureError(`${failures.length} of ${gpus} measurement worker(s) failed: ${failures.join('; ')}. Run the same command again to resume: measured records are kept.`);
    }
    if (gpus > 1) {
      await mergeResults(options.out, workers.map((w) => w.out));
      if (refine) {
        const failed = await runWorker(runner, options, { gpu: 0, out: options.out, shard: 0, shards: 1, refine: true, label: 'refine' }, progress);
        if (failed) throw new MeasureError(`the refinement run failed: ${failed}. Run the same command again to resume: measured records are kept.`);
      }
    }
  } finally {
    progress.stop();
  }
  const records = recordLines(await readIfExists(options.out), options.out).map((r) => r.record);
  const unique = new Map(records.map((r) => [recordKey(r), r]));
  const gates = [...unique.values()].filter((r) => r.kind === 'gate');
  return {
    workers: gpus,
    records: unique.size,
    gated: gates.length,
    rejected: gates.filter((g) => g.kind === 'gate' && !g.passed).length,
    timed: [...unique.values()].filter((r) => r.kind === 'timing').length,
  };
}
