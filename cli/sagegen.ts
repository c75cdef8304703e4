#!/usr/bin/env node
/**
 * sagegen CLI: build, plan, render, schema. Exit code 0 only on success; errors are one readable
 * message (each spec issue on its own line), never a stack trace.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ARCHS, type Arch } from '../dsl/capabilities.js';
import { defaultSpecInput } from '../dsl/builder.js';
import { parseSpec, SpecError, type AttentionSpec } from '../dsl/spec.js';
import { attentionSpecJsonSchema } from '../dsl/schema.js';
import { build } from '../build/build.js';
import { planKernel } from '../plan/plan.js';
import { renderVariant } from '../render/render.js';
import { ToolchainError } from '../toolchain/nvcc.js';

class UsageError extends Error {}

function list(value: unknown): string[] {
  return (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(',')).map((s) => s.trim()).filter(Boolean);
}

function parseArchs(value: unknown): Arch[] {
  return list(value).map((a) => {
    if (!(ARCHS as readonly string[]).includes(a)) throw new UsageError(`--arch = "${a}": must be one of ${ARCHS.join(', ')}`);
    return a as Arch;
  });
}

function parseHeadDims(value: unknown): (64 | 128)[] {
  return list(value).map((d) => {
    if (d !== '64' && d !== '128') throw new UsageError(`--headdim = "${d}": must be 64 or 128`);
    return Number(d) as 64 | 128;
  });
}

function parseChoice<T extends string>(flag: string, value: unknown, allowed: readonly T[]): T[] {
  return list(value).map((v) => {
    if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`--${flag} = "${v}": must be one of ${allowed.join(', ')}`);
    return v as T;
  });
}

async function readSpecFile(file: string): Promise<AttentionSpec[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(`--spec = "${file}": cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--spec = "${file}": not valid JSON (${(e as Error).message})`);
  }
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

interface SpecFlags {
  arch?: unknown;
  headdim?: unknown;
  causal?: unknown;
  dtype?: unknown;
  layout?: string;
  spec?: string[];
}

/** Specs from --spec files, or the default spec for every (arch, head dim, dtype, causal) asked for. */
async function specsFromFlags(argv: SpecFlags): Promise<AttentionSpec[]> {
  if (argv.spec?.length) return (await Promise.all(argv.spec.map(readSpecFile))).flat();
  if (argv.arch === undefined || argv.headdim === undefined) throw new UsageError('give --arch and --headdim, or --spec FILE.json');
  const causal = parseChoice('causal', argv.causal ?? 'both', ['true', 'false', 'both'] as const);
  const causals = causal.includes('both') ? [false, true] : causal.map((c) => c === 'true');
  const dtypes = parseChoice('dtype', argv.dtype ?? 'fp16,bf16', ['fp16', 'bf16'] as const);
  const layout = parseChoice('layout', argv.layout ?? 'HND', ['HND', 'NHD'] as const)[0]!;
  const specs: AttentionSpec[] = [];
  for (const arch of parseArchs(argv.arch))
    for (const headDim of parseHeadDims(argv.headdim))
      for (const dtype of dtypes)
        for (const c of causals) specs.push(parseSpec(defaultSpecInput({ arch, headDim, dtype, causal: c, layout })));
  return specs;
}

function defaultOutDir(specs: AttentionSpec[]): string {
  const archs = [...new Set(specs.map((s) => s.arch))].join('-');
  const dims = [...new Set(specs.map((s) => s.headDim))].join('-');
  return path.join('generated', `${archs}_d${dims}`);
}

const specOptions = {
  arch: { type: 'string', describe: `target arch(s), comma-separated: ${ARCHS.join(', ')}` },
  headdim: { type: 'string', describe: 'head dim(s): 64, 128 (comma-separated)' },
  causal: { type: 'string', describe: 'true, false or both (default both)' },
  dtype: { type: 'string', describe: 'fp16, bf16 or both comma-separated (default both)' },
  layout: { type: 'string', describe: 'HND or NHD: the layout the variants are tuned for (any strides work at run time)' },
  spec: { type: 'array', string: true, describe: 'spec JSON file(s) (one spec or an array); replaces the flags above' },
} as const;

async function main(): Promise<void> {
  await yargs(hideBin(process.argv))
    .scriptName('sagegen')
    .strict()
    .help()
    .alias('h', 'help')
    .version(false)
    .command(
      'build',
      'generate, compile and package a library of attention variants',
      (y) =>
        y.options({
          ...specOptions,
          out: { type: 'string', describe: 'output directory (default generated/<archs>_d<headdims>)' },
          jobs: { type: 'number', describe: 'parallel nvcc processes (default: CPU count)' },
          quiet: { type: 'boolean', default: false },
        }),
      async (argv) => {
        const specs = await specsFromFlags(argv);
        const outDir = argv.out ?? defaultOutDir(specs);
        const started = Date.now();
        const manifest = await build({
          specs,
          outDir,
          jobs: argv.jobs,
          log: argv.quiet ? undefined : (l) => process.stderr.write(`  ${l}\n`),
        });
        const spills = manifest.variants.flatMap((v) => v.ptxas.filter((e) => e.spillStoreBytes > 0 || e.spillLoadBytes > 0).map((e) => `${v.name}:${e.kernel}`));
        process.stdout.write(
          `built ${manifest.variants.length} variant(s) with nvcc ${manifest.nvcc.version} in ${((Date.now() - started) / 1000).toFixed(1)} s → ${outDir}\n` +
            `  ${manifest.libraries.shared}, ${manifest.libraries.archive}, ${manifest.libraries.header}, manifest.json\n` +
            (spills.length ? `  warning: register spills in ${spills.join(', ')}\n` : ''),
        );
      },
    )
    .command(
      'plan',
      'print the plan (every derived number) of each spec as JSON',
      (y) => y.options(specOptions),
      async (argv) => {
        const specs = await specsFromFlags(argv);
        process.stdout.write(JSON.stringify(specs.map(planKernel), null, 2) + '\n');
      },
    )
    .command(
      'render',
      'write the generated .cu of each spec without compiling',
      (y) => y.options({ ...specOptions, out: { type: 'string', demandOption: true, describe: 'directory for the .cu files' } }),
      async (argv) => {
        const specs = await specsFromFlags(argv);
        await mkdir(argv.out, { recursive: true });
        for (const spec of specs) {
          const plan = planKernel(spec);
          const file = path.join(argv.out, `${plan.name}.cu`);
          await writeFile(file, renderVariant(plan));
          process.stdout.write(`${file}\n`);
        }
      },
    )
    .command(
      'schema',
      'print (or write) the JSON Schema of spec files',
      (y) => y.options({ out: { type: 'string', describe: 'file to write (default: stdout)' } }),
      async (argv) => {
        const text = JSON.stringify(attentionSpecJsonSchema(), null, 2) + '\n';
        if (argv.out) await writeFile(argv.out, text);
        else process.stdout.write(text);
      },
    )
    .demandCommand(1, 'name a command: build, plan, render or schema (--help lists them)')
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    })
    .parseAsync();
}

main().catch((e: unknown) => {
  if (e instanceof SpecError) process.stderr.write(`sagegen: invalid spec:\n${e.issues.map((i) => `  ${i.field} = ${JSON.stringify(i.value)}: ${i.rule}`).join('\n')}\n`);
  else if (e instanceof UsageError || e instanceof ToolchainError) process.stderr.write(`sagegen: ${e.message}\n`);
  else process.stderr.write(`sagegen: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
