/**
 * The source fingerprint of a library: sha256 of every text nvcc compiles into it, split the way a
 * change matters to the results measured on it.
 *
 * - `kernels`: each variant's generated .cu (the kernels, their quantization kernels and launcher);
 * - `flags`: the nvcc flags each variant compiles with, less the include directories (a location),
 *   and those of the host code and of the shared library's link;
 * - `headers`: the runtime headers those sources include;
 * - `host`: the C ABI runtime and the generated variant registry (dispatch table).
 *
 * Not in it: the nvcc version (the manifest records it beside; contentHash covers it).
 *
 * The build writes it into manifest.json; the GPU checks and the benchmark copy it from the manifest of
 * the library they measured into their record, and test/records.test.ts compares it with what the
 * build would generate now, so a record of kernels that have since changed cannot stand as the record.
 * It is computed from sources alone, without nvcc, so CI can recompute it.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { AttentionSpec } from '../dsl/spec.js';
import { planKernel, type KernelPlan } from '../plan/plan.js';
import { renderRegistry, renderVariant, type DispatchRange } from '../render/render.js';
import { HOST_FLAGS, SHARED_LINK_FLAGS, variantFlags } from '../toolchain/nvcc.js';
import { readHeaders } from './cache.js';
import { runtimeIncludeDir, runtimeSourceDir } from './paths.js';

export interface SourceFingerprint {
  /** Variant name → sha256 of its generated .cu. */
  kernels: Record<string, string>;
  /** sha256 over each variant's nvcc flags without the include directories, by name, and the host and link flags. */
  flags: string;
  /** sha256 over the runtime headers (runtime/include), by name. */
  headers: string;
  /** sha256 over the runtime source and the generated registry. */
  host: string;
}

export const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** The runtime's own sources, read once per build: what every library compiles besides its variants. */
export interface RuntimeSources {
  /** Every file under the include dirs (build/cache.ts readHeaders). */
  headers: Record<string, Buffer>;
  /** runtime/src/sagegen.cpp. */
  runtime: string;
}

export async function readRuntimeSources(): Promise<RuntimeSources> {
  return {
    headers: await readHeaders([runtimeIncludeDir()]),
    runtime: await readFile(path.join(runtimeSourceDir(), 'sagegen.cpp'), 'utf8'),
  };
}

/** The fingerprint of sources already generated (the build passes the texts it compiles). */
export function sourceFingerprint(input: { kernels: { plan: KernelPlan; sourceSha256: string }[]; registry: string; runtime: RuntimeSources }): SourceFingerprint {
  const byName = [...input.kernels].sort((a, b) => (a.plan.name < b.plan.name ? -1 : a.plan.name > b.plan.name ? 1 : 0));
  const kernels = Object.fromEntries(byName.map((k) => [k.plan.name, k.sourceSha256] as const));
  const flags = sha256(JSON.stringify({ variants: byName.map((k) => [k.plan.name, variantFlags(k.plan, [])]), host: HOST_FLAGS, link: SHARED_LINK_FLAGS }));
  const headers = sha256(JSON.stringify(Object.keys(input.runtime.headers).sort().map((name) => [name, sha256(input.runtime.headers[name]!)])));
  const host = sha256(JSON.stringify({ runtime: sha256(input.runtime.runtime), registry: sha256(input.registry) }));
  return { kernels, flags, headers, host };
}

/** The sha256 of the .cu `sagegen build` generates for a plan now (a manifest's `sourceSha256`). */
export const variantSourceSha256 = (plan: KernelPlan) => sha256(renderVariant(plan));

/** What `sagegen build` would compile for these specs now, fingerprinted without compiling. */
export async function fingerprintOf(specs: AttentionSpec[], dispatch?: DispatchRange[]): Promise<SourceFingerprint> {
  const plans = specs.map(planKernel);
  return sourceFingerprint({
    kernels: plans.map((plan) => ({ plan, sourceSha256: variantSourceSha256(plan) })),
    registry: renderRegistry(
      plans.map((p) => p.name),
      dispatch,
    ),
    runtime: await readRuntimeSources(),
  });
}
