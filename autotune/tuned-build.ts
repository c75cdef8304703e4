/**
 * A tuned configuration → what `sagegen build --config` compiles: the winning specs (each once), the
 * default spec for every (head dim, dtype, causal) the tuning did not cover, and the dispatch table
 * mapping kv_len buckets to them.
 */
import type { Arch } from '../dsl/capabilities.js';
import { defaultSpec } from '../dsl/builder.js';
import { variantName, type AttentionSpec } from '../dsl/spec.js';
import type { DispatchRange } from '../render/render.js';
import type { TunedConfig, TunedTarget } from './config.js';

export class ConfigSelectionError extends Error {}

export function tunedBuildInputs(config: TunedConfig, options: { archs?: Arch[]; gpu?: string } = {}): {
  specs: AttentionSpec[];
  dispatch: DispatchRange[];
  /** The targets the build takes its winners from (the arch and GPU chosen). */
  targets: TunedTarget[];
} {
  let targets = config.targets.filter((t) => !options.archs || options.archs.includes(t.arch));
  if (options.gpu) targets = targets.filter((t) => t.gpu === options.gpu);
  if (!targets.length) {
    const have = config.targets.map((t) => `${t.arch} on "${t.gpu}"`).join(', ');
    throw new ConfigSelectionError(`--config holds no target for ${options.archs?.join(',') ?? 'any arch'}${options.gpu ? ` on "${options.gpu}"` : ''} (it has: ${have})`);
  }
  for (const arch of new Set(targets.map((t) => t.arch))) {
    const gpus = targets.filter((t) => t.arch === arch).map((t) => t.gpu);
    if (gpus.length > 1) throw new ConfigSelectionError(`--config tunes ${arch} for several GPUs (${gpus.join(', ')}): choose one with --gpu`);
  }
  const specs = new Map<string, AttentionSpec>();
  const dispatch: DispatchRange[] = [];
  for (const t of targets) {
    for (const e of t.entries) {
      if (variantName(e.winner.spec) !== e.winner.name) {
        throw new ConfigSelectionError(
          `--config winner "${e.winner.name}" is named "${variantName(e.winner.spec)}" by this sagegen: the file comes from another version; tune again`,
        );
      }
      specs.set(e.winner.name, e.winner.spec);
      dispatch.push({ name: e.winner.name, minSeq: e.minSeq, maxSeq: e.maxSeq });
    }
  }
  // Problems the tuning did not cover (another dtype, causal) get the default spec for every length,
  // so a tuned library serves every call an untuned one would.
  for (const t of targets) {
    for (const headDim of new Set(t.entries.map((e) => e.headDim))) {
      for (const dtype of ['fp16', 'bf16'] as const) {
        for (const causal of [false, true]) {
          if (t.entries.some((e) => e.headDim === headDim && e.dtype === dtype && e.causal === causal)) continue;
          const spec = defaultSpec({ arch: t.arch, headDim, dtype, causal });
          specs.set(variantName(spec), spec);
          dispatch.push({ name: variantName(spec), minSeq: 0, maxSeq: null });
        }
      }
    }
  }
  return { specs: [...specs.values()], dispatch, targets };
}
