/**
 * `sagegen autotune --measure` without a GPU: the node driver (autotune/measure-runner.ts) runs a
 * fake runner (test/fixtures/fake-measure-runner.mjs) that speaks the native runner's protocol, one
 * worker per "GPU"; a worker killed midway fails the run, and the same command resumes it without
 * measuring or recording anything twice. The records pass the selector's schema (the same parser
 * reads the committed measure.py results), and the progress display counts, ranks and estimates.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { sha256, variantSourceSha256 } from '../build/fingerprint.js';
import { planKernel } from '../plan/plan.js';
import { prune, searchSpace } from '../autotune/space.js';
import { deviceCount, MeasureError, measureBundle, mergeResults } from '../autotune/measure-runner.js';
import { createProgress, ProgressCounter } from '../autotune/progress.js';
import { parseRecords, RecordError, selectConfig, type MeasureRecord } from '../autotune/select.js';
import { ROOT, expectUserError, runCli } from './helpers/cli.js';

const FAKE = path.join(ROOT, 'test', 'fixtures', 'fake-measure-runner.mjs');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'sagegen-measure-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => {
  for (const v of ['FAKE_GPUS', 'FAKE_KILL_AFTER', 'FAKE_KILL_DEVICE']) delete process.env[v];
});

// Five real candidates; the third fails the gate; speeds differ so the winner is known.
const kept = prune(searchSpace({ archs: ['sm_90a'], headDims: [128] })).kept.slice(0, 5);
const TOPS = [300, 350, 500, 320, 410];
// Each with its source's sha256, as a bundle's manifest gives it to the runners.
const candidates = kept.map((k, i) => ({ name: k.name, spec: k.spec, passed: i !== 2, tops: TOPS[i]!, sourceSha256: sha256(k.name) }));
const SEQS = [1024, 4096];
const expectedKeys = candidates.flatMap((c) => [`${c.name} null`, ...(c.passed ? SEQS.map((s) => `${c.name} ${s}`) : [])]).sort();

let n = 0;
function bundle(): { dir: string; out: string } {
  const dir = path.join(tmp, `bundle-${n++}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'fake-candidates.json'), JSON.stringify(candidates));
  return { dir, out: path.join(dir, 'results.jsonl') };
}

/** A non-terminal stream that keeps what is written. */
function capture(tty = false) {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk, _enc, done) {
        chunks.push(String(chunk));
        done();
      },
    }),
    tty ? { isTTY: true, columns: 160 } : {},
  );
  return { stream, text: () => chunks.join('') };
}

const keysOf = (records: MeasureRecord[]) => records.map((r) => `${r.name} ${r.seq}`).sort();
const measuredLog = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.measured'))
    .flatMap((f) => readFileSync(path.join(dir, f), 'utf8').trim().split('\n'))
    .sort();

