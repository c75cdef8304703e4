/**
 * The output directory of a build. Before anything is compiled, the path is checked (not a file, not
 * a directory of someone else's files) and a staging directory is created beside it, which proves the
 * place writable. The build is written into the staging directory; publishOutput then swaps it into
 * place under a lock (proper-lockfile, `<out>.lock`), so that concurrent builds into the same
 * directory each replace it whole, one after the other, and never interleave their renames.
 *
 * A failure leaves the previous output as it was; the caller removes the staging directory
 * (discardStagingDir). A build interrupted by a signal removes it on the way out; one killed by
 * SIGKILL leaves `<out>.tmp-<pid>-<random>` behind, which nothing reads.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { onExit } from 'signal-exit';

export class OutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutputError';
  }
}

/** The file every build writes: a directory holding it is a previous build sagegen may replace. */
const MANIFEST = 'manifest.json';

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOTDIR: 'a parent is a file, not a directory',
  EEXIST: 'a parent is a file, not a directory',
  ENOSPC: 'no space left on the device',
  ENAMETOOLONG: 'the name is too long',
};

function reason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (!code) return String(e);
  return `${code}: ${REASONS[code] ?? (e as Error).message.replace(`${code}: `, '')}`;
}

const fail = (outDir: string, rule: string) => new OutputError(`output directory "${outDir}": ${rule}`);

/** Unique per process and call: two builds in one process can start in the same millisecond. */
const unique = () => `${process.pid}-${randomBytes(4).toString('hex')}`;

/**
 * Refuses an output path that a build must not replace: a file, or a non-empty directory without a
 * manifest.json (`--out .` must never move the user's files away). A missing path is fine.
 */
export async function checkOutputDir(outDir: string): Promise<void> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(outDir)).isDirectory();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw fail(outDir, `cannot look at it (${reason(e)})`);
  }
  if (!isDirectory) throw fail(outDir, 'is a file; a build writes a directory (choose another path)');
  let entries: string[];
  try {
    entries = await readdir(outDir);
  } catch (e) {
    // Moved away since the stat (another build publishing): as good as missing.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw fail(outDir, `cannot read it (${reason(e)})`);
  }
  if (entries.length && !entries.includes(MANIFEST)) {
    throw fail(outDir, `is a directory of other files (no ${MANIFEST}, so not a sagegen build); a build replaces its output directory whole, so choose an empty or new path`);
  }
}

/** Staging directories of builds in progress, removed if the process is interrupted (Ctrl-C, SIGTERM). */
const inProgress = new Set<string>();
/** Previous outputs renamed aside by a swap that has not yet put the new one in place, by output directory. */
const asideDuringSwap = new Map<string, string>();
let exitHandlerInstalled = false;

function track(staging: string): void {
  inProgress.add(staging);
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  // Synchronous: nothing asynchronous runs once a signal is ending the process. A signal can land
  // between the two renames of a swap: the previous output is then put back.
  onExit(() => {
    for (const [outDir, previous] of asideDuringSwap) if (!existsSync(outDir)) renameSync(previous, outDir);
    for (const dir of inProgress) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  });
}

/** Removes a staging directory whose build failed. */
export async function discardStagingDir(staging: string): Promise<void> {
  await rm(staging, { recursive: true, force: true });
  inProgress.delete(staging);
}

/** Creates the staging directory beside `outDir` (and `outDir`'s parent); refuses an unwritable place. */
export async function createStagingDir(outDir: string): Promise<string> {
  const parent = path.dirname(outDir);
  try {
    await mkdir(parent, { recursive: true });
  } catch (e) {
    throw fail(outDir, `cannot create its parent ${parent} (${reason(e)})`);
  }
  const staging = `${outDir}.tmp-${unique()}`;
  try {
    await mkdir(staging);
  } catch (e) {
    throw fail(outDir, `cannot write in ${parent} (${reason(e)})`);
  }
  track(staging);
  return staging;
}

/**
 * Replaces `outDir` by `staging` under `<outDir>.lock`: the previous output (checked again under the
 * lock) is renamed aside, the staging directory renamed into place, then the previous one removed.
 * The lock is held for those two renames only.
 */
export async function publishOutput(staging: string, outDir: string): Promise<void> {
  const lockPath = `${outDir}.lock`;
  let compromised: Error | undefined;
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(outDir, {
      realpath: false,
      lockfilePath: lockPath,
      // A lock older than this is a crashed build's: taken over. Held for milliseconds otherwise.
      stale: 10_000,
      retries: { retries: 200, minTimeout: 10, maxTimeout: 250, randomize: true },
      onCompromised: (e) => {
        compromised = e;
      },
    });
  } catch (e) {
    throw fail(outDir, `cannot take the lock ${lockPath} (${(e as NodeJS.ErrnoException).code === 'ELOCKED' ? 'another build keeps holding it' : reason(e)})`);
  }
  let previous: string | undefined;
  try {
    await checkOutputDir(outDir);
    const exists = await stat(outDir).then(
      () => true,
      () => false,
    );
    if (exists) {
      previous = `${outDir}.old-${unique()}`;
      asideDuringSwap.set(outDir, previous);
      await rename(outDir, previous);
    }
    try {
      // Never publish without the lock (proper-lockfile reports a lost lock here rather than throwing from a timer).
      if (compromised) throw compromised;
      await rename(staging, outDir);
      inProgress.delete(staging);
    } catch (e) {
      if (previous) await rename(previous, outDir);
      previous = undefined;
      throw fail(outDir, `cannot move the finished build into place (${e === compromised ? `lost the lock ${lockPath}` : reason(e)})`);
    }
  } finally {
    asideDuringSwap.delete(outDir);
    await release().catch(() => {});
  }
  if (previous) await rm(previous, { recursive: true, force: true });
}
