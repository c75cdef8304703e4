/**
 * The toolchain module without compiling anything: version parsing, ptxas report parsing (on real
 * captured reports, see fixtures/README.md), the CUDA-version gate for instructions, and how nvcc is
 * found. The only processes started are fake nvcc shell scripts written to a temp dir.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { attention, defaultSpecInput } from '../dsl/builder.js';
import { parseSpec } from '../dsl/spec.js';
import { planKernel } from '../plan/plan.js';
import {
  checkInstructionSupport,
  findNvcc,
  gencodeFlags,
  nvccCandidates,
  parseNvccVersion,
  parsePtxas,
  ToolchainError,
  type Nvcc,
} from '../toolchain/nvcc.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const fixture = (name: string) => readFileSync(path.join(FIXTURES, name), 'utf8');

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sagegen-toolchain-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A fake nvcc at tmp/<dir>/nvcc that answers --version with `versionText` and fails anything else. */
function fakeNvcc(dir: string, versionText: string): string {
  const file = path.join(tmp, dir, 'nvcc');
  mkdirSync(path.dirname(file), { recursive: true });
  // Shell builtins only: the tests run it with a PATH that points nowhere.
  const echo = versionText
    .split('\n')
    .map((l) => `  echo '${l.replaceAll("'", "'\\''")}'`)
    .join('\n');
  writeFileSync(file, `#!/bin/sh\nif [ "$1" = "--version" ]; then\n${echo}\n  exit 0\nfi\necho "fake nvcc: cannot compile" >&2\nexit 1\n`);
  chmodSync(file, 0o755);
  return file;
}

const NVCC_13_0 = `nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2025 NVIDIA Corporation
Built on Wed_Aug_20_01:58:59_PM_PDT_2025
Cuda compilation tools, release 13.0, V13.0.88
Build cuda_13.0.r13.0/compiler.36424714_0`;

const NVCC_12_4 = `nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2024 NVIDIA Corporation
Built on Thu_Mar_28_02:18:24_PDT_2024
Cuda compilation tools, release 12.4, V12.4.131
Build cuda_12.4.r12.4/compiler.34097967_0`;

describe('parseNvccVersion', () => {
  it('reads release and build tag of nvcc 13.0', () => {
    expect(parseNvccVersion(NVCC_13_0)).toEqual({ version: [13, 0], build: 'V13.0.88' });
  });

  it('reads release and build tag of nvcc 12.4', () => {
    expect(parseNvccVersion(NVCC_12_4)).toEqual({ version: [12, 4], build: 'V12.4.131' });
  });

  it('refuses text without a release line, quoting the text', () => {
    const garbage = 'bash: nvcc: command not found';
    expect(() => parseNvccVersion(garbage)).toThrow(ToolchainError);
    expect(() => parseNvccVersion(garbage)).toThrow(/cannot read the CUDA version/);
    expect(() => parseNvccVersion(garbage)).toThrow(garbage);
  });
});

