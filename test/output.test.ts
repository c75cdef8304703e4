/**
 * The output directory of a build (build/output.ts), in-process: which paths are refused, where the
 * staging directory goes, and the locked swap: many concurrent publishes into one directory each
 * replace it whole (without the lock their renames interleave and fail), a held lock makes a publish
 * wait, a crashed build's stale lock is taken over, and a failed swap restores the previous output.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { afterAll, describe, expect, it } from 'vitest';
import { checkOutputDir, createStagingDir, OutputError, publishOutput } from '../build/output.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sagegen-output-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = () => {
  const dir = path.join(tmp, `case-${n++}`);
  mkdirSync(dir);
  return dir;
};

/** A finished build in a staging directory: a manifest and a few files, all naming `id`. */
async function staged(outDir: string, id: string): Promise<string> {
  const dir = await createStagingDir(outDir);
  mkdirSync(path.join(dir, 'lib'));
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ id }));
  writeFileSync(path.join(dir, 'lib', 'libsagegen.so'), `library of ${id}`);
  writeFileSync(path.join(dir, `only-in-${id}`), id);
  return dir;
}

/** The output is wholly the build `id` names in its manifest: its three files, nothing else. */
function expectWhole(outDir: string): string {
  const { id } = JSON.parse(readFileSync(path.join(outDir, 'manifest.json'), 'utf8')) as { id: string };
  expect(readdirSync(outDir).sort()).toEqual(['lib', 'manifest.json', `only-in-${id}`]);
  expect(readFileSync(path.join(outDir, 'lib', 'libsagegen.so'), 'utf8')).toBe(`library of ${id}`);
  return id;
}

describe('checkOutputDir', () => {
  it('accepts a missing path, an empty directory and a previous build (holding manifest.json)', async () => {
    const dir = fresh();
    await checkOutputDir(path.join(dir, 'missing'));
    await checkOutputDir(dir);
    writeFileSync(path.join(dir, 'manifest.json'), '{}');
    writeFileSync(path.join(dir, 'other'), '');
    await checkOutputDir(dir);
  });

  it('refuses a file and a directory of other files, naming the path and the rule', async () => {
    const dir = fresh();
    writeFileSync(path.join(dir, 'file'), '');
    await expect(checkOutputDir(path.join(dir, 'file'))).rejects.toThrow(new OutputError(`output directory "${path.join(dir, 'file')}": is a file; a build writes a directory (choose another path)`));
    await expect(checkOutputDir(dir)).rejects.toThrow(/is a directory of other files \(no manifest\.json/);
  });
});

describe('createStagingDir', () => {
  it('creates a unique sibling <out>.tmp-<pid>-<random> (and the parent), twice in a row without clashing', async () => {
    const out = path.join(fresh(), 'deep', 'out');
    const [a, b] = await Promise.all([createStagingDir(out), createStagingDir(out)]);
    for (const s of [a, b]) expect(s).toMatch(new RegExp(`^${out}\\.tmp-${process.pid}-[0-9a-f]{8}$`));
    expect(a).not.toBe(b);
    expect(readdirSync(path.dirname(out)).sort()).toEqual([path.basename(a!), path.basename(b!)].sort());
  });

  it('under a file: refused with ENOTDIR or EEXIST, named as such', async () => {
    const dir = fresh();
    writeFileSync(path.join(dir, 'file'), '');
    for (const out of [path.join(dir, 'file', 'out'), path.join(dir, 'file', 'sub', 'out')]) {
      await expect(createStagingDir(out)).rejects.toThrow(new RegExp(`^output directory "${out}": cannot create its parent .* \\((ENOTDIR|EEXIST): a parent is a file, not a directory\\)$`));
    }
    expect(readdirSync(dir)).toEqual(['file']);
  });
});

describe('publishOutput', () => {
  it('24 concurrent publishes into one directory: all succeed, the output is one whole build, nothing left beside it', async () => {
    const dir = fresh();
    const out = path.join(dir, 'out');
    const ids = Array.from({ length: 24 }, (_, i) => `build${i}`);
    const staging = await Promise.all(ids.map((id) => staged(out, id)));
    const results = await Promise.allSettled(staging.map((s) => publishOutput(s, out)));
    expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    expect(ids).toContain(expectWhole(out));
    expect(readdirSync(dir)).toEqual(['out']);
  });

  it('waits while another holder has the lock, then publishes', async () => {
    const dir = fresh();
    const out = path.join(dir, 'out');
    await publishOutput(await staged(out, 'first'), out);
    const release = await lockfile.lock(out, { realpath: false, lockfilePath: `${out}.lock` });
    let done = false;
    const publishing = publishOutput(await staged(out, 'second'), out).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 400));
    expect(done, 'published while the lock was held').toBe(false);
    expect(expectWhole(out)).toBe('first');
    await release();
    await publishing;
    expect(expectWhole(out)).toBe('second');
    expect(readdirSync(dir)).toEqual(['out']);
  });

  it("takes over a crashed build's stale lock (older than 10 s)", async () => {
    const dir = fresh();
    const out = path.join(dir, 'out');
    mkdirSync(`${out}.lock`);
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${out}.lock`, old, old);
    await publishOutput(await staged(out, 'after-crash'), out);
    expect(expectWhole(out)).toBe('after-crash');
    expect(readdirSync(dir)).toEqual(['out']);
  });

  it('a failed swap (staging gone) leaves the previous output in place, names the reason, and releases the lock', async () => {
    const dir = fresh();
    const out = path.join(dir, 'out');
    await publishOutput(await staged(out, 'previous'), out);
    const gone = await staged(out, 'gone');
    rmSync(gone, { recursive: true });
    await expect(publishOutput(gone, out)).rejects.toThrow(/: cannot move the finished build into place \(ENOENT: /);
    expect(expectWhole(out)).toBe('previous');
    expect(readdirSync(dir)).toEqual(['out']);
  });

  it('refuses, under the lock, an output that became a directory of other files meanwhile', async () => {
    const dir = fresh();
    const out = path.join(dir, 'out');
    const staging = await staged(out, 'late');
    mkdirSync(out);
    writeFileSync(path.join(out, 'user-file'), 'mine');
    await expect(publishOutput(staging, out)).rejects.toThrow(/is a directory of other files/);
    expect(readdirSync(out)).toEqual(['user-file']);
    rmSync(staging, { recursive: true });
    expect(readdirSync(dir)).toEqual(['out']);
  });
});
