/**
 * The compile cache without nvcc: the key function, and storing, finding, verifying and racing
 * entries on disk (build/cache.ts). The cache inside build() is tested with nvcc in cache.nvcc.test.ts.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cacheGet, cacheKey, cachePut, entryDir, readHeaders, resolveCacheDir, type KeyInput } from '../build/cache.js';
import { projectRoot } from '../build/paths.js';
import { COMMON_FLAGS } from '../toolchain/nvcc.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sagegen-cache-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshDir = () => path.join(tmp, `cache-${n++}`);
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

describe('cacheKey', () => {
  const base = (): KeyInput => ({
    source: '__global__ void k() {}\n',
    nvcc: { version: [13, 0], build: 'V13.0.88' },
    flags: [...COMMON_FLAGS, '-gencode=arch=compute_89,code=[sm_89,compute_89]', '-I/work/main/runtime/include'],
    headers: { '0/sagegen.h': '#define SAGEGEN_ABI_VERSION 1\n', '0/sagegen_variant.h': 'namespace sagegen {}\n' },
    arch: 'sm_89',
    env: {},
  });
  const key = cacheKey(base());

  it('is a sha256 in hex, equal for identical inputs', () => {
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(cacheKey(base())).toBe(key);
    expect(cacheKey(structuredClone(base()))).toBe(key);
  });

  const changes: [string, (k: KeyInput) => void][] = [
    ['the source text', (k) => (k.source += ' ')],
    ['the nvcc version', (k) => (k.nvcc.version = [13, 1])],
    ['the nvcc build string', (k) => (k.nvcc.build = 'V13.0.89')],
    ['a flag added', (k) => k.flags.push('-G')],
    ['a flag removed', (k) => k.flags.splice(k.flags.indexOf('-lineinfo'), 1)],
    ['the flag order', (k) => k.flags.reverse()],
    ['the gencode', (k) => (k.flags[k.flags.length - 2] = '-gencode=arch=compute_89,code=sm_89')],
    ['a runtime header text', (k) => (k.headers['0/sagegen_variant.h'] += '// edit\n')],
    ['a runtime header added', (k) => (k.headers['0/extra.h'] = '')],
    ['a runtime header renamed', (k) => {
      k.headers['0/other.h'] = k.headers['0/sagegen.h']!;
      delete k.headers['0/sagegen.h'];
    }],
    ['the arch', (k) => (k.arch = 'sm_90a')],
    ['NVCC_APPEND_FLAGS', (k) => (k.env = { NVCC_APPEND_FLAGS: '-G' })],
    ['NVCC_CCBIN', (k) => (k.env = { NVCC_CCBIN: 'clang++' })],
  ];
  for (const [what, edit] of changes) {
    it(`changes with ${what}`, () => {
      const k = base();
      edit(k);
      expect(cacheKey(k)).not.toBe(key);
    });
  }

  const same: [string, (k: KeyInput) => void][] = [
    ['the include dir path (its contents stand for it)', (k) => (k.flags[k.flags.length - 1] = '-I/elsewhere/runtime/include')],
    ['the order the headers are listed in', (k) => (k.headers = Object.fromEntries(Object.entries(k.headers).reverse()))],
    ['a header given as a Buffer of the same text', (k) => (k.headers['0/sagegen.h'] = Buffer.from(k.headers['0/sagegen.h'] as string))],
    ['unrelated environment variables', (k) => (k.env = { PATH: '/nowhere', HOME: '/x' })],
  ];
  for (const [what, edit] of same) {
    it(`does not change with ${what}`, () => {
      const k = base();
      edit(k);
      expect(cacheKey(k)).toBe(key);
    });
  }
});

describe('readHeaders', () => {
  it('reads every file under the include dirs, keyed by dir index and relative path', async () => {
    const a = path.join(tmp, 'inc-a');
    const b = path.join(tmp, 'inc-b');
    mkdirSync(a);
    mkdirSync(path.join(b, 'sub'), { recursive: true });
    writeFileSync(path.join(a, 'x.h'), 'x');
    writeFileSync(path.join(b, 'sub', 'y.h'), 'y');
    const h = await readHeaders([a, b]);
    expect(Object.keys(h).sort()).toEqual(['0/x.h', '1/sub/y.h']);
    expect(h['1/sub/y.h']!.toString()).toBe('y');
  });

  it('finds the runtime headers of this project', async () => {
    const h = await readHeaders([path.join(projectRoot(), 'runtime', 'include')]);
    expect(Object.keys(h)).toContain('0/sagegen_variant.h');
  });
});

describe('resolveCacheDir', () => {
  it('is none for false, the option when given, else SAGEGEN_CACHE_DIR, else generated/.cache', () => {
    expect(resolveCacheDir(false, { SAGEGEN_CACHE_DIR: '/env' })).toBeUndefined();
    expect(resolveCacheDir('/opt/c', { SAGEGEN_CACHE_DIR: '/env' })).toBe('/opt/c');
    expect(resolveCacheDir('rel', {})).toBe(path.resolve('rel'));
    expect(resolveCacheDir(undefined, { SAGEGEN_CACHE_DIR: '/env' })).toBe('/env');
    expect(resolveCacheDir(undefined, {})).toBe(path.join(projectRoot(), 'generated', '.cache'));
    expect(resolveCacheDir(undefined, { SAGEGEN_CACHE_DIR: '' })).toBe(path.join(projectRoot(), 'generated', '.cache'));
  });
});

describe('cachePut / cacheGet', () => {
  const KEY = sha256('some key');
  const files = () => ({ 'object.o': Buffer.from('object bytes'), 'kernel.cubin': Buffer.from('\x7fELF cubin'), 'ptxas.log': Buffer.from('') });

  it('misses on an empty cache', async () => {
    expect(await cacheGet(freshDir(), KEY)).toBeUndefined();
  });

  it('stores an entry at <dir>/<key[0:2]>/<key>/ with an entry.json listing each file, and finds it', async () => {
    const dir = freshDir();
    expect(await cachePut(dir, KEY, files(), { variant: 'v' })).toBe(true);
    const entry = entryDir(dir, KEY);
    expect(entry).toBe(path.join(dir, KEY.slice(0, 2), KEY));
    expect(readdirSync(entry).sort()).toEqual(['entry.json', 'kernel.cubin', 'object.o', 'ptxas.log']);
    const json = JSON.parse(readFileSync(path.join(entry, 'entry.json'), 'utf8'));
    expect(json).toMatchObject({ key: KEY, variant: 'v', format: 1 });
    for (const [name, data] of Object.entries(files())) expect(json.files[name]).toEqual({ sha256: sha256(data), size: data.length });
    expect(readdirSync(path.dirname(entry)), 'no temporary directory left').toEqual([KEY]);
    expect(await cacheGet(dir, KEY, ['object.o'])).toEqual(files());
  });

  it('keeps the first entry when the key is stored again', async () => {
    const dir = freshDir();
    expect(await cachePut(dir, KEY, files())).toBe(true);
    expect(await cachePut(dir, KEY, { 'object.o': Buffer.from('another compile') })).toBe(false);
    expect(await cacheGet(dir, KEY)).toEqual(files());
    expect(readdirSync(path.join(dir, KEY.slice(0, 2)))).toEqual([KEY]);
  });

  it('with many writers storing one key at once: one wins, the entry is whole, nothing is left over', async () => {
    const dir = freshDir();
    const contents = Array.from({ length: 16 }, (_, i) => ({ 'object.o': Buffer.from(`compile ${i} `.repeat(10_000 + i)) }));
    const won = await Promise.all(contents.map((f) => cachePut(dir, KEY, f)));
    expect(won.filter(Boolean)).toHaveLength(1);
    const got = await cacheGet(dir, KEY, ['object.o']);
    expect(got).toEqual(contents[won.indexOf(true)]);
    expect(readdirSync(path.join(dir, KEY.slice(0, 2)))).toEqual([KEY]);
  });

  const corruptions: [string, (entry: string) => void][] = [
    ['entry.json deleted (a half-written entry)', (e) => unlinkSync(path.join(e, 'entry.json'))],
    ['entry.json unreadable JSON', (e) => writeFileSync(path.join(e, 'entry.json'), '{"format": 1, "key": ')],
    ['entry.json for another key', (e) => {
      const j = JSON.parse(readFileSync(path.join(e, 'entry.json'), 'utf8'));
      writeFileSync(path.join(e, 'entry.json'), JSON.stringify({ ...j, key: sha256('other') }));
    }],
    ['a file truncated', (e) => truncateSync(path.join(e, 'object.o'), 3)],
    ['a file with one byte edited (same size)', (e) => {
      const f = path.join(e, 'kernel.cubin');
      const data = readFileSync(f);
      data[1] = data[1]! ^ 0xff;
      writeFileSync(f, data);
    }],
    ['a listed file missing', (e) => unlinkSync(path.join(e, 'ptxas.log'))],
  ];
  for (const [what, corrupt] of corruptions) {
    it(`detects ${what}: removes the entry, misses, and stores anew`, async () => {
      const dir = freshDir();
      const lines: string[] = [];
      await cachePut(dir, KEY, files());
      corrupt(entryDir(dir, KEY));
      expect(await cacheGet(dir, KEY, [], (l) => lines.push(l))).toBeUndefined();
      expect(lines.join('\n')).toMatch(/removing corrupt entry/);
      expect(readdirSync(path.join(dir, KEY.slice(0, 2))), 'removed, with no trash left').toEqual([]);
      expect(await cachePut(dir, KEY, files())).toBe(true);
      expect(await cacheGet(dir, KEY)).toEqual(files());
    });
  }

  it('treats an entry lacking a required file as corrupt', async () => {
    const dir = freshDir();
    await cachePut(dir, KEY, { 'object.o': Buffer.from('o') });
    expect(await cacheGet(dir, KEY, ['object.o', 'kernel.cubin'])).toBeUndefined();
    expect(existsSync(entryDir(dir, KEY))).toBe(false);
  });

  it('refuses file names that are not plain names, leaving nothing behind', async () => {
    const dir = freshDir();
    await expect(cachePut(dir, KEY, { '../escape': Buffer.from('x') })).rejects.toThrow(/bad entry file name/);
    await expect(cachePut(dir, KEY, { 'entry.json': Buffer.from('x') })).rejects.toThrow(/bad entry file name/);
    expect(readdirSync(path.join(dir, KEY.slice(0, 2)))).toEqual([]);
  });
});
