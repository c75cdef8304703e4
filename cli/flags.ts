/**
 * What the CLI's flags name, resolved into plain values: the flag parsers (each error a one-line
 * UsageError naming the flag, the value and the rule) and the specs (and kv_len dispatch) that
 * `sagegen build`/`render`/`plan` make of --arch/--headdim/--mma/... or --spec or --config.
 * test/records.test.ts resolves the builds of the results of record through the same functions.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { ARCHS, type Arch } from '../dsl/capabilities.js';
import { defaultSpecInput } from '../dsl/builder.js';
import { MMAS, parseSpec, SpecError, type AttentionSpec } from '../dsl/spec.js';
import type { DispatchRange } from '../render/render.js';
import { TunedConfigSchema, type TunedConfig, type TunedTarget } from '../autotune/config.js';
import { checkTunedSources, tunedSourceWarning } from '../autotune/provenance.js';
import { ConfigSelectionError, tunedBuildInputs } from '../autotune/tuned-build.js';

export class UsageError extends Error {}

/** A list flag's comma-separated values (repeating the flag adds more), each once in the order given
 * ("sm_89,sm_89" is one arch, not two identical variants the build would refuse); an empty list names the flag. */
function values(flag: string, value: unknown): string[] {
  const given = Array.isArray(value) ? value : [value];
  const items = [...new Set(given.flatMap((v) => String(v).split(',')).map((s) => s.trim()).filter(Boolean))];
  if (!items.length) throw new UsageError(`--${flag} = "${given.join(',')}": give at least one value`);
  return items;
}

export function parseArchs(value: unknown): Arch[] {
  return values('arch', value).map((a) => {
    if (!(ARCHS as readonly string[]).includes(a)) {
      // Hopper's compute capability is 9.0, so users type sm_90; sagegen compiles sm_90a, which runs on those devices.
      const hint = /^(sm_|compute_)?90$/.test(a) ? ' (for Hopper, H100 or H200, give sm_90a: its SASS runs on every compute capability 9.0 device)' : '';
      throw new UsageError(`--arch = "${a}": must be one of ${ARCHS.join(', ')}${hint}`);
    }
    return a as Arch;
  });
}

export function parseHeadDims(value: unknown): (64 | 128)[] {
  return values('headdim', value).map((d) => {
    if (d !== '64' && d !== '128') throw new UsageError(`--headdim = "${d}": must be 64 or 128`);
    return Number(d) as 64 | 128;
  });
}

export function parseChoice<T extends string>(flag: string, value: unknown, allowed: readonly T[]): T[] {
  return values(flag, value).map((v) => {
    if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`--${flag} = "${v}": must be one of ${allowed.join(', ')}`);
    return v as T;
  });
}

/** A boolean axis flag: "true", "false" or both as "true,false". */
export function parseBooleans(flag: string, value: unknown): boolean[] {
  return parseChoice(flag, value, ['true', 'false'] as const).map((v) => v === 'true');
}

export function parsePositiveInts(flag: string, value: unknown): number[] {
  return values(flag, value).map((v) => {
    if (!/^[1-9]\d*$/.test(v)) throw new UsageError(`--${flag} = "${v}": must be a positive integer (comma-separated for several)`);
    return Number(v);
  });
}

/** Whole numbers, 0 included (--poly-exp2: 0 is "none"). */
export function parseNonNegativeInts(flag: string, value: unknown): number[] {
  return values(flag, value).map((v) => {
    if (!/^(0|[1-9]\d*)$/.test(v)) throw new UsageError(`--${flag} = "${v}": must be a whole number, 0 or more (comma-separated for several)`);
    return Number(v);
  });
}

export const errorCode = (e: unknown) => (e as NodeJS.ErrnoException).code ?? String(e);

/** Writes the file --out names; a path that cannot be written is a one-line UsageError. */
export async function writeOutFile(file: string, text: string): Promise<void> {
  await writeFile(file, text).catch((e: unknown) => {
    throw new UsageError(`--out = "${file}": cannot write it (${errorCode(e)})`);
  });
}

