/**
 * Property-based testing of specs (fast-check): the run settings read from the environment, the
 * arbitraries that draw spec inputs, and the check that a refusal is well formed.
 *
 * Settings (README, "Tests"): SAGEGEN_PROPERTY_SEED (default DEFAULT_SEED), SAGEGEN_PROPERTY_RUNS
 * (drawn specs per property), SAGEGEN_PROPERTY_COMPILES (valid specs compiled with nvcc) and
 * SAGEGEN_PROPERTY_FRESH (how many of those compile without the cache). A failing property prints
 * its seed and the shrunk counterexample; rerun with that seed to replay it.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { ARCHS, type Arch } from '../../dsl/capabilities.js';
import { defaultSpecInput } from '../../dsl/builder.js';
import { formatIssue, SpecError, type AttentionSpecInput, type SpecIssue } from '../../dsl/spec.js';

export const DEFAULT_SEED = 20260906;

export interface PropertySettings {
  seed: number;
  runs: number;
  compiles: number;
  fresh: number;
}

function intFromEnv(name: string, fallback: number, min: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  if (!/^-?\d+$/.test(text) || Number(text) < min || !Number.isSafeInteger(Number(text))) {
    throw new Error(`${name} = "${text}": must be an integer ≥ ${min}`);
  }
  return Number(text);
}

export function propertySettings(): PropertySettings {
  const compiles = intFromEnv('SAGEGEN_PROPERTY_COMPILES', 10, 0);
  return {
    seed: intFromEnv('SAGEGEN_PROPERTY_SEED', DEFAULT_SEED, -(2 ** 31)),
    runs: intFromEnv('SAGEGEN_PROPERTY_RUNS', 1000, 1),
    compiles,
    fresh: Math.min(compiles, intFromEnv('SAGEGEN_PROPERTY_FRESH', 3, 0)),
  };
}

/** The line each property file prints first, so that a CI log says how to replay the run. */
export function describeSettings(s: PropertySettings): string {
  return (
    `[property] seed ${s.seed}, ${s.runs} runs per property, ${s.compiles} nvcc compiles (${s.fresh} bypassing the cache); ` +
    `replay with SAGEGEN_PROPERTY_SEED=${s.seed} SAGEGEN_PROPERTY_RUNS=${s.runs}`
  );
}

const weighted = <T>(common: fc.Arbitrary<T>, rare: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 4, arbitrary: common }, { weight: 1, arbitrary: rare });

/**
 * Spec inputs from a space around the valid one: every field is of the right type, but tile sizes,
 * P·V parameters and arch/instruction pairs are drawn so that a fair share breaks a semantic rule
 * (parseSpec) or a resource limit (planKernel), and the rest build.
 */
export const candidateSpecInput: fc.Arbitrary<AttentionSpecInput> = fc
  .record({
    arch: fc.constantFrom(...ARCHS),
    headDim: fc.constantFrom(64 as const, 128 as const),
    causal: fc.boolean(),
    dtype: fc.constantFrom('fp16' as const, 'bf16' as const),
    layout: fc.constantFrom('HND' as const, 'NHD' as const),
    warpQ: weighted(fc.constantFrom(16, 32, 64), fc.constantFrom(24, 48, 80)),
    warps: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
    ctaQOffset: weighted(fc.constant(0), fc.integer({ min: -16, max: 16 })),
    ctaK: weighted(fc.constantFrom(32, 64, 128), fc.constantFrom(16, 48, 256, 512)),
    stages: fc.integer({ min: 2, max: 4 }),
    minBlocksPerSm: weighted(fc.constant(1), fc.integer({ min: 2, max: 4 })),
    overlapQk: weighted(fc.constant(false), fc.constant(true)),
    granularity: fc.constantFrom('per-block' as const, 'per-warp' as const, 'per-thread' as const),
    smoothK: fc.boolean(),
    pv: fc.oneof(
      fc.record({
        instruction: fc.constant('m16n8k32.e4m3' as const),
        accumulator: fc.constantFrom('f16' as const, 'f32' as const),
        flushKeys: weighted(fc.constantFrom(32, 64), fc.constantFrom(16, 48, 128, 256)),
        pRange: fc.constantFrom(448, 224, 127, 1),
        vRange: weighted(fc.constantFrom(2.25, 1), fc.constantFrom(4.5, 64, 448, 500)),
      }),
      fc.constant({ instruction: 'm16n8k16' as const }),
    ),
  })
  .map((d) => ({
    arch: d.arch,
    headDim: d.headDim,
    causal: d.causal,
    dtype: d.dtype,
    layout: d.layout,
    tiling: {
      ctaQ: d.warpQ * d.warps + d.ctaQOffset,
      ctaK: d.ctaK,
      warpQ: d.warpQ,
      warps: d.warps,
      stages: d.stages,
      minBlocksPerSm: d.minBlocksPerSm,
      overlapQk: d.overlapQk,
    },
    qk: { type: 'int8' as const, granularity: d.granularity, smoothK: d.smoothK },
    pv: d.pv,
  }));

