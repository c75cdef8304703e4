/**
 * Concurrent `sagegen build` processes (real processes of the built CLI, a fake nvcc taking a fraction
 * of a second per compile) into one output directory and one cache directory. Each process builds a
 * different set of variants, several of them shared with another process, so they race both for the
 * output swap (locked, build/output.ts) and for cache entries (atomic renames, build/cache.ts). After
 * every round: all exit 0, the output is wholly ONE of the builds (manifest, sources, objects, cubins,
 * PTX and library agree), nothing is left beside it, and every cache entry is whole.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheGet } from '../build/cache.js';
import type { BuildManifest } from '../build/build.js';
import { CLI, ROOT, runCli } from './helpers/cli.js';
import { writeFakeNvcc } from './helpers/fake-nvcc.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sagegen-concurrency-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** What each process builds: overlapping sets, so that some variants are wanted by several at once. */
const BUILDS = [
  ['--dtype', 'fp16', '--causal', 'false'],
  ['--dtype', 'fp16', '--causal', 'both'],
  ['--dtype', 'fp16,bf16', '--causal', 'true'],
  ['--dtype', 'bf16', '--causal', 'both'],
];
const ROUNDS = 2;

const ls = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);

describe(`${BUILDS.length} concurrent builds into one output and one cache directory`, () => {
  const work = path.join(tmp, 'work');
  const cacheDir = path.join(tmp, 'cache');
  const fake = writeFakeNvcc(path.join(tmp, 'fake'), { delayMs: 150 });
  const env = { SAGEGEN_NVCC: fake.file, SAGEGEN_CACHE_DIR: cacheDir };
  const variantSets: string[][] = [];

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${path.relative(ROOT, CLI)} is missing: compile first with \`npx tsc -p .\``);
    mkdirSync(work);
    // The variant names each build makes, from `sagegen plan` (not from the build under test).
    for (const flags of BUILDS) {
      const r = await runCli(['plan', '--arch', 'sm_89', '--headdim', '64', ...flags], work, { env });
      expect(r.exitCode, r.stderr).toBe(0);
      variantSets.push((JSON.parse(r.stdout) as { name: string }[]).map((p) => p.name));
    }
    expect(new Set(variantSets.map((s) => s.join())).size, 'each build makes a different set').toBe(BUILDS.length);
  });

  for (let round = 1; round <= ROUNDS; round++) {
    it(`round ${round}: all succeed; the output is one whole build; nothing left beside it; every cache entry whole`, async () => {
      // All builds leave their last nvcc run together and race to publish (helpers/fake-nvcc.ts).
      const barrier = `${path.join(tmp, `barrier-${round}`)}:${BUILDS.length}`;
      const results = await Promise.all(
        BUILDS.map((flags) =>
          runCli(['build', '--arch', 'sm_89', '--headdim', '64', ...flags, '--out', 'out', '--jobs', '2', '--quiet'], work, {
            env: { ...env, FAKE_NVCC_BARRIER: barrier },
          }),
        ),
      );
      for (const [i, r] of results.entries()) expect(r.exitCode, `build ${i}: ${r.stderr}`).toBe(0);

      expect(ls(work), 'only the output directory: no .tmp-, .old- or .lock').toEqual(['out']);
      const out = path.join(work, 'out');
      const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as BuildManifest;
      const names = manifest.variants.map((v) => v.name);
      expect(variantSets.map((s) => s.join())).toContain(names.join());
      // Every file of the output belongs to that one build: nothing from another, nothing missing.
      expect(ls(path.join(out, 'src'))).toEqual([...names.map((n) => `${n}.cu`), 'variants.cpp'].sort());
      expect(ls(path.join(out, 'obj'))).toEqual([...names.map((n) => `${n}.o`), 'sagegen_runtime.o', 'variants.o'].sort());
      expect(ls(path.join(out, 'cubin'))).toEqual(names.map((n) => `${n}.cubin`).sort());
      expect(ls(path.join(out, 'ptx'))).toEqual(names.map((n) => `${n}.ptx`).sort());
      for (const v of manifest.variants) {
        expect(readFileSync(path.join(out, v.cubin), 'latin1')).toContain(`fake cubin of ${v.name}`);
        expect(readFileSync(path.join(out, 'obj', `${v.name}.o`), 'latin1')).toContain(`fake object of ${v.name}`);
      }
      // the fake linker lists the objects it linked: this build's
      const linked = readFileSync(path.join(out, 'lib', 'libsagegen.so'), 'utf8').trim().replace('fake library of ', '').split(' ');
      expect(linked.sort()).toEqual([...names.map((n) => `${n}.o`), 'variants.o', 'sagegen_runtime.o'].sort());
      expect(ls(path.join(out, 'include'))).toEqual(['sagegen.h']);

      // The cache: one whole entry per variant any build made, nothing else (no .tmp- or .bad- entries).
      const all = [...new Set(variantSets.flat())];
      const entries = ls(cacheDir).flatMap((shard) => ls(path.join(cacheDir, shard)).map((key) => ({ shard, key })));
      for (const { shard, key } of entries) {
        expect(key, `${shard}/${key}`).toMatch(/^[0-9a-f]{64}$/);
        expect(key.slice(0, 2)).toBe(shard);
        expect(await cacheGet(cacheDir, key, ['object.o', 'kernel.cubin', 'ptxas.log']), key).toBeDefined();
      }
      expect(entries).toHaveLength(all.length);
      const cached = entries.map(({ shard, key }) => JSON.parse(readFileSync(path.join(cacheDir, shard, key, 'entry.json'), 'utf8')).variant as string);
      expect(cached.sort()).toEqual(all.sort());
    });
  }
});
