/** Runs the GPU-side measurement script (autotune/measure.py) as a child process. */
import { execa } from 'execa';
import path from 'node:path';
import { projectRoot } from '../build/paths.js';

export async function measureBundle(bundle: string, out: string, seqs?: string): Promise<void> {
  const script = path.join(projectRoot(), 'autotune', 'measure.py');
  await execa('python3', [script, bundle, '--out', out, ...(seqs ? ['--seqs', seqs] : [])], { stdio: 'inherit' });
}
