/**
 * The CLI as a user runs it: `node dist/cli/sagegen.js ...` (the compiled output; `npm test` runs
 * tsc first). Exit codes, one-line errors naming the flag/file/field, and JSON output. The build
 * command is exercised with nvcc only (skipped without it, fatal under CI=true).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI, ROOT, expectUserError, runCli } from './helpers/cli.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attentionSpecJsonSchema } from '../dsl/schema.js';
import { defaultSpecInput } from '../dsl/builder.js';
import { variantName } from '../dsl/spec.js';
import { TunedConfigSchema } from '../autotune/config.js';
import { tunedBuildInputs } from '../autotune/tuned-build.js';
import { describeNvcc } from './helpers/nvcc.js';
import { execa } from 'execa';


const tmp = mkdtempSync(path.join(os.tmpdir(), 'sagegen-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs the CLI from `cwd` (default: an empty temp dir, so relative paths resolve there). */
const sagegen = (args: string[], cwd = tmp) => runCli(args, cwd);

beforeAll(() => {
  if (!existsSync(CLI)) {
    throw new Error(`${path.relative(ROOT, CLI)} is missing: compile first with \`npx tsc -p .\` (\`npm test\` does it)`);
  }
  // A stale dist/ makes these tests check old code; warn (tsc is cheap to rerun).
  const src = path.join(ROOT, 'cli', 'sagegen.ts');
  if (statSync(src).mtimeMs > statSync(CLI).mtimeMs) console.warn('[cli.test] dist/cli/sagegen.js is older than cli/sagegen.ts: run `npx tsc -p .`');
});

describe('help', () => {
  it('--help exits 0 and lists the four commands', async () => {
    const r = await sagegen(['--help']);
    expect(r.exitCode).toBe(0);
    for (const cmd of ['build', 'plan', 'render', 'schema']) expect(r.stdout).toMatch(new RegExp(`sagegen ${cmd}\\b`));
  });

  it('build --help lists the spec, output and selection flags', async () => {
    const r = await sagegen(['build', '--help']);
    expect(r.exitCode).toBe(0);
    for (const flag of ['--arch', '--headdim', '--causal', '--dtype', '--out', '--spec']) expect(r.stdout).toContain(flag);
  });

  it("`npx sagegen` (the README's command) runs the compiled CLI: package.json's bin is executable", async () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    const bin = path.join(ROOT, pkg.bin['sagegen']!);
    expect(statSync(bin).mode & 0o111, `${pkg.bin['sagegen']} is not executable: npm run build:ts sets its mode`).not.toBe(0);
    const r = await execa('npx', ['--no-install', 'sagegen', '--help'], { cwd: ROOT, reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/sagegen build\b/);
  });

  it('no command exits 1 and says to name one', async () => {
    expect(expectUserError(await sagegen([]))).toMatch(/build, plan, render or schema/);
  });
});

describe('usage errors', () => {
  it('an unknown flag: exit 1 with a one-line message naming it', async () => {
    const stderr = expectUserError(await sagegen(['build', '--arch', 'sm_89', '--headdim', '128', '--frobnicate']));
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(stderr).toContain('frobnicate');
  });

  it('--arch sm_75: exit 1 naming --arch, the value and the allowed archs', async () => {
    const stderr = expectUserError(await sagegen(['build', '--arch', 'sm_75', '--headdim', '128']));
    expect(stderr).toContain('--arch');
    expect(stderr).toContain('sm_75');
    expect(stderr).toContain('sm_89');
    expect(stderr).not.toContain('Hopper');
  });

  it('--arch sm_90 (Hopper\'s compute capability): refused, pointing at sm_90a', async () => {
    for (const arch of ['sm_90', '90']) {
      const stderr = expectUserError(await sagegen(['build', '--arch', arch, '--headdim', '128']));
      expect(stderr).toContain(`--arch = "${arch}": must be one of`);
      expect(stderr).toContain('give sm_90a');
    }
  });

  it('--headdim 96: exit 1 naming --headdim and 96', async () => {
    const stderr = expectUserError(await sagegen(['build', '--arch', 'sm_89', '--headdim', '96']));
    expect(stderr).toContain('--headdim');
    expect(stderr).toContain('96');
  });

  it('--causal maybe: exit 1 naming --causal', async () => {
    const stderr = expectUserError(await sagegen(['plan', '--arch', 'sm_89', '--headdim', '64', '--causal', 'maybe']));
    expect(stderr).toContain('--causal');
    expect(stderr).toContain('maybe');
  });

  it('--spec of a missing file: exit 1 naming the file', async () => {
    const stderr = expectUserError(await sagegen(['build', '--spec', 'missing.json']));
    expect(stderr).toContain('missing.json');
    expect(stderr).toMatch(/cannot read|ENOENT/);
  });

  it('--spec of malformed JSON: exit 1 naming the file and JSON', async () => {
    const file = path.join(tmp, 'malformed.json');
    writeFileSync(file, '{"arch": "sm_89", ');
    const stderr = expectUserError(await sagegen(['build', '--spec', file]));
    expect(stderr).toContain(file);
    expect(stderr).toMatch(/JSON/);
  });

  it('--spec of an invalid spec (ctaQ 100): exit 1 naming tiling.ctaQ and 100', async () => {
    const file = path.join(tmp, 'ctaq100.json');
    const input = defaultSpecInput({ arch: 'sm_89', headDim: 128 });
    writeFileSync(file, JSON.stringify({ ...input, tiling: { ...input.tiling, ctaQ: 100 } }));
    const stderr = expectUserError(await sagegen(['build', '--spec', file]));
    expect(stderr).toContain('tiling.ctaQ');
    expect(stderr).toContain('= 100');
    expect(stderr).toContain(file);
  });

  it('--spec with an array: names the index of the bad spec', async () => {
    const file = path.join(tmp, 'array.json');
    const good = defaultSpecInput({ arch: 'sm_89', headDim: 64 });
    writeFileSync(file, JSON.stringify([good, { ...good, headDim: 128, pv: { ...good.pv, flushKeys: 48 } }]));
    const stderr = expectUserError(await sagegen(['plan', '--spec', file]));
    expect(stderr).toContain(`${file}[1]: pv.flushKeys`);
    expect(stderr).not.toContain(`${file}[0]`);
  });

  it('a spec over the shared-memory limit is refused at plan time with the same error form', async () => {
    const file = path.join(tmp, 'smem.json');
    const input = defaultSpecInput({ arch: 'sm_86', headDim: 128 });
    writeFileSync(file, JSON.stringify({ ...input, tiling: { ...input.tiling, ctaK: 256, stages: 4 } }));
    const stderr = expectUserError(await sagegen(['plan', '--spec', file]));
    expect(stderr).toMatch(/invalid spec/);
    expect(stderr).toMatch(/shared memory/);
  });
});

