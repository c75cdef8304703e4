/**
 * The torch.library op (runtime/python/sagegen/_op.py) without a GPU: runtime/python/tests/check_torch_op.py
 * --device cpu checks its schema, fake kernel, opcheck, fp16/bf16, HND/NHD, GQA, LSE and a
 * torch.compile(fullgraph=True) module with no graph break, with a CPU stand-in for the library.
 *
 * torch is not installed on the development and CI machines, but their image carries a CPU wheel
 * of it (and its dependencies) on disk: the first run installs it into generated/.venv-torch-cpu
 * (about a minute; reused afterwards). Without such a wheel the suite is skipped with a message;
 * the same checks run against the real library on the GPU host (examples/run_gpu_consumers.sh).
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';

const WHEEL_DIRS = ['/opt/wheels', '/opt/pypi/files', '/opt/pypi-more/files'];
const VENV = path.join(ROOT, 'generated', '.venv-torch-cpu');
const PYTHON = path.join(VENV, 'bin', 'python');

function torchWheel(): string | undefined {
  for (const dir of WHEEL_DIRS) {
    if (!existsSync(dir)) continue;
    const wheel = readdirSync(dir).find((f) => /^torch-\d[^-]*\+cpu-cp\d+-cp\d+-manylinux[^/]*x86_64\.whl$/.test(f));
    if (wheel) return path.join(dir, wheel);
  }
  return undefined;
}

const wheel = torchWheel();

async function ensureTorch(): Promise<void> {
  if ((await execa(PYTHON, ['-c', 'import torch'], { reject: false })).exitCode === 0) return;
  await execa('python3', ['-m', 'venv', '--system-site-packages', VENV]);
  const links = WHEEL_DIRS.filter(existsSync).flatMap((d) => ['--find-links', d]);
  await execa(PYTHON, ['-m', 'pip', 'install', '--quiet', '--no-index', ...links, wheel!], { env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1' } });
}

const suite = wheel ? describe : describe.skip;
if (!wheel) console.warn(`[sagegen tests] skipping the torch op check: no CPU torch wheel in ${WHEEL_DIRS.join(', ')}`);

suite('torch.ops.sagegen.sageattn on CPU (stand-in kernel, no GPU)', () => {
  it('check_torch_op.py --device cpu passes every check', async () => {
    await ensureTorch();
    const r = await execa(PYTHON, [path.join('runtime', 'python', 'tests', 'check_torch_op.py'), '--device', 'cpu'], { cwd: ROOT, reject: false });
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.at(-1)).toMatch(/^(\d+) passed, 0 failed$/);
    expect(Number(/^(\d+) passed/.exec(lines.at(-1)!)![1])).toBeGreaterThanOrEqual(13);
    expect(r.stdout).toMatch(/^PASS torch\.compile\(fullgraph=True\) module \+ dynamo explain: .*graph breaks 0, sagegen\.sageattn nodes 1/m);
  });
});
