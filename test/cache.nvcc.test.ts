/**
 * The compile cache inside build(), with the real nvcc (skipped without nvcc, fatal under CI=true).
 *
 * nvcc is reached through a wrapper script (found via SAGEGEN_NVCC, as a user would point sagegen at
 * it) that logs every invocation's arguments, so a test can prove that a cached variant is not
 * compiled: no `-c …/<variant>.cu` invocation.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { build, planAll, type BuildManifest } from '../build/build.js';
import { cacheGet, entryDir } from '../build/cache.js';
import { defaultSpecInput } from '../dsl/builder.js';
import { parseSpec } from '../dsl/spec.js';
import { findNvcc, type Nvcc } from '../toolchain/nvcc.js';
import { describeNvcc, requireNvcc } from './helpers/nvcc.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const spec = (causal: boolean) => parseSpec(defaultSpecInput({ arch: 'sm_89', headDim: 64, causal, dtype: 'fp16' }));

/**
 * A wrapper around the real nvcc logging each invocation's arguments, one line each. With `build`, it
 * answers --version as that build of CUDA 13.0 instead (and compiles with the real nvcc all the same).
 */
async function wrapNvcc(dir: string, build?: string): Promise<{ nvcc: Nvcc; log: string }> {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'nvcc');
  const log = path.join(dir, 'invocations.log');
  const version = build
    ? ['if [ "$1" = "--version" ]; then', `  echo "Cuda compilation tools, release 13.0, ${build}"`, '  exit 0', 'fi']
    : [];
  writeFileSync(file, ['#!/bin/sh', ...version, `echo "$*" >> '${log}'`, `exec '${requireNvcc().path}' "$@"`, ''].join('\n'));
  chmodSync(file, 0o755);
  writeFileSync(log, '');
  const nvcc = await findNvcc({ ...process.env, SAGEGEN_NVCC: file });
  expect(nvcc.path).toBe(file);
  return { nvcc, log };
}

/** The variants the logged invocations compiled: the `<name>` of each `-c …/<name>.cu`. */
const variantCompiles = (log: string) =>
  readFileSync(log, 'utf8')
    .split('\n')
    .flatMap((line) => [.../(?:^| )-c (\S+)\.cu(?: |$)/.exec(line)?.slice(1) ?? []].map((f) => path.basename(f)));

const read = (out: string, rel: string) => readFileSync(path.join(out, rel));

