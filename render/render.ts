/**
 * plan → CUDA source. Templates live in templates/ and only print plan fields; the helpers
 * registered here are comparisons, never arithmetic.
 */
import Handlebars from 'handlebars';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { KernelPlan } from '../plan/plan.js';
import { packageVersion, projectRoot } from '../build/paths.js';

const hb = Handlebars.create();
hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
// A number as a C++ float literal (formatting only).
hb.registerHelper('cfloat', (n: number) => `${Number.isInteger(n) ? n.toFixed(1) : String(n)}f`);

const cache = new Map<string, HandlebarsTemplateDelegate>();

// templates/partials/<name>.cu.hbs, used in the templates as {{> name}}.
let partialsRegistered = false;
function registerPartials(): void {
  if (partialsRegistered) return;
  const dir = path.join(projectRoot(), 'templates', 'partials');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.hbs'))) {
    hb.registerPartial(file.replace(/\.cu\.hbs$|\.hbs$/, ''), readFileSync(path.join(dir, file), 'utf8'));
  }
  partialsRegistered = true;
}

function template(name: string): HandlebarsTemplateDelegate {
  let t = cache.get(name);
  if (!t) {
    registerPartials();
    const file = path.join(projectRoot(), 'templates', name);
    t = hb.compile(readFileSync(file, 'utf8'), { noEscape: true, strict: true });
    cache.set(name, t);
  }
  return t;
}

/** One `.cu` per variant: kernels, quantization kernels, host launcher and descriptor. */
export function renderVariant(plan: KernelPlan): string {
  return template('attention.cu.hbs')({
    plan,
    version: packageVersion(),
    specLines: JSON.stringify(plan.spec, null, 2).split('\n'),
    dtypeCode: plan.dtype.name === 'fp16' ? 0 : 1,
  });
}

/** Which variant serves which kv_len range [minSeq, maxSeq) (maxSeq null: unbounded). */
export interface DispatchRange {
  name: string;
  minSeq: number;
  maxSeq: number | null;
}

/** The variant registry of one library, with its dispatch table (default: every variant, all lengths). */
export function renderRegistry(variantNames: string[], dispatch?: DispatchRange[]): string {
  const ranges = (dispatch ?? variantNames.map((name) => ({ name, minSeq: 0, maxSeq: null }))).map((r) => ({
    name: r.name,
    minSeq: `INT64_C(${r.minSeq})`,
    maxSeq: r.maxSeq === null ? 'INT64_MAX' : `INT64_C(${r.maxSeq})`,
  }));
  return template('variants.cpp.hbs')({ variants: variantNames, dispatch: ranges, version: packageVersion() });
}


/** What the installed package files print (build/install.ts prepares it from the build's manifest). */
export interface InstallFilesInput {
  version: string;
  major: number;
  minor: number;
  abiVersion: number;
  /** The SASS archs, PTX targets and variant names, as CMake lists (`a;b`). */
  archs: string;
  ptx: string;
  variants: string;
  /** The SASS archs comma-separated, for pkg-config. */
  archsCommas: string;
  cudaIncludeDir: string;
  cudaLibDir: string;
}

/** The CMake package (config + version file) and the pkg-config file of an install prefix. */
export function renderInstallFiles(input: InstallFilesInput): { config: string; configVersion: string; pkgConfig: string } {
  return {
    config: template('install/sagegenConfig.cmake.hbs')(input),
    configVersion: template('install/sagegenConfigVersion.cmake.hbs')(input),
    pkgConfig: template('install/sagegen.pc.hbs')({ ...input, archs: input.archsCommas }),
  };
}
