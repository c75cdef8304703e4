/**
 * One multi-arch library installed into a prefix, and its consumers, as a user runs them:
 * `sagegen build --arch sm_80,sm_89,sm_90a,sm_120 --headdim 64 ... --install PREFIX`, the fat
 * binaries read without cuobjdump (toolchain/fatbin.ts), the exports with `nm -D`, the CMake package
 * with the C++ example (examples/cpp, configured, built and linked, shared and static), and the
 * pkg-config file with the C example (examples/c). No GPU: the programs are linked, not run.
 * Needs nvcc, cmake, pkg-config and cc (skipped without them, fatal under CI=true).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildManifest } from '../build/build.js';
import { INSTALLED_FILES } from '../build/install.js';
import { CAPABILITIES, type Arch } from '../dsl/capabilities.js';
import { elfSection, fatbinEntries, fatbinTargets, FatbinError, sortArchs } from '../toolchain/fatbin.js';
import { expectUserError, ROOT, runCli } from './helpers/cli.js';
import { describeNvcc } from './helpers/nvcc.js';
import { describeIfTool } from './helpers/skip.js';

const ARCHS: Arch[] = ['sm_80', 'sm_89', 'sm_90a', 'sm_120'];
const HEADER = path.join(ROOT, 'runtime', 'include', 'sagegen.h');

/** The C API as declared in sagegen.h: every `SAGEGEN_API <type> <name>(`. */
function headerApi(): string[] {
  const text = readFileSync(HEADER, 'utf8');
  return [...new Set([...text.matchAll(/^SAGEGEN_API\s+[^;(]*?\b(sagegen_\w+)\s*\(/gm)].map((m) => m[1]!))].sort();
}

async function missingTools(): Promise<string> {
  const probes = await Promise.all(
    [
      ['cmake', ['--version']],
      ['pkg-config', ['--version']],
      ['cc', ['--version']],
      ['nm', ['--version']],
    ].map(async ([cmd, args]) => ((await execa(cmd as string, args as string[], { reject: false })).failed ? `${cmd as string} not usable` : '')),
  );
  return probes.filter(Boolean).join('; ');
}
const missing = await missingTools();

describe('fat binary reader on malformed input', () => {
  it('refuses a file that is not ELF', () => {
    expect(() => elfSection(Buffer.from('not an elf file at all, just some text here to pass the length check ......'), '.nv_fatbin')).toThrow(FatbinError);
  });
  it('refuses an entry that runs past its fat binary', () => {
    const fat = Buffer.alloc(16 + 64);
    fat.writeUInt32LE(0xba55ed50, 0);
    fat.writeUInt16LE(1, 4);
    fat.writeUInt16LE(16, 6);
    fat.writeBigUInt64LE(64n, 8);
    fat.writeUInt16LE(2, 16); // SASS
    fat.writeUInt32LE(64, 20); // entry header size
    fat.writeBigUInt64LE(1000n, 24); // payload far larger than the fat binary
    expect(() => fatbinEntries(fat)).toThrow(/malformed/);
  });
  it('sorts arch names by number, sm_90 before sm_90a', () => {
    expect(sortArchs(['sm_120', 'sm_90a', 'sm_80', 'sm_90', 'sm_80'])).toEqual(['sm_80', 'sm_90', 'sm_90a', 'sm_120']);
  });
});

describeNvcc('multi-arch package: build --install, fat binaries, exports', () => {
  describeIfTool('cmake, pkg-config, cc and nm', !missing, missing, 'and its consumers', () => {
    let tmp: string;
    let out: string;
    let prefix: string;
    let manifest: BuildManifest;
    const env = () => ({ ...process.env, PKG_CONFIG_PATH: path.join(prefix, 'lib', 'pkgconfig') });

    beforeAll(async () => {
      tmp = mkdtempSync(path.join(os.tmpdir(), 'sagegen-package-'));
      out = path.join(tmp, 'build');
      prefix = path.join(tmp, 'prefix');
      const args = ['build', '--arch', ARCHS.join(','), '--headdim', '64', '--dtype', 'fp16', '--causal', 'false', '--out', out, '--install', prefix, '--quiet'];
      const r = await runCli(args, tmp);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toContain(`installed into ${prefix} (archs ${ARCHS.join(', ')})`);
      manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as BuildManifest;
    });
    afterAll(() => {
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    });

    it('the manifest lists, per variant, the targets in its fat binary: SASS for its arch, PTX unless arch-specific', () => {
      expect(manifest.variants.map((v) => v.spec.arch)).toEqual(ARCHS);
      for (const v of manifest.variants) {
        const cap = CAPABILITIES[v.spec.arch];
        expect(v.fatbin, v.name).toEqual({ sass: [v.spec.arch], ptx: cap.archSpecific ? [] : [cap.gencodeArch] });
      }
      expect(manifest.archs).toEqual({ sass: ARCHS, ptx: ['compute_80', 'compute_89', 'compute_120'] });
    });

    it("each variant's SASS entry is byte for byte the cubin nvcc kept (the reader finds the right bytes)", () => {
      for (const v of manifest.variants) {
        const object = readFileSync(path.join(out, 'obj', `${v.name}.o`));
        const sass = fatbinEntries(elfSection(object, '.nv_fatbin')!).filter((e) => e.kind === 'sass');
        expect(sass.length, v.name).toBe(1);
        expect(sass[0]!.payload.equals(readFileSync(path.join(out, v.cubin))), v.name).toBe(true);
      }
    });

    it('the installed libsagegen.so holds SASS for every requested arch and PTX for every arch without the "a" suffix', () => {
      const held = fatbinTargets(readFileSync(path.join(prefix, 'lib', 'libsagegen.so')));
      for (const arch of ARCHS) expect(held.sass, arch).toContain(arch);
      expect(held.ptx).toEqual(expect.arrayContaining(['compute_80', 'compute_89', 'compute_120']));
      expect(held.ptx).not.toContain('compute_90a');
    });

    it('libsagegen.so exports exactly the API of sagegen.h (nm -D), sagegen_archs among it, and has an SONAME', async () => {
      const so = path.join(prefix, 'lib', 'libsagegen.so');
      const { stdout } = await execa('nm', ['-D', '--defined-only', so]);
      const exported = [...stdout.matchAll(/^[0-9a-f]+ T (sagegen_\w+)$/gm)].map((m) => m[1]!).sort();
      expect(exported).toEqual(headerApi());
      expect(exported).toContain('sagegen_archs');
      const dynamic = (await execa('readelf', ['-d', so])).stdout;
      expect(dynamic).toMatch(/\(SONAME\)\s+Library soname: \[libsagegen\.so\]/);
    });

    it('installs exactly the layout, the header and manifest unchanged, and leaves no staging directory', () => {
      const files: string[] = [];
      const walk = (dir: string) => {
        for (const e of readdirSync(path.join(prefix, dir), { withFileTypes: true })) {
          const rel = path.posix.join(dir, e.name);
          if (e.isDirectory()) walk(rel);
          else files.push(rel);
        }
      };
      walk('');
      expect(files.sort()).toEqual([...INSTALLED_FILES].sort());
      expect(readFileSync(path.join(prefix, 'include', 'sagegen.h'), 'utf8')).toBe(readFileSync(HEADER, 'utf8'));
      expect(readFileSync(path.join(prefix, 'share', 'sagegen', 'manifest.json'), 'utf8')).toBe(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
      expect(readFileSync(path.join(prefix, 'lib', 'libsagegen.a')).equals(readFileSync(path.join(out, 'lib', 'libsagegen.a')))).toBe(true);
    });

    it('the pkg-config file resolves: version, flags, archs, ABI', async () => {
      const pc = (...args: string[]) => execa('pkg-config', [...args, 'sagegen'], { env: env() }).then((r) => r.stdout.trim());
      expect(await pc('--modversion')).toBe(manifest.sagegenVersion);
      const flags = (await pc('--cflags', '--libs')).split(/\s+/).map((f) => f.replace(/\/lib\/pkgconfig\/\.\.\/\.\./g, ''));
      expect(flags).toEqual(expect.arrayContaining([`-I${prefix}/include`, `-L${prefix}/lib`, '-lsagegen']));
      expect(await pc('--variable=archs')).toBe(ARCHS.join(','));
      expect(await pc('--variable=abi_version')).toBe(String(manifest.abiVersion));
      expect(existsSync(path.join(await pc('--variable=cuda_includedir'), 'cuda_runtime_api.h'))).toBe(true);
    });

    it('the C example builds and links with pkg-config flags, against libsagegen.so', async () => {
      const exe = path.join(tmp, 'forward_constant_v');
      const pc = async (...args: string[]) => (await execa('pkg-config', [...args, 'sagegen'], { env: env() })).stdout.trim();
      const flags = [
        ...(await pc('--cflags', '--libs')).split(/\s+/),
        `-I${await pc('--variable=cuda_includedir')}`,
        `-L${await pc('--variable=cuda_libdir')}`,
        '-lcudart',
        '-lm',
      ];
      const r = await execa('cc', ['-std=c99', '-Wall', '-Wextra', '-Werror', path.join(ROOT, 'examples', 'c', 'forward_constant_v.c'), ...flags, '-o', exe], { reject: false });
      expect(r.exitCode, r.stderr).toBe(0);
      const dynamic = (await execa('readelf', ['-d', exe])).stdout;
      expect(dynamic).toMatch(/\(NEEDED\)\s+Shared library: \[libsagegen\.so\]/);
      expect(dynamic).toContain(`${prefix}/lib`); // the rpath the .pc file gives
      expect((await execa('nm', ['-u', exe])).stdout).toMatch(/\bsagegen_forward\b/);
    });

    for (const linkage of ['shared', 'static'] as const) {
      it(`the C++ example configures with find_package(sagegen), builds and links (${linkage})`, async () => {
        const dir = path.join(tmp, `example-${linkage}`);
        const configure = await execa(
          'cmake',
          ['-S', path.join(ROOT, 'examples', 'cpp'), '-B', dir, `-DCMAKE_PREFIX_PATH=${prefix}`, `-DSAGEGEN_EXAMPLE_STATIC=${linkage === 'static' ? 'ON' : 'OFF'}`],
          { reject: false },
        );
        expect(configure.exitCode, `${configure.stdout}\n${configure.stderr}`).toBe(0);
        expect(configure.stdout).toContain(`sagegen ${manifest.sagegenVersion} (ABI ${manifest.abiVersion}): archs ${ARCHS.join(';')}`);
        const compile = await execa('cmake', ['--build', dir], { reject: false });
        expect(compile.exitCode, `${compile.stdout}\n${compile.stderr}`).toBe(0);
        const exe = path.join(dir, 'sagegen_example');
        const dynamic = (await execa('readelf', ['-d', exe])).stdout;
        if (linkage === 'shared') {
          expect(dynamic).toMatch(/\(NEEDED\)\s+Shared library: \[libsagegen\.so\]/);
          expect((await execa('nm', ['-u', exe])).stdout).toMatch(/\bsagegen_forward\b/);
        } else {
          expect(dynamic).not.toContain('libsagegen');
          expect((await execa('nm', ['--defined-only', exe])).stdout).toMatch(/ T sagegen_forward$/m);
        }
        expect(dynamic).toMatch(/\(NEEDED\)\s+Shared library: \[libcudart\.so/); // CUDA::cudart from the package
      });
    }

    it('the CMake version file accepts its major.minor and the exact version, refuses another major or minor', async () => {
      const [major, minor] = manifest.sagegenVersion.split('.');
      const probe = async (want: string) => {
        const [m, n] = want.split('.');
        const script = path.join(tmp, `version-${want}.cmake`);
        writeFileSync(
          script,
          [
            `set(PACKAGE_FIND_VERSION "${want}")`,
            `set(PACKAGE_FIND_VERSION_MAJOR ${m})`,
            `set(PACKAGE_FIND_VERSION_MINOR ${n})`,
            'set(CMAKE_SIZEOF_VOID_P 8)',
            `include("${path.join(prefix, 'lib', 'cmake', 'sagegen', 'sagegenConfigVersion.cmake')}")`,
            'message("compatible=${PACKAGE_VERSION_COMPATIBLE} exact=${PACKAGE_VERSION_EXACT}")',
            '',
          ].join('\n'),
        );
        return (await execa('cmake', ['-P', script])).stderr.trim();
      };
      expect(await probe(`${major}.${minor}`)).toMatch(/^compatible=TRUE /); // CMake pads 0.1 to 0.1.0: exact too for x.y.0
      expect(await probe(manifest.sagegenVersion)).toBe('compatible=TRUE exact=TRUE');
      expect(await probe(`${Number(major) + 1}.0`)).toBe('compatible=FALSE exact=FALSE');
      expect(await probe(`${major}.${Number(minor) + 1}`)).toBe('compatible=FALSE exact=FALSE');
    });

    it('a second install over the first replaces the files and leaves nothing else', async () => {
      writeFileSync(path.join(prefix, 'lib', 'libsagegen.so'), 'stale');
      const r = await runCli(['build', '--arch', 'sm_89', '--headdim', '64', '--dtype', 'fp16', '--causal', 'false', '--out', path.join(tmp, 'b2'), '--install', prefix, '--quiet'], tmp);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(readFileSync(path.join(prefix, 'lib', 'libsagegen.so')).subarray(0, 4).toString('latin1')).toBe('\x7fELF');
      await expect(execa('pkg-config', ['--variable=archs', 'sagegen'], { env: env() }).then((x) => x.stdout)).resolves.toBe('sm_89');
      expect(readdirSync(prefix).sort()).toEqual(['include', 'lib', 'share']);
    });
  });
});

describe('sagegen build --install: bad prefixes are refused before anything is built', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sagegen-install-bad-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const build = (prefix: string) => runCli(['build', '--arch', 'sm_89', '--headdim', '64', '--out', path.join(tmp, 'out'), '--install', prefix], tmp);

  it('a prefix that is a file', async () => {
    const file = path.join(tmp, 'a-file');
    writeFileSync(file, 'x');
    expect(expectUserError(await build(file))).toContain(`--install = "${file}": ${file} exists and is not a directory`);
    expect(existsSync(path.join(tmp, 'out'))).toBe(false);
  });

  it('a prefix with a directory where an installed file goes', async () => {
    const prefix = path.join(tmp, 'p');
    mkdirSync(path.join(prefix, 'lib', 'pkgconfig', 'sagegen.pc'), { recursive: true });
    expect(expectUserError(await build(prefix))).toContain(`${path.join(prefix, 'lib', 'pkgconfig', 'sagegen.pc')} exists and is not a file`);
    expect(existsSync(path.join(tmp, 'out'))).toBe(false);
    expect(readdirSync(prefix)).toEqual(['lib']);
  });

  it('an empty prefix', async () => {
    expect(expectUserError(await build(''))).toContain('--install = "": give the install prefix');
  });
});
