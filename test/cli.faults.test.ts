/**
 * The CLI's answers to bad input and to a hostile file system, as a user runs it (`node
 * dist/cli/sagegen.js`): each fault gives a ONE-line message on stderr starting "sagegen: ", exit 1,
 * nothing on stdout, no stack trace, and leaves the output directory (and its parent) as it was. Builds
 * use a fake nvcc (test/helpers/fake-nvcc.ts) through SAGEGEN_NVCC, so no CUDA is needed.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultSpecInput } from '../dsl/builder.js';
import { CLI, ROOT, expectUserError, runCli } from './helpers/cli.js';
import { invocations, writeFakeNvcc } from './helpers/fake-nvcc.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sagegen-cli-faults-'));
// Readable by the unprivileged user some tests run the CLI as (see `asUnprivileged`).
chmodSync(tmp, 0o755);
afterAll(() => {
  // a read-only directory made by a test must not keep its contents from being removed
  for (const d of readdirSync(tmp)) chmodSync(path.join(tmp, d), 0o755);
  rmSync(tmp, { recursive: true, force: true });
});
let n = 0;
/** A new empty directory under tmp. */
const fresh = (what: string) => {
  const dir = path.join(tmp, `${what}-${n++}`);
  mkdirSync(dir, { mode: 0o755 });
  return dir;
};

const goodNvcc = writeFakeNvcc(path.join(tmp, 'fake-good'));
const env = { SAGEGEN_NVCC: goodNvcc.file, SAGEGEN_CACHE_DIR: path.join(tmp, 'cache') };
const sagegen = (args: string[], cwd = tmp, extraEnv: Record<string, string> = {}) => runCli(args, cwd, { env: { ...env, ...extraEnv } });

/** expectUserError, and the message is a single line; returns it. */
function oneLine(r: { exitCode?: number; stdout: string; stderr: string }): string {
  const stderr = expectUserError(r);
  expect(stderr.trimEnd().split('\n'), stderr).toHaveLength(1);
  return stderr.trimEnd();
}

/** Whether any user can reach `file`: every directory above it searchable by others, and it readable by others. */
function worldReachable(file: string): boolean {
  const modes = [file, ...ancestors(file)].map((p) => statSync(p).mode);
  return (modes[0]! & 0o004) !== 0 && modes.slice(1).every((m) => (m & 0o001) !== 0);
}

function ancestors(file: string): string[] {
  const out: string[] = [];
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    out.push(dir);
    if (dir === path.dirname(dir)) return out;
  }
}