describeNvcc('build() with the compile cache: sm_89 D=64 fp16 non-causal', () => {
  const specs = [spec(false)];
  const name = planAll(specs)[0]!.name;
  let tmp: string;
  let cacheDir: string;
  let wrapped: { nvcc: Nvcc; log: string };
  let first: BuildManifest;
  let n = 0;
  const outDir = () => path.join(tmp, `out-${n++}`);

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'sagegen-cache-build-'));
    cacheDir = path.join(tmp, 'cache');
    wrapped = await wrapNvcc(path.join(tmp, 'wrapper'));
    first = await build({ specs, outDir: path.join(tmp, 'first'), jobs: 2, nvcc: wrapped.nvcc, cacheDir });
  });
  afterAll(() => {
    vi.unstubAllEnvs();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('a first build misses, compiles the variant and stores a whole entry', async () => {
    const [v] = first.variants;
    expect(v).toMatchObject({ name, cache: 'miss' });
    expect(v!.cacheKey).toMatch(/^[0-9a-f]{64}$/);
    expect(variantCompiles(wrapped.log)).toEqual([name]);
    const entry = entryDir(cacheDir, v!.cacheKey);
    expect(readdirSync(entry).sort()).toEqual(['entry.json', 'kernel.cubin', 'kernel.ptx', 'object.o', 'ptxas.json', 'ptxas.log']);
    const json = JSON.parse(readFileSync(path.join(entry, 'entry.json'), 'utf8'));
    expect(json).toMatchObject({ key: v!.cacheKey, variant: name, arch: 'sm_89', nvcc: wrapped.nvcc.build });
    expect(json.files['object.o']).toEqual({ sha256: sha256(read(path.join(tmp, 'first'), `obj/${name}.o`)), size: read(path.join(tmp, 'first'), `obj/${name}.o`).length });
    expect(JSON.parse(readFileSync(path.join(entry, 'ptxas.json'), 'utf8'))).toEqual(v!.ptxas);
    expect(v!.ptxas.find((e) => e.kernel === 'attentionKernel')?.registers).toBeGreaterThan(0);
    expect(await cacheGet(cacheDir, v!.cacheKey)).toBeDefined();
  });

  it('a second build (cache dir from SAGEGEN_CACHE_DIR) hits and runs no nvcc for the variant', async () => {
    writeFileSync(wrapped.log, '');
    vi.stubEnv('SAGEGEN_CACHE_DIR', cacheDir);
    const out = outDir();
    const second = await build({ specs, outDir: out, jobs: 2, nvcc: wrapped.nvcc });
    vi.unstubAllEnvs();
    const [v] = second.variants;
    expect(v).toMatchObject({ name, cache: 'hit', cacheKey: first.variants[0]!.cacheKey });
    expect(variantCompiles(wrapped.log), 'variants compiled on a hit').toEqual([]);
    // only the host side ran: the runtime and registry compiles and the link
    const invocations = readFileSync(wrapped.log, 'utf8').trim().split('\n');
    expect(invocations.some((l) => /-c \S+\/sagegen\.cpp /.test(l))).toBe(true);
    expect(invocations.some((l) => /-c \S+\/variants\.cpp /.test(l))).toBe(true);
    expect(invocations.some((l) => l.startsWith('-shared '))).toBe(true);
    const f = first.variants[0]!;
    for (const rel of [`obj/${name}.o`, v!.cubin, v!.ptx!]) expect(read(out, rel).equals(read(path.join(tmp, 'first'), rel)), rel).toBe(true);
    expect([v!.ptx, v!.cubin, v!.ptxas, v!.flags, v!.sourceSha256]).toEqual([f.ptx, f.cubin, f.ptxas, f.flags, f.sourceSha256]);
    expect(second.contentHash).toBe(first.contentHash);
    expect(existsSync(path.join(out, 'lib', 'libsagegen.so'))).toBe(true);
    expect(existsSync(path.join(out, 'keep'))).toBe(false);
  });

  // One corruption end to end; test/cache.test.ts covers every kind of corruption on the entry itself.
  const corruptions: [string, (entry: string) => void][] = [['object file truncated', (e) => truncateSync(path.join(e, 'object.o'), 100)]];
  for (const [what, corrupt] of corruptions) {
    it(`a corrupted entry (${what}) is rebuilt: a miss, a correct output, a whole entry again`, async () => {
      const key = first.variants[0]!.cacheKey;
      corrupt(entryDir(cacheDir, key));
      writeFileSync(wrapped.log, '');
      const lines: string[] = [];
      const out = outDir();
      const m = await build({ specs, outDir: out, jobs: 2, nvcc: wrapped.nvcc, cacheDir, log: (l) => lines.push(l) });
      const [v] = m.variants;
      expect(v).toMatchObject({ name, cache: 'miss', cacheKey: key });
      expect(lines.join('\n')).toMatch(/removing corrupt entry/);
      expect(variantCompiles(wrapped.log)).toEqual([name]);
      // the output is the fresh compile, and is what the new entry holds
      const entry = JSON.parse(readFileSync(path.join(entryDir(cacheDir, key), 'entry.json'), 'utf8'));
      for (const [rel, file] of [[`obj/${name}.o`, 'object.o'], [v!.cubin, 'kernel.cubin'], [v!.ptx!, 'kernel.ptx']] as const) {
        const data = read(out, rel);
        expect(entry.files[file], rel).toEqual({ sha256: sha256(data), size: data.length });
      }
      expect(read(out, `obj/${name}.o`).subarray(0, 4).toString('latin1')).toBe('\x7fELF');
      expect(read(out, v!.cubin).includes(Buffer.from(name))).toBe(true);
      expect(v!.ptxas).toEqual(first.variants[0]!.ptxas);
      expect(await cacheGet(cacheDir, key)).toBeDefined();
    });
  }

  it('an nvcc reporting another build string misses (and the first entry stays)', async () => {
    const other = await wrapNvcc(path.join(tmp, 'wrapper-other'), 'V13.0.99');
    expect(other.nvcc.build).toBe('V13.0.99');
    const m = await build({ specs, outDir: outDir(), jobs: 2, nvcc: other.nvcc, cacheDir });
    const [v] = m.variants;
    expect(v!.cache).toBe('miss');
    expect(v!.cacheKey).not.toBe(first.variants[0]!.cacheKey);
    expect(variantCompiles(other.log)).toEqual([name]);
    expect(await cacheGet(cacheDir, first.variants[0]!.cacheKey)).toBeDefined();
    expect(await cacheGet(cacheDir, v!.cacheKey)).toBeDefined();
  });

  it('cacheDir: false compiles, records "off" with the same key, and touches no cache', async () => {
    writeFileSync(wrapped.log, '');
    const shards = () => readdirSync(cacheDir).flatMap((s) => readdirSync(path.join(cacheDir, s)).map((k) => `${s}/${k}`)).sort();
    const before = shards();
    const m = await build({ specs, outDir: outDir(), jobs: 2, nvcc: wrapped.nvcc, cacheDir: false });
    expect(m.variants[0]).toMatchObject({ cache: 'off', cacheKey: first.variants[0]!.cacheKey });
    expect(variantCompiles(wrapped.log)).toEqual([name]);
    expect(shards()).toEqual(before);
  });
});

