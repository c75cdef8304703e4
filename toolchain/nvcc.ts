/**
 * The toolchain: the only module that runs nvcc (and ar). Finds nvcc, reads its version, refuses
 * specs whose instructions the found nvcc cannot assemble, compiles through execa, and parses the
 * `ptxas -v` report.
 */
import { execa, ExecaError } from 'execa';
import { existsSync, accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { INSTRUCTIONS, compareVersion, formatVersion } from '../dsl/capabilities.js';
import type { KernelPlan } from '../plan/plan.js';

export class ToolchainError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolchainError';
  }
}

export interface Nvcc {
  path: string;
  /** [major, minor] of the CUDA release, e.g. [13, 0]. */
  version: [number, number];
  /** The full "V13.0.88" build tag. */
  build: string;
  /** How it was found: 'SAGEGEN_NVCC', 'PATH', 'CUDA_HOME', '/usr/local/cuda'. */
  foundVia: string;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Candidate nvcc paths in search order. */
export function nvccCandidates(env: NodeJS.ProcessEnv = process.env): { path: string; via: string }[] {
  const out: { path: string; via: string }[] = [];
  if (env.SAGEGEN_NVCC) out.push({ path: env.SAGEGEN_NVCC, via: 'SAGEGEN_NVCC' });
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) out.push({ path: path.join(dir, 'nvcc'), via: 'PATH' });
  for (const v of ['CUDA_HOME', 'CUDA_PATH']) if (env[v]) out.push({ path: path.join(env[v]!, 'bin', 'nvcc'), via: v });
  out.push({ path: '/usr/local/cuda/bin/nvcc', via: '/usr/local/cuda' });
  return out;
}

export function parseNvccVersion(text: string): { version: [number, number]; build: string } {
  const m = /release (\d+)\.(\d+), (V[\d.]+)/.exec(text);
  if (!m) throw new ToolchainError(`cannot read the CUDA version from nvcc --version:\n${text.trim()}`);
  return { version: [Number(m[1]), Number(m[2])], build: m[3]! };
}

/** The first usable nvcc among `candidates` (default: nvccCandidates of `env`), with its version. */
export async function findNvcc(env: NodeJS.ProcessEnv = process.env, candidates = nvccCandidates(env)): Promise<Nvcc> {
  // An nvcc named explicitly is the one to use: never fall back silently to another toolkit.
  if (env.SAGEGEN_NVCC && !isExecutable(env.SAGEGEN_NVCC)) {
    const why = existsSync(env.SAGEGEN_NVCC) ? 'not an executable file' : 'no such file';
    throw new ToolchainError(`SAGEGEN_NVCC = "${env.SAGEGEN_NVCC}": ${why}; point it at nvcc, or unset it to search PATH, CUDA_HOME and /usr/local/cuda`);
  }
  for (const c of candidates) {
    if (!isExecutable(c.path)) continue;
    const { stdout } = await runVersion(c.path, env);
    const { version, build } = parseNvccVersion(stdout);
    return { path: c.path, version, build, foundVia: c.via };
  }
  throw new ToolchainError(
    `nvcc not found (looked in SAGEGEN_NVCC, PATH, CUDA_HOME/bin, /usr/local/cuda/bin). Install the CUDA toolkit (12.8 or newer for the default FP8 f16-accumulate kernels) or set CUDA_HOME.`,
  );
}

async function runVersion(file: string, env: NodeJS.ProcessEnv): Promise<{ stdout: string }> {
  try {
    return await execa(file, ['--version'], { env });
  } catch (e) {
    if (e instanceof ExecaError) throw new ToolchainError(`${file} --version ${failure(e)}:\n${trimOutput(`${e.stderr ?? ''}\n${e.stdout ?? ''}`)}`);
    throw e;
  }
}

/** Refuses, before anything is compiled, a plan whose instructions this nvcc cannot assemble. */
export function checkInstructionSupport(nvcc: Nvcc, plans: KernelPlan[]): void {
  const problems: string[] = [];
  for (const plan of plans) {
    for (const { name } of plan.instructions) {
      const need = INSTRUCTIONS[name].minCuda;
      if (compareVersion(nvcc.version, need) < 0) {
        problems.push(
          `${plan.name}: ${INSTRUCTIONS[name].ptx} needs CUDA ${formatVersion(need)} or newer (PTX ISA ${formatVersion(INSTRUCTIONS[name].minPtxIsa)}); ` +
            `found nvcc ${formatVersion(nvcc.version)} at ${nvcc.path}`,
        );
      }
    }
  }
  if (problems.length) {
    throw new ToolchainError(
      `${problems.join('\n')}\nInstall a newer CUDA toolkit, or choose an instruction this one supports (e.g. pv.accumulator "f32" needs CUDA 12.4).`,
    );
  }
}