describe('parsePtxas', () => {
  it('parses every kernel of a real report (sm_89, D=64, no spills)', () => {
    const text = fixture('ptxas-sm89-d64-w16x8.txt');
    const entries = parsePtxas(text);
    // One entry per "Compiling entry function" line of the report.
    expect(entries).toHaveLength(text.match(/Compiling entry function/g)!.length);
    expect(entries.map((e) => e.kernel).sort()).toEqual(
      ['attentionKernel', 'kvStatsFinalizeKernel', 'kvStatsKernel', 'quantizeInt8Kernel<Key>', 'quantizeInt8Kernel<Query>', 'quantizeVKernel'].sort(),
    );
    for (const e of entries) {
      expect(e.arch).toBe('sm_89');
      expect(e.mangled).toContain(e.kernel.replace(/<.*>/, ''));
      expect(e.spillStoreBytes + e.spillLoadBytes + e.stackFrameBytes).toBe(0);
    }
    // Values as they appear in the report text for each function.
    const byKernel = Object.fromEntries(entries.map((e) => [e.kernel, e]));
    expect(byKernel.attentionKernel).toMatchObject({ registers: 128, sharedBytes: 0 });
    expect(byKernel.kvStatsKernel).toMatchObject({ registers: 48, sharedBytes: 8192 });
    expect(byKernel.quantizeVKernel).toMatchObject({ registers: 40, sharedBytes: 4096 });
    expect(byKernel.kvStatsFinalizeKernel).toMatchObject({ registers: 38, sharedBytes: 0 });
  });

  it('tells the Query and Key instances of quantizeInt8Kernel apart by the Operand template argument', () => {
    const entries = parsePtxas(fixture('ptxas-sm89-d64-w16x8.txt'));
    // Operand::Query = 0, Operand::Key = 1 (enum order in the template); kRows = ctaQ / ctaK.
    const query = entries.find((e) => e.kernel === 'quantizeInt8Kernel<Query>')!;
    const key = entries.find((e) => e.kernel === 'quantizeInt8Kernel<Key>')!;
    expect(query.mangled).toContain('OperandE0E');
    expect(key.mangled).toContain('OperandE1E');
    expect(query.registers).toBe(38);
    expect(key.registers).toBe(40);
  });

  it('reads spill stores, spill loads and the stack frame of a spilling kernel', () => {
    const entries = parsePtxas(fixture('ptxas-sm89-d128-w32x4-spills.txt'));
    const attn = entries.find((e) => e.kernel === 'attentionKernel')!;
    expect(attn).toMatchObject({ registers: 255, stackFrameBytes: 8, spillStoreBytes: 16, spillLoadBytes: 16, sharedBytes: 0 });
    expect(entries.filter((e) => e.spillStoreBytes > 0).map((e) => e.kernel)).toEqual(['attentionKernel']);
  });

  it('returns nothing for text without entry functions', () => {
    expect(parsePtxas('ptxas info    : 0 bytes gmem\n')).toEqual([]);
    expect(parsePtxas('')).toEqual([]);
  });
});

describe('checkInstructionSupport', () => {
  const fake = (version: [number, number]): Nvcc => ({ path: '/opt/fake-cuda/bin/nvcc', version, build: `V${version.join('.')}.0`, foundVia: 'PATH' });
  const f16 = planKernel(parseSpec(defaultSpecInput({ arch: 'sm_89', headDim: 128 })));
  const f32 = planKernel(attention({ arch: 'sm_89', headDim: 128 }).pvFp8({ accumulator: 'f32' }).build());

  it('CUDA 12.4 refuses the f16-accumulate FP8 mma, naming the instruction, 12.8 and the nvcc path', () => {
    expect(f16.spec.pv).toMatchObject({ accumulator: 'f16' });
    let err: unknown;
    try {
      checkInstructionSupport(fake([12, 4]), [f16]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ToolchainError);
    const msg = (err as Error).message;
    expect(msg).toContain('mma.sync.aligned.m16n8k32.row.col.f16.e4m3.e4m3.f16');
    expect(msg).toContain('12.8');
    expect(msg).toContain('/opt/fake-cuda/bin/nvcc');
    expect(msg).toContain('12.4');
    expect(msg).toContain(f16.name);
  });

  it('CUDA 12.4 accepts the f32-accumulate FP8 mma', () => {
    expect(() => checkInstructionSupport(fake([12, 4]), [f32])).not.toThrow();
  });

  it('CUDA 12.3 refuses even the f32-accumulate FP8 mma (needs 12.4)', () => {
    expect(() => checkInstructionSupport(fake([12, 3]), [f32])).toThrow(/mma\.sync\.aligned\.m16n8k32\.row\.col\.f32\.e4m3\.e4m3\.f32 needs CUDA 12\.4/);
  });

  it('CUDA 13.0 and 12.8 accept both', () => {
    expect(() => checkInstructionSupport(fake([13, 0]), [f16, f32])).not.toThrow();
    expect(() => checkInstructionSupport(fake([12, 8]), [f16, f32])).not.toThrow();
  });

  it('a refusal lists only the plans that need a newer CUDA', () => {
    expect(() => checkInstructionSupport(fake([12, 4]), [f32, f16])).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining(`${f32.name}:`) }),
    );
  });
});

describe('gencodeFlags', () => {
  it('embeds SASS and forward-compatible PTX for sm_89', () => {
    const plan = planKernel(parseSpec(defaultSpecInput({ arch: 'sm_89', headDim: 128 })));
    expect(gencodeFlags(plan)).toEqual(['-gencode=arch=compute_89,code=[sm_89,compute_89]']);
  });

  it('embeds only SASS for the arch-specific sm_90a (its PTX cannot run elsewhere)', () => {
    const plan = planKernel(parseSpec(defaultSpecInput({ arch: 'sm_90a', headDim: 128 })));
    expect(gencodeFlags(plan)).toEqual(['-gencode=arch=compute_90a,code=sm_90a']);
  });
});