/** Every file under `dir` with its contents, to compare a directory before and after. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const file = path.join(dir, name);
    out[name] = statSync(file).isDirectory() ? '<dir>' : readFileSync(file, 'latin1');
  }
  return out;
}

// The groups of pure input faults run their CLI processes concurrently (each test uses its own dirs).
async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  for (const t0 = Date.now(); !condition(); await new Promise((r) => setTimeout(r, 50))) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
  }
}

const BUILD = ['build', '--arch', 'sm_89', '--headdim', '64', '--causal', 'false', '--dtype', 'fp16', '--quiet'];

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${path.relative(ROOT, CLI)} is missing: compile first with \`npx tsc -p .\` (\`npm test\` does it)`);
});

describe.concurrent('unknown flags', () => {
  for (const [command, extra] of [
    ['build', ['--arch', 'sm_89', '--headdim', '64']],
    ['plan', ['--arch', 'sm_89', '--headdim', '64']],
    ['render', ['--arch', 'sm_89', '--headdim', '64', '--out', 'x']],
    ['schema', []],
    ['autotune', ['--arch', 'sm_89', '--headdim', '64', '--dry-run']],
  ] as const) {
    it(`${command} --frobnicate and a misspelt flag: one line naming the flag`, async () => {
      expect(oneLine(await sagegen([command, ...extra, '--frobnicate']))).toMatch(new RegExp(`unknown option --frobnicate: \`sagegen ${command} --help\` lists the options$`));
      expect(oneLine(await sagegen([command, ...extra, '--outt', 'y']))).toContain('outt');
    });
  }

  it('an unknown command: one line', async () => {
    expect(oneLine(await sagegen(['bild', '--arch', 'sm_89']))).toMatch(/unknown command "bild": name one of build, plan, render, schema, autotune$/);
    expect(oneLine(await sagegen(['build', 'extra', '--arch', 'sm_89', '--headdim', '64']))).toMatch(/unexpected argument "extra" to build$/);
  });
});

describe.concurrent('--spec and --config files', () => {
  const bad: [string, (dir: string) => string, RegExp][] = [
    ['a missing file', (dir) => path.join(dir, 'missing.json'), /: cannot read it \(ENOENT\)$/],
    ['a directory', (dir) => dir, /: cannot read it \(EISDIR\)$/],
    ['an empty file', (dir) => (writeFileSync(path.join(dir, 'empty.json'), ''), path.join(dir, 'empty.json')), /: not valid JSON \(.+\)$/],
    ['truncated JSON', (dir) => (writeFileSync(path.join(dir, 'cut.json'), '{"arch": "sm_89", "tiling": {'), path.join(dir, 'cut.json')), /: not valid JSON \(.+\)$/],
    ['JSON with a trailing comma', (dir) => (writeFileSync(path.join(dir, 'comma.json'), '{"arch": "sm_89",}'), path.join(dir, 'comma.json')), /: not valid JSON \(.+\)$/],
  ];
  for (const flag of ['--spec', '--config'] as const)
    for (const [what, make, rule] of bad) {
      it(`${flag} of ${what}: one line naming ${flag}, the file and the problem; nothing written`, async () => {
        const dir = fresh('inputs');
        const file = make(dir);
        const work = fresh('work');
        const message = oneLine(await sagegen(['build', flag, file, '--out', 'out'], work));
        expect(message.startsWith(`sagegen: ${flag} = "${file}": `), message).toBe(true);
        expect(message).toMatch(rule);
        expect(readdirSync(work)).toEqual([]);
      });
    }

  it('--spec with an unknown field: the spec-issue form, naming the file, the field path and its value', async () => {
    const file = path.join(fresh('inputs'), 'typo.json');
    const input = defaultSpecInput({ arch: 'sm_89', headDim: 64 });
    writeFileSync(file, JSON.stringify({ ...input, tiling: { ...input.tiling, stage: 3 } }));
    const stderr = expectUserError(await sagegen(['plan', '--spec', file]));
    expect(stderr).toBe(`sagegen: invalid spec:\n  ${file}: tiling.stage = 3: unknown field (tiling has no "stage")`);
  });
});

describe.concurrent('unsupported arch, head dim and other flag values', () => {
  const cases: [string, string[], string][] = [
    ['--arch sm_75', ['--arch', 'sm_75', '--headdim', '64'], 'sagegen: --arch = "sm_75": must be one of sm_80, sm_86, sm_89, sm_90a, sm_120'],
    ['--arch sm_89,sm_7', ['--arch', 'sm_89,sm_7', '--headdim', '64'], 'sagegen: --arch = "sm_7": must be one of sm_80, sm_86, sm_89, sm_90a, sm_120'],
    ['--headdim 96', ['--arch', 'sm_89', '--headdim', '96'], 'sagegen: --headdim = "96": must be 64 or 128'],
    ['--headdim abc', ['--arch', 'sm_89', '--headdim', 'abc'], 'sagegen: --headdim = "abc": must be 64 or 128'],
    ['--dtype fp8', ['--arch', 'sm_89', '--headdim', '64', '--dtype', 'fp8'], 'sagegen: --dtype = "fp8": must be one of fp16, bf16'],
    ['--jobs 0', ['--arch', 'sm_89', '--headdim', '64', '--jobs', '0'], 'sagegen: --jobs = "0": must be a positive integer'],
    ['--jobs many', ['--arch', 'sm_89', '--headdim', '64', '--jobs', 'many'], 'sagegen: --jobs = "NaN": must be a positive integer'],
  ];
  for (const [what, args, message] of cases) {
    it(`build ${what}: exactly "${message}"; nothing written`, async () => {
      const work = fresh('work');
      expect(oneLine(await sagegen(['build', ...args, '--out', 'out'], work))).toBe(message);
      expect(readdirSync(work)).toEqual([]);
    });
  }
});

describe('unwritable or unsuitable output directories', () => {
  it('--out naming a file: one line, and the file is untouched with nothing beside it', async () => {
    const work = fresh('work');
    writeFileSync(path.join(work, 'out'), 'a file of the user\n');
    const message = oneLine(await sagegen([...BUILD, '--out', 'out'], work));
    expect(message).toBe(`sagegen: output directory "${path.join(work, 'out')}": is a file; a build writes a directory (choose another path)`);
    expect(readdirSync(work)).toEqual(['out']);
    expect(readFileSync(path.join(work, 'out'), 'utf8')).toBe('a file of the user\n');
  });

  it('--out under a file: one line naming the output directory and ENOTDIR; nothing written', async () => {
    const work = fresh('work');
    writeFileSync(path.join(work, 'file'), 'x');
    const message = oneLine(await sagegen([...BUILD, '--out', 'file/sub/out'], work));
    expect(message).toMatch(new RegExp(`^sagegen: output directory "${path.join(work, 'file', 'sub', 'out')}": .*\\((ENOTDIR|EEXIST): a parent is a file, not a directory\\)$`));
    expect(readdirSync(work)).toEqual(['file']);
  });

  it('--out a directory of other files (no manifest.json, e.g. --out .): refused, every file left as it was', async () => {
    const work = fresh('work');
    writeFileSync(path.join(work, 'notes.txt'), 'mine');
    mkdirSync(path.join(work, 'src'));
    writeFileSync(path.join(work, 'src', 'main.c'), 'int main(void) { return 0; }\n');
    const before = snapshot(work);
    const message = oneLine(await sagegen([...BUILD, '--out', '.'], work));
    expect(message).toContain(`output directory "${work}": is a directory of other files (no manifest.json`);
    expect(snapshot(work)).toEqual(before);
    expect(readdirSync(path.dirname(work)).filter((f) => f.startsWith(`${path.basename(work)}.`))).toEqual([]);
  });

  // Root writes into read-only directories, so as root the CLI runs as the unprivileged "nobody",
  // which needs to reach the CLI and its packages (world-readable checkout) and the test's dirs.
  const asRoot = process.getuid?.() === 0;
  const asUnprivileged = asRoot ? { uid: 65534, gid: 65534 } : {};
  const unreachable = asRoot ? [CLI, path.join(ROOT, 'node_modules', 'yargs', 'package.json'), tmp].find((p) => !worldReachable(p)) : undefined;
  if (unreachable) console.warn(`[cli.faults.test] skipping the read-only --out test: running as root and ${unreachable} is not world-readable, so it cannot run as uid 65534`);
  it.skipIf(unreachable !== undefined)(`--out under a read-only directory${asRoot ? ' (run as uid 65534: these tests run as root)' : ''}: one line with EACCES; nothing written`, async () => {
    const parent = fresh('read-only');
    chmodSync(parent, 0o555);
    const work = fresh('work');
    const r = await runCli([...BUILD, '--out', path.join(parent, 'out')], work, { env, ...asUnprivileged });
    const message = oneLine(r);
    expect(message).toBe(`sagegen: output directory "${path.join(parent, 'out')}": cannot write in ${parent} (EACCES: permission denied)`);
    expect(readdirSync(parent)).toEqual([]);
    expect(readdirSync(work)).toEqual([]);
  });
});

describe('a failed build leaves the previous output intact and nothing beside it', () => {
  let work: string;
  let before: Record<string, string>;
  beforeAll(async () => {
    work = fresh('work');
    const r = await sagegen([...BUILD, '--out', 'out'], work);
    expect(r.exitCode, r.stderr).toBe(0);
    before = snapshot(path.join(work, 'out'));
    expect(Object.keys(before)).toContain('manifest.json');
  });

  const failures: [string, () => Record<string, string>, RegExp][] = [
    ['nvcc failing on the variant source', () => ({ SAGEGEN_NVCC: writeFakeNvcc(fresh('fake'), { failOn: '.cu' }).file }), /nvcc failed \(exit 2\) compiling .*\.cu:/],
    ['a killed compile', () => ({ SAGEGEN_NVCC: writeFakeNvcc(fresh('fake'), { killOn: '.cu' }).file }), /nvcc was killed \(SIGKILL\)/],
    ['nvcc too old (12.4) for the FP8 f16-accumulate mma', () => ({ SAGEGEN_NVCC: writeFakeNvcc(fresh('fake'), { release: '12.4' }).file }), /needs CUDA 12\.8 or newer/],
    ['SAGEGEN_NVCC naming no file', () => ({ SAGEGEN_NVCC: path.join(tmp, 'no-such-nvcc') }), /^sagegen: SAGEGEN_NVCC = ".*no-such-nvcc": no such file/],
  ];
  for (const [what, makeEnv, rule] of failures) {
    it(`${what}: exit 1 with the reason; out/ byte for byte as before; no .tmp-, .old- or .lock left`, async () => {
      // the build compiles afresh (a cache hit would skip the faulty compile)
      const r = await sagegen([...BUILD, '--out', 'out'], work, { ...makeEnv(), SAGEGEN_CACHE_DIR: fresh('cache') });
      const stderr = expectUserError(r);
      expect(stderr).toMatch(rule);
      expect(readdirSync(work)).toEqual(['out']);
      expect(snapshot(path.join(work, 'out'))).toEqual(before);
    });
  }

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`interrupted by ${signal} while nvcc runs: out/ as before, the staging directory removed, nvcc stopped`, async () => {
      const fake = writeFakeNvcc(fresh('fake'), { delayMs: 60_000 });
      const child = runCli([...BUILD, '--out', 'out'], work, { env: { ...env, SAGEGEN_NVCC: fake.file, SAGEGEN_CACHE_DIR: fresh('cache') } });
      const compiling = () => invocations(fake).filter((i) => i.event === 'start' && i.variant);
      await waitFor(() => compiling().length > 0, 'a compile to start');
      expect(readdirSync(work).filter((f) => f.startsWith('out.tmp-')), 'the staging directory').toHaveLength(1);
      child.kill(signal);
      const r = await child;
      expect(r.signal, r.stderr).toBe(signal);
      expect(readdirSync(work)).toEqual(['out']);
      expect(snapshot(path.join(work, 'out'))).toEqual(before);
      const alive = (pid: number) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      await waitFor(() => compiling().every((i) => !alive(i.pid)), 'the nvcc processes to end');
    });
  }

  it('SAGEGEN_NVCC naming no file: the message is one line', async () => {
    expect(oneLine(await sagegen([...BUILD, '--out', 'out'], work, { SAGEGEN_NVCC: path.join(tmp, 'no-such-nvcc') }))).toContain('SAGEGEN_NVCC');
  });

  it('a successful rebuild replaces it and leaves nothing beside it', async () => {
    const r = await sagegen(['build', '--arch', 'sm_89', '--headdim', '64', '--causal', 'false', '--dtype', 'bf16', '--quiet', '--out', 'out'], work);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readdirSync(work)).toEqual(['out']);
    const manifest = JSON.parse(readFileSync(path.join(work, 'out', 'manifest.json'), 'utf8')) as { variants: { name: string }[] };
    expect(manifest.variants.map((v) => v.name)).toEqual([expect.stringContaining('_bf16_')]);
  });
});

describe('render and schema outputs', () => {
  it('render --out naming a file, schema --out in a missing directory: one line each, nothing written', async () => {
    const work = fresh('work');
    writeFileSync(path.join(work, 'file'), 'x');
    expect(oneLine(await sagegen(['render', '--arch', 'sm_89', '--headdim', '64', '--out', 'file'], work))).toBe('sagegen: --out = "file": cannot create the directory (EEXIST)');
    expect(oneLine(await sagegen(['schema', '--out', 'no-dir/schema.json'], work))).toBe('sagegen: --out = "no-dir/schema.json": cannot write it (ENOENT)');
    expect(readFileSync(path.join(work, 'file'), 'utf8')).toBe('x');
    expect(readdirSync(work)).toEqual(['file']);
  });
});

describe('render', () => {
  it('a refused spec among several: nothing is written, not even the specs before it', async () => {
    const dir = fresh('inputs');
    const file = path.join(dir, 'specs.json');
    const good = defaultSpecInput({ arch: 'sm_89', headDim: 64 });
    // the second passes parseSpec but the plan refuses it (shared memory on sm_86)
    const big = defaultSpecInput({ arch: 'sm_86', headDim: 128 });
    writeFileSync(file, JSON.stringify([good, { ...big, tiling: { ...big.tiling, ctaK: 256, stages: 4 } }]));
    const work = fresh('work');
    const stderr = expectUserError(await sagegen(['render', '--spec', file, '--out', 'cu'], work));
    expect(stderr).toMatch(/invalid spec:\n {2}tiling = .*shared memory/);
    expect(readdirSync(work)).toEqual([]);
  });
});
