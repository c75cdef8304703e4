/**
 * Builds a bundle's native measurement runner (autotune/runner/sagegen_measure.cu) into
 * BUNDLE/runner/sagegen-measure, statically linked against the bundle's own libsagegen.a.
 */
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { BuildManifest } from '../build/build.js';
import { projectRoot } from '../build/paths.js';
import { findNvcc, linkMeasureRunner, type Nvcc } from '../toolchain/nvcc.js';

export const RUNNER_EXECUTABLE = 'sagegen-measure';

export const runnerSource = () => path.join(projectRoot(), 'autotune', 'runner', 'sagegen_measure.cu');

/** The runner's path inside a bundle. */
export const runnerPath = (bundleDir: string) => path.join(bundleDir, 'runner', RUNNER_EXECUTABLE);

/** Links the runner for the bundle's targets; written beside and renamed, so a failed link leaves none. */
export async function buildMeasureRunner(bundleDir: string, manifest: BuildManifest, nvcc?: Nvcc): Promise<string> {
  const out = runnerPath(bundleDir);
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    await linkMeasureRunner(
      nvcc ?? (await findNvcc()),
      {
        source: runnerSource(),
        archive: path.join(bundleDir, manifest.libraries.archive),
        includeDirs: [path.join(bundleDir, path.dirname(manifest.libraries.header))],
        out: tmp,
      },
      manifest.variants.map((v) => v.plan),
    );
    await rename(tmp, out);
  } finally {
    await rm(tmp, { force: true });
  }
  return out;
}