describe('autotune --measure driver (fake runner)', () => {
  it('--warmup-ms reaches the runner, and each timing record says what warm-up it had (the runner\'s default otherwise)', async () => {
    const longer = bundle();
    await measureBundle({ bundle: longer.dir, out: longer.out, runner: FAKE, seqs: '1024', warmupMs: 500, progress: createProgress(capture().stream) });
    const timed = parseRecords(readFileSync(longer.out, 'utf8')).filter((r) => r.kind === 'timing');
    expect(timed.length).toBeGreaterThan(0);
    for (const r of timed) expect(r).toMatchObject({ warmup_ms: 500 });
    const plain = bundle();
    await measureBundle({ bundle: plain.dir, out: plain.out, runner: FAKE, seqs: '1024', progress: createProgress(capture().stream) });
    for (const r of parseRecords(readFileSync(plain.out, 'utf8')).filter((x) => x.kind === 'timing')) expect(r).toMatchObject({ warmup_ms: 25 });
  });

  it('one GPU: the runner writes the results file itself; records pass the selector; a progress line per candidate', async () => {
    const { dir, out } = bundle();
    const shown = capture();
    const summary = await measureBundle({ bundle: dir, out, runner: FAKE, seqs: SEQS.join(','), progress: createProgress(shown.stream) });
    expect(summary).toEqual({ workers: 1, records: expectedKeys.length, gated: 5, rejected: 1, timed: 8 });
    const records = parseRecords(readFileSync(out, 'utf8'));
    expect(keysOf(records)).toEqual(expectedKeys);
    expect(readdirSync(dir).some((f) => /\.gpu\d+$/.test(f))).toBe(false);

    // the selector takes them: the fastest passing candidate wins each bucket, the rejected one never
    const config = selectConfig(records);
    for (const e of config.targets[0]!.entries) {
      expect(e.winner.name).toBe(candidates[4]!.name); // 500 TOP/s is the rejected one
      expect(e.winner.sourceSha256).toBe(candidates[4]!.sourceSha256); // from the gate record, for build's check
      expect(e.rejected).toBe(1);
    }

    const lines = shown.text().trim().split('\n');
    const progressLines = lines.filter((l) => l.startsWith('['));
    expect(progressLines.map((l) => /^\[(\d+)\/(\d+)\]/.exec(l)!.slice(1).join('/'))).toEqual(['1/5', '2/5', '3/5', '4/5', '5/5']);
    // best so far: kernel TOP/s (1.2 x whole in the fake) at the longest length, with its name
    expect(progressLines.at(-1)).toContain(`best so far ${((410 + 4) * 1.2).toFixed(1)} TOP/s (${candidates[4]!.name})`);
    expect(progressLines[1]).toContain(`(${candidates[1]!.name})`);
    expect(progressLines.at(-1)).toMatch(/~\d+:\d\d left$/);
    expect(lines).toContain(`rejected ${candidates[2]!.name}: cos 0.9987, rel L1 0.049, 0 non-finite`);
  });

  it('two GPUs, one worker killed midway: the run fails saying how to resume; the rerun measures only what is missing and merges once', async () => {
    const { dir, out } = bundle();
    process.env.FAKE_KILL_DEVICE = '1';
    process.env.FAKE_KILL_AFTER = '2';
    const first = capture();
    const run = () => measureBundle({ bundle: dir, out, runner: FAKE, seqs: SEQS.join(','), gpus: 2, progress: createProgress(first.stream) });
    await expect(run()).rejects.toThrow(/1 of 2 measurement worker\(s\) failed: gpu1 .*killed by SIGKILL.*Run the same command again to resume/);
    expect(existsSync(out)).toBe(false); // merged only when every worker finished
    const part1 = readFileSync(`${out}.gpu1`, 'utf8');
    expect(part1.endsWith('\n')).toBe(false); // the kill cut a record in half
    expect(parseRecords(part1)).toHaveLength(2);

    delete process.env.FAKE_KILL_AFTER;
    const summary = await run();
    expect(summary).toMatchObject({ workers: 2, records: expectedKeys.length, gated: 5, rejected: 1, timed: 8 });
    const merged = readFileSync(out, 'utf8');
    expect(keysOf(parseRecords(merged))).toEqual(expectedKeys); // each record once
    expect(measuredLog(dir)).toEqual(expectedKeys); // each measured once, across the kill
    // worker i took candidates i, i+2, ...
    expect(parseRecords(readFileSync(`${out}.gpu0`, 'utf8')).filter((r) => r.kind === 'gate').map((r) => r.name)).toEqual([0, 2, 4].map((i) => candidates[i]!.name));

    // A third run finds everything done: nothing measured, nothing appended.
    await run();
    expect(readFileSync(out, 'utf8')).toBe(merged);
    expect(measuredLog(dir)).toEqual(expectedKeys);
  });

  it('--refine-rounds: each bucket\'s close candidates timed again once, the refined timings decide; with two GPUs after the merge, on the merged file', async () => {
    // candidates[1] (350 TOP/s in the sweep) is within 20% of candidates[4] (410); its interleaved rounds say 450
    const refinedCandidates = candidates.map((c, i) => (i === 1 ? { ...c, refinedTops: 450 } : c));
    const close = [candidates[4]!.name, candidates[1]!.name];
    const refinedKeys = close.flatMap((name) => SEQS.map((seq) => `${name} ${seq} refined`));
    for (const gpus of [1, 2]) {
      const { dir, out } = bundle();
      writeFileSync(path.join(dir, 'fake-candidates.json'), JSON.stringify(refinedCandidates));
      const shown = capture();
      const run = () => measureBundle({ bundle: dir, out, runner: FAKE, seqs: SEQS.join(','), gpus, refineRounds: 3, refineMargin: 0.2, progress: createProgress(shown.stream) });
      const summary = await run();
      expect(summary).toMatchObject({ workers: gpus, gated: 5, rejected: 1, timed: 8 + refinedKeys.length });
      const records = parseRecords(readFileSync(out, 'utf8'));
      const refined = records.filter((r) => r.kind === 'timing' && r.refined);
      expect(refined.map((r) => `${r.name} ${r.seq} refined`).sort()).toEqual([...refinedKeys].sort());
      for (const r of refined) expect(r).toMatchObject({ refined: { rounds: 3, candidates: 2 } });
      expect(measuredLog(dir)).toEqual([...expectedKeys, ...refinedKeys].sort());  // the sweep once, the refinement once
      expect(shown.text()).toContain(`re-timed D=128 `);
      // the sweep alone picks candidates[4]; with the refined timings candidates[1] wins every bucket
      const sweepOnly = records.filter((r) => !(r.kind === 'timing' && r.refined));
      for (const e of selectConfig(sweepOnly).targets[0]!.entries) expect(e.winner.name).toBe(candidates[4]!.name);
      for (const e of selectConfig(records).targets[0]!.entries) expect(e.winner.name, `${gpus} GPU(s)`).toBe(candidates[1]!.name);
      // --select says what the refinement changed
      const selected = await runCli(['autotune', '--select', out, '--out', path.join(dir, 'tuned.json')], dir);
      expect(selected.exitCode, selected.stderr).toBe(0);
      expect(selected.stdout).toContain(`${refinedKeys.length} refined timing(s): 2 of 2 pick(s) differ from the sweep's single timings`);
      // a rerun finds the refinement done too: nothing measured, nothing appended
      const before = readFileSync(out, 'utf8');
      await run();
      expect(readFileSync(out, 'utf8')).toBe(before);
      expect(measuredLog(dir)).toEqual([...expectedKeys, ...refinedKeys].sort());
    }
  });

  it("--gpus all asks the runner how many GPUs it sees", async () => {
    process.env.FAKE_GPUS = '3';
    expect(await deviceCount(FAKE)).toBe(3);
    const { dir, out } = bundle();
    const summary = await measureBundle({ bundle: dir, out, runner: FAKE, seqs: '1024', gpus: 'all', progress: createProgress(capture().stream) });
    expect(summary.workers).toBe(3);
    expect(existsSync(`${out}.gpu2`)).toBe(true);
    expect(summary.records).toBe(5 + 4);
  });

  it('a bundle without its runner: an error naming the path and how to build it', async () => {
    const { dir, out } = bundle();
    const e = await measureBundle({ bundle: dir, out }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MeasureError);
    expect((e as Error).message).toContain(path.join(dir, 'runner', 'sagegen-measure'));
    expect((e as Error).message).toContain('--compile-only');
  });
});

