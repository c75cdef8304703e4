/**
 * `sagegen autotune --compile-only` as a user runs it: the kept candidates compile into one bundle
 * (library + manifest + candidates.json) through the same build stages and cache as `sagegen build`,
 * with the native measurement runner linked statically against the bundle's library. The runner is
 * run here without a GPU: its --dry-run reads the bundle and a results file (resume) and says what
 * it would measure; its --self-test checks the gate's arithmetic on the CPU.
 */
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, expect, it } from 'vitest';
import { prune, searchSpace } from '../autotune/space.js';
import { describeNvcc } from './helpers/nvcc.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'sagegen.js');
const out = mkdtempSync(path.join(os.tmpdir(), 'sagegen-bundle-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

// One tile shape, two granularities, FP8 f16-accumulate P·V: small enough for CI.
const axes = ['--pv', 'fp8-f16', '--granularity', 'per-warp,per-thread', '--stages', '2', '--cta-k', '64', '--warp-q', '16'];

describeNvcc('sagegen autotune --compile-only', () => {
  it('compiles every candidate the spec rules keep into one bundle and lists what to measure', async () => {
    const space = { archs: ['sm_89' as const], headDims: [64 as const], axes: { pv: ['fp8-f16' as const], granularity: ['per-warp' as const, 'per-thread' as const], stages: [2], ctaK: [64], warpQ: [16] } };
    const kept = prune(searchSpace(space)).kept;
    expect(kept.length).toBeGreaterThan(0);

    const r = await execa('node', [CLI, 'autotune', '--arch', 'sm_89', '--headdim', '64', ...axes, '--compile-only', '--out', out], { reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`${kept.length} compiled`));
    expect(existsSync(path.join(out, 'lib', 'libsagegen.so'))).toBe(true);

    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as { variants: { name: string }[] };
    expect(manifest.variants.map((v) => v.name).sort()).toEqual(kept.map((k) => k.name).sort());

    const candidates = JSON.parse(readFileSync(path.join(out, 'candidates.json'), 'utf8')) as {
      measure: string[];
      prunedAfterCompile: { name: string; reasons: string[] }[];
      prunedBeforeCompile: { name: string; reasons: string[] }[];
    };
    // Every compiled candidate is either to be measured or pruned after compile, with a reason.
    expect([...candidates.measure, ...candidates.prunedAfterCompile.map((p) => p.name)].sort()).toEqual(kept.map((k) => k.name).sort());
    for (const p of candidates.prunedAfterCompile) expect(p.reasons.length).toBeGreaterThan(0);

    // The bundle carries its runner: the GPU host needs Python and PyTorch, not this repository.
    for (const f of ['measure.py', 'sweep.py', 'shapes.py', 'sagegen/__init__.py', 'sagegen/_abi.py', 'sagegen/_lib.py']) {
      expect(existsSync(path.join(out, 'runner', f)), f).toBe(true);
    }
    const check = await execa('python3', ['-c', 'import sys; sys.path[:0] = [sys.argv[1], sys.argv[1] + "/sagegen"]; import sweep, shapes, _abi; print("ok")', path.join(out, 'runner')], { reject: false });
    expect(check.stdout.trim(), check.stderr).toBe('ok');
  });

  const runner = path.join(out, 'runner', 'sagegen-measure');

  it('links the native runner statically: no CUDA runtime, Python or torch library needed, the C ABI inside', async () => {
    accessSync(runner, constants.X_OK);
    const needed = (await execa('readelf', ['-d', runner])).stdout
      .split('\n')
      .flatMap((l) => /\(NEEDED\)\s+Shared library: \[(.+)\]/.exec(l)?.[1] ?? []);
    expect(needed.length).toBeGreaterThan(0);
    for (const lib of needed) expect(lib).not.toMatch(/cudart|torch|python|c10|sagegen/);
    const ldd = await execa('ldd', [runner], { reject: false });
    expect(ldd.stdout).not.toMatch(/not found|torch|python|cudart/);
    // The library's entry points are defined in the executable itself (T), not imported (U).
    const symbols = (await execa('nm', [runner])).stdout;
    for (const fn of ['sagegen_forward_variant', 'sagegen_variant_count', 'sagegen_variant_get_info', 'sagegen_workspace_size']) {
      expect(symbols).toMatch(new RegExp(`^[0-9a-f]+ T ${fn}$`, 'm'));
    }
  });

  it('the runner lists this bundle\'s candidates in manifest order and resumes from a results file (dry run, no GPU)', async () => {
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as {
      variants: { name: string; spec: Record<string, unknown>; ptxas: { kernel: string }[]; sourceSha256: string }[];
    };
    const chosen = new Set((JSON.parse(readFileSync(path.join(out, 'candidates.json'), 'utf8')) as { measure: string[] }).measure);
    const names = manifest.variants.map((v) => v.name).filter((n) => chosen.has(n));
    expect(names.length).toBeGreaterThanOrEqual(3);
    const results = path.join(out, 'results.jsonl');
    type Planned = { name: string; index: number; gate: string; time: number[]; spec: unknown; ptxas: unknown[]; sourceSha256: string };
    const dryRun = async (...extra: string[]) => {
      const r = await execa(runner, [out, '--out', results, '--seqs', '1024,4096', '--dry-run', ...extra], { reject: false });
      expect(r.exitCode, r.stderr).toBe(0);
      return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Planned);
    };

    // Nothing measured yet: every candidate, gate and both lengths to do.
    const fresh = await dryRun();
    expect(fresh.map((p) => p.name)).toEqual(names);
    expect((await dryRun('--warmup-ms', '500')).map((p) => p.name)).toEqual(names); // a longer warm-up is accepted
    for (const p of fresh) expect([p.gate, p.time]).toEqual(['todo', [1024, 4096]]);
    // The spec and the attention kernel's ptxas figures, read from the manifest and written back by
    // the runner's JSON code, as its gate records carry them.
    for (const p of fresh) {
      const v = manifest.variants.find((x) => x.name === p.name)!;
      expect(p.spec).toEqual(v.spec);
      expect(p.ptxas).toEqual(v.ptxas.filter((e) => e.kernel === 'attentionKernel'));
      expect(p.ptxas).toHaveLength(1);
      expect(p.sourceSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(p.sourceSha256).toBe(v.sourceSha256); // the measured source, which the tuned configuration keeps
    }
    expect(new Set(fresh.map((p) => p.index)).size).toBe(names.length);

    // An interrupted run: [0] passed and timed at 1024 (written the way measure.py writes, ", " and
    // ": "), [1] rejected, [2]'s gate cut by the kill (no newline).
    const [a, b, c] = names as [string, string, string];
    const pyStyle = (o: object) => JSON.stringify(o).replace(/","/g, '", "').replace(/":/g, '": ');
    writeFileSync(
      results,
      [
        pyStyle({ device: 'X', name: a, seq: null, kind: 'gate', passed: true, accuracy: { cos: 0.9999, rel_l1: 0.01, nonfinite: 0 }, spec: { headDim: 64, note: 'a "quoted" \\ value \u00e9' } }),
        JSON.stringify({ device: 'X', name: a, seq: 1024, kind: 'timing', kernel_tops: 100.5, whole_tops: 90 }),
        JSON.stringify({ device: 'X', name: b, seq: null, kind: 'gate', passed: false, accuracy: { cos: 0.99, rel_l1: 0.2, nonfinite: 3 } }),
        JSON.stringify({ device: 'X', name: c, seq: null, kind: 'gate', passed: true }).slice(0, 40),
      ].join('\n'),
    );
    const resumed = await dryRun();
    const byName = new Map(resumed.map((p) => [p.name, p]));
    expect(byName.get(a)).toMatchObject({ gate: 'passed', time: [4096] });
    expect(byName.get(b)).toMatchObject({ gate: 'rejected', time: [] }); // rejected: never timed
    expect(byName.get(c)).toMatchObject({ gate: 'todo', time: [1024, 4096] }); // the cut line is measured again

    // --shard 1/2: every second candidate from the second on, as measure.py shards.
    expect((await dryRun('--shard', '1/2')).map((p) => p.name)).toEqual(names.filter((_, i) => i % 2 === 1));

    // A manifest without the sources' sha256 (an older sagegen's bundle) is refused before measuring, by name.
    const old = mkdtempSync(path.join(os.tmpdir(), 'sagegen-old-bundle-'));
    try {
      const stripped = structuredClone(manifest) as { variants: Partial<(typeof manifest.variants)[number]>[] };
      delete stripped.variants[0]!.sourceSha256;
      writeFileSync(path.join(old, 'manifest.json'), JSON.stringify(stripped));
      const r = await execa(runner, [old, '--out', path.join(old, 'r.jsonl'), '--seqs', '1024', '--dry-run'], { reject: false });
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr).toContain(`manifest.json: variant ${manifest.variants[0]!.name} has no sourceSha256 (a bundle of an older sagegen: compile it again)`);
    } finally {
      rmSync(old, { recursive: true, force: true });
    }
  });

  it('the runner plans its refinement from the results file (dry run): per bucket the candidates within the margin of the fastest, at most --refine-max, done once refined', async () => {
    const chosen = new Set((JSON.parse(readFileSync(path.join(out, 'candidates.json'), 'utf8')) as { measure: string[] }).measure);
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as { variants: { name: string }[] };
    const [n0, n1, n2] = manifest.variants.map((v) => v.name).filter((n) => chosen.has(n)) as [string, string, string];
    const results = path.join(out, 'refine.jsonl');
    const gate = (name: string) => JSON.stringify({ device: 'X', name, seq: null, kind: 'gate', passed: true, accuracy: { cos: 0.9999, rel_l1: 0.01, nonfinite: 0 } });
    const timing = (name: string, seq: number, whole: number, refined = false) =>
      JSON.stringify({ device: 'X', name, seq, kind: 'timing', kernel_tops: whole, whole_tops: whole, ...(refined ? { refined: { rounds: 3, candidates: 2 } } : {}) });
    // at 1024 n1 is 3% behind n0 and n2 20%; at 4096 n2 is 1% behind and n1 50%
    writeFileSync(results, [gate(n0), gate(n1), gate(n2), timing(n0, 1024, 100), timing(n1, 1024, 97), timing(n2, 1024, 80), timing(n0, 4096, 100), timing(n1, 4096, 50), timing(n2, 4096, 99)].join('\n') + '\n');
    type Plan = { refine: string; seq: number; candidates: string[]; rounds: number; done: boolean };
    const plan = async (...extra: string[]) => {
      const r = await execa(runner, [out, '--out', results, '--seqs', '1024,4096', '--dry-run', ...extra], { reject: false });
      expect(r.exitCode, r.stderr).toBe(0);
      return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Partial<Plan>).filter((l): l is Plan => 'refine' in l);
    };
    expect(await plan()).toEqual([]);  // no --refine-rounds, no refinement
    expect(await plan('--refine-rounds', '3')).toEqual([
      { refine: 'D=64 fp16 full', seq: 1024, candidates: [n0, n1], rounds: 3, done: false },
      { refine: 'D=64 fp16 full', seq: 4096, candidates: [n0, n2], rounds: 3, done: false },
    ]);
    expect((await plan('--refine-rounds', '3', '--refine-margin', '0.25')).map((p) => p.candidates)).toEqual([[n0, n1, n2], [n0, n2]]);
    expect((await plan('--refine-rounds', '3', '--refine-margin', '0.25', '--refine-max', '2')).map((p) => p.candidates)).toEqual([[n0, n1], [n0, n2]]);
    expect((await plan('--refine-rounds', '3', '--refine-margin', '0.01')).map((p) => p.seq)).toEqual([4096]);  // 1024: n0 alone is that close
    // refined records of 1024's pair: that bucket is done (a resumed run skips it); they do not move the plan
    writeFileSync(results, `${timing(n0, 1024, 60, true)}\n${timing(n1, 1024, 99, true)}\n`, { flag: 'a' });
    expect((await plan('--refine-rounds', '3')).map((p) => [p.seq, p.candidates, p.done])).toEqual([[1024, [n0, n1], true], [4096, [n0, n2], false]]);
  });

  it("the runner's gate arithmetic holds on the CPU (--self-test): Gaussian inputs, and the verdict on known outputs", async () => {
    const r = await execa(runner, ['--self-test'], { reject: false });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    type Acc = { cos: number; rel_l1: number; nonfinite: number; passed: boolean };
    const t = JSON.parse(r.stdout) as { ok: boolean; gaussian: { mean: number; variance: number; kurtosis: number }; identical: Acc; noisy: Acc; one_nan: Acc; unwritten: Acc };
    expect(t.ok).toBe(true);
    expect(Math.abs(t.gaussian.mean)).toBeLessThan(0.005);
    expect(Math.abs(t.gaussian.variance - 1)).toBeLessThan(0.01);
    expect(t.identical).toEqual({ cos: 1, rel_l1: 0, nonfinite: 0, passed: true });
    expect(t.noisy.passed).toBe(false); // ~8% relative L1 is over the 4.3% floor
    expect(t.noisy.rel_l1).toBeGreaterThan(0.043);
    expect(t.one_nan).toMatchObject({ nonfinite: 1, passed: false }); // one NaN rejects, however good the rest
    expect(t.unwritten).toMatchObject({ cos: 0, passed: false });
  });

  it('the runner refuses bad arguments with one line naming the option (exit 2)', async () => {
    for (const [args, needle] of [
      [[out, '--out', 'x.jsonl', '--shard', '2/2'], '--shard = "2/2"'],
      [[out, '--out', 'x.jsonl', '--seqs', '1024,abc'], '--seqs = "1024,abc"'],
      [[out, '--out', 'x.jsonl', '--warmup-ms', '-5'], '--warmup-ms = "-5": must be milliseconds from 0 to 60000'],
      [[out, '--out', 'x.jsonl', '--warmup-ms', 'long'], '--warmup-ms = "long"'],
      [[out], '--out RESULTS.jsonl is required'],
      [[out, '--out', 'x.jsonl', '--frobnicate'], 'unknown option --frobnicate'],
      [[out, '--out', 'x.jsonl', '--refine-rounds', '101'], '--refine-rounds = "101": must be a whole number of rounds from 0 (no refinement) to 100'],
      [[out, '--out', 'x.jsonl', '--refine-margin', '0'], '--refine-margin = "0": must be a fraction above 0 and at most 0.5'],
      [[out, '--out', 'x.jsonl', '--refine-max', '1'], '--refine-max = "1": must be from 2 to 16'],
      [[out, '--out', 'x.jsonl', '--refine-rounds', '3', '--shard', '0/2'], '--refine-rounds with --shard 0/2'],
    ] as const) {
      const r = await execa(runner, [...args], { reject: false });
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr.split('\n')[0]).toContain(needle);
    }
    const missing = await execa(runner, [path.join(out, 'no-such-bundle'), '--out', 'x.jsonl', '--dry-run'], { reject: false });
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toMatch(/^sagegen-measure: cannot read .*no-such-bundle\/manifest\.json/);
  });

  it('a bundle whose every candidate is pruned after compile is written whole, and the command fails saying why', async () => {
    // sm_89 keeps at most 48 warps on an SM: an occupancy floor of 64 prunes every candidate.
    const none = path.join(out, 'none-to-measure');
    const r = await execa('node', [CLI, 'autotune', '--arch', 'sm_89', '--headdim', '64', ...axes, '--min-warps', '64', '--compile-only', '--out', none], { reject: false });
    expect(r.exitCode).toBe(1);
    const compiled = prune(searchSpace({ archs: ['sm_89'], headDims: [64], axes: { pv: ['fp8-f16'], granularity: ['per-warp', 'per-thread'], stages: [2], ctaK: [64], warpQ: [16] } })).kept.length;
    expect(r.stderr).toContain(`sagegen: autotune: all ${compiled} compiled candidates were pruned after compile, so there is nothing to measure`);
    expect(r.stderr).toMatch(/below 64 warps\/SM \(\d+\)/);
    expect(r.stderr).toContain(path.join(none, 'candidates.json'));
    const candidates = JSON.parse(readFileSync(path.join(none, 'candidates.json'), 'utf8')) as { measure: string[]; prunedAfterCompile: unknown[] };
    expect([candidates.measure.length, candidates.prunedAfterCompile.length]).toEqual([0, compiled]);
    expect(existsSync(path.join(none, 'runner', 'sagegen-measure'))).toBe(true);
  });
});
