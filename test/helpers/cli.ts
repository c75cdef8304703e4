/** Running the built CLI (`node dist/cli/sagegen.js`) as a user would, for the CLI test files. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { expect } from 'vitest';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = path.join(ROOT, 'dist', 'cli', 'sagegen.js');

/** Runs the CLI from `cwd` (relative paths resolve there), with extra environment variables or as another user. */
export function runCli(args: string[], cwd: string, options: { env?: Record<string, string>; uid?: number; gid?: number } = {}) {
  return execa(process.execPath, [CLI, ...args], { reject: false, cwd, env: { NO_COLOR: '1', ...options.env }, uid: options.uid, gid: options.gid });
}

/** A failure a user can read: exit 1, nothing on stdout, no stack trace, "sagegen:" first. */
export function expectUserError(r: { exitCode?: number; stdout: string; stderr: string }): string {
  expect(r.exitCode, `stderr: ${r.stderr}`).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr.startsWith('sagegen: ')).toBe(true);
  expect(r.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  return r.stderr;
}
