/**
 * The build pipeline end to end with the real nvcc (skipped without nvcc, fatal under CI=true), and
 * failed builds with a fake nvcc (no CUDA needed).
 *
 * nvcc is only ever run through toolchain/ (build() → compileVariant/compileHost/linkLibraries); the
 * tests themselves run `nm` and fake nvcc shell scripts only.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, planAll, type BuildManifest } from '../build/build.js';
import { fingerprintOf } from '../build/fingerprint.js';
import { defaultSpecInput } from '../dsl/builder.js';
import { parseSpec, type AttentionSpec } from '../dsl/spec.js';
import { planKernel } from '../plan/plan.js';
import { renderVariant } from '../render/render.js';
import { findNvcc, ToolchainError } from '../toolchain/nvcc.js';
import { describeNvcc, requireNvcc } from './helpers/nvcc.js';
import { attentionKernelPtx, loadsAfterFirstOutputStore } from './helpers/ptx.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HEADER = path.join(ROOT, 'runtime', 'include', 'sagegen.h');

const QK_INT8 = 'mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32';
const PV_FP8_F16 = 'mma.sync.aligned.m16n8k32.row.col.f16.e4m3.e4m3.f16';
const PV_F16 = 'mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32';

const spec = (arch: AttentionSpec['arch'], headDim: 64 | 128) => parseSpec(defaultSpecInput({ arch, headDim, causal: false, dtype: 'fp16' }));

/** The C API as declared in sagegen.h: every `SAGEGEN_API <type> <name>(`. */
function headerApi(): string[] {
  const text = readFileSync(HEADER, 'utf8');
  const names = [...text.matchAll(/^SAGEGEN_API\s+[^;(]*?\b(sagegen_\w+)\s*\(/gm)].map((m) => m[1]!);
  return [...new Set(names)].sort();
}

/** `__global__` kernels defined in a rendered source, and the template instances it launches. */
function kernelsOf(cu: string): string[] {
  const defined = [...cu.matchAll(/__global__\s+void\s+(?:__launch_bounds__\([^)]*\)\s+)?(\w+)\s*\(/g)].map((m) => m[1]!);
  const out: string[] = [];
  for (const k of new Set(defined)) {
    const instances = [...new Set([...cu.matchAll(new RegExp(`\\b${k}<Operand::(\\w+)`, 'g'))].map((m) => m[1]!))];
    if (instances.length) out.push(...instances.map((i) => `${k}<${i}>`));
    else out.push(k);
  }
  return out.sort();
}

describe('helpers of this file', () => {
  it('headerApi finds the declarations of sagegen.h (including multi-line ones)', () => {
    const api = headerApi();
    expect(api).toContain('sagegen_forward');
    expect(api).toContain('sagegen_workspace_size'); // its parameter list spans two lines
    expect(api.length).toBeGreaterThanOrEqual(5);
  });

  it('kernelsOf lists the kernels of a rendered variant with the quantizer instances', () => {
    const ks = kernelsOf(renderVariant(planKernel(spec('sm_89', 64))));
    expect(ks).toContain('attentionKernel');
    expect(ks).toContain('quantizeInt8Kernel<Query>');
    expect(ks).toContain('quantizeInt8Kernel<Key>');
    expect(ks).not.toContain('quantizeInt8Kernel');
  });
});

describeNvcc('build() with nvcc: sm_89 + sm_90a at D=128, sm_89 at D=64', () => {
  const specs = [spec('sm_89', 128), spec('sm_90a', 128), spec('sm_89', 64)];
  const plans = planAll(specs);
  const [sm89, sm90a, sm89d64] = plans as [(typeof plans)[0], (typeof plans)[0], (typeof plans)[0]];
  let tmp: string;
  let out: string;
  let manifest: BuildManifest;
  let onDisk: BuildManifest;

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'sagegen-build-'));
    out = path.join(tmp, 'out');
    manifest = await build({ specs, outDir: out, jobs: 2, nvcc: requireNvcc() });
    onDisk = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as BuildManifest;
  });
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('writes manifest.json equal to what build() returned', () => {
    expect(onDisk).toEqual(JSON.parse(JSON.stringify(manifest)));
  });

  it('records the nvcc that compiled it', () => {
    const nvcc = requireNvcc();
    expect(onDisk.nvcc).toEqual({ path: nvcc.path, version: `${nvcc.version[0]}.${nvcc.version[1]}`, build: nvcc.build });
  });

  it('records the header ABI version', () => {
    const abi = Number(/#define SAGEGEN_ABI_VERSION (\d+)/.exec(readFileSync(HEADER, 'utf8'))![1]);
    expect(onDisk.abiVersion).toBe(abi);
    expect(abi).toBeGreaterThan(0);
  });

  it('lists every variant with its spec and plan', () => {
    expect(onDisk.variants.map((v) => v.name)).toEqual(plans.map((p) => p.name));
    for (const [i, v] of onDisk.variants.entries()) {
      expect(v.spec).toEqual(specs[i]);
      expect(v.plan).toEqual(JSON.parse(JSON.stringify(plans[i])));
    }
  });

  it('keeps each rendered source with its hash', () => {
    for (const [i, v] of onDisk.variants.entries()) {
      const text = readFileSync(path.join(out, v.source), 'utf8');
      expect(text).toBe(renderVariant(plans[i]!));
      expect(v.sourceSha256).toBe(createHash('sha256').update(text).digest('hex'));
    }
  });

  it('records the source fingerprint that fingerprintOf computes without compiling', async () => {
    expect(onDisk.fingerprint.kernels).toEqual(Object.fromEntries(onDisk.variants.map((v) => [v.name, v.sourceSha256])));
    expect(onDisk.fingerprint).toEqual(await fingerprintOf(specs));
  });

  it('has a ptxas entry for every kernel of every variant, with registers and no spills', () => {
    for (const v of onDisk.variants) {
      const cu = readFileSync(path.join(out, v.source), 'utf8');
      expect(v.ptxas.map((e) => e.kernel).sort(), v.name).toEqual(kernelsOf(cu));
      const attn = v.ptxas.find((e) => e.kernel === 'attentionKernel');
      expect(attn, v.name).toBeDefined();
      expect(attn!.registers).toBeGreaterThan(0);
      expect(attn!.registers).toBeLessThanOrEqual(255);
      for (const e of v.ptxas) {
        expect(e.arch, `${v.name} ${e.kernel}`).toBe(v.plan.arch.gencodeCode);
        expect([e.spillStoreBytes, e.spillLoadBytes], `${v.name} ${e.kernel} spills`).toEqual([0, 0]);
      }
    }
  });

  it('keeps the PTX of the sm_89 variants, holding the INT8 and FP8 f16-accumulate mma', () => {
    for (const plan of [sm89, sm89d64]) {
      const v = onDisk.variants.find((x) => x.name === plan.name)!;
      expect(v.ptx).toBe(`ptx/${plan.name}.ptx`);
      const ptx = readFileSync(path.join(out, v.ptx!), 'utf8');
      expect(ptx).toMatch(/^\.target sm_89\b/m);
      expect(ptx).toContain(QK_INT8);
      expect(ptx).toContain(PV_FP8_F16);
    }
  });

  it('the mma.sync epilogue loads its V scales and LSE corrections before the first O store, and nothing after it', () => {
    // a load after a store to O waits for it in order, as they might alias (results/wgmma/session21/)
    for (const plan of plans) {
      const v = onDisk.variants.find((x) => x.name === plan.name)!;
      const kernel = attentionKernelPtx(readFileSync(path.join(out, v.ptx!), 'utf8'));
      const { outputStores, loadsAfter } = loadsAfterFirstOutputStore(kernel);
      expect(outputStores, v.name).toBeGreaterThan(0);
      expect(loadsAfter, v.name).toBe(0);
    }
  });

  it('keeps the sm_90a PTX for inspection only (not embedded), with the INT8 and (its default) 16-bit P·V mma, and a cubin', () => {
    const v = onDisk.variants.find((x) => x.name === sm90a.name)!;
    const sm89v = onDisk.variants.find((x) => x.name === sm89.name)!;
    expect(v.ptxEmbedded).toBe(false);
    expect(sm89v.ptxEmbedded).toBe(true);
    const ptx = readFileSync(path.join(out, v.ptx!), 'utf8');
    expect(ptx).toMatch(/^\.target sm_90a\b/m);
    expect(ptx).toContain(QK_INT8);
    expect(ptx).toContain(PV_F16);
    expect(ptx).not.toContain(PV_FP8_F16);
    const cubin = readFileSync(path.join(out, v.cubin));
    expect(cubin.length).toBeGreaterThan(0);
    expect(cubin.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    // the cubin is this variant's: its symbol table names the variant's kernels
    expect(cubin.includes(Buffer.from(`${sm90a.name}15attentionKernel`))).toBe(true);
  });

  it('keeps an ELF cubin for every variant', () => {
    for (const v of onDisk.variants) {
      const cubin = readFileSync(path.join(out, v.cubin));
      expect(cubin.subarray(0, 4).toString('latin1'), v.name).toBe('\x7fELF');
      expect(cubin.includes(Buffer.from(v.name))).toBe(true);
    }
  });

  it('libsagegen.so exports exactly the API of sagegen.h', async () => {
    const api = headerApi();
    const { stdout } = await execa('nm', ['-D', '--defined-only', path.join(out, 'lib', 'libsagegen.so')]);
    const symbols = stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length >= 3)
      .map((f) => ({ type: f[1]!, name: f[2]! }));
    const exported = symbols.filter((s) => s.name.startsWith('sagegen_'));
    expect(exported.map((s) => s.name).sort()).toEqual(api);
    for (const s of exported) expect(s.type, s.name).toBe('T');
    // nothing else of the library leaks: no C++ symbol of namespace sagegen or of a variant
    const leaked = symbols.filter((s) => !s.name.startsWith('sagegen_') && /sagegen|sage_sm/.test(s.name)).map((s) => s.name);
    expect(leaked).toEqual([]);
  });

  it('libsagegen.a is an archive defining the same API', async () => {
    const archive = path.join(out, 'lib', 'libsagegen.a');
    expect(readFileSync(archive).subarray(0, 8).toString('latin1')).toBe('!<arch>\n');
    const { stdout } = await execa('nm', ['--defined-only', archive]);
    const defined = new Set([...stdout.matchAll(/^[0-9a-f]+ T (sagegen_\w+)$/gm)].map((m) => m[1]!));
    for (const name of headerApi()) expect(defined.has(name), name).toBe(true);
  });

  it('ships the header it was built against', () => {
    expect(readFileSync(path.join(out, 'include', 'sagegen.h'), 'utf8')).toBe(readFileSync(HEADER, 'utf8'));
  });

  it('leaves nothing but the output directory: no .tmp-/.old- siblings, no keep dir', () => {
    expect(readdirSync(tmp)).toEqual(['out']);
    expect(existsSync(path.join(out, 'keep'))).toBe(false);
  });

  it('a rebuild into the same directory replaces it in place and leaves no siblings', async () => {
    const marker = path.join(out, 'stale-file');
    writeFileSync(marker, 'from an earlier build');
    const again = await build({ specs: [specs[2]!], outDir: out, jobs: 2, nvcc: requireNvcc() });
    expect(again.variants.map((v) => v.name)).toEqual([sm89d64.name]);
    expect(existsSync(marker)).toBe(false);
    expect(readdirSync(tmp)).toEqual(['out']);
    onDisk = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as BuildManifest;
    expect(onDisk.variants.map((v) => v.name)).toEqual([sm89d64.name]);
  });
});

