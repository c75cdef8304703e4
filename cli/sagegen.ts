#!/usr/bin/env node
/**
 * sagegen CLI: build, plan, render, schema, autotune. Exit code 0 only on success; errors are one
 * readable message (each spec issue on its own line), never a stack trace.
 */
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { formatIssue, SpecError, type AttentionSpec } from '../dsl/spec.js';
import { attentionSpecJsonSchema } from '../dsl/schema.js';
import { build } from '../build/build.js';
import { checkInstallPrefix, install, InstallError } from '../build/install.js';
import { planKernel } from '../plan/plan.js';
import { renderVariant } from '../render/render.js';
import { ToolchainError } from '../toolchain/nvcc.js';
import { tunedConfigJsonSchema } from '../autotune/config.js';
import { autotune, autotuneOptions } from './autotune.js';
import { buildInputs, errorCode, parseJobs, specOptions, tunedSourcesWarning, UsageError, writeOutFile } from './flags.js';

function defaultOutDir(specs: AttentionSpec[]): string {
  const archs = [...new Set(specs.map((s) => s.arch))].join('-');
  const dims = [...new Set(specs.map((s) => s.headDim))].join('-');
  return path.join('generated', `${archs}_d${dims}`);
}

/** The spec flags of build, plan and render (cli/flags.ts buildInputs resolves them). */
const withSpecOptions = <T>(y: Argv<T>) => y.options(specOptions);

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
        withSpecOptions(y).options({
          out: { type: 'string', describe: 'output directory (default generated/<archs>_d<headdims>)' },
          jobs: { type: 'number', describe: 'parallel nvcc processes (default: CPU count)' },
          quiet: { type: 'boolean', default: false },
          install: {
            type: 'string',
            describe: 'also install into PREFIX: include/, lib/ (.so, .a, CMake package, pkg-config file), share/sagegen/manifest.json',
          },
        }),
      async (argv) => {
        if (argv.install !== undefined) {
          if (!argv.install) throw new UsageError('--install = "": give the install prefix, e.g. --install /opt/sagegen');
          await checkInstallPrefix(path.resolve(argv.install)); // before the build, not after it
        }
        const { specs, dispatch, tuned } = await buildInputs(argv);
        const stale = tuned && tunedSourcesWarning(tuned);
        if (stale) process.stderr.write(`${stale}\n`);
        const outDir = argv.out ?? defaultOutDir(specs);
        const started = Date.now();
        const manifest = await build({
          specs,
          dispatch,
          outDir,
          jobs: parseJobs(argv.jobs),
          log: argv.quiet ? undefined : (l) => process.stderr.write(`  ${l}\n`),
        });
        const spills = manifest.variants.flatMap((v) => v.ptxas.filter((e) => e.spillStoreBytes > 0 || e.spillLoadBytes > 0).map((e) => `${v.name}:${e.kernel}`));
        process.stdout.write(
          `built ${manifest.variants.length} variant(s) with nvcc ${manifest.nvcc.version} in ${((Date.now() - started) / 1000).toFixed(1)} s → ${outDir}\n` +
            `  ${manifest.libraries.shared}, ${manifest.libraries.archive}, ${manifest.libraries.header}, manifest.json\n` +
            (spills.length ? `  warning: register spills in ${spills.join(', ')}\n` : ''),
        );
        if (argv.install) {
          await install({ buildDir: outDir, prefix: argv.install });
          process.stdout.write(
            `installed into ${path.resolve(argv.install)} (archs ${manifest.archs.sass.join(', ')}): find_package(sagegen) with CMAKE_PREFIX_PATH, or PKG_CONFIG_PATH=${path.resolve(argv.install, 'lib', 'pkgconfig')}\n`,
          );
        }
      },
    )
    .command(
      'plan',
      'print the plan (every derived number) of each spec as JSON',
      (y) => withSpecOptions(y),
      async (argv) => {
        const { specs } = await buildInputs(argv);
        process.stdout.write(JSON.stringify(specs.map(planKernel), null, 2) + '\n');
      },
    )
    .command(
      'render',
      'write the generated .cu of each spec without compiling',
      (y) => withSpecOptions(y).options({ out: { type: 'string', demandOption: true, describe: 'directory for the .cu files' } }),
      async (argv) => {
        // Every spec is planned before the first file is written: a refused one leaves nothing behind.
        const plans = (await buildInputs(argv)).specs.map(planKernel);
        await mkdir(argv.out, { recursive: true }).catch((e: unknown) => {
          throw new UsageError(`--out = "${argv.out}": cannot create the directory (${errorCode(e)})`);
        });
        for (const plan of plans) {
          const file = path.join(argv.out, `${plan.name}.cu`);
          await writeFile(file, renderVariant(plan));
          process.stdout.write(`${file}\n`);
        }
      },
    )
    .command(
      'schema',
      'print (or write) the JSON Schema of spec files',
      (y) =>
        y.options({
          out: { type: 'string', describe: 'file to write (default: stdout)' },
          tuned: { type: 'boolean', default: false, describe: 'the schema of tuned configurations (sagegen autotune --select) instead of specs' },
        }),
      async (argv) => {
        const text = JSON.stringify(argv.tuned ? tunedConfigJsonSchema() : attentionSpecJsonSchema(), null, 2) + '\n';
        if (argv.out) await writeOutFile(argv.out, text);
        else process.stdout.write(text);
      },
    )
    .command(
      'autotune',
      'search tile shapes, quantization granularities and P·V forms per (arch, head dim, dtype, causal); --dry-run lists the candidates and what the spec and plan rules prune',
      (y) =>
        y
          .options(autotuneOptions)
          .conflicts('dry-run', ['compile-only', 'measure', 'select']),
      async (argv) => autotune(argv),
    )
    .demandCommand(1, 'name a command: build, plan, render or schema (or autotune; --help lists them)')
    .fail((msg, err) => {
      throw err ?? new UsageError(explainParseFailure(msg, process.argv.slice(2)));
    })
    .parseAsync();
}

const COMMANDS = ['build', 'plan', 'render', 'schema', 'autotune'];

/** yargs' "Unknown argument(s): a, b" in the CLI's terms: an unknown option with the command whose
 * --help lists the options, or an unknown command with the commands; other messages as they are. */
function explainParseFailure(message: string, args: string[]): string {
  const unknown = /^Unknown arguments?: (.+)$/.exec(message);
  if (!unknown) return message;
  const command = args.find((a) => !a.startsWith('-'));
  return unknown[1]!
    .split(', ')
    .map((name) => {
      if (args.some((a) => a === `--${name}` || a.startsWith(`--${name}=`) || a === `-${name}`))
        return `unknown option ${name.length > 1 ? '--' : '-'}${name}: \`sagegen ${command && COMMANDS.includes(command) ? `${command} ` : ''}--help\` lists the options`;
      if (name === command) return `unknown command "${name}": name one of ${COMMANDS.join(', ')}`;
      return `unexpected argument "${name}"${command && COMMANDS.includes(command) ? ` to ${command}` : ''}`;
    })
    .join('; ');
}

main().catch((e: unknown) => {
  if (e instanceof SpecError) process.stderr.write(`sagegen: invalid spec:\n${e.issues.map((i) => `  ${formatIssue(i)}`).join('\n')}\n`);
  else if (e instanceof UsageError || e instanceof ToolchainError || e instanceof InstallError) process.stderr.write(`sagegen: ${e.message}\n`);
  else process.stderr.write(`sagegen: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
