/**
 * The benchmark's pure-Python parts (runtime/bench/shapes.py: shape list and TOP/s arithmetic;
 * runtime/bench/report.py: Markdown/SVG report writer) pass their CPU unit tests,
 * runtime/bench/test_bench.py (stdlib unittest, no torch, no GPU). Needs python3 (skipped without it,
 * fatal under CI=true).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { expect, it } from 'vitest';
import { describeIfTool } from './helpers/skip.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TESTS = path.join('runtime', 'bench', 'test_bench.py');

const probe = await execa('python3', ['--version'], { reject: false });
const missing = probe.failed ? `\`python3 --version\` failed: ${probe.shortMessage ?? probe.stderr}` : '';

describeIfTool('python3', !missing, missing, 'Python benchmark shapes and report writer', () => {
  it(`python3 -m unittest ${TESTS} exits 0`, async () => {
    const r = await execa('python3', ['-m', 'unittest', TESTS, '-v'], {
      cwd: ROOT,
      reject: false,
      // No stray .pyc files in the checkout from a test run.
      env: { PYTHONDONTWRITEBYTECODE: '1' },
    });
    // unittest reports on stderr; show everything when it fails.
    expect(r.exitCode, `exit ${r.exitCode}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(0);
    expect(r.stderr).toMatch(/^OK\b/m);
    expect(r.stderr).toMatch(/^Ran [1-9]\d* tests? in /m);
  });
});