describeNvcc('two build() calls in parallel sharing one cache dir', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'sagegen-cache-parallel-'));
  });
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('both succeed with identical variant objects, and the cache holds one whole entry per variant', async () => {
    const specs = [spec(false), spec(true)];
    const cacheDir = path.join(tmp, 'cache');
    const outs = [path.join(tmp, 'a', 'out'), path.join(tmp, 'b', 'out')];
    const [a, b] = await Promise.all(outs.map((outDir) => build({ specs, outDir, jobs: 1, nvcc: requireNvcc(), cacheDir })));
    // Both look the first variant up before either has compiled it (a compile takes seconds), so both
    // compile it and race to store it: the loser keeps the winner's entry and uses its files.
    expect([a!.variants[0]!.cache, b!.variants[0]!.cache]).toEqual(['miss', 'miss']);
    for (const [i, va] of a!.variants.entries()) {
      const vb = b!.variants[i]!;
      expect(vb.cacheKey).toBe(va.cacheKey);
      expect(['miss', 'hit']).toContain(va.cache);
      for (const rel of [`obj/${va.name}.o`, va.cubin, va.ptx!]) expect(read(outs[1]!, rel).equals(read(outs[0]!, rel)), rel).toBe(true);
      expect(vb.ptxas).toEqual(va.ptxas);
      const key = va.cacheKey;
      expect(await cacheGet(cacheDir, key, ['object.o'])).toBeDefined();
      expect(sha256(read(outs[0]!, `obj/${va.name}.o`))).toBe(sha256((await cacheGet(cacheDir, key))!['object.o']!));
    }
    // one entry per variant; no temporary or discarded entries left
    const left = readdirSync(cacheDir).flatMap((s) => readdirSync(path.join(cacheDir, s)));
    expect(left.sort()).toEqual(a!.variants.map((v) => v.cacheKey).sort());
    for (const out of outs) expect(readdirSync(path.dirname(out))).toEqual(['out']);
  });
});
