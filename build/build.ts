/**
 * The build pipeline: specs → plans → rendered sources → compiled artefacts → package directory.
 *
 * Everything is written into a temporary sibling directory first and renamed into place at the end
 * under a lock (build/output.ts), so a failed or interrupted build never leaves a half-written output
 * directory behind, and concurrent builds into one directory replace it whole, one after the other.
 *
 * Variant compiles go through the content-addressed compile cache (build/cache.ts): a variant whose
 * key (source, nvcc version and build, flags, runtime headers, arch) is cached is not compiled again.
 * The host-side runtime and registry compiles and the link always run (about a second each).
 */
import { mkdir, rm, writeFile, copyFile, readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import type { AttentionSpec } from '../dsl/spec.js';
import { planKernel, type KernelPlan } from '../plan/plan.js';
import { renderRegistry, renderVariant, type DispatchRange } from '../render/render.js';
import {
  checkInstructionSupport,
  compileHost,
  compileVariant,
  findNvcc,
  linkLibraries,
  parsePtxas,
  variantFlags,
  type Nvcc,
  type PtxasEntry,
} from '../toolchain/nvcc.js';
import { fatbinTargets, sortArchs } from '../toolchain/fatbin.js';
import { cacheGet, cacheKey, cachePut, resolveCacheDir, type EntryFiles } from './cache.js';
import { readRuntimeSources, sha256, sourceFingerprint, type SourceFingerprint } from './fingerprint.js';
import { checkOutputDir, createStagingDir, discardStagingDir, publishOutput } from './output.js';
import { packageVersion, runtimeIncludeDir, runtimeSourceDir } from './paths.js';

export interface BuildOptions {
  specs: AttentionSpec[];
  outDir: string;
  /** kv_len buckets per variant (a tuned build); default: every variant serves every length. */
  dispatch?: DispatchRange[];
  /** Parallel nvcc processes; defaults to the CPU count. */
  jobs?: number;
  log?: (line: string) => void;
  nvcc?: Nvcc;
  /** The compile cache (build/cache.ts): a directory, or false for none. Default: SAGEGEN_CACHE_DIR, else generated/.cache. */
  cacheDir?: string | false;
}

export interface VariantManifest {
  name: string;
  spec: AttentionSpec;
  plan: KernelPlan;
  source: string;
  sourceSha256: string;
  ptx: string | null;
  ptxEmbedded: boolean;
  /** What the variant's fat binary holds, read from its object: SASS (`sm_89`, `sm_90a`) and PTX (`compute_89`). */
  fatbin: { sass: string[]; ptx: string[] };
  cubin: string;
  ptxas: PtxasEntry[];
  flags: string[];
  /** 'hit': taken from the compile cache; 'miss': compiled (and stored); 'off': compiled, no cache. */
  cache: 'hit' | 'miss' | 'off';
  /** The compile cache key (build/cache.ts cacheKey), recorded with the cache on or off. */
  cacheKey: string;
}

export interface BuildManifest {
  sagegenVersion: string;
  createdAt: string;
  nvcc: { path: string; version: string; build: string };
  abiVersion: number;
  libraries: { shared: string; archive: string; header: string };
  /** The targets of every variant's fat binary together: SASS archs, and PTX for GPUs newer than them. */
  archs: { sass: string[]; ptx: string[] };
  variants: VariantManifest[];
  /** Hash of every input that changes the binaries: sources, runtime, flags, nvcc build. */
  contentHash: string;
  /** The kv_len dispatch table, when the build is tuned (sagegen build --config). */
  dispatch: DispatchRange[] | null;
  /** sha256 of the sources compiled (build/fingerprint.ts); records of GPU runs carry it. */
  fingerprint: SourceFingerprint;
}

/** Marks compiles that never started because another one had already failed. */
const SKIPPED = new Error('skipped after an earlier failure');

/** The files of a variant's cache entry; `kernel.ptx` is optional, `ptxas.json` is for tools reading the cache. */
const ENTRY = { object: 'object.o', cubin: 'kernel.cubin', ptx: 'kernel.ptx', ptxasLog: 'ptxas.log', ptxasJson: 'ptxas.json' } as const;
const REQUIRED = [ENTRY.object, ENTRY.cubin, ENTRY.ptxasLog];

export function planAll(specs: AttentionSpec[]): KernelPlan[] {
  const plans = specs.map(planKernel);
  const seen = new Set<string>();
  for (const p of plans) {
    if (seen.has(p.name)) throw new Error(`two specs produce the same variant ${p.name}: give one a distinct "name"`);
    seen.add(p.name);
  }
  return plans;
}

/** The file nvcc kept for a variant: PTX is `<base>.ptx`, the cubin `<base>.<arch>.cubin` or `<base>.cubin`. */
async function findKept(dir: string, base: string, ext: string): Promise<string | undefined> {
  const files = (await readdir(dir)).filter((f) => f.startsWith(base) && f.endsWith(ext));
  return files.length ? path.join(dir, files.sort((a, b) => a.length - b.length)[0]!) : undefined;
}

export async function build(options: BuildOptions): Promise<BuildManifest> {
  const log = options.log ?? (() => {});
  const plans = planAll(options.specs);
  const cacheDir = resolveCacheDir(options.cacheDir);

  // A bad output path fails before anything runs (build/output.ts).
  const outDir = path.resolve(options.outDir);
  await checkOutputDir(outDir);
  const tmp = await createStagingDir(outDir);
  const dirs = {
    src: path.join(tmp, 'src'),
    obj: path.join(tmp, 'obj'),
    ptx: path.join(tmp, 'ptx'),
    cubin: path.join(tmp, 'cubin'),
    lib: path.join(tmp, 'lib'),
    include: path.join(tmp, 'include'),
    keep: path.join(tmp, 'keep'),
  };
  try {
    const nvcc = options.nvcc ?? (await findNvcc());
    checkInstructionSupport(nvcc, plans);
    for (const d of Object.values(dirs)) await mkdir(d, { recursive: true });
    const includeDirs = [runtimeIncludeDir()];
    // Read once: the cache keys, the compiles' fingerprint and the manifest all see the same texts.
    const runtimeSources = await readRuntimeSources();
    const headers = runtimeSources.headers;
    const limit = pLimit(Math.max(1, options.jobs ?? os.availableParallelism()));

    // Every compile settles before the build fails or cleans up: no nvcc keeps writing into a
    // directory being removed, and none starts after the first failure.
    let failed = false;
    const settled = await Promise.allSettled(
      plans.map((plan) =>
        limit(async (): Promise<VariantManifest> => {
          if (failed) throw SKIPPED;
          try {
            return await compileOne(plan);
          } catch (e) {
            failed = true;
            throw e;
          }
        }),
      ),
    );
    const firstFailure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected' && r.reason !== SKIPPED);
    if (firstFailure) throw firstFailure.reason;
    const variants = settled.map((r) => (r as PromiseFulfilledResult<VariantManifest>).value);

    async function compileOne(plan: KernelPlan): Promise<VariantManifest> {
      const source = path.join(dirs.src, `${plan.name}.cu`);
      const text = renderVariant(plan);
      await writeFile(source, text);
      const flags = variantFlags(plan, includeDirs);
      const key = cacheKey({ source: text, nvcc, flags, headers, arch: plan.arch.name, env: process.env });
      let files = cacheDir ? await cacheGet(cacheDir, key, REQUIRED, log) : undefined;
      const cache = !cacheDir ? 'off' : files ? 'hit' : 'miss';
      if (files) {
        log(`cached ${plan.name}`);
      } else {
        files = await compileFresh(plan, source);
        if (cacheDir) files = await store(cacheDir, key, plan, files);
      }
      const ptx = files[ENTRY.ptx] ? path.join(dirs.ptx, `${plan.name}.ptx`) : undefined;
      const cubin = path.join(dirs.cubin, `${plan.name}.cubin`);
      await writeFile(path.join(dirs.obj, `${plan.name}.o`), files[ENTRY.object]!);
      await writeFile(cubin, files[ENTRY.cubin]!);
      if (ptx) await writeFile(ptx, files[ENTRY.ptx]!);
      return {
        name: plan.name,
        spec: plan.spec,
        plan,
        source: path.relative(tmp, source),
        sourceSha256: sha256(text),
        ptx: ptx ? path.relative(tmp, ptx) : null,
        // Arch-specific targets (sm_90a) embed only SASS; their PTX is kept for inspection.
        ptxEmbedded: !plan.arch.archSpecific,
        fatbin: fatbinTargets(files[ENTRY.object]!),
        cubin: path.relative(tmp, cubin),
        // Parsed from the kept nvcc output, also on a hit, so that a parser fix reaches cached entries.
        ptxas: parsePtxas(files[ENTRY.ptxasLog]!.toString('utf8')),
        flags,
        cache,
        cacheKey: key,
      };
    }

    /** Runs nvcc for a variant; returns the files of its cache entry. */
    async function compileFresh(plan: KernelPlan, source: string): Promise<EntryFiles> {
      log(`nvcc ${plan.name} (${plan.arch.name})`);
      const keep = path.join(dirs.keep, plan.name);
      await mkdir(keep, { recursive: true });
      const compiled = await compileVariant(nvcc, source, plan, { obj: dirs.obj, keep }, includeDirs);
      const keptPtx = await findKept(keep, plan.name, '.ptx');
      const keptCubin = await findKept(keep, plan.name, '.cubin');
      if (!keptCubin) throw new Error(`nvcc kept no cubin for ${plan.name} in ${keep}`);
      return {
        [ENTRY.object]: await readFile(compiled.object),
        [ENTRY.cubin]: await readFile(keptCubin),
        ...(keptPtx ? { [ENTRY.ptx]: await readFile(keptPtx) } : {}),
        [ENTRY.ptxasLog]: Buffer.from(compiled.stderr),
        [ENTRY.ptxasJson]: Buffer.from(JSON.stringify(compiled.ptxas, null, 2) + '\n'),
      };
    }

    /**
     * Stores a fresh compile. When another build stored the key first, its files are used instead, so
     * that builds sharing a cache agree byte for byte (nvcc embeds the source's path in the object).
     * The cache is an optimisation: failing to store is logged, not fatal.
     */
    async function store(dir: string, key: string, plan: KernelPlan, files: EntryFiles): Promise<EntryFiles> {
      try {
        const meta = { variant: plan.name, arch: plan.arch.name, nvcc: nvcc.build, createdAt: new Date().toISOString() };
        if (await cachePut(dir, key, files, meta)) return files;
        return (await cacheGet(dir, key, REQUIRED, log)) ?? files;
      } catch (e) {
        log(`cache: could not store ${plan.name}: ${e instanceof Error ? e.message : String(e)}`);
        return files;
      }
    }

    // The runtime and the registry.
    const registry = path.join(dirs.src, 'variants.cpp');
    const names = plans.map((p) => p.name);
    for (const d of options.dispatch ?? []) {
      if (!names.includes(d.name)) throw new Error(`dispatch names variant ${d.name}, which is not among the specs built`);
    }
    const registryText = renderRegistry(names, options.dispatch);
    await writeFile(registry, registryText);
    const runtimeSrc = path.join(runtimeSourceDir(), 'sagegen.cpp');
    const defines = [`SAGEGEN_VERSION_STRING="${packageVersion()}"`];
    log('nvcc runtime');
    await compileHost(nvcc, registry, path.join(dirs.obj, 'variants.o'), includeDirs, defines);
    await compileHost(nvcc, runtimeSrc, path.join(dirs.obj, 'sagegen_runtime.o'), includeDirs, defines);
    const objects = [...plans.map((p) => path.join(dirs.obj, `${p.name}.o`)), path.join(dirs.obj, 'variants.o'), path.join(dirs.obj, 'sagegen_runtime.o')];
    log('link libsagegen.so, libsagegen.a');
    await linkLibraries(nvcc, objects, dirs.lib);
    await copyFile(path.join(runtimeIncludeDir(), 'sagegen.h'), path.join(dirs.include, 'sagegen.h'));
    await rm(dirs.keep, { recursive: true, force: true });

    const runtimeText = runtimeSources.runtime;
    const headerText = runtimeSources.headers['0/sagegen.h']!.toString('utf8');
    const abiVersion = Number(/#define SAGEGEN_ABI_VERSION (\d+)/.exec(headerText)?.[1] ?? 0);
    const manifest: BuildManifest = {
      dispatch: options.dispatch ?? null,
      sagegenVersion: packageVersion(),
      createdAt: new Date().toISOString(),
      nvcc: { path: nvcc.path, version: `${nvcc.version[0]}.${nvcc.version[1]}`, build: nvcc.build },
      abiVersion,
      libraries: { shared: 'lib/libsagegen.so', archive: 'lib/libsagegen.a', header: 'include/sagegen.h' },
      archs: {
        sass: sortArchs(variants.flatMap((v) => v.fatbin.sass)),
        ptx: sortArchs(variants.flatMap((v) => v.fatbin.ptx)),
      },
      variants,
      contentHash: sha256(
        JSON.stringify({
          sources: variants.map((v) => [v.name, v.sourceSha256, v.flags]),
          runtime: sha256(runtimeText),
          header: sha256(headerText),
          nvcc: nvcc.build,
        }),
      ),
      fingerprint: sourceFingerprint({ kernels: variants, registry: registryText, runtime: runtimeSources }),
    };
    await writeFile(path.join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');

    await publishOutput(tmp, outDir);
    return manifest;
  } catch (e) {
    // Never let a cleanup problem hide the error that made the build fail.
    await discardStagingDir(tmp).catch(() => {});
    throw e;
  }
}
