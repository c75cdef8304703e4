/**
 * runtime/test/wgmma_probe.cu, the hardware facts of the wgmma backend (issue 7) checked on a GPU,
 * must keep compiling with the toolkit here: nvcc/ptxas accept its inline PTX (wgmma INT8 and
 * e4m3, TMA, mbarrier) for sm_90a, and none of its kernels spill. Runs it only where there is a GPU
 * (never in CI); the committed result is results/gpu/wgmma-probe-h100.json.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { compileProbe } from '../toolchain/nvcc.js';
import { describeNvcc, requireNvcc } from './helpers/nvcc.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PROBE = path.join(ROOT, 'runtime', 'test', 'wgmma_probe.cu');
const RESULT = path.join(ROOT, 'results', 'gpu', 'wgmma-probe-h100.json');
const PROTO = path.join(ROOT, 'runtime', 'test', 'wgmma_attention_proto.cu');

describeNvcc('wgmma probe (sm_90a)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sagegen-wgmma-probe-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('compiles for sm_90a with its three kernels and no spills', async () => {
    const ptxas = await compileProbe(requireNvcc(), PROBE, path.join(dir, 'wgmma_probe'), { arch: 'compute_90a', code: 'sm_90a' });
    const kernels = ptxas.map((e) => e.kernel).sort();
    expect(kernels.some((k) => k.includes('probeS8'))).toBe(true);
    expect(kernels.some((k) => k.includes('probeE4m3'))).toBe(true);
    expect(kernels.some((k) => k.includes('probeTmaS8'))).toBe(true);
    for (const e of ptxas) expect(e.spillStoreBytes, e.kernel).toBe(0);
  }, 120_000);

  it('the wgmma attention prototype compiles in its five schedules without spills', async () => {
    for (const schedule of ['PROTO_SERIAL', 'PROTO_DEFAULT', 'PROTO_PINGPONG', 'PROTO_HALFEXP', 'PROTO_DEEP']) {
      const ptxas = await compileProbe(requireNvcc(), PROTO, path.join(dir, `proto-${schedule}`), { arch: 'compute_90a', code: 'sm_90a' }, [`-D${schedule}`]);
      const attention = ptxas.filter((e) => e.kernel.includes('attention'));
      expect(attention.length, schedule).toBe(1);
      expect(attention[0]!.spillStoreBytes, schedule).toBe(0);
    }
  }, 300_000);
});

it('the committed H100 probe result names its device and commit and passed every check', () => {
  const r = JSON.parse(readFileSync(RESULT, 'utf8')) as {
    device: string; commit: string; passed: number; failed: number; checks: { name: string; pass: boolean; mismatches: number }[];
  };
  expect(r.device).toMatch(/H100/);
  expect(r.commit).toMatch(/^[0-9a-f]{40}$/);
  expect(r.checks.length).toBe(3);
  expect(r.failed).toBe(0);
  expect(r.checks.every((c) => c.pass && c.mismatches === 0)).toBe(true);
});