/** A default spec input (always valid) of a drawn arch, head dim, dtype and causality. */
export const validBaseInput: fc.Arbitrary<AttentionSpecInput> = fc
  .record({
    arch: fc.constantFrom(...ARCHS),
    headDim: fc.constantFrom(64 as const, 128 as const),
    dtype: fc.constantFrom('fp16' as const, 'bf16' as const),
    causal: fc.boolean(),
  })
  .map((o) => defaultSpecInput({ ...o, arch: o.arch as Arch }));

/** What a leaf of a spec input must be; `bad` draws values every such field refuses on its own. */
type LeafKind = 'positiveInt' | 'positiveNumber' | 'warps' | 'stages' | 'minBlocksPerSm' | 'headDim' | 'boolean' | 'enum' | 'int8';

const KINDS: Record<string, LeafKind> = {
  arch: 'enum',
  headDim: 'headDim',
  causal: 'boolean',
  dtype: 'enum',
  layout: 'enum',
  'tiling.ctaQ': 'positiveInt',
  'tiling.ctaK': 'positiveInt',
  'tiling.warpQ': 'positiveInt',
  'tiling.warps': 'warps',
  'tiling.stages': 'stages',
  'tiling.minBlocksPerSm': 'minBlocksPerSm',
  'tiling.overlapQk': 'boolean',
  'qk.type': 'int8',
  'qk.granularity': 'enum',
  'qk.smoothK': 'boolean',
  'pv.instruction': 'enum',
  'pv.accumulator': 'enum',
  'pv.flushKeys': 'positiveInt',
  'pv.pRange': 'positiveNumber',
  'pv.vRange': 'positiveNumber',
};

/** Fields a spec may leave out (optional or with a default). */
export const OPTIONAL_FIELDS = new Set(['name', '$schema', 'qk.type', 'tiling.minBlocksPerSm', 'tiling.overlapQk']);

/** Values of the wrong JSON type for any leaf, or of the right type but outside every field's rule of that kind. */
function badValue(kind: LeafKind): fc.Arbitrary<unknown> {
  const wrongType = fc.constantFrom<unknown>(null, [], {}, [1]);
  const specific: Record<LeafKind, fc.Arbitrary<unknown>> = {
    positiveInt: fc.oneof(fc.integer({ min: -1024, max: 0 }), fc.constantFrom(16.5, 0.25, Number.NaN, Number.POSITIVE_INFINITY, '64', true)),
    positiveNumber: fc.oneof(fc.double({ max: 0, noNaN: true }), fc.constantFrom(Number.NaN, Number.NEGATIVE_INFINITY, '2.25', false)),
    warps: fc.constantFrom(0, 3, 5, 6, 7, 16, 32, -8, 2.5, '8'),
    stages: fc.constantFrom(0, 1, 5, 8, 2.5, -2, '2'),
    minBlocksPerSm: fc.constantFrom(0, 5, 1.5, -1, '1'),
    headDim: fc.constantFrom(0, 32, 96, 256, 127.5, '128'),
    boolean: fc.constantFrom('true', 'false', 0, 1),
    enum: fc.oneof(fc.constantFrom('', 'sm_75', 'SM_89', 'fp32', 'BHND', 'per-head', 'm16n8k8', 'e5m2', 'f64'), fc.integer()),
    int8: fc.constantFrom('int4', 'fp8', 8, ''),
  };
  return fc.oneof(wrongType, specific[kind]);
}

/** Every leaf path of a spec input (dotted), in a stable order. */
export function leafPaths(input: unknown, prefix: string[] = []): string[][] {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return [prefix];
  return Object.keys(input).flatMap((k) => leafPaths((input as Record<string, unknown>)[k], [...prefix, k]));
}