describe('mergeResults', () => {
  it('appends what the results file lacks, each line as written, and closes a cut last line first', async () => {
    const dir = mkdtempSync(path.join(tmp, 'merge-'));
    const rec = (name: string, seq: number | null) =>
      JSON.stringify(seq === null
        ? { kind: 'gate', name, seq, passed: true, accuracy: { cos: 0.9999, rel_l1: 0.01, nonfinite: 0 }, spec: {}, device: 'G', capability: '9.0', nvcc: { version: '13.0', build: 'V13.0.88' }, date: 'd' }
        : { kind: 'timing', name, seq, kernel_tops: 1, whole_tops: 1, device: 'G' });
    const out = path.join(dir, 'r.jsonl');
    writeFileSync(out, `${rec('a', null)}\n${rec('a', 1024).slice(0, 20)}`);
    writeFileSync(`${out}.gpu0`, `${rec('a', null)}\n${rec('a', 1024)}\n`);
    writeFileSync(`${out}.gpu1`, `${rec('b', null)}\n${rec('a', 1024)}\n${rec('b', 1024).slice(0, 10)}`);
    expect(await mergeResults(out, [`${out}.gpu0`, `${out}.gpu1`])).toBe(2);
    const lines = readFileSync(out, 'utf8').split('\n');
    expect(lines.slice(2)).toEqual([rec('a', 1024), rec('b', null), '']);
    expect(keysOf(parseRecords(lines.join('\n')))).toEqual(['a 1024', 'a null', 'b null']);
    expect(await mergeResults(out, [`${out}.gpu0`, `${out}.gpu1`])).toBe(0);
  });
});

