/**
 * nvcc for the tests, found the way the build finds it (toolchain/findNvcc: SAGEGEN_NVCC, PATH,
 * CUDA_HOME, /usr/local/cuda). Suites that compile use `describeNvcc`: skipped with a message when
 * nvcc is missing, failing when CI=true.
 */
import { findNvcc, type Nvcc } from '../../toolchain/nvcc.js';
import { describeIfTool } from './skip.js';

const probe: { nvcc: Nvcc; reason?: undefined } | { nvcc?: undefined; reason: string } = await findNvcc().then(
  (nvcc) => ({ nvcc }),
  (e: unknown) => ({ reason: e instanceof Error ? e.message.split('\n')[0]! : String(e) }),
);

export const nvccAvailable: boolean = probe.nvcc !== undefined;
export const nvccMissingReason: string = probe.reason ?? '';

/** The nvcc the suite compiles with; only call inside a describeNvcc suite. */
export function requireNvcc(): Nvcc {
  if (!probe.nvcc) throw new Error(`nvcc is not available: ${probe.reason}`);
  return probe.nvcc;
}

export function describeNvcc(name: string, fn: () => void): void {
  describeIfTool('nvcc', nvccAvailable, nvccMissingReason, name, fn);
}