/** The JSON in the file a flag names; a missing file or bad JSON is a one-line UsageError naming both. */
export async function readJsonFile(flag: string, file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(`${flag} = "${file}": cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${flag} = "${file}": not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
}

export async function readSpecFile(file: string): Promise<AttentionSpec[]> {
  const json = await readJsonFile('--spec', file);
  const items = Array.isArray(json) ? json : [json];
  return items.map((item, i) => {
    try {
      return parseSpec(item);
    } catch (e) {
      if (e instanceof SpecError) throw new SpecError(e.issues.map((x) => ({ ...x, field: `${file}${items.length > 1 ? `[${i}]` : ''}: ${x.field}` })));
      throw e;
    }
  });
}

export interface SpecFlags {
  arch?: unknown;
  headdim?: unknown;
  mma?: unknown;
  causal?: unknown;
  dtype?: unknown;
  layout?: string;
  spec?: string[];
}

/** Specs from --spec files, or the default spec for every (arch, head dim, dtype, causal) asked for. */
export async function specsFromFlags(argv: SpecFlags): Promise<AttentionSpec[]> {
  if (argv.spec?.length) return (await Promise.all(argv.spec.map(readSpecFile))).flat();
  if (argv.arch === undefined || argv.headdim === undefined) throw new UsageError('give --arch and --headdim, or --spec FILE.json');
  const causal = parseChoice('causal', argv.causal ?? 'both', ['true', 'false', 'both'] as const);
  const causals = causal.includes('both') ? [false, true] : causal.map((c) => c === 'true');
  const dtypes = parseChoice('dtype', argv.dtype ?? 'fp16,bf16', ['fp16', 'bf16'] as const);
  const layout = parseChoice('layout', argv.layout ?? 'HND', ['HND', 'NHD'] as const)[0]!;
  const mma = parseChoice('mma', argv.mma ?? 'mma.sync', MMAS)[0]!;
  const specs: AttentionSpec[] = [];
  for (const arch of parseArchs(argv.arch))
    for (const headDim of parseHeadDims(argv.headdim))
      for (const dtype of dtypes)
        for (const c of causals) specs.push(parseSpec(defaultSpecInput({ arch, headDim, dtype, causal: c, layout, mma })));
  return specs;
}

/** Reads and validates a tuned configuration; returns its winners, their kv_len buckets, and the
 * configuration with the targets chosen (for build's check of the sources timed, autotune/provenance.ts). */
export async function tunedFromFile(file: string, arch: unknown, gpu: string | undefined) {
  const json = await readJsonFile('--config', file);
  const parsed = TunedConfigSchema.safeParse(json, { reportInput: true });
  if (!parsed.success) {
    throw new UsageError(`--config = "${file}": not a tuned configuration:\n${parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`);
  }
  try {
    const { specs, dispatch, targets } = tunedBuildInputs(parsed.data, { archs: arch === undefined ? undefined : parseArchs(arch), gpu });
    return { specs, dispatch, tuned: { file, config: parsed.data, targets } };
  } catch (e) {
    if (e instanceof ConfigSelectionError) throw new UsageError(e.message);
    throw e;
  }
}

/** The tuned configuration a --config build comes from, and the targets it takes. */
export interface TunedInputs {
  file: string;
  config: TunedConfig;
  targets: TunedTarget[];
}

/** `sagegen build --config`'s warning when winners were timed on other generated sources than this
 * sagegen's (null: none changed, or none recorded). */
export function tunedSourcesWarning(tuned: TunedInputs): string | null {
  return tunedSourceWarning(`--config = "${tuned.file}"`, checkTunedSources(tuned.targets), tuned.config);
}

/** What `sagegen build` compiles for its flags: --config's winners with their kv_len buckets, else the specs. */
export async function buildInputs(
  argv: SpecFlags & { config?: string; gpu?: string },
): Promise<{ specs: AttentionSpec[]; dispatch?: DispatchRange[]; tuned?: TunedInputs }> {
  if (argv.config !== undefined && argv.spec?.length) throw new UsageError(`--config and --spec: give one (a tuned configuration's winners, or spec files)`);
  if (argv.gpu !== undefined && argv.config === undefined) throw new UsageError(`--gpu = "${argv.gpu}": only with --config (it picks the GPU whose tuning to use)`);
  if (argv.config !== undefined) return tunedFromFile(argv.config, argv.arch, argv.gpu);
  return { specs: await specsFromFlags(argv) };
}

/** --jobs: yargs turns a non-number into NaN, which must not reach the build as a concurrency. */
export function parseJobs(value: number | undefined): number | undefined {
  if (value !== undefined && !(Number.isInteger(value) && value >= 1)) throw new UsageError(`--jobs = "${value}": must be a positive integer`);
  return value;
}

// The spec flags of build, plan and render (yargs options; buildInputs resolves them).
export const specOptions = {
  arch: { type: 'string', describe: `target arch(s), comma-separated: ${ARCHS.join(', ')}` },
  headdim: { type: 'string', describe: 'head dim(s): 64, 128 (comma-separated)' },
  causal: { type: 'string', describe: 'true, false or both (default both)' },
  dtype: { type: 'string', describe: 'fp16, bf16 or both comma-separated (default both)' },
  layout: { type: 'string', describe: 'HND or NHD: the layout the variants are tuned for (any strides work at run time)' },
  mma: { type: 'string', describe: 'mma.sync (default) or wgmma (sm_90a warpgroup kernels, D=64 and 128, 1.3–1.7× mma.sync on the H100; see results/wgmma/README.md)' },
  spec: { type: 'array', string: true, describe: 'spec JSON file(s) (one spec or an array); replaces the flags above' },
  config: {
    type: 'string',
    describe: 'tuned configuration (sagegen autotune --select): its winners instead of the flags above (--arch picks among its archs); build dispatches them by kv_len bucket',
  },
  gpu: { type: 'string', describe: 'with --config: the GPU whose tuning to use, when the file has several for one arch' },
} as const;
