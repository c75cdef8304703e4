/**
 * Toolchain faults, with fake nvcc scripts (test/helpers/fake-nvcc.ts; no CUDA needed): nvcc missing
 * or broken, too old for an instruction, failing on a source, killed mid-compile. Each must give a
 * clear ToolchainError, leave no output or staging directory, and leave the compile cache consistent:
 * whole entries only, none for the failed compile, which the next build compiles again.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { build, planAll } from '../build/build.js';
import { cacheGet } from '../build/cache.js';
import { defaultSpecInput } from '../dsl/builder.js';
import { parseSpec } from '../dsl/spec.js';
import { findNvcc, ToolchainError } from '../toolchain/nvcc.js';
import { invocations, variantCompiles, writeFakeNvcc, type FakeNvccOptions } from './helpers/fake-nvcc.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sagegen-toolchain-faults-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = (what: string) => path.join(tmp, `${what}-${n++}`);

const specs = [false, true].map((causal) => parseSpec(defaultSpecInput({ arch: 'sm_89', headDim: 64, causal, dtype: 'fp16' })));
const [fullName, causalName] = planAll(specs).map((p) => p.name) as [string, string];

async function fakeNvcc(options: FakeNvccOptions) {
  const fake = writeFakeNvcc(fresh('fake'), options);
  const nvcc = await findNvcc({ ...process.env, SAGEGEN_NVCC: fake.file });
  return { fake, nvcc };
}

/** Runs build() expecting it to fail; returns the error and the directory the output was to go in. */
async function failedBuild(options: FakeNvccOptions, cacheDir: string | false = false) {
  const { fake, nvcc } = await fakeNvcc(options);
  const work = fresh('work');
  mkdirSync(work);
  const error = await build({ specs, outDir: path.join(work, 'out'), jobs: 2, nvcc, cacheDir }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the build succeeded').toBeInstanceOf(ToolchainError);
  return { error: error as ToolchainError, work, fake };
}

/** Every entry of a cache dir, as `<shard>/<name>`: finished entries and anything else left there. */
const cacheListing = (dir: string) => readdirSync(dir).flatMap((s) => readdirSync(path.join(dir, s)).map((k) => `${s}/${k}`)).sort();

describe('finding nvcc', () => {
  it('SAGEGEN_NVCC naming a missing file is refused, naming the variable and the path (no silent fallback)', async () => {
    const missing = path.join(tmp, 'no-such-dir', 'nvcc');
    const err = await findNvcc({ ...process.env, SAGEGEN_NVCC: missing }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolchainError);
    expect((err as Error).message).toBe(`SAGEGEN_NVCC = "${missing}": no such file; point it at nvcc, or unset it to search PATH, CUDA_HOME and /usr/local/cuda`);
  });

  it('SAGEGEN_NVCC naming a directory or a non-executable file is refused', async () => {
    const dir = fresh('a-directory');
    mkdirSync(dir);
    const file = path.join(fresh('plain'), 'nvcc');
    mkdirSync(path.dirname(file));
    writeFileSync(file, '#!/bin/sh\nexit 0\n');
    chmodSync(file, 0o644);
    for (const bad of [dir, file]) {
      await expect(findNvcc({ ...process.env, SAGEGEN_NVCC: bad })).rejects.toThrow(new RegExp(`SAGEGEN_NVCC = "${bad}": not an executable file`));
    }
  });

  it('an nvcc whose --version fails is refused with its exit status and its message', async () => {
    const fake = writeFakeNvcc(fresh('broken'), { brokenVersion: true });
    const err = (await findNvcc({ ...process.env, SAGEGEN_NVCC: fake.file }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(ToolchainError);
    expect(err.message).toContain(`${fake.file} --version failed (exit 3)`);
    expect(err.message).toContain('libnvvm.so missing');
  });

  it('build() with SAGEGEN_NVCC missing fails before creating anything', async () => {
    const work = fresh('work');
    mkdirSync(work);
    const missing = path.join(tmp, 'missing-nvcc');
    const saved = process.env.SAGEGEN_NVCC;
    process.env.SAGEGEN_NVCC = missing;
    try {
      await expect(build({ specs, outDir: path.join(work, 'out'), cacheDir: false })).rejects.toThrow(/SAGEGEN_NVCC = .*: no such file/);
    } finally {
      if (saved === undefined) delete process.env.SAGEGEN_NVCC;
      else process.env.SAGEGEN_NVCC = saved;
    }
    expect(readdirSync(work)).toEqual([]);
  });
});

describe('build() with a faulty nvcc', () => {
  it('nvcc 12.4 for the FP8 f16-accumulate default: refused before any compile, naming 12.8; nothing written', async () => {
    const { error, work, fake } = await failedBuild({ release: '12.4' });
    expect(error.message).toContain('mma.sync.aligned.m16n8k32.row.col.f16.e4m3.e4m3.f16 needs CUDA 12.8 or newer');
    expect(error.message).toContain(`found nvcc 12.4 at ${fake.file}`);
    expect(invocations(fake), 'nvcc ran for more than --version').toEqual([]);
    expect(readdirSync(work)).toEqual([]);
  });

  it('nvcc failing on a source: its messages, trimmed to 40 lines, with the source path; nothing written', async () => {
    const { error, work } = await failedBuild({ failOn: `${causalName}.cu`, errorLines: 120 });
    const lines = error.message.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^nvcc failed \\(exit 2\\) compiling \\S+/src/${causalName}\\.cu:$`));
    expect(lines[1]).toMatch(new RegExp(`/src/${causalName}\\.cu\\(101\\): error: fake error number 1$`));
    expect(lines).toHaveLength(1 + 40 + 1);
    expect(lines.at(-1)).toBe('… (80 more lines)');
    expect(readdirSync(work)).toEqual([]);
  });

  it('a killed compile: "was killed (SIGKILL)", no entry for it, the other entry whole, nothing left over; the next build recompiles it', async () => {
    const cacheDir = fresh('cache');
    const { error, work } = await failedBuild({ killOn: `${causalName}.cu`, delayMs: 200 }, cacheDir);
    expect(error.message).toMatch(new RegExp(`^nvcc was killed \\(SIGKILL\\) compiling \\S+/src/${causalName}\\.cu:`));
    expect(readdirSync(work)).toEqual([]);
    // The variant that compiled is stored whole (build() waits for every compile to settle before it
    // fails); the killed one not; no temporary entries.
    const left = cacheListing(cacheDir);
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(/^[0-9a-f]{2}\/[0-9a-f]{64}$/);
    expect(await cacheGet(cacheDir, left[0]!.split('/')[1]!, ['object.o', 'kernel.cubin', 'ptxas.log'])).toBeDefined();

    const { fake, nvcc } = await fakeNvcc({});
    const manifest = await build({ specs, outDir: path.join(work, 'out'), jobs: 2, nvcc, cacheDir });
    const byName = Object.fromEntries(manifest.variants.map((v) => [v.name, v]));
    expect(byName[causalName]!.cache).toBe('miss');
    expect(variantCompiles(fake)).toContain(causalName);
    expect(byName[fullName]!.cache).toBe('hit');
    expect(byName[fullName]!.cacheKey).toBe(left[0]!.split('/')[1]);
    for (const v of manifest.variants) expect(await cacheGet(cacheDir, v.cacheKey, ['object.o', 'kernel.cubin', 'ptxas.log']), v.name).toBeDefined();
    expect(cacheListing(cacheDir)).toHaveLength(2);
    expect(readdirSync(work)).toEqual(['out']);
  });
});