describe('plan, schema, render', () => {
  it('plan --arch sm_89 --headdim 64 prints JSON plans for both dtypes × both causal modes', async () => {
    const r = await sagegen(['plan', '--arch', 'sm_89', '--headdim', '64']);
    expect(r.exitCode, r.stderr).toBe(0);
    const plans = JSON.parse(r.stdout) as { name: string; ctaQ: number; headDim: number; spec: { tiling: { ctaQ: number }; dtype: string; causal: boolean } }[];
    // --dtype defaults to fp16,bf16 and --causal to both (build --help): 2 × 2 plans
    expect(plans).toHaveLength(4);
    expect(new Set(plans.map((p) => `${p.spec.dtype}/${p.spec.causal}`))).toEqual(new Set(['fp16/false', 'fp16/true', 'bf16/false', 'bf16/true']));
    for (const p of plans) {
      expect(p.headDim).toBe(64);
      expect(typeof p.ctaQ).toBe('number');
      expect(p.ctaQ).toBe(p.spec.tiling.ctaQ);
    }
    expect(new Set(plans.map((p) => p.name)).size).toBe(4);
  });

  it('plan --mma wgmma plans the sm_90a warpgroup variants; other archs and unknown families are refused by name', async () => {
    const r = await sagegen(['plan', '--arch', 'sm_90a', '--headdim', '128', '--mma', 'wgmma']);
    expect(r.exitCode, r.stderr).toBe(0);
    const plans = JSON.parse(r.stdout) as { name: string; threads: number; spec: { mma: string; causal: boolean }; wgmma: { consumers: number; producerWarpgroups: number } | null }[];
    expect(plans).toHaveLength(4);
    for (const p of plans) {
      expect(p.spec.mma).toBe('wgmma');
      expect(p.name).toContain('_wgmma_');
      // D=128, causal or not: three consumers sharing each stage, no producer
      expect([p.threads, p.wgmma?.consumers, p.wgmma?.producerWarpgroups]).toEqual([384, 3, 0]);
    }
    const sm89 = await sagegen(['plan', '--arch', 'sm_89', '--headdim', '128', '--mma', 'wgmma']);
    expect(sm89.exitCode).not.toBe(0);
    expect(sm89.stderr).toContain('mma = "wgmma": wgmma exists only on sm_90a (arch is sm_89)');
    // D=64: one consumer warpgroup, no producer, two blocks per SM (the tuned set's most frequent pick), causal or not
    const d64 = await sagegen(['plan', '--arch', 'sm_90a', '--headdim', '64', '--mma', 'wgmma', '--dtype', 'fp16']);
    expect(d64.exitCode, d64.stderr).toBe(0);
    const d64Plans = JSON.parse(d64.stdout) as { causal: boolean; threads: number; minBlocksPerSm: number; wgmma: { consumers: number } }[];
    expect(d64Plans.map((p) => [p.causal, p.wgmma.consumers, p.minBlocksPerSm, p.threads])).toEqual([[false, 1, 2, 128], [true, 1, 2, 128]]);
    const bad = await sagegen(['plan', '--arch', 'sm_90a', '--headdim', '128', '--mma', 'tcgen05']);
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toContain('--mma = "tcgen05": must be one of mma.sync, wgmma');
  });

  it('schema prints the JSON Schema', async () => {
    const r = await sagegen(['schema']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(JSON.stringify(attentionSpecJsonSchema())));
  });

  it('schema --out writes the same JSON to a file', async () => {
    const file = path.join(tmp, 'schema.json');
    const r = await sagegen(['schema', '--out', file]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(JSON.parse(JSON.stringify(attentionSpecJsonSchema())));
  });

  it('render writes one .cu per spec and prints its path', async () => {
    const dir = path.join(tmp, 'rendered');
    const r = await sagegen(['render', '--arch', 'sm_80,sm_89', '--headdim', '64', '--causal', 'false', '--dtype', 'bf16', '--out', dir]);
    expect(r.exitCode, r.stderr).toBe(0);
    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(2);
    expect(r.stdout.trim().split('\n').map((l) => path.basename(l)).sort()).toEqual(files);
    for (const f of files) expect(f).toMatch(/^sage_sm(80|89)_d64_bf16_full_.*\.cu$/);
  });

  it('a value given twice in a list flag counts once; an empty list names the flag', async () => {
    const dir = path.join(tmp, 'rendered-twice');
    const r = await sagegen(['render', '--arch', 'sm_89,sm_89', '--headdim', '64,64', '--causal', 'true,true', '--dtype', 'fp16,fp16', '--out', dir]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(readdirSync(dir)).toHaveLength(1);
    for (const [flag, value] of [['--headdim', ''], ['--arch', ','], ['--dtype', '']] as const) {
      const args = { '--arch': 'sm_89', '--headdim': '64', '--dtype': 'fp16', [flag]: value };
      const stderr = expectUserError(await sagegen(['plan', ...Object.entries(args).flat()]));
      expect(stderr).toContain(`${flag} = "${value}": give at least one value`);
    }
  });

  it('render and plan --config take the tuned configuration\'s variants, as build does', async () => {
    const config = path.join(ROOT, 'autotune', 'tuned', 'h100-sm90a-wgmma.json');
    const { specs } = tunedBuildInputs(TunedConfigSchema.parse(JSON.parse(readFileSync(config, 'utf8'))));
    const names = specs.map((s) => variantName(s)).sort();
    const dir = path.join(tmp, 'rendered-tuned');
    const r = await sagegen(['render', '--config', config, '--out', dir]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(names.map((n) => `${n}.cu`));
    const p = await sagegen(['plan', '--config', config]);
    expect(p.exitCode, p.stderr).toBe(0);
    expect((JSON.parse(p.stdout) as { name: string }[]).map((x) => x.name).sort()).toEqual(names);
  });

  it('--config with --spec, or --gpu without --config, is refused naming both', async () => {
    const config = path.join(ROOT, 'autotune', 'tuned', 'h100-sm90a-wgmma.json');
    for (const command of ['build', 'plan', 'render']) {
      const out = command === 'plan' ? [] : ['--out', path.join(tmp, `refused-${command}`)];
      expect(expectUserError(await sagegen([command, '--config', config, '--spec', config, ...out])), command).toMatch(/--config and --spec: give one/);
      expect(expectUserError(await sagegen([command, '--arch', 'sm_90a', '--headdim', '64', '--gpu', 'H100', ...out])), command).toMatch(/--gpu = "H100": only with --config/);
      if (out.length) expect(existsSync(out[1]!), command).toBe(false);
    }
  });
});

describeNvcc('build with nvcc', () => {
  it('build --arch sm_89 --headdim 64 --causal false --dtype fp16 --out DIR packages the library', async () => {
    const out = path.join(tmp, 'built');
    const r = await sagegen(['build', '--arch', 'sm_89', '--headdim', '64', '--causal', 'false', '--dtype', 'fp16', '--out', out, '--jobs', '2']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/built 1 variant\(s\)/);
    expect(r.stdout).not.toMatch(/warning: register spills/);
    for (const f of ['lib/libsagegen.so', 'lib/libsagegen.a', 'include/sagegen.h', 'manifest.json']) {
      expect(existsSync(path.join(out, f)), f).toBe(true);
      expect(statSync(path.join(out, f)).size, f).toBeGreaterThan(0);
    }
    const cu = readdirSync(path.join(out, 'src')).filter((f) => f.endsWith('.cu'));
    const ptx = readdirSync(path.join(out, 'ptx')).filter((f) => f.endsWith('.ptx'));
    expect(cu).toHaveLength(1);
    expect(ptx).toEqual([cu[0]!.replace(/\.cu$/, '.ptx')]);
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as { variants: { name: string; spec: { headDim: number; arch: string } }[] };
    expect(manifest.variants.map((v) => `${v.name}.cu`)).toEqual(cu);
    expect(manifest.variants[0]!.spec).toMatchObject({ arch: 'sm_89', headDim: 64 });
  });
});
