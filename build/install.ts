/**
 * Installs a built package directory (build/build.ts) into a prefix, the layout C, C++ and CMake
 * consumers expect:
 *
 *   include/sagegen.h
 *   lib/libsagegen.so, lib/libsagegen.a
 *   lib/cmake/sagegen/sagegenConfig.cmake, sagegenConfigVersion.cmake   (find_package(sagegen))
 *   lib/pkgconfig/sagegen.pc                                           (pkg-config sagegen)
 *   share/sagegen/manifest.json                                        (what the library holds)
 *
 * A prefix is shared with other software, so it cannot be swapped in whole like the build
 * directory. Instead every file is written into a staging directory inside the prefix first (same
 * file system), then each is renamed over its destination; the files it replaces are kept aside
 * until all renames succeeded and put back if one fails. An install either completes or leaves
 * the prefix as it was.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { renderInstallFiles } from '../render/render.js';
import { cudaToolkitDirs, findNvcc, type Nvcc } from '../toolchain/nvcc.js';
import type { BuildManifest } from './build.js';

export class InstallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InstallError';
  }
}

export interface InstallOptions {
  /** A directory written by build(). */
  buildDir: string;
  prefix: string;
  /** The nvcc whose toolkit the pkg-config file names for CUDA (default: found as the build finds it). */
  nvcc?: Nvcc;
}

/** The files an install writes, relative to the prefix. */
export const INSTALLED_FILES = [
  'include/sagegen.h',
  'lib/libsagegen.so',
  'lib/libsagegen.a',
  'lib/cmake/sagegen/sagegenConfig.cmake',
  'lib/cmake/sagegen/sagegenConfigVersion.cmake',
  'lib/pkgconfig/sagegen.pc',
  'share/sagegen/manifest.json',
] as const;

async function readManifest(buildDir: string): Promise<BuildManifest> {
  const file = path.join(buildDir, 'manifest.json');
  try {
    return JSON.parse(await readFile(file, 'utf8')) as BuildManifest;
  } catch (e) {
    throw new InstallError(`install: ${file} cannot be read as a build manifest (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): install a directory written by sagegen build`);
  }
}

/**
 * Refuses, before anything is built or written, a prefix that is a file, or that has a file where
 * a directory of the layout goes or anything but a file where an installed file goes.
 */
export async function checkInstallPrefix(prefix: string): Promise<void> {
  const dirs = new Set(['', ...INSTALLED_FILES.flatMap((f) => path.dirname(f).split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/')))]);
  for (const dir of dirs) {
    const p = path.join(prefix, dir);
    const s = await stat(p).catch(() => undefined);
    if (s && !s.isDirectory()) throw new InstallError(`--install = "${prefix}": ${p} exists and is not a directory`);
  }
  for (const file of INSTALLED_FILES) {
    const p = path.join(prefix, file);
    const s = await stat(p).catch(() => undefined);
    if (s && !s.isFile()) throw new InstallError(`--install = "${prefix}": ${p} exists and is not a file`);
  }
}

/** Installs buildDir into prefix; returns the absolute paths written. */
export async function install(options: InstallOptions): Promise<string[]> {
  const buildDir = path.resolve(options.buildDir);
  const prefix = path.resolve(options.prefix);
  const manifest = await readManifest(buildDir);
  await checkInstallPrefix(prefix);
  const cuda = await cudaToolkitDirs(options.nvcc ?? (await findNvcc()));
  const [major, minor] = manifest.sagegenVersion.split('.').map(Number) as [number, number];
  const rendered = renderInstallFiles({
    version: manifest.sagegenVersion,
    major,
    minor,
    abiVersion: manifest.abiVersion,
    archs: manifest.archs.sass.join(';'),
    ptx: manifest.archs.ptx.join(';'),
    variants: manifest.variants.map((v) => v.name).join(';'),
    archsCommas: manifest.archs.sass.join(','),
    cudaIncludeDir: cuda.includeDir,
    cudaLibDir: cuda.libDir,
  });

  const prefixExisted = existsSync(prefix);
  await mkdir(prefix, { recursive: true });
  const staging = path.join(prefix, `.sagegen-install-${process.pid}-${Date.now()}`);
  const staged = (rel: string) => path.join(staging, 'new', rel);
  const setAside = (rel: string) => path.join(staging, 'old', rel);
  const moved: { rel: string; hadOld: boolean }[] = [];
  try {
    for (const rel of INSTALLED_FILES) await mkdir(path.dirname(staged(rel)), { recursive: true });
    await copyFile(path.join(buildDir, manifest.libraries.header), staged('include/sagegen.h'));
    await copyFile(path.join(buildDir, manifest.libraries.shared), staged('lib/libsagegen.so'));
    await copyFile(path.join(buildDir, manifest.libraries.archive), staged('lib/libsagegen.a'));
    await writeFile(staged('lib/cmake/sagegen/sagegenConfig.cmake'), rendered.config);
    await writeFile(staged('lib/cmake/sagegen/sagegenConfigVersion.cmake'), rendered.configVersion);
    await writeFile(staged('lib/pkgconfig/sagegen.pc'), rendered.pkgConfig);
    await copyFile(path.join(buildDir, 'manifest.json'), staged('share/sagegen/manifest.json'));

    for (const rel of INSTALLED_FILES) {
      const dest = path.join(prefix, rel);
      await mkdir(path.dirname(dest), { recursive: true });
      const hadOld = existsSync(dest);
      if (hadOld) {
        await mkdir(path.dirname(setAside(rel)), { recursive: true });
        await rename(dest, setAside(rel));
      }
      moved.push({ rel, hadOld });
      await rename(staged(rel), dest);
    }
  } catch (e) {
    // Put back what was replaced, newest first; never let a cleanup problem hide the cause.
    for (const { rel, hadOld } of moved.reverse()) {
      const dest = path.join(prefix, rel);
      await rm(dest, { force: true }).catch(() => {});
      if (hadOld) await rename(setAside(rel), dest).catch(() => {});
    }
    await rm(staging, { recursive: true, force: true }).catch(() => {});
    if (!prefixExisted) await rm(prefix, { recursive: true, force: true }).catch(() => {});
    throw e instanceof InstallError ? e : new InstallError(`install into ${prefix} failed, nothing changed: ${(e as Error).message}`);
  }
  await rm(staging, { recursive: true, force: true });
  return INSTALLED_FILES.map((rel) => path.join(prefix, rel));
}
