/**
 * The content-addressed compile cache: one directory per key, `<cacheDir>/<key[0:2]>/<key>/`, holding
 * the files of one compile and an `entry.json` (written last) that lists each file's sha256 and size.
 *
 * An entry is written in a temporary sibling directory and renamed into place, so a reader sees a
 * whole entry or none, and no lock is needed: when two processes store the same key, the first rename
 * wins and the other keeps the winner's. An entry that fails verification on lookup (entry.json
 * missing or unreadable, a listed file missing or of the wrong size or hash) is removed and reported
 * as a miss, never used.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { Nvcc } from '../toolchain/nvcc.js';
import { projectRoot } from './paths.js';

/** Bump when what goes into a key or into an entry changes: older entries then simply miss. */
const FORMAT = 1;
const ENTRY_JSON = 'entry.json';
/** Environment variables nvcc reads that change what it produces. */
const NVCC_ENV = ['NVCC_PREPEND_FLAGS', 'NVCC_APPEND_FLAGS', 'NVCC_CCBIN'] as const;

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const unique = () => `${process.pid}-${randomBytes(6).toString('hex')}`;

/** The cache directory: the `cacheDir` option (false: no cache), else SAGEGEN_CACHE_DIR, else <projectRoot>/generated/.cache. */
export function resolveCacheDir(option: string | false | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (option === false) return undefined;
  return path.resolve(option ?? (env.SAGEGEN_CACHE_DIR || path.join(projectRoot(), 'generated', '.cache')));
}

export interface KeyInput {
  /** The rendered source text. */
  source: string;
  nvcc: Pick<Nvcc, 'version' | 'build'>;
  /** The flags nvcc gets (variantFlags). `-I<dir>` paths are left out: the headers' contents stand for them. */
  flags: string[];
  /** The contents of every file in the include dirs, by name (readHeaders). */
  headers: Record<string, string | Buffer>;
  /** Target arch, e.g. "sm_90a". */
  arch: string;
  /** The environment nvcc runs in; only NVCC_PREPEND_FLAGS, NVCC_APPEND_FLAGS and NVCC_CCBIN count. */
  env?: NodeJS.ProcessEnv;
}

/** sha256 over everything that changes a compiled variant (hex). */
export function cacheKey(k: KeyInput): string {
  const headers = Object.entries(k.headers)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, text]) => [name, sha256(text)]);
  return sha256(
    JSON.stringify({
      format: FORMAT,
      source: sha256(k.source),
      nvcc: { version: k.nvcc.version, build: k.nvcc.build },
      flags: k.flags.filter((f) => !f.startsWith('-I')),
      headers,
      arch: k.arch,
      env: NVCC_ENV.map((v) => k.env?.[v] ?? null),
    }),
  );
}

/** Every file under the include dirs, keyed `<index of the dir>/<relative path>`, for cacheKey. */
export async function readHeaders(includeDirs: string[]): Promise<Record<string, Buffer>> {
  const out: Record<string, Buffer> = {};
  for (const [i, dir] of includeDirs.entries()) {
    for (const name of (await readdir(dir, { recursive: true })).sort()) {
      const file = path.join(dir, name);
      if ((await stat(file)).isFile()) out[`${i}/${name}`] = await readFile(file);
    }
  }
  return out;
}

export const entryDir = (cacheDir: string, key: string) => path.join(cacheDir, key.slice(0, 2), key);

/** File name → contents of one entry. */
export type EntryFiles = Record<string, Buffer>;

const FILE_NAME = /^[\w][\w.-]*$/;
const entrySchema = (key: string) =>
  z.object({
    format: z.literal(FORMAT),
    key: z.literal(key),
    files: z.record(z.string().regex(FILE_NAME), z.object({ sha256: z.string(), size: z.number().int().nonnegative() })),
  });

/**
 * The verified files of the entry for `key`, or undefined on a miss. An entry that fails verification
 * or lacks one of `required` is removed first (and `log` told why).
 */
export async function cacheGet(cacheDir: string, key: string, required: string[] = [], log?: (line: string) => void): Promise<EntryFiles | undefined> {
  const dir = entryDir(cacheDir, key);
  try {
    await stat(dir);
  } catch {
    return undefined;
  }
  try {
    const entry = entrySchema(key).parse(JSON.parse(await readFile(path.join(dir, ENTRY_JSON), 'utf8')));
    const files: EntryFiles = {};
    for (const [name, want] of Object.entries(entry.files)) {
      const data = await readFile(path.join(dir, name));
      if (data.length !== want.size || sha256(data) !== want.sha256) throw new Error(`${name} does not match ${ENTRY_JSON}`);
      files[name] = data;
    }
    const missing = required.filter((name) => !files[name]);
    if (missing.length) throw new Error(`no ${missing.join(', ')}`);
    return files;
  } catch (e) {
    log?.(`cache: removing corrupt entry ${key}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    await discard(dir);
    return undefined;
  }
}

/** Moves an entry out of the way (one atomic rename), then deletes it. */
async function discard(dir: string): Promise<void> {
  const trash = path.join(path.dirname(dir), `.bad-${path.basename(dir)}-${unique()}`);
  try {
    await rename(dir, trash);
  } catch {
    return; // already gone: another process discarded it
  }
  await rm(trash, { recursive: true, force: true }).catch(() => {});
}

/**
 * Stores `files` (and `meta`, recorded in entry.json) under `key`. Returns false when the key was
 * already stored (by another process that got there first): that entry is kept, these files dropped.
 */
export async function cachePut(cacheDir: string, key: string, files: EntryFiles, meta: Record<string, unknown> = {}): Promise<boolean> {
  const dir = entryDir(cacheDir, key);
  const tmp = path.join(path.dirname(dir), `.tmp-${key}-${unique()}`);
  await mkdir(tmp, { recursive: true });
  try {
    const listing: Record<string, { sha256: string; size: number }> = {};
    for (const [name, data] of Object.entries(files)) {
      if (!FILE_NAME.test(name) || name === ENTRY_JSON) throw new Error(`cache: bad entry file name "${name}"`);
      await writeFile(path.join(tmp, name), data);
      listing[name] = { sha256: sha256(data), size: data.length };
    }
    await writeFile(path.join(tmp, ENTRY_JSON), JSON.stringify({ ...meta, format: FORMAT, key, files: listing }, null, 2) + '\n');
    await rename(tmp, dir);
    return true;
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
    throw e;
  }
}
