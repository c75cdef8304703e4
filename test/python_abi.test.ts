/**
 * The ctypes mirror of sagegen.h (runtime/python/sagegen/_abi.py) matches the C layout:
 * runtime/python/tests/check_abi_layout.py compiles a tiny C program with `cc` and compares every
 * sizeof/offsetof and constant. Needs python3 and cc (skipped without them, fatal under CI=true).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { expect, it } from 'vitest';
import { describeIfTool } from './helpers/skip.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SCRIPT = path.join('runtime', 'python', 'tests', 'check_abi_layout.py');

async function works(cmd: string, args: string[]): Promise<string | undefined> {
  const r = await execa(cmd, args, { reject: false });
  return r.failed ? `\`${cmd} ${args.join(' ')}\` failed: ${r.shortMessage ?? r.stderr}` : undefined;
}

const missing = [await works('python3', ['--version']), await works('cc', ['--version'])].filter(Boolean).join('; ');

describeIfTool('python3 and cc', !missing, missing, 'Python ctypes ABI mirror', () => {
  it(`${SCRIPT} exits 0 and prints ok`, async () => {
    const r = await execa('python3', [SCRIPT], { cwd: ROOT, reject: false });
    expect(r.exitCode, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(0);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('ok');
  });
});