describe('finding nvcc', () => {
  it('searches SAGEGEN_NVCC, then PATH in order, then CUDA_HOME, then /usr/local/cuda', () => {
    const env = { SAGEGEN_NVCC: '/custom/nvcc', PATH: ['/p1', '/p2/bin'].join(path.delimiter), CUDA_HOME: '/cuda-home' };
    expect(nvccCandidates(env)).toEqual([
      { path: '/custom/nvcc', via: 'SAGEGEN_NVCC' },
      { path: '/p1/nvcc', via: 'PATH' },
      { path: '/p2/bin/nvcc', via: 'PATH' },
      { path: '/cuda-home/bin/nvcc', via: 'CUDA_HOME' },
      { path: '/usr/local/cuda/bin/nvcc', via: '/usr/local/cuda' },
    ]);
  });

  it('skips what is unset', () => {
    expect(nvccCandidates({})).toEqual([{ path: '/usr/local/cuda/bin/nvcc', via: '/usr/local/cuda' }]);
  });

  it('uses SAGEGEN_NVCC first and reads its version', async () => {
    const file = fakeNvcc('sagegen-nvcc', NVCC_12_4);
    const other = fakeNvcc('on-path', NVCC_13_0);
    const nvcc = await findNvcc({ SAGEGEN_NVCC: file, PATH: path.dirname(other) });
    expect(nvcc).toEqual({ path: file, version: [12, 4], build: 'V12.4.131', foundVia: 'SAGEGEN_NVCC' });
  });

  it('takes the first PATH entry that holds an executable nvcc', async () => {
    const file = fakeNvcc('second-on-path', NVCC_13_0);
    const nvcc = await findNvcc({ PATH: [path.join(tmp, 'does-not-exist'), path.dirname(file)].join(path.delimiter) });
    expect(nvcc).toMatchObject({ path: file, version: [13, 0], foundVia: 'PATH' });
  });

  it('falls back to CUDA_HOME/bin/nvcc', async () => {
    const file = fakeNvcc(path.join('cuda-home', 'bin'), NVCC_12_4);
    const nvcc = await findNvcc({ PATH: path.join(tmp, 'nowhere'), CUDA_HOME: path.join(tmp, 'cuda-home') });
    expect(nvcc).toMatchObject({ path: file, version: [12, 4], foundVia: 'CUDA_HOME' });
  });

  it('refuses an nvcc whose --version it cannot read', async () => {
    const file = fakeNvcc('garbage', 'this is not nvcc');
    await expect(findNvcc({ SAGEGEN_NVCC: file })).rejects.toThrow(/cannot read the CUDA version/);
  });

  it('with no nvcc at any candidate: rejects naming where it looked and what to install', async () => {
    const env = { PATH: path.join(tmp, 'nowhere'), CUDA_HOME: path.join(tmp, 'no-cuda-home') };
    // The real search ends at /usr/local/cuda/bin/nvcc, which may exist here: search the same
    // candidates with that last one moved to a place that holds nothing.
    const candidates = nvccCandidates(env).map((c) => (c.via === '/usr/local/cuda' ? { ...c, path: path.join(tmp, 'no-usr-local-cuda', 'bin', 'nvcc') } : c));
    expect(candidates.map((c) => c.via)).toEqual(['PATH', 'CUDA_HOME', '/usr/local/cuda']);
    const err = await findNvcc(env, candidates).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolchainError);
    expect((err as Error).message).toMatch(/^nvcc not found \(looked in SAGEGEN_NVCC, PATH, CUDA_HOME\/bin, \/usr\/local\/cuda\/bin\)/);
    expect((err as Error).message).toContain('12.8 or newer');
  });

  it('on this machine, /usr/local/cuda/bin/nvcc is found last when it exists', async () => {
    const env = { PATH: path.join(tmp, 'nowhere'), CUDA_HOME: path.join(tmp, 'no-cuda-home') };
    const found = findNvcc(env);
    if (existsSync('/usr/local/cuda/bin/nvcc')) await expect(found).resolves.toMatchObject({ path: '/usr/local/cuda/bin/nvcc', foundVia: '/usr/local/cuda' });
    else await expect(found).rejects.toThrow(/nvcc not found/);
  });
});
