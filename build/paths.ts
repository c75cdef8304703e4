/** Where the package's own files are, whether running from dist/ or from source. */
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The directory holding package.json (walks up from this module: works from dist/ and from source). */
export function projectRoot(): string {
  if (root) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json')) || !existsSync(path.join(dir, 'templates'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('sagegen: cannot find the package root (package.json beside templates/)');
    dir = up;
  }
  root = dir;
  return dir;
}

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

export const runtimeIncludeDir = () => path.join(projectRoot(), 'runtime', 'include');
export const runtimeSourceDir = () => path.join(projectRoot(), 'runtime', 'src');