export interface PtxasEntry {
  /** Kernel name as written in the source (demangled best-effort). */
  kernel: string;
  mangled: string;
  arch: string;
  registers: number;
  sharedBytes: number;
  stackFrameBytes: number;
  spillStoreBytes: number;
  spillLoadBytes: number;
}

const KERNEL_NAMES = ['attentionKernel', 'quantizeInt8Kernel', 'quantizeVKernel', 'kvStatsFinalizeKernel', 'kvStatsKernel', 'kvClusterQuantKernel'];

function demangle(mangled: string): string {
  const hit = KERNEL_NAMES.find((k) => mangled.includes(k));
  if (!hit) return mangled;
  if (hit === 'quantizeInt8Kernel') return mangled.includes('Operand0') || /ILNS_\d*Operand\w*E0E/.test(mangled) ? `${hit}<Query>` : `${hit}<Key>`;
  return hit;
}

/** Parses `ptxas -v` output (per function: registers, shared memory, stack, spills). */
export function parsePtxas(stderr: string): PtxasEntry[] {
  const entries: PtxasEntry[] = [];
  let current: Partial<PtxasEntry> | undefined;
  for (const line of stderr.split('\n')) {
    let m = /Compiling entry function '([^']+)' for '([^']+)'/.exec(line);
    if (m) {
      current = { mangled: m[1]!, kernel: demangle(m[1]!), arch: m[2]! };
      continue;
    }
    if (!current) continue;
    m = /(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads/.exec(line);
    if (m) {
      current.stackFrameBytes = Number(m[1]);
      current.spillStoreBytes = Number(m[2]);
      current.spillLoadBytes = Number(m[3]);
      continue;
    }
    m = /Used (\d+) registers/.exec(line);
    if (m) {
      current.registers = Number(m[1]);
      const smem = /(\d+) bytes smem/.exec(line);
      current.sharedBytes = smem ? Number(smem[1]) : 0;
      entries.push({
        kernel: current.kernel!,
        mangled: current.mangled!,
        arch: current.arch!,
        registers: current.registers,
        sharedBytes: current.sharedBytes,
        stackFrameBytes: current.stackFrameBytes ?? 0,
        spillStoreBytes: current.spillStoreBytes ?? 0,
        spillLoadBytes: current.spillLoadBytes ?? 0,
      });
      current = undefined;
    }
  }
  return entries;
}

export const COMMON_FLAGS = ['-std=c++17', '-O3', '-Xcompiler', '-fPIC,-fvisibility=hidden', '-Xptxas', '-v', '-lineinfo'];

/** -gencode for a variant: SASS for its arch, plus PTX for JIT on newer GPUs unless arch-specific. */
export function gencodeFlags(plan: KernelPlan): string[] {
  const { gencodeArch, gencodeCode, archSpecific } = plan.arch;
  const code = archSpecific ? gencodeCode : `[${gencodeCode},${gencodeArch}]`;
  return [`-gencode=arch=${gencodeArch},code=${code}`];
}

/** The first `maxLines` lines of a tool's output, each cut at `maxLineChars` (template errors can be very long lines). */
function trimOutput(text: string, maxLines = 40, maxLineChars = 400): string {
  const lines = text
    .trim()
    .split('\n')
    .map((l) => (l.length > maxLineChars ? `${l.slice(0, maxLineChars)} … (${l.length - maxLineChars} more characters)` : l));
  return lines.length > maxLines ? [...lines.slice(0, maxLines), `… (${lines.length - maxLines} more lines)`].join('\n') : lines.join('\n');
}

/** Why a process failed: killed by a signal, an exit status, or not started at all. */
function failure(e: ExecaError): string {
  if (e.isTerminated) return `was killed (${e.signal})`;
  if (e.exitCode !== undefined) return `failed (exit ${e.exitCode})`;
  return `could not be run (${e.code ?? e.shortMessage})`;
}

async function runNvcc(nvcc: Nvcc, args: string[], what: string, cwd?: string): Promise<{ stdout: string; stderr: string }> {
  try {
    const r = await execa(nvcc.path, args, { cwd, all: false });
    return { stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    if (e instanceof ExecaError) throw new ToolchainError(`nvcc ${failure(e)} compiling ${what}:\n${trimOutput(`${e.stderr ?? ''}\n${e.stdout ?? ''}`)}`);
    throw e;
  }
}

export interface CompiledVariant {
  object: string;
  ptxas: PtxasEntry[];
  flags: string[];
  /** nvcc's stderr: the `ptxas -v` report that `ptxas` was parsed from (and any warnings). */
  stderr: string;
}

/** The flags compileVariant passes after the source and output paths (the compile cache keys on them). */
export function variantFlags(plan: KernelPlan, includeDirs: string[]): string[] {
  return [...COMMON_FLAGS, ...gencodeFlags(plan), ...includeDirs.map((d) => `-I${d}`)];
}

/**
 * Compiles one rendered variant to an object file, keeping the PTX and cubin that nvcc produces on
 * the way (one nvcc run, not three).
 */
export async function compileVariant(nvcc: Nvcc, source: string, plan: KernelPlan, dirs: { obj: string; keep: string }, includeDirs: string[]): Promise<CompiledVariant> {
  const base = path.basename(source, '.cu');
  const object = path.join(dirs.obj, `${base}.o`);
  const flags = variantFlags(plan, includeDirs);
  const { stderr } = await runNvcc(nvcc, ['-c', source, '-o', object, '--keep', `--keep-dir=${dirs.keep}`, ...flags], source);
  return { object, ptxas: parsePtxas(stderr), flags, stderr };
}

/** The flags of the host-only translation units (the runtime and the registry), besides includes and defines. */
export const HOST_FLAGS = ['-std=c++17', '-O2', '-Xcompiler', '-fPIC,-fvisibility=hidden'];

/** Host-only translation units (the runtime and the registry). */
export async function compileHost(nvcc: Nvcc, source: string, object: string, includeDirs: string[], defines: string[]): Promise<void> {
  await runNvcc(nvcc, ['-c', source, '-o', object, ...HOST_FLAGS, ...includeDirs.map((d) => `-I${d}`), ...defines.map((d) => `-D${d}`)], source);
}

// libsagegen.so links the CUDA runtime statically, with an SONAME so that programs linked against it
// (CMake, pkg-config) record `libsagegen.so`, not a path.
export const SHARED_LINK_FLAGS = ['-shared', '-cudart=static', '-Xlinker', '-soname=libsagegen.so'];

/** libsagegen.so (CUDA runtime linked statically) and libsagegen.a from the objects. */
export async function linkLibraries(nvcc: Nvcc, objects: string[], libDir: string): Promise<{ shared: string; archive: string }> {
  const shared = path.join(libDir, 'libsagegen.so');
  const archive = path.join(libDir, 'libsagegen.a');
  await runNvcc(nvcc, [...SHARED_LINK_FLAGS, '-o', shared, ...objects], 'libsagegen.so');
  await runNvcc(nvcc, ['-lib', '-o', archive, ...objects], 'libsagegen.a');
  return { shared, archive };
}

/**
 * A standalone GPU check program for an arch-specific target (runtime/test/wgmma_probe.cu for
 * sm_90a): compiled here, carried to the GPU machine, run there. Returns ptxas's report.
 */
export async function compileProbe(nvcc: Nvcc, source: string, output: string, gencode: { arch: string; code: string }, defines: string[] = []): Promise<PtxasEntry[]> {
  const { stderr } = await runNvcc(nvcc, [source, '-o', output, '-std=c++17', '-O3', '-Xptxas', '-v', `-gencode=arch=${gencode.arch},code=${gencode.code}`, ...defines], source);
  return parsePtxas(stderr);
}

/** Where this nvcc's CUDA headers and libraries are (its own `--dryrun` report, so a wrapper script or a symlinked nvcc is resolved as nvcc resolves itself). */
export async function cudaToolkitDirs(nvcc: Nvcc): Promise<{ includeDir: string; libDir: string }> {
  const { stderr } = await runNvcc(nvcc, ['--dryrun', '-o', 'a.out', 'x.cu'], 'nvcc --dryrun (toolkit directories)');
  const flagDirs = (variable: string, flag: string) => {
    const line = new RegExp(`^#\\$ ${variable}=(.*)$`, 'm').exec(stderr)?.[1] ?? '';
    return [...line.matchAll(new RegExp(`"${flag}([^"]+)"`, 'g'))].map((m) => path.resolve(m[1]!));
  };
  const includeDir = flagDirs('INCLUDES', '-I')[0];
  const libDir = flagDirs('LIBRARIES', '-L').find((d) => path.basename(d) !== 'stubs');
  if (!includeDir || !libDir) throw new ToolchainError(`cannot read the CUDA include and library directories from ${nvcc.path} --dryrun:\n${trimOutput(stderr)}`);
  return { includeDir, libDir };
}

/**
 * The autotuner's native measurement runner (autotune/runner/): its source compiled for the given
 * targets and linked with a bundle's libsagegen.a and the static CUDA runtime into one executable, so
 * the GPU host needs no CUDA, Python or PyTorch shared library to measure (only the driver).
 */
export async function linkMeasureRunner(
  nvcc: Nvcc,
  files: { source: string; archive: string; includeDirs: string[]; out: string },
  plans: KernelPlan[],
): Promise<void> {
  const gencode = [...new Set(plans.flatMap(gencodeFlags))];
  await runNvcc(
    nvcc,
    [files.source, files.archive, '-o', files.out, '-std=c++17', '-O2', '-cudart=static', ...gencode, ...files.includeDirs.map((d) => `-I${d}`)],
    'the measurement runner',
  );
}