describe('progress display', () => {
  it('time left comes from candidates measured in this run, not from those resumed', () => {
    let now = 1_000_000;
    const c = new ProgressCounter(() => now);
    c.setWorkerTotal('gpu0', 6);
    c.setWorkerTotal('gpu1', 4);
    expect(c.state()).toEqual({ done: 0, total: 10, best: null, etaSeconds: null });
    c.candidateDone(true);
    c.candidateDone(true); // resumed: instant, no rate yet
    expect(c.state().etaSeconds).toBeNull();
    now += 20_000;
    c.candidateDone(false);
    c.candidateDone(false); // 2 measured in 20 s: 10 s each, 6 left
    expect(c.state().etaSeconds).toBe(60);
    c.record({ kind: 'timing', name: 'x', seq: 1024, kernel_tops: 200, whole_tops: 150, device: 'G' });
    c.record({ kind: 'timing', name: 'y', seq: 1024, kernel_tops: 180, whole_tops: 170, device: 'G' });
    expect(c.state().best).toEqual({ name: 'x', kernelTops: 200 });
  });

  it('on a terminal: a bar with candidates done of all, the best so far and the time left', () => {
    const shown = capture(true);
    const p = createProgress(shown.stream);
    p.counter.setWorkerTotal('gpu0', 4);
    p.counter.record({ kind: 'timing', name: 'sage_fast', seq: 1024, kernel_tops: 123, whole_tops: 100, device: 'G' });
    p.counter.candidateDone(false);
    p.counter.candidateDone(false);
    p.update({ name: 'sage_fast', resumed: false });
    p.log('rejected sage_bad: cos 0.99');
    p.stop();
    const text = shown.text();
    expect(text).toContain('2/4 candidates');
    expect(text).toContain('best 123.0 TOP/s (sage_fast)');
    expect(text).toMatch(/\d+:\d\d left/);
    expect(text).toContain('rejected sage_bad: cos 0.99');
  });
});

