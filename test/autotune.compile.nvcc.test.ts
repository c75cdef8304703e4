/**
 * `sagegen autotune --compile-only` as a user runs it: the kept candidates compile into one bundle
 * (library + manifest + candidates.json) through the same build stages and cache as `sagegen build`.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
});
