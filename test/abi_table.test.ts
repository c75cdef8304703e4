/**
 * The C ABI's argument checks, without a GPU: a library built here with nvcc (one variant, sm_90a D=64
 * fp16 non-causal) is called through ctypes by runtime/test/abi_table.py --memory host, with host
 * buffers and no CUDA device visible. Every argument check precedes the library's first CUDA call
 * (the device query), so each row gets its own status and detail, and the poisoned buffers stay
 * byte for byte as they were; a valid call stops at the device query with CUDA_ERROR, nothing
 * written. The same table runs on a GPU (--memory cuda) from runtime/test/run_edge_checks.sh.
 * Needs nvcc, python3 (skipped without them, fatal under CI=true).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { build } from '../build/build.js';
import { defaultSpecInput } from '../dsl/builder.js';
import { parseSpec } from '../dsl/spec.js';
import { describeNvcc, requireNvcc } from './helpers/nvcc.js';
import { describeIfTool } from './helpers/skip.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SCRIPT = path.join(ROOT, 'runtime', 'test', 'abi_table.py');
const HEADER = path.join(ROOT, 'runtime', 'include', 'sagegen.h');

interface TableRow {
  name: string;
  kind: 'api' | 'c' | 'coverage' | 'python';
  status: 'pass' | 'fail' | 'skip';
  expected?: string;
  got?: unknown;
  detail?: string;
  failures: string[];
}
interface TableReport {
  device: string;
  memory: string;
  commit: string;
  command: string[];
  fingerprint: unknown;
  summary: { passed: number; failed: number; skipped: number };
  rows: TableRow[];
}

const python = await execa('python3', ['--version'], { reject: false });
const pythonMissing = python.failed ? `python3 --version failed: ${python.shortMessage ?? python.stderr}` : '';

describeIfTool('python3', !pythonMissing, pythonMissing, 'C ABI argument table (no GPU)', () => {
  describeNvcc('against a library built with nvcc', () => {
    let tmp: string;
    let report: TableReport;
    let stdout: string;
    let exitCode: number | undefined;

    beforeAll(async () => {
      tmp = mkdtempSync(path.join(os.tmpdir(), 'sagegen-abi-'));
      const spec = parseSpec(defaultSpecInput({ arch: 'sm_90a', headDim: 64, causal: false, dtype: 'fp16' }));
      await build({ specs: [spec], outDir: path.join(tmp, 'lib'), jobs: 2, nvcc: requireNvcc(), cacheDir: false });
      const out = path.join(tmp, 'abi.json');
      const r = await execa('python3', [SCRIPT, '--lib', path.join(tmp, 'lib', 'lib', 'libsagegen.so'), '--memory', 'host', '--out', out], {
        reject: false,
        env: { CUDA_VISIBLE_DEVICES: '' },
      });
      stdout = `${r.stdout}\n${r.stderr}`;
      exitCode = r.exitCode;
      report = JSON.parse(readFileSync(out, 'utf8')) as TableReport;
    }, 240_000);
    afterAll(() => {
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    });

    const row = (name: string): TableRow => {
      const r = report.rows.find((x) => x.name === name);
      if (!r) throw new Error(`no row named ${JSON.stringify(name)}`);
      return r;
    };

    it('exits 0 with every row passing (output below on failure)', () => {
      expect(report.rows.filter((r) => r.status === 'fail'), stdout).toEqual([]);
      expect(exitCode, stdout).toBe(0);
      expect(report.summary.failed).toBe(0);
      expect(report.summary.passed).toBeGreaterThanOrEqual(80);
    });

    it('reports device, date, commit, command, and the fingerprint of the library it checked', () => {
      const manifest = JSON.parse(readFileSync(path.join(tmp, 'lib', 'manifest.json'), 'utf8')) as { fingerprint: { kernels: Record<string, string> } };
      expect(Object.keys(manifest.fingerprint.kernels)).toHaveLength(1);
      expect(report.fingerprint).toEqual(manifest.fingerprint);
      expect(report.memory).toBe('host');
      expect(report.device).toMatch(/^none/);
      expect(report.commit).toMatch(/^[0-9a-f]{40}$|^unknown$/);
      expect(report.command.join(' ')).toContain('abi_table.py');
    });

    it('produces every status code of sagegen.h except OK (which needs a GPU)', () => {
      const codes = [...readFileSync(HEADER, 'utf8').matchAll(/SAGEGEN_STATUS_([A-Z0-9_]+) = \d+/g)].map((m) => m[1]!);
      const produced = new Set(report.rows.filter((r) => r.kind === 'c' && r.status === 'pass').map((r) => r.got));
      expect(codes.length).toBeGreaterThanOrEqual(17);
      expect(codes.filter((c) => c !== 'OK' && !produced.has(c))).toEqual([]);
    });

    it('a valid call stops at the device query, after every argument check', () => {
      const r = row('valid baseline');
      expect([r.expected, r.got]).toEqual(['CUDA_ERROR', 'CUDA_ERROR']);
      expect(r.detail).toMatch(/^querying the current device: /);
    });

    it.each([
      ['q NULL', 'NULL_POINTER', /^q = NULL/],
      ['lse misaligned (+2 bytes)', 'MISALIGNED_POINTER', /^lse = 0x[0-9a-f]+: must be 4-byte aligned/],
      ['heads 3/2 not divisible', 'HEADS_NOT_DIVISIBLE', /num_q_heads = 3, num_kv_heads = 2/],
      ['head_dim 128 (supported, not built)', 'UNSUPPORTED_HEAD_DIM', /rebuild with --headdim 128/],
      ['dtype bf16 not built at head_dim 64', 'UNSUPPORTED_DTYPE', /^dtype = bf16/],
      ['kv_len 0', 'BAD_LENGTH', /^kv_len = 0: must be positive/],
      ['q seq stride d+4 (not a multiple of 8)', 'BAD_STRIDE', /^q_strides\.seq = 68: /],
      ['q batch stride 2^61 (spans 2^62+ bytes)', 'SIZE_OVERFLOW', /2\^62 bytes/],
      ['o head stride 0 (heads overlap)', 'OVERLAP', /^o_strides\.head = 0: output rows overlap/],
      ['workspace inside k', 'OVERLAP', /^workspace = 0x[0-9a-f]+ \(\+\d+ bytes\) overlaps k = /],
      ['workspace_bytes need - 1', 'WORKSPACE_TOO_SMALL', /^workspace_bytes = \d+: this call needs \d+/],
      ['struct_size - 8', 'ABI_MISMATCH', /^struct_size = \d+, abi_version = \d+: this library expects/],
      ['forward_phases phases 4', 'BAD_PHASES', /^phases = 4: /],
      ['forward_variant index -1', 'NO_VARIANT', /^variant_index = -1: this library holds 1 variants/],
    ])('%s -> %s, detail naming the argument, nothing written', (name, status, detail) => {
      const r = row(name);
      expect(r.status, r.failures.join('; ')).toBe('pass');
      expect([r.expected, r.got]).toEqual([status, status]);
      expect(r.detail).toMatch(detail);
    });
  });
});
