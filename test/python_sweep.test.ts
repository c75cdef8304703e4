import { execa } from 'execa';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { describeIfTool } from './helpers/skip.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const python = await execa('python3', ['--version'], { reject: false });

describeIfTool('python3', python.exitCode === 0, 'python3 not found', 'autotune sweep loop (fake runner)', () => {
  it('python3 -m unittest autotune/test_sweep.py exits 0', async () => {
    const r = await execa('python3', ['-m', 'unittest', 'autotune/test_sweep.py', '-v'], {
      cwd: ROOT,
      reject: false,
      env: { PYTHONDONTWRITEBYTECODE: '1' },
    });
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stderr).toMatch(/Ran \d+ tests/);
  });
});