describe('a failed build (fake nvcc that fails)', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sagegen-failed-build-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  /**
   * A fake nvcc: answers --version like nvcc 13.0; every compile logs "start"/"end" lines and exits 1.
   * Sources of D=128 variants fail at once, all others after `slowSeconds`.
   */
  function writeFakeNvcc(dir: string, slowSeconds: number): { file: string; log: string } {
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'nvcc');
    const log = path.join(dir, 'compiles.log');
    writeFileSync(
      file,
      [
        '#!/bin/sh',
        'if [ "$1" = "--version" ]; then',
        '  echo "nvcc: NVIDIA (R) Cuda compiler driver"',
        '  echo "Cuda compilation tools, release 13.0, V13.0.88"',
        '  exit 0',
        'fi',
        `echo "start $$" >> '${log}'`,
        'case "$*" in',
        '  *_d128_*) ;;',
        `  *) sleep ${slowSeconds} ;;`,
        'esac',
        `echo "end $$" >> '${log}'`,
        'echo "fake-nvcc: error: simulated compile failure" >&2',
        'exit 1',
        '',
      ].join('\n'),
    );
    chmodSync(file, 0o755);
    return { file, log };
  }

  const count = (log: string, what: 'start' | 'end') =>
    existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((l) => l.startsWith(`${what} `)).length : 0;

  /** Waits until every fake compile that started has ended and none started for `quietMs`. */
  async function settle(log: string, quietMs = 1500, maxMs = 20_000): Promise<void> {
    const t0 = Date.now();
    let last = '';
    let since = Date.now();
    while (Date.now() - t0 < maxMs) {
      const now = `${count(log, 'start')}/${count(log, 'end')}`;
      if (now !== last) [last, since] = [now, Date.now()];
      else if (count(log, 'start') === count(log, 'end') && Date.now() - since >= quietMs) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`fake nvcc runs did not settle: ${last}`);
  }

  async function failingBuild(name: string, specs: AttentionSpec[], prepare?: (out: string) => void) {
    const dir = path.join(tmp, name);
    const work = path.join(dir, 'work');
    mkdirSync(work, { recursive: true });
    const fake = writeFakeNvcc(path.join(dir, 'fake'), 0.5);
    const nvcc = await findNvcc({ ...process.env, SAGEGEN_NVCC: fake.file });
    expect(nvcc).toMatchObject({ path: fake.file, foundVia: 'SAGEGEN_NVCC', version: [13, 0] });
    const out = path.join(work, 'out');
    prepare?.(out);
    const error = await build({ specs, outDir: out, jobs: 2, nvcc }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const startsAtRejection = count(fake.log, 'start');
    const endsAtRejection = count(fake.log, 'end');
    await settle(fake.log);
    return { error, out, work, log: fake.log, startsAtRejection, endsAtRejection };
  }

  it('reports the nvcc error and leaves neither an output directory nor a .tmp- directory', async () => {
    const r = await failingBuild('single', [spec('sm_89', 128)]);
    expect(r.error).toBeInstanceOf(ToolchainError);
    expect((r.error as Error).message).toContain('simulated compile failure');
    expect((r.error as Error).message).toMatch(/failed \(exit 1\)/);
    expect(existsSync(r.out)).toBe(false);
    expect(readdirSync(r.work)).toEqual([]);
  });

  it('leaves a pre-existing output directory exactly as it was', async () => {
    const before: Record<string, string> = {};
    const r = await failingBuild('existing', [spec('sm_89', 128)], (out) => {
      mkdirSync(path.join(out, 'lib'), { recursive: true });
      writeFileSync(path.join(out, 'manifest.json'), '{"from":"the previous build"}\n');
      writeFileSync(path.join(out, 'lib', 'libsagegen.so'), 'previous library');
      for (const f of ['manifest.json', 'lib/libsagegen.so']) before[f] = readFileSync(path.join(out, f), 'utf8');
    });
    expect(r.error).toBeInstanceOf(ToolchainError);
    expect(readdirSync(r.work)).toEqual(['out']);
    expect(readdirSync(r.out).sort()).toEqual(['lib', 'manifest.json']);
    for (const [f, text] of Object.entries(before)) expect(readFileSync(path.join(r.out, f), 'utf8')).toBe(text);
    expect(statSync(path.join(r.out, 'lib')).isDirectory()).toBe(true);
  });

  // Several variants, 2 jobs, alternating fast (D=128) and slow (D=64) failures: when the first
  // compile fails, another is still running and more are queued. That is the usual shape of a real
  // failure: one variant hits a ptxas error while the others are still compiling.
  const manySpecs = () => (['sm_89', 'sm_90a', 'sm_120'] as const).flatMap((arch) => [spec(arch, 128), spec(arch, 64)]);

  it('with compiles still running when one fails: reports the nvcc error and leaves no .tmp- directory', async () => {
    const r = await failingBuild('concurrent', manySpecs());
    expect(r.error).toBeInstanceOf(ToolchainError);
    expect((r.error as Error).message).toContain('simulated compile failure');
    expect(readdirSync(r.work), 'leftovers next to the output directory').toEqual([]);
  });

  it('does not reject while compiles are still running, nor start any after rejecting', async () => {
    const r = await failingBuild('no-more-compiles', manySpecs());
    expect(r.error).toBeDefined();
    expect(r.startsAtRejection).toBeGreaterThan(0);
    expect(r.endsAtRejection, 'nvcc runs still in flight when build() rejected').toBe(r.startsAtRejection);
    expect(count(r.log, 'start'), 'nvcc runs started after build() rejected').toBe(r.startsAtRejection);
  });
});