describe('the record schema (the selector\'s parser)', () => {
  it('accepts every committed results file (measure.py and native runner), line for line', () => {
    const dir = path.join(ROOT, 'results', 'autotune');
    // every .jsonl below results/autotune except the runner's --events transcripts
    const files = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.jsonl') && !f.endsWith('-events.jsonl'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const text = readFileSync(path.join(dir, f), 'utf8');
      expect(parseRecords(text), f).toHaveLength(text.split('\n').filter((l) => l.trim()).length);
    }
  });

  it('refuses a record with a wrong field: the line, the field, the value and the rule', () => {
    const good = { kind: 'timing', name: 'x', seq: 1024, kernel_tops: 1, whole_tops: 1, device: 'G' };
    const text = `${JSON.stringify(good)}\n${JSON.stringify({ ...good, whole_tops: 'fast' })}\n`;
    expect(() => parseRecords(text)).toThrow(RecordError);
    expect(() => parseRecords(text)).toThrow(/^line 2: whole_tops = "fast": .*number/);
    expect(() => parseRecords(JSON.stringify({ ...good, kind: 'guess' }))).toThrow(/^line 1: kind = "guess"/);
  });

  it('sagegen autotune --select warns when a winner was timed on another source than this sagegen renders, and still writes the file', async () => {
    const rendered = (spec: (typeof kept)[number]['spec']) => variantSourceSha256(planKernel(spec));
    const gateOf = (k: (typeof kept)[number], sourceSha256: string) =>
      ({ kind: 'gate', name: k.name, seq: null, passed: true, accuracy: { cos: 0.9999, rel_l1: 0.012, nonfinite: 0 }, spec: k.spec, device: 'G', capability: '9.0',
        nvcc: { version: '13.0', build: 'V13.0.88' }, date: '2026-12-08T00:00:00Z', sourceSha256 });
    const timingOf = (k: (typeof kept)[number], seq: number, tops: number) => ({ kind: 'timing', name: k.name, seq, kernel_tops: tops, whole_tops: tops, device: 'G' });
    const [x, y] = kept as [(typeof kept)[number], (typeof kept)[number]];
    const select = async (xSource: string) => {
      const file = path.join(tmp, 'provenance.jsonl');
      writeFileSync(file, [gateOf(x, xSource), gateOf(y, rendered(y.spec)), timingOf(x, 1024, 400), timingOf(y, 1024, 300), timingOf(y, 4096, 500)].map((r) => JSON.stringify(r)).join('\n'));
      const out = path.join(tmp, 'provenance.json');
      const r = await runCli(['autotune', '--select', file, '--out', out], tmp);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(existsSync(out)).toBe(true);
      return { stderr: r.stderr, out };
    };
    expect((await select(rendered(x.spec))).stderr).not.toContain('warning');
    const { stderr, out } = await select('0'.repeat(64));
    expect(stderr).toContain(`warning: --select wrote "${out}": 1 of the 2 winners that record their source were timed on generated sources that differ`);
    expect(stderr).toContain(x.name);
    expect(stderr).not.toContain(y.name);
  });

  it('sagegen autotune --select of a file with a bad record: exit 1 naming the file and the field', async () => {
    const file = path.join(tmp, 'bad.jsonl');
    writeFileSync(file, `${JSON.stringify({ kind: 'gate', name: 'x', seq: null, passed: 'yes' })}\n`);
    const stderr = expectUserError(await runCli(['autotune', '--select', file, '--out', path.join(tmp, 'c.json')], tmp));
    expect(stderr).toContain(file);
    expect(stderr).toContain('passed = "yes"');
  });
});

describe('sagegen autotune --measure usage', () => {
  it('--gpus must be "all" or a positive count', async () => {
    const stderr = expectUserError(await runCli(['autotune', '--measure', tmp, '--out', 'r.jsonl', '--gpus', 'two'], tmp));
    expect(stderr).toContain('--gpus = "two"');
  });

  it('--warmup-ms must be milliseconds from 0 to 60000', async () => {
    for (const bad of ['-1', '70000', 'soon']) {
      const stderr = expectUserError(await runCli(['autotune', '--measure', tmp, '--out', 'r.jsonl', '--warmup-ms', bad], tmp));
      expect(stderr).toContain('--warmup-ms = "');
      expect(stderr).toContain('must be milliseconds from 0 to 60000');
    }
  });

  it('--refine-rounds, --refine-margin and --refine-max name the flag, the value and the rule; a whole run checks them before compiling', async () => {
    const bad: [string, string, RegExp][] = [
      ['--refine-rounds', '-1', /--refine-rounds = "-1": must be a whole number of rounds from 0 \(no refinement\) to 100/],
      ['--refine-rounds', '2.5', /--refine-rounds = "2.5"/],
      ['--refine-margin', '0', /--refine-margin = "0": must be a fraction above 0 and at most 0.5/],
      ['--refine-margin', '0.9', /--refine-margin = "0.9"/],
      ['--refine-max', '1', /--refine-max = "1": must be from 2 to 16 candidates per bucket/],
    ];
    for (const [flag, value, rule] of bad) {
      expect(expectUserError(await runCli(['autotune', '--measure', tmp, '--out', 'r.jsonl', flag, value], tmp))).toMatch(rule);
      // a whole run refuses it at once: no bundle is compiled first (this would take minutes)
      const whole = await runCli(['autotune', '--arch', 'sm_90a', '--headdim', '64', '--out', 'c.json', flag, value], tmp);
      expect(expectUserError(whole)).toMatch(rule);
    }
  });

  it('a bundle without a runner: exit 1 saying how to build one', async () => {
    const stderr = expectUserError(await runCli(['autotune', '--measure', tmp, '--out', 'r.jsonl'], tmp));
    expect(stderr).toContain('sagegen-measure does not exist');
  });
});