export function valueAt(input: unknown, path: readonly string[]): unknown {
  let v = input;
  for (const k of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

function setAt(input: Record<string, unknown>, path: readonly string[], value: unknown, remove = false): void {
  let o = input;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string, unknown>;
  if (remove) delete o[path.at(-1)!];
  else o[path.at(-1)!] = value;
}

export type Mutation =
  | { kind: 'set'; path: string[]; value: unknown }
  | { kind: 'delete'; path: string[] }
  | { kind: 'add'; path: string[]; value: unknown };

/** A mutation of one field of `base` that makes it invalid by itself (a required field deleted, a bad value, an unknown key). */
function mutationOf(base: AttentionSpecInput): fc.Arbitrary<Mutation> {
  const leaves = leafPaths(base).filter((p) => KINDS[p.join('.')]);
  const required = leaves.filter((p) => !OPTIONAL_FIELDS.has(p.join('.')));
  const objects: string[][] = [[], ['tiling'], ['qk'], ['pv']];
  const set = fc
    .constantFrom(...leaves)
    .chain((path) => badValue(KINDS[path.join('.')]!).map((value): Mutation => ({ kind: 'set', path, value })));
  const del = fc.constantFrom(...required).map((path): Mutation => ({ kind: 'delete', path }));
  const add = fc
    .record({
      object: fc.constantFrom(...objects),
      key: fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9_]{0,11}$/),
      value: fc.jsonValue({ maxDepth: 1 }),
    })
    // Not a field of the spec (a root "name" may be valid) nor a key with a meaning to JavaScript objects.
    .filter(({ object, key }) => valueAt(base, [...object, key]) === undefined && !['name', '__proto__', 'constructor', 'prototype'].includes(key))
    .map(({ object, key, value }): Mutation => ({ kind: 'add', path: [...object, key], value }));
  return fc.oneof({ weight: 5, arbitrary: set }, { weight: 2, arbitrary: del }, { weight: 2, arbitrary: add });
}

/**
 * A valid input with 1–3 mutations on different fields, each invalid by itself. At most one of them
 * touches pv: zod checks the other pv fields only once it knows the instruction, so a bad
 * pv.instruction would hide a second pv mutation.
 */
export const mutatedSpecInput: fc.Arbitrary<{ base: AttentionSpecInput; input: Record<string, unknown>; mutations: Mutation[] }> = validBaseInput.chain(
  (base) =>
    fc
      .uniqueArray(mutationOf(base), { minLength: 1, maxLength: 3, selector: (m) => m.path[0] === 'pv' ? 'pv' : m.path.join('.') })
      .map((mutations) => {
        const input = structuredClone(base) as Record<string, unknown>;
        for (const m of mutations) setAt(input, m.path, m.kind === 'delete' ? undefined : m.value, m.kind === 'delete');
        return { base, input, mutations };
      }),
);

const FIELD = /^(\(spec\)|[A-Za-z_$][\w$]*(\.[\w$]+)*)$/;

/**
 * A refusal is well formed: a SpecError with at least one issue; each issue names a field (a dotted
 * path, or "(spec)" for the whole spec), carries the value found at that path in `source`, and a
 * one-line rule; the message is one line per issue, each the issue's formatIssue.
 */
export function expectWellFormedRefusal(error: unknown, source: unknown): SpecIssue[] {
  expect(error, `not a SpecError: ${String(error)}`).toBeInstanceOf(SpecError);
  const { issues, message } = error as SpecError;
  expect(issues.length).toBeGreaterThan(0);
  for (const issue of issues) {
    expect(issue.field, JSON.stringify(issue)).toMatch(FIELD);
    const expected = issue.field === '(spec)' ? source : valueAt(source, issue.field.split('.'));
    expect(issue.value, `value of ${issue.field}`).toEqual(expected);
    expect(typeof issue.rule).toBe('string');
    expect(issue.rule.trim().length, `empty rule for ${issue.field}`).toBeGreaterThan(5);
    expect(issue.rule, `rule of ${issue.field} spans lines`).not.toContain('\n');
    expect(formatIssue(issue).startsWith(`${issue.field} = `)).toBe(true);
  }
  expect(message.split('\n')).toEqual(issues.map(formatIssue));
  return issues;
}
