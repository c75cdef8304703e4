/**
 * `sagegen autotune` as a user runs it (`node dist/cli/sagegen.js`, compiled by `npx tsc -p .`):
 * --dry-run lists candidates and pruned ones with a summary line; the other stages refuse missing
 * inputs with a clear message. Expected counts come from the library (searchSpace/prune), not from
 * CLI output.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI, ROOT, expectUserError, runCli } from './helpers/cli.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AXIS_ORDER, defaultAxes, prune, resolveAxes, searchSpace } from '../autotune/space.js';

const SUMMARY = /^(\d+) candidates, (\d+) kept, (\d+) pruned$/;

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sagegen-autotune-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const sagegen = (args: string[]) => runCli(args, tmp);

const lastLine = (text: string) => text.trimEnd().split('\n').at(-1)!;

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${path.relative(ROOT, CLI)} is missing: compile first with \`npx tsc -p .\``);
  for (const src of ['cli/sagegen.ts', 'autotune/space.ts', 'autotune/dryrun.ts']) {
    const out = path.join(ROOT, 'dist', src.replace(/\.ts$/, '.js'));
    if (!existsSync(out) || statSync(path.join(ROOT, src)).mtimeMs > statSync(out).mtimeMs) console.warn(`[autotune.cli.test] dist is older than ${src}: run \`npx tsc -p .\``);
  }
});

describe('sagegen autotune --dry-run', () => {
  it('--arch sm_90a --headdim 64 --dry-run: exit 0, every candidate listed, the summary line last', async () => {
    const r = await sagegen(['autotune', '--arch', 'sm_90a', '--headdim', '64', '--dry-run']);
    expect(r.exitCode, r.stderr).toBe(0);
    const m = SUMMARY.exec(lastLine(r.stdout));
    expect(m, lastLine(r.stdout)).not.toBeNull();
    const [n, k, p] = [Number(m![1]), Number(m![2]), Number(m![3])];
    expect(k + p).toBe(n);
    // the defaults: fp16, non-causal, sm_90a's axes
    const cs = searchSpace({ archs: ['sm_90a'], headDims: [64] });
    const axes = defaultAxes('sm_90a');
    // every axis multiplies, except producer, rowSums and polyExp2, which only the wgmma form varies
    const others = AXIS_ORDER.filter((a) => a !== 'pv' && a !== 'producer' && a !== 'rowSums' && a !== 'polyExp2').reduce((x, a) => x * axes[a].length, 1);
    expect(n).toBe(axes.pv.reduce((x, pv) => x + (pv === 'wgmma' ? axes.producer.length * axes.rowSums.length * axes.polyExp2.length : 1), 0) * others);
    expect(n).toBe(cs.length);
    const { kept, pruned } = prune(cs);
    expect([k, p]).toEqual([kept.length, pruned.length]);
    for (const c of cs) expect(r.stdout).toContain(`    ${c.name} `);
    // a pruned candidate's reasons are listed under it in the spec-error form "field = value: rule"
    expect(r.stdout).toMatch(/^ {6}- tiling\.stages = 2: must be at least 3 with overlapQk/m);
    expect(r.stdout).toMatch(/^sm_90a D=64 fp16 non-causal HND: \d+ candidates, \d+ kept, \d+ pruned$/m);
    expect(r.stdout).toMatch(/^ {2}axes: pv wgmma,m16n8k16,fp8-f16,fp8-f32; warpQ 16,32; /m);
  });

  it('--warps and --min-blocks narrow those axes; a value the spec refuses is pruned with its rule', async () => {
    const args = ['--arch', 'sm_90a', '--headdim', '128', '--pv', 'm16n8k16', '--warp-q', '16', '--cta-k', '32', '--stages', '2'];
    const r = await sagegen(['autotune', ...args, '--warps', '4,8', '--min-blocks', '3', '--dry-run']);
    expect(r.exitCode, r.stderr).toBe(0);
    const axes = { pv: ['m16n8k16' as const], warpQ: [16], warps: [4, 8] as const, ctaK: [32], stages: [2], minBlocksPerSm: [3] };
    const { kept, pruned } = prune(searchSpace({ archs: ['sm_90a'], headDims: [128], axes }));
    expect(lastLine(r.stdout)).toBe(`${kept.length + pruned.length} candidates, ${kept.length} kept, ${pruned.length} pruned`);
    expect(r.stdout).toContain('sage_sm90a_d128_fp16_full_q64k32w16x4s2b3_qkpwsm_pv16 ');
    // 8 warps × 3 blocks leave 80 registers per thread: refused by the plan's register rule
    expect(r.stdout).toMatch(/q128k32w16x8s2b3_qkpwsm_pv16[^\n]*\n {6}- tiling\.minBlocksPerSm = 3: accumulators need about/);
    const odd = await sagegen(['autotune', ...args, '--warps', '3', '--min-blocks', '1', '--dry-run']);
    expect(odd.exitCode, odd.stderr).toBe(0);
    expect(odd.stdout).toMatch(/- tiling\.warps = 3: /);
    expect(expectUserError(await sagegen(['autotune', ...args, '--min-blocks', 'two', '--dry-run']))).toMatch(/--min-blocks/);
  });

  it('--json prints the report as JSON whose lists match prune()', async () => {
    const r = await sagegen(['autotune', '--arch', 'sm_89', '--headdim', '128,64', '--dry-run', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      groups: { problem: { headDim: number }; varying: string[]; kept: { name: string; fields: Record<string, unknown> }[]; pruned: { name: string; reasons: { field: string; value: unknown; rule: string }[] }[] }[];
      summary: { candidates: number; kept: number; pruned: number };
      summaryLine: string;
    };
    const { kept, pruned } = prune(searchSpace({ archs: ['sm_89'], headDims: [128, 64] }));
    expect(report.summary).toEqual({ candidates: kept.length + pruned.length, kept: kept.length, pruned: pruned.length });
    expect(report.summaryLine).toBe(`${kept.length + pruned.length} candidates, ${kept.length} kept, ${pruned.length} pruned`);
    expect(report.groups.map((g) => g.problem.headDim)).toEqual([128, 64]);
    expect(report.groups.flatMap((g) => g.kept.map((x) => x.name))).toEqual(kept.map((x) => x.name));
    expect(report.groups.flatMap((g) => g.pruned.map((x) => x.reasons))).toEqual(JSON.parse(JSON.stringify(pruned.map((x) => x.reasons))));
    expect(report.groups[0]!.varying).toContain('tiling.ctaK');
    expect(report.groups[0]!.varying).not.toContain('headDim');
    expect(Object.keys(report.groups[0]!.kept[0]!.fields)).toContain('tiling.ctaK');
  });

  it('--row-sums narrows the wgmma row-sum axis (names end in "rt" / "rs" at D=128 with tensor sums); a bad value names the flag', async () => {
    const args = ['autotune', '--arch', 'sm_90a', '--headdim', '128', '--pv', 'wgmma', '--warp-q', '16', '--cta-k', '128', '--warps', '12', '--min-blocks', '1', '--stages', '2', '--overlap-qk', 'false', '--producer', 'false', '--granularity', 'per-warp', '--fold-dequant', 'true'];
    const both = await sagegen([...args, '--dry-run']);
    expect(both.exitCode, both.stderr).toBe(0);
    expect(lastLine(both.stdout)).toBe('3 candidates, 3 kept, 0 pruned');  // tensor, alu, tensor-shared
    const tensor = await sagegen([...args, '--row-sums', 'tensor', '--dry-run']);
    expect(lastLine(tensor.stdout)).toBe('1 candidates, 1 kept, 0 pruned');
    expect(tensor.stdout).toMatch(/^ {4}sage_sm90a_d128_fp16_full_wgmma_q192k128w16x12s2b1c_qkpwsmf_pvwg8p448v448rt\b/m);
    const shared = await sagegen([...args, '--row-sums', 'tensor-shared,alu', '--dry-run']);
    expect(lastLine(shared.stdout)).toBe('2 candidates, 2 kept, 0 pruned');
    expect(shared.stdout).toMatch(/^ {4}sage_sm90a_d128_fp16_full_wgmma_q192k128w16x12s2b1c_qkpwsmf_pvwg8p448v448rs\b/m);
    expect(expectUserError(await sagegen([...args, '--row-sums', 'sfu', '--dry-run']))).toMatch(/--row-sums/);
  });

  it('--poly-exp2 adds the wgmma exponentials-on-FMA axis (names end in "e16"); 0 is none; a bad value names the flag', async () => {
    const args = ['autotune', '--arch', 'sm_90a', '--headdim', '64', '--pv', 'wgmma', '--warp-q', '16', '--cta-k', '128', '--warps', '4', '--min-blocks', '2', '--stages', '2', '--overlap-qk', 'false', '--producer', 'false', '--granularity', 'per-warp', '--fold-dequant', 'true', '--row-sums', 'tensor'];
    const plain = await sagegen([...args, '--dry-run']);
    expect(lastLine(plain.stdout)).toBe('1 candidates, 1 kept, 0 pruned');
    const both = await sagegen([...args, '--poly-exp2', '0,16', '--dry-run']);
    expect(both.exitCode, both.stderr).toBe(0);
    expect(lastLine(both.stdout)).toBe('2 candidates, 2 kept, 0 pruned');
    expect(both.stdout).toMatch(/^ {4}sage_sm90a_d64_fp16_full_wgmma_q64k128w16x4s2b2c_qkpwsmf_pvwg8p448v448e16\b/m);
    expect(both.stdout).toMatch(/^ {4}sage_sm90a_d64_fp16_full_wgmma_q64k128w16x4s2b2c_qkpwsmf_pvwg8p448v448\b/m);
    for (const bad of ['-1', 'x', '1.5']) expect(expectUserError(await sagegen([...args, '--poly-exp2', bad, '--dry-run']))).toMatch(/--poly-exp2 = "/);
  });

  it('--row-max adds the wgmma row-maximum axis (VIMNMX3 names end in "m3"); a bad value names the flag', async () => {
    const args = ['autotune', '--arch', 'sm_90a', '--headdim', '64', '--pv', 'wgmma', '--warp-q', '16', '--cta-k', '128', '--warps', '4', '--min-blocks', '2', '--stages', '2', '--overlap-qk', 'false', '--producer', 'false', '--granularity', 'per-warp', '--fold-dequant', 'true', '--row-sums', 'tensor'];
    const both = await sagegen([...args, '--row-max', 'fmnmx,vimnmx3', '--dry-run']);
    expect(both.exitCode, both.stderr).toBe(0);
    expect(lastLine(both.stdout)).toBe('2 candidates, 2 kept, 0 pruned');
    expect(both.stdout).toMatch(/^ {4}sage_sm90a_d64_fp16_full_wgmma_q64k128w16x4s2b2c_qkpwsmf_pvwg8p448v448m3\b/m);
    expect(both.stdout).toMatch(/^ {4}sage_sm90a_d64_fp16_full_wgmma_q64k128w16x4s2b2c_qkpwsmf_pvwg8p448v448\b/m);
    expect(expectUserError(await sagegen([...args, '--row-max', 'fmax', '--dry-run']))).toMatch(/--row-max/);
  });

  it('axis overrides (--warp-q, --cta-k, --stages, --pv, --granularity) narrow the space to their product', async () => {
    const r = await sagegen([
      'autotune', '--arch', 'sm_90a', '--headdim', '128', '--dry-run',
      '--warp-q', '32', '--cta-k', '32,64', '--stages', '3', '--pv', 'm16n8k16', '--granularity', 'per-warp,per-thread',
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
    const axes = resolveAxes('sm_90a', { warpQ: [32], ctaK: [32, 64], stages: [3], pv: ['m16n8k16'], granularity: ['per-warp', 'per-thread'] });
    const n = AXIS_ORDER.filter((a) => a !== 'producer' && a !== 'rowSums' && a !== 'polyExp2').reduce((x, a) => x * axes[a].length, 1);  // producer, rowSums, polyExp2: wgmma only
    expect(n).toBe(1 * 1 * 2 * 2 * 1 * 2 * 2 * 2 * 1 * 2);
    expect(Number(SUMMARY.exec(lastLine(r.stdout))?.[1])).toBe(n);
    const names = r.stdout.split('\n').filter((l) => /^ {4}sage_/.test(l)).map((l) => l.trim().split(/\s+/)[0]!);
    expect(names).toHaveLength(n);
    for (const name of names) expect(name).toMatch(/_q\d+k(32|64)w32x[48]s3b[12]o?_qkp[wt]smf?_pv16$/);
  });

  it('--dtype bf16 --causal both: two problems', async () => {
    const r = await sagegen(['autotune', '--arch', 'sm_80', '--headdim', '64', '--dtype', 'bf16', '--causal', 'both', '--dry-run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^sm_80 D=64 bf16 non-causal HND: /m);
    expect(r.stdout).toMatch(/^sm_80 D=64 bf16 causal HND: /m);
    expect(Number(SUMMARY.exec(lastLine(r.stdout))?.[1])).toBe(searchSpace({ archs: ['sm_80'], headDims: [64], dtypes: ['bf16'], causal: [false, true] }).length);
  });
});

describe('sagegen autotune stages: usage errors', () => {
  it('a whole run without --out: exit 1 saying what to give', async () => {
    const stderr = expectUserError(await sagegen(['autotune', '--arch', 'sm_90a', '--headdim', '64']));
    expect(stderr).toMatch(/--out CONFIG\.json/);
  });

  it('--measure without --out: exit 1 naming --out', async () => {
    const stderr = expectUserError(await sagegen(['autotune', '--measure', 'bundle-dir']));
    expect(stderr).toMatch(/--measure BUNDLE needs --out/);
  });

  it('--select of a missing file: exit 1 naming the file', async () => {
    const stderr = expectUserError(await sagegen(['autotune', '--select', 'no-such-results.jsonl', '--out', 'x.json']));
    expect(stderr).toContain('no-such-results.jsonl');
  });

  it('--compile-only or a whole run whose flags leave no candidate: exit 1 with the most frequent reasons, nothing built', async () => {
    for (const stage of [['--compile-only', '--out', path.join(tmp, 'empty-bundle')], ['--out', path.join(tmp, 'empty.json')]]) {
      const stderr = expectUserError(await sagegen(['autotune', '--arch', 'sm_90a', '--headdim', '64', '--stages', '9', ...stage]));
      const all = prune(searchSpace({ archs: ['sm_90a'], headDims: [64], axes: { stages: [9] } })).pruned.length;
      expect(all).toBeGreaterThan(0);
      expect(stderr).toContain(`none of the ${all} candidates passes the spec rules, so there is nothing to compile`);
      expect(stderr).toContain(`tiling.stages = 9: `);
      expect(stderr).toContain(`(${all})`);
    }
    expect(existsSync(path.join(tmp, 'empty-bundle'))).toBe(false);
    expect(existsSync(path.join(tmp, 'empty.json'))).toBe(false);
    expect(existsSync(path.join(tmp, 'generated'))).toBe(false); // the whole run's bundle directory
  });

  it('--max-candidates, --min-warps and --max-spill-bytes out of range: exit 1 naming the flag and the value, before any compile', async () => {
    for (const [flag, value, rule] of [
      ['--max-candidates', '0', 'must be a positive whole number of candidates'],
      ['--max-candidates', '1.5', 'must be a positive whole number of candidates'],
      ['--min-warps', '0', 'must be a whole number of warps per SM from 1 to 64'],
      ['--min-warps', '65', 'must be a whole number of warps per SM from 1 to 64'],
      ['--max-spill-bytes', '-1', 'must be a whole number of bytes, 0 or more'],
    ] as const) {
      const stderr = expectUserError(await sagegen(['autotune', '--arch', 'sm_90a', '--headdim', '64', flag, value, '--compile-only', '--out', path.join(tmp, 'limits')]));
      expect(stderr).toContain(`${flag} = "${value}": ${rule}`);
    }
    expect(existsSync(path.join(tmp, 'limits'))).toBe(false);
  });

  it('a whole run checks its measurement flags before compiling anything', async () => {
    // A narrow space, so that a regression compiles a few candidates rather than hundreds.
    const narrow = ['--warps', '4', '--warp-q', '16', '--cta-k', '128', '--stages', '2', '--min-blocks', '1', '--granularity', 'per-warp'];
    for (const [flag, value] of [['--seqs', '0'], ['--seqs', '1024,x'], ['--gpus', 'two'], ['--warmup-ms', '-1'], ['--refine-rounds', '101']] as const) {
      const stderr = expectUserError(await sagegen(['autotune', '--arch', 'sm_90a', '--headdim', '64', ...narrow, flag, value, '--out', path.join(tmp, 'whole.json')]));
      expect(stderr).toContain(`${flag} = "`);
      expect(stderr).not.toContain('nvcc');
    }
    expect(existsSync(path.join(tmp, 'generated'))).toBe(false);
  });

  it('--dry-run with --compile-only: exit 1, the two are exclusive', async () => {
    const stderr = expectUserError(await sagegen(['autotune', '--arch', 'sm_90a', '--headdim', '64', '--dry-run', '--compile-only']));
    expect(stderr).toMatch(/dry-run/);
    expect(stderr).toMatch(/compile-only/);
  });
});

describe('sagegen autotune usage', () => {
  it('--help lists the problem, axis and stage flags', async () => {
    const r = await sagegen(['autotune', '--help']);
    expect(r.exitCode).toBe(0);
    for (const flag of ['--arch', '--headdim', '--dtype', '--causal', '--warp-q', '--cta-k', '--stages', '--pv', '--granularity', '--dry-run', '--json', '--compile-only', '--measure', '--gpus', '--select']) {
      expect(r.stdout).toContain(flag);
    }
  });

  it('the top-level --help lists autotune', async () => {
    const r = await sagegen(['--help']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/sagegen autotune\b/);
  });

  it('an unknown --pv form: exit 1 naming --pv, the value and the forms', async () => {
    const stderr = expectUserError(await sagegen(['autotune', '--arch', 'sm_89', '--headdim', '64', '--pv', 'fp4', '--dry-run']));
    expect(stderr).toContain('--pv');
    expect(stderr).toContain('fp4');
    expect(stderr).toContain('m16n8k16');
  });

  it('a non-integer --cta-k: exit 1 naming --cta-k', async () => {
    const stderr = expectUserError(await sagegen(['autotune', '--arch', 'sm_89', '--headdim', '64', '--cta-k', '64,abc', '--dry-run']));
    expect(stderr).toContain('--cta-k');
    expect(stderr).toContain('abc');
  });

  it('a spec-invalid axis value is not a usage error: it is listed as pruned with the spec rule', async () => {
    const r = await sagegen(['autotune', '--arch', 'sm_89', '--headdim', '64', '--warp-q', '24', '--dry-run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(lastLine(r.stdout)).toMatch(/^(\d+) candidates, 0 kept, \1 pruned$/);
    expect(r.stdout).toMatch(/- tiling\.warpQ = 24: must be a multiple of 16/);
  });

  it('no --arch: exit 1 asking for --arch and --headdim', async () => {
    expect(expectUserError(await sagegen(['autotune', '--headdim', '64', '--dry-run']))).toMatch(/--arch and --headdim/);
  });
});
