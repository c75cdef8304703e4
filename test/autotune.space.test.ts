/**
 * The autotuner's search space and pruning (autotune/space.ts, autotune/occupancy.ts).
 *
 * Counts are derived from the axis sizes, order from AXIS_ORDER, reasons compared with what
 * parseSpec/planKernel themselves throw, and occupancy from hand-computed register-file and
 * shared-memory divisions written out below; nothing is copied from the code's output.
 */
import { mkdtempSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ARCHS, CAPABILITIES, archSupports, type Arch } from '../dsl/capabilities.js';
import { attention, defaultSpecInput } from '../dsl/builder.js';
import { E4M3_MAX, FP16_MAX, parseSpec, SpecError, variantName, wgmmaRowSums, type SpecIssue } from '../dsl/spec.js';
import { planKernel } from '../plan/plan.js';
import { renderVariant } from '../render/render.js';
import { runtimeIncludeDir } from '../build/paths.js';
import { compileVariant, parsePtxas, type PtxasEntry } from '../toolchain/nvcc.js';
import {
  AXIS_ORDER,
  defaultAxes,
  defaultPvForms,
  problemsOf,
  prune,
  resolveAxes,
  searchSpace,
  type Candidate,
  type SpaceAxes,
} from '../autotune/space.js';
import { describeOccupancy, occupancy, pruneCompiled, type CompiledEntry } from '../autotune/occupancy.js';
import { dryRun, formatDryRun, varyingFields } from '../autotune/dryrun.js';
import { describeNvcc, requireNvcc } from './helpers/nvcc.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const fixture = (name: string) => readFileSync(path.join(FIXTURES, name), 'utf8');

/**
 * Size of the product: every axis in AXIS_ORDER multiplies (flushKeys is chosen per candidate, not
 * multiplied), except producer, overlapKvQuant, rowSums, polyExp2, polyExp2Form and rowMax, which only the
 * wgmma form varies (the mma.sync forms take true, false, "alu", 0, "f32" and "fmnmx"); polyExp2Form only where
 * polyExp2 is not 0.
 */
const WGMMA_ONLY = ['producer', 'overlapKvQuant', 'rowSums', 'polyExp2', 'polyExp2Form', 'rowMax'] as const;
const polyExp2Settings = (axes: SpaceAxes) => axes.polyExp2.reduce((n, every) => n + (every ? axes.polyExp2Form.length : 1), 0);
const productSize = (axes: SpaceAxes) =>
  axes.pv.reduce((n, pv) => n + (pv === 'wgmma' ? axes.producer.length * axes.overlapKvQuant.length * axes.rowSums.length * polyExp2Settings(axes) * axes.rowMax.length : 1), 0) *
  AXIS_ORDER.filter((a) => a !== 'pv' && !(WGMMA_ONLY as readonly string[]).includes(a)).reduce((n, a) => n * axes[a].length, 1);

/** The axis tuples of the product nested in AXIS_ORDER, first axis outermost, written independently of the code. */
function cartesian(axes: SpaceAxes): Record<string, unknown>[] {
  let rows: Record<string, unknown>[] = [{}];
  const values = (axis: (typeof AXIS_ORDER)[number], row: Record<string, unknown>): readonly unknown[] =>
    axis === 'polyExp2Form' ? (row.pv === 'wgmma' && row.polyExp2 ? axes.polyExp2Form : ['f32'])
    : row.pv === 'wgmma' ? axes[axis] : axis === 'producer' ? [true] : axis === 'overlapKvQuant' ? [false] : axis === 'rowSums' ? ['alu'] : axis === 'polyExp2' ? [0] : axis === 'rowMax' ? ['fmnmx'] : axes[axis];
  for (const axis of AXIS_ORDER) rows = rows.flatMap((row) => values(axis, row).map((v) => ({ ...row, [axis]: v })));
  return rows;
}

const pointWithoutFlush = (c: Candidate) => {
  const { flushKeys: _f, ...rest } = c.point;
  return rest;
};

/** The issues parseSpec or planKernel throw for an input; [] when both accept it. */
function issuesOf(input: unknown): SpecIssue[] {
  try {
    planKernel(parseSpec(structuredClone(input)));
    return [];
  } catch (e) {
    if (e instanceof SpecError) return e.issues;
    throw e;
  }
}

const hasFp8 = (arch: Arch) => archSupports(arch, 'mma.m16n8k32.e4m3.f16');

describe('default axes', () => {
  it('the tile axes are the documented lists on every arch', () => {
    for (const arch of ARCHS) {
      const a = defaultAxes(arch);
      expect(a.warpQ).toEqual([16, 32]);
      expect(a.warps).toEqual([4, 8]);
      expect(a.ctaK).toEqual([32, 64, 128]);
      expect(a.stages).toEqual([2, 3]);
      expect(a.minBlocksPerSm).toEqual([1, 2]);
      expect(a.overlapQk).toEqual([false, true]);
      expect([...a.granularity].sort()).toEqual(['per-block', 'per-thread', 'per-warp']);
      expect(a.smoothK).toEqual([true]);
      expect(a.foldDequant).toEqual([false, true]);
      expect(a.flushKeys).toEqual([64, 32]);
    }
  });

  it('P·V forms follow the capability table: 16-bit only without FP8, FP8 first where native, 16-bit first where emulated', () => {
    for (const arch of ARCHS) {
      const forms = defaultPvForms(arch);
      expect(defaultAxes(arch).pv).toEqual(forms);
      expect(forms).toContain('m16n8k16'); // every arch has the 16-bit form, and it is always tried
      if (!hasFp8(arch)) {
        expect(forms).toEqual(['m16n8k16']);
        continue;
      }
      // the wgmma kernel first where the warpgroup mma exists, then the mma.sync forms
      const wgmma = CAPABILITIES[arch].native.includes('wgmma.m64n128k32.e4m3.f32');
      expect(forms[0] === 'wgmma').toBe(wgmma);
      const sync = forms.filter((f) => f !== 'wgmma');
      expect([...sync].sort()).toEqual(['fp8-f16', 'fp8-f32', 'm16n8k16']);
      const emulated = CAPABILITIES[arch].emulated.includes('mma.m16n8k32.e4m3.f16');
      expect(sync[0]).toBe(emulated ? 'm16n8k16' : 'fp8-f16');
    }
    // and the table says what the brief says: sm_80/86 no FP8, sm_89/120 native, sm_90a emulated
    expect(ARCHS.filter(hasFp8)).toEqual(['sm_89', 'sm_90a', 'sm_120']);
    expect(defaultPvForms('sm_90a')).toEqual(['wgmma', 'm16n8k16', 'fp8-f16', 'fp8-f32']);
  });

  it('resolveAxes replaces only the given axes, keeps their order and drops repeats; empty or unknown axes throw', () => {
    const base = defaultAxes('sm_89');
    const r = resolveAxes('sm_89', { ctaK: [128, 64, 128], pv: ['m16n8k16'] });
    expect(r.ctaK).toEqual([128, 64]);
    expect(r.pv).toEqual(['m16n8k16']);
    expect({ ...r, ctaK: base.ctaK, pv: base.pv }).toEqual(base);
    expect(() => resolveAxes('sm_89', { stages: [] })).toThrow(/stages.*empty/);
    expect(() => resolveAxes('sm_89', { bogus: [1] } as never)).toThrow(/unknown search-space axis "bogus"/);
  });
});

describe('searchSpace enumeration', () => {
  it('one problem has the product of its axis sizes, for every arch and head dim', () => {
    for (const arch of ARCHS)
      for (const headDim of [64, 128] as const) {
        const n = searchSpace({ archs: [arch], headDims: [headDim] }).length;
        expect(n, `${arch} D=${headDim}`).toBe(productSize(defaultAxes(arch)));
      }
  });

  it('the product written out: (pv forms) × 2 warpQ × 2 warps × 3 ctaK × 2 stages × 2 minBlocks × 2 overlap × 3 granularities × 1 smoothK × 2 foldDequant', () => {
    const tiles = 2 * 2 * 3 * 2 * 2 * 2 * 3 * 1 * 2;
    expect(searchSpace({ archs: ['sm_90a'], headDims: [128] })).toHaveLength((2 * 3 + 3) * tiles); // wgmma × 2 producer × 3 rowSums settings + the three mma.sync forms
    expect(searchSpace({ archs: ['sm_89'], headDims: [128] })).toHaveLength(3 * tiles);
    expect(searchSpace({ archs: ['sm_80'], headDims: [128] })).toHaveLength(1 * tiles);
  });

  it('several problems: the sum over (arch, head dim, dtype, causal), in that nesting order', () => {
    const options = { archs: ['sm_80', 'sm_90a'] as Arch[], headDims: [128, 64] as (64 | 128)[], dtypes: ['fp16', 'bf16'] as ('fp16' | 'bf16')[], causal: [false, true] };
    const problems = problemsOf(options);
    expect(problems).toHaveLength(2 * 2 * 2 * 2);
    const all = searchSpace(options);
    expect(all).toHaveLength(problems.reduce((n, p) => n + productSize(defaultAxes(p.arch)), 0));
    // candidates come grouped by problem, problems in the order problemsOf gives
    const seen: string[] = [];
    for (const c of all) {
      const key = JSON.stringify(c.problem);
      if (seen.at(-1) !== key) seen.push(key);
    }
    expect(seen).toEqual(problems.map((p) => JSON.stringify(p)));
    expect(problems[0]).toEqual({ arch: 'sm_80', headDim: 128, dtype: 'fp16', causal: false, layout: 'HND' });
    expect(problems[1]).toMatchObject({ arch: 'sm_80', headDim: 128, dtype: 'fp16', causal: true });
  });

  it('defaults are fp16, non-causal, HND', () => {
    expect(problemsOf({ archs: ['sm_89'], headDims: [64] })).toEqual([{ arch: 'sm_89', headDim: 64, dtype: 'fp16', causal: false, layout: 'HND' }]);
  });

  it('order is deterministic and is the product nested in AXIS_ORDER (first axis outermost)', () => {
    for (const arch of ['sm_90a', 'sm_80'] as const) {
      const a = searchSpace({ archs: [arch], headDims: [128] });
      const b = searchSpace({ archs: [arch], headDims: [128] });
      expect(a.map((c) => c.name)).toEqual(b.map((c) => c.name));
      expect(a.map(pointWithoutFlush)).toEqual(cartesian(defaultAxes(arch)));
    }
  });

  it('every candidate is named by variantName of its input, names are unique, and the input has the point', () => {
    const all = searchSpace({ archs: [...ARCHS], headDims: [64, 128], dtypes: ['fp16', 'bf16'], causal: [false, true] });
    expect(new Set(all.map((c) => c.name)).size).toBe(all.length);
    for (const c of all) {
      expect(c.name).toBe(variantName(c.input));
      const t = c.input.tiling;
      expect(t).toEqual({
        ctaQ: c.point.warpQ * c.point.warps,
        ctaK: c.point.ctaK,
        warpQ: c.point.warpQ,
        warps: c.point.warps,
        stages: c.point.stages,
        minBlocksPerSm: c.point.minBlocksPerSm,
        overlapQk: c.point.overlapQk,
        ...(c.point.producer ? {} : { producer: false }),
      });
      if (c.point.pv !== 'wgmma') expect(c.point.producer).toBe(true);
      expect(c.input.qk).toEqual({ type: 'int8', granularity: c.point.granularity, smoothK: c.point.smoothK, foldDequant: c.point.foldDequant });
      expect(c.input).toMatchObject(c.problem);
    }
  });

  it('repeated axis values give the same candidates once', () => {
    const once = searchSpace({ archs: ['sm_89'], headDims: [64], axes: { ctaK: [64], stages: [2] } });
    const twice = searchSpace({ archs: ['sm_89'], headDims: [64], axes: { ctaK: [64, 64], stages: [2, 2] } });
    expect(twice.map((c) => c.name)).toEqual(once.map((c) => c.name));
    // and the same problem twice is enumerated once
    expect(searchSpace({ archs: ['sm_89', 'sm_89'], headDims: [64] })).toHaveLength(productSize(defaultAxes('sm_89')));
  });

  it('an axis override replaces that axis only, and the count follows its size', () => {
    const axes = { warpQ: [32], ctaK: [32, 64], pv: ['m16n8k16' as const], granularity: ['per-thread' as const] };
    const cs = searchSpace({ archs: ['sm_90a'], headDims: [128], axes });
    expect(cs).toHaveLength(productSize(resolveAxes('sm_90a', axes)));
    expect(cs).toHaveLength(1 * 1 * 2 * 2 * 2 * 2 * 2 * 1 * 1 * 2);
    for (const c of cs) {
      expect(c.input.tiling.warpQ).toBe(32);
      expect([32, 64]).toContain(c.input.tiling.ctaK);
      expect(c.input.pv).toEqual({ instruction: 'm16n8k16' });
      expect(c.input.qk.granularity).toBe('per-thread');
    }
    expect(new Set(cs.map((c) => c.input.tiling.warps))).toEqual(new Set(defaultAxes('sm_90a').warps));
  });
});

describe('FP8 P·V candidates', () => {
  const fp8 = searchSpace({ archs: ['sm_89', 'sm_90a', 'sm_120'], headDims: [64, 128] }).filter((c) => c.input.pv.instruction === 'm16n8k32.e4m3');

  it('flushKeys is 64 where ctaK allows and 32 otherwise: a 32-key tile is never given a 64-key flush', () => {
    expect(fp8.length).toBeGreaterThan(0);
    for (const c of fp8) {
      const pv = c.input.pv;
      if (pv.instruction !== 'm16n8k32.e4m3') throw new Error('unreachable');
      expect(c.input.tiling.ctaK % pv.flushKeys).toBe(0);
      expect(pv.flushKeys).toBe(c.input.tiling.ctaK >= 64 ? 64 : 32);
      expect(c.point.flushKeys).toBe(pv.flushKeys);
    }
    expect(fp8.some((c) => c.input.tiling.ctaK === 32)).toBe(true);
  });

  it('f16 accumulator: vRange 2.25, pRange 448, within fp16 at its flush length; f32: vRange 448', () => {
    for (const c of fp8) {
      const pv = c.input.pv;
      if (pv.instruction !== 'm16n8k32.e4m3') throw new Error('unreachable');
      expect(pv.pRange).toBe(E4M3_MAX);
      if (pv.accumulator === 'f16') {
        expect(pv.vRange).toBe(2.25);
        expect(pv.pRange * pv.vRange * pv.flushKeys).toBeLessThanOrEqual(FP16_MAX);
      } else {
        expect(pv.vRange).toBe(E4M3_MAX);
      }
    }
    expect(new Set(fp8.map((c) => (c.input.pv as { accumulator: string }).accumulator))).toEqual(new Set(['f16', 'f32']));
  });

  it('no FP8 candidate is pruned for a pv rule in the default space', () => {
    for (const p of prune(fp8).pruned) expect(p.reasons.map((r) => r.field).filter((f) => f.startsWith('pv'))).toEqual([]);
  });

  it('forcing a 64-key flush on 32-key tiles: pruned with the pv.flushKeys rule', () => {
    const cs = searchSpace({ archs: ['sm_89'], headDims: [128], axes: { pv: ['fp8-f16'], ctaK: [32], flushKeys: [64] } });
    expect(cs.length).toBeGreaterThan(0);
    const { kept, pruned } = prune(cs);
    expect(kept).toEqual([]);
    for (const p of pruned) {
      const issue = p.reasons.find((r) => r.field === 'pv.flushKeys');
      expect(issue, JSON.stringify(p.reasons)).toBeDefined();
      expect(issue!.value).toBe(64);
      expect(issue!.rule).toContain('must divide tiling.ctaK = 32');
    }
  });

  it('FP8 forms asked for on sm_80: pruned with the pv.instruction rule', () => {
    const { kept, pruned } = prune(searchSpace({ archs: ['sm_80'], headDims: [64], axes: { pv: ['fp8-f32'], ctaK: [64], stages: [2] } }));
    expect(kept).toEqual([]);
    for (const p of pruned) expect(p.reasons.map((r) => r.field)).toContain('pv.instruction');
  });
});

describe('wgmma candidates (sm_90a)', () => {
  const all = searchSpace({ archs: ['sm_90a', 'sm_89'], headDims: [64, 128], causal: [false, true] });
  const wgmma = all.filter((c) => c.point.pv === 'wgmma');
  const { kept, pruned } = prune(wgmma);

  it('only sm_90a gets the wgmma form, and its inputs name mma "wgmma" with the wgmma P·V', () => {
    expect(wgmma.length).toBeGreaterThan(0);
    expect(new Set(wgmma.map((c) => c.problem.arch))).toEqual(new Set(['sm_90a']));
    for (const c of wgmma) {
      expect(c.input.mma).toBe('wgmma');
      expect(c.input.pv).toEqual({ instruction: 'wgmma.e4m3', pRange: 448, vRange: 448, rowSums: c.point.rowSums });
    }
    expect(new Set(wgmma.map((c) => c.point.rowSums))).toEqual(new Set(['tensor', 'alu', 'tensor-shared']));
    expect(all.filter((c) => c.point.pv !== 'wgmma').every((c) => c.point.rowSums === 'alu')).toBe(true);
    expect(all.filter((c) => c.point.pv !== 'wgmma').every((c) => c.input.mma === undefined)).toBe(true);
    // polyExp2 is [0] by default: no wgmma candidate moves exponentials to the FMA pipe
    expect(wgmma.every((c) => c.point.polyExp2 === 0 && !('polyExp2Every' in c.input.pv))).toBe(true);
    // rowMax is ["fmnmx"] by default: the spec keeps its default (no rowMax field, no m3 in the name)
    expect(all.every((c) => c.point.rowMax === 'fmnmx' && !('rowMax' in c.input.pv) && !c.name.endsWith('m3'))).toBe(true);
  });

  it('the rowMax axis, when asked, multiplies the wgmma candidates only, each "vimnmx3" named m3', () => {
    const axes = { pv: ['wgmma', 'm16n8k16'] as const, rowMax: ['fmnmx', 'vimnmx3'] as const, rowSums: ['tensor'] as const, producer: [false] };
    const resolved = { ...axes, pv: [...axes.pv], rowMax: [...axes.rowMax], rowSums: [...axes.rowSums] };
    const space = searchSpace({ archs: ['sm_90a'], headDims: [64], axes: resolved });
    const wg = space.filter((c) => c.point.pv === 'wgmma');
    expect(wg.filter((c) => c.point.rowMax === 'vimnmx3')).toHaveLength(wg.length / 2);
    for (const c of wg) {
      expect(c.name.endsWith('m3')).toBe(c.point.rowMax === 'vimnmx3');
      expect((c.input.pv as { rowMax?: string }).rowMax).toBe(c.point.rowMax === 'vimnmx3' ? 'vimnmx3' : undefined);
    }
    expect(space.filter((c) => c.point.pv !== 'wgmma').every((c) => c.point.rowMax === 'fmnmx')).toBe(true);
    expect(space).toHaveLength(productSize(resolveAxes('sm_90a', resolved)));
  });

  it('the overlapKvQuant axis, when asked, multiplies the wgmma candidates only; the spec refuses it outside one-consumer producerless blocks', () => {
    const resolved = { pv: ['wgmma', 'm16n8k16'] as ('wgmma' | 'm16n8k16')[], overlapKvQuant: [false, true], rowSums: ['tensor' as const], warps: [4, 12] as (4 | 12)[], warpQ: [16] };
    const space = searchSpace({ archs: ['sm_90a'], headDims: [64], axes: resolved });
    expect(space).toHaveLength(productSize(resolveAxes('sm_90a', resolved)));
    const wg = space.filter((c) => c.point.pv === 'wgmma');
    expect(wg.filter((c) => c.point.overlapKvQuant)).toHaveLength(wg.length / 2);
    for (const c of wg) {
      expect(c.name.includes('kv_'), c.name).toBe(c.point.overlapKvQuant);
      expect(c.input.tiling.overlapKvQuant).toBe(c.point.overlapKvQuant ? true : undefined);
    }
    expect(space.filter((c) => c.point.pv !== 'wgmma').every((c) => !c.point.overlapKvQuant && c.input.tiling.overlapKvQuant === undefined)).toBe(true);
    // kept only in blocks of one consumer (4 warps) without a producer; the others are pruned with the rule
    const { kept, pruned } = prune(wg.filter((c) => c.point.overlapKvQuant));
    expect(kept.length).toBeGreaterThan(0);
    for (const k of kept) expect([k.spec.tiling.warps, k.spec.tiling.producer, k.plan.quant.kvReady]).toEqual([4, false, { wordsPerHead: 16 }]);
    const refusedByRule = pruned.filter((p) => p.reasons.some((r) => r.field === 'tiling.overlapKvQuant'));
    expect(refusedByRule.length).toBeGreaterThan(0);
    for (const p of refusedByRule) expect(p.candidate.point.warps !== 4 || p.candidate.point.producer).toBe(true);
  });

  it('the polyExp2 axis, when asked, multiplies the wgmma candidates only, each named e<n>', () => {
    const axes = { pv: ['wgmma', 'm16n8k16'] as const, polyExp2: [0, 16], rowSums: ['tensor'] as const, producer: [false] };
    const space = searchSpace({ archs: ['sm_90a'], headDims: [64], axes: { ...axes, pv: [...axes.pv], rowSums: [...axes.rowSums] } });
    const wg = space.filter((c) => c.point.pv === 'wgmma');
    const sync = space.filter((c) => c.point.pv !== 'wgmma');
    expect(wg.filter((c) => c.point.polyExp2 === 16)).toHaveLength(wg.length / 2);
    for (const c of wg) {
      expect(c.name.endsWith('e16')).toBe(c.point.polyExp2 === 16);
      expect((c.input.pv as { polyExp2Every?: number }).polyExp2Every).toBe(c.point.polyExp2 === 16 ? 16 : undefined);
    }
    expect(sync.every((c) => c.point.polyExp2 === 0)).toBe(true);
    expect(space).toHaveLength(productSize(resolveAxes('sm_90a', { ...axes, pv: [...axes.pv], rowSums: [...axes.rowSums] })));
    // a value the spec refuses is pruned with its rule, not dropped
    const { pruned } = prune(searchSpace({ archs: ['sm_90a'], headDims: [64], axes: { pv: ['wgmma'], polyExp2: [65] } }));
    expect(pruned.length).toBeGreaterThan(0);
    expect(pruned.every((p) => p.reasons.some((r) => r.field === 'pv.polyExp2Every' && r.value === 65))).toBe(true);
  });

  it('the polyExp2Form axis, when asked, splits only the wgmma candidates with polyExp2 above 0, each "f16x2" named h<n>', () => {
    const axes = { pv: ['wgmma', 'm16n8k16'], polyExp2: [0, 4], polyExp2Form: ['f32', 'f16x2'], rowSums: ['tensor'], producer: [false] } as const;
    const resolved = { pv: [...axes.pv], polyExp2: [...axes.polyExp2], polyExp2Form: [...axes.polyExp2Form], rowSums: [...axes.rowSums], producer: [...axes.producer] };
    const space = searchSpace({ archs: ['sm_90a'], headDims: [64], axes: resolved });
    const wg = space.filter((c) => c.point.pv === 'wgmma');
    // per tile shape: no polynomial, every 4th exponential in fp32, every 4th pair in f16x2
    expect(wg.filter((c) => c.point.polyExp2 === 0).every((c) => c.point.polyExp2Form === 'f32' && !('polyExp2Form' in c.input.pv))).toBe(true);
    expect(wg.filter((c) => c.point.polyExp2Form === 'f16x2')).toHaveLength(wg.length / 3);
    for (const c of wg.filter((c) => c.point.polyExp2 === 4)) {
      expect(c.name.endsWith(c.point.polyExp2Form === 'f16x2' ? 'h4' : 'e4')).toBe(true);
      expect((c.input.pv as { polyExp2Form?: string }).polyExp2Form).toBe(c.point.polyExp2Form === 'f16x2' ? 'f16x2' : undefined);
    }
    expect(space.filter((c) => c.point.pv !== 'wgmma').every((c) => c.point.polyExp2Form === 'f32')).toBe(true);
    expect(space).toHaveLength(productSize(resolveAxes('sm_90a', resolved)));
    // with "alu" row sums the plan refuses "f16x2", and prune() says so
    const oneConsumer = { pv: ['wgmma'], warpQ: [16], warps: [4], ctaK: [128], stages: [2], minBlocksPerSm: [3], overlapQk: [false], producer: [false], polyExp2: [4], polyExp2Form: ['f16x2'], granularity: ['per-warp'] } as const;
    const plain = (rowSums: 'alu' | 'tensor') => ({ ...oneConsumer, rowSums: [rowSums] }) as unknown as Partial<SpaceAxes>;
    const { pruned } = prune(searchSpace({ archs: ['sm_90a'], headDims: [64], axes: plain('alu') }));
    expect(pruned.length).toBeGreaterThan(0);
    expect(pruned.every((p) => p.reasons.some((r) => r.field === 'pv.polyExp2Form' && /"alu"/.test(r.rule)))).toBe(true);
    expect(prune(searchSpace({ archs: ['sm_90a'], headDims: [64], axes: plain('tensor') })).pruned).toHaveLength(0);
  });

  it('kept: the WGMMA_SHAPES the default axes reach × stages and schedule × both foldDequant and the three rowSums settings, per head dim and causal flag', () => {
    const shapeOf = (t: { warps: number; minBlocksPerSm: number; stages: number; overlapQk: boolean; producer?: boolean }) =>
      `${t.warps}x${t.minBlocksPerSm}s${t.stages}${t.overlapQk ? 'o' : ''}${t.producer === false ? 'c' : ''}`;
    const shapes = kept.map((k) => `${k.spec.headDim} ${k.spec.causal} ${shapeOf(k.spec.tiling)} ${k.spec.qk.foldDequant} ${wgmmaRowSums(k.spec)}`).sort();
    // With a producer: the next Q·Kᵀ overlapped, 3 stages. Without: serial at 2 or 3 stages, or
    // overlapped at 3. minBlocksPerSm 3 and 4 and 12 warps are outside the default axes.
    const want: string[] = [];
    for (const headDim of [64, 128])
      for (const causal of [false, true])
        for (const shape of ['4x2s3o', '8x1s3o', '4x2s2c', '4x2s3c', '4x2s3oc', '8x1s2c', '8x1s3c', '8x1s3oc'])
          for (const fold of [false, true]) for (const rowSums of ['tensor', 'alu', 'tensor-shared']) want.push(`${headDim} ${causal} ${shape} ${fold} ${rowSums}`);
    expect(shapes).toEqual(want.sort());
    for (const k of kept) {
      expect(k.spec.tiling).toMatchObject({ warpQ: 16, ctaK: 128 });
      expect(k.spec.qk.granularity).toBe('per-warp');
      expect(k.plan.wgmma).not.toBeNull();
    }
  });

  it('every pruned wgmma candidate carries the rule that refused it, by field', () => {
    expect(pruned.length + kept.length).toBe(wgmma.length);
    for (const p of pruned) expect(p.reasons.length, p.name).toBeGreaterThan(0);
    const warpQ32 = pruned.filter((p) => p.input.tiling.warpQ === 32);
    expect(warpQ32.length).toBeGreaterThan(0);
    expect(warpQ32.every((p) => p.reasons.some((r) => r.field === 'tiling.warpQ'))).toBe(true);
    const ctaK64 = pruned.filter((p) => p.input.tiling.ctaK === 64);
    expect(ctaK64.every((p) => p.reasons.some((r) => r.field === 'tiling.ctaK' && /must be 128 with mma "wgmma"/.test(r.rule)))).toBe(true);
  });
});

describe('prune (before any compile)', () => {
  const candidates = searchSpace({ archs: ['sm_90a', 'sm_89', 'sm_86', 'sm_80'], headDims: [64, 128] });
  const result = prune(candidates);
  const byName = new Map(candidates.map((c) => [c.name, c]));
  const prunedByName = new Map(result.pruned.map((p) => [p.name, p]));

  it('partitions the candidates, keeping their order in both lists', () => {
    expect(result.kept.length + result.pruned.length).toBe(candidates.length);
    const order = new Map(candidates.map((c, i) => [c.name, i]));
    const idx = (xs: { name: string }[]) => xs.map((x) => order.get(x.name)!);
    const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
    expect(idx(result.kept)).toEqual(sorted(idx(result.kept)));
    expect(idx(result.pruned)).toEqual(sorted(idx(result.pruned)));
    expect(new Set([...idx(result.kept), ...idx(result.pruned)]).size).toBe(candidates.length);
    expect(result.kept.length).toBeGreaterThan(0);
    expect(result.pruned.length).toBeGreaterThan(0);
  });

  it('kept: parseSpec and planKernel accept it; the plan carries the candidate name', () => {
    for (const k of result.kept) {
      expect(issuesOf(k.candidate.input)).toEqual([]);
      expect(k.plan.name).toBe(k.name);
      expect(k.spec).toEqual(parseSpec(structuredClone(k.candidate.input)));
      expect(byName.get(k.name)).toBe(k.candidate);
    }
  });

  it('pruned: the reasons are the SpecError issues verbatim (field, value, rule)', () => {
    for (const p of result.pruned) {
      expect(p.reasons.length).toBeGreaterThan(0);
      expect(p.reasons).toEqual(issuesOf(p.input));
      expect(p.input).toBe(byName.get(p.name)!.input);
    }
  });

  it('does not change the candidates it checks', () => {
    const before = structuredClone(candidates.map((c) => c.input));
    prune(candidates);
    expect(candidates.map((c) => c.input)).toEqual(before);
  });

  it('overlapQk with 2 stages: pruned by the tiling.stages rule', () => {
    const overlapped = candidates.filter((c) => c.point.overlapQk && c.point.stages === 2);
    expect(overlapped.length).toBeGreaterThan(0);
    for (const c of overlapped) {
      const issue = prunedByName.get(c.name)?.reasons.find((r) => r.field === 'tiling.stages');
      expect(issue, c.name).toBeDefined();
      expect(issue!.value).toBe(2);
      expect(issue!.rule).toMatch(/at least 3 with overlapQk/);
    }
  });

  it('warpQ 32 × 8 warps at D=128 with minBlocksPerSm 2: pruned by the register rule', () => {
    // 256 threads × 2 blocks leave ⌊65536 / 512 / 8⌋·8 = 128 registers per thread; the fp32 output
    // accumulator alone is (32/16 m-tiles) × (128/8 n-tiles) × 4 = 128, before any score accumulator.
    const budget = Math.floor(65536 / (256 * 2) / 8) * 8;
    const outputAccumulator = (32 / 16) * (128 / 8) * 4;
    expect(outputAccumulator).toBeGreaterThanOrEqual(budget);
    // (overlapQk with 2 stages is refused by parseSpec before the plan's register rule is reached)
    const hits = candidates.filter(
      // (foldDequant candidates with per-thread scales are refused by parseSpec first, too)
      // (wgmma candidates are refused by its shape rules: warpQ 16 only)
      (c) => c.problem.headDim === 128 && c.point.pv !== 'wgmma' && c.point.warpQ === 32 && c.point.warps === 8 && c.point.minBlocksPerSm === 2 && !(c.point.overlapQk && c.point.stages < 3) && !c.point.foldDequant,
    );
    expect(hits.length).toBeGreaterThan(0);
    // e.g. ctaK 32 without overlap: blamed on minBlocksPerSm (the tile fits 255 registers with one block per SM)
    const blamesMinBlocks = (c: Candidate) => prunedByName.get(c.name)?.reasons.some((r) => r.field === 'tiling.minBlocksPerSm' && /registers per thread/.test(r.rule));
    expect(hits.filter((c) => c.point.ctaK === 32 && !c.point.overlapQk).every(blamesMinBlocks)).toBe(true);
    for (const c of hits) {
      const p = prunedByName.get(c.name);
      expect(p, `${c.name} should be pruned`).toBeDefined();
      const issue = p!.reasons.find((r) => /registers per thread/.test(r.rule));
      expect(issue, JSON.stringify(p!.reasons)).toBeDefined();
      expect(issue!.rule).toContain(`over ${budget}`);
      // the plan blames minBlocksPerSm when one block per SM would fit the estimate (≤ 255), else warpQ
      const estimate = Number(/about (\d+) registers/.exec(issue!.rule)?.[1]);
      expect(estimate).toBeGreaterThan(budget);
      if (estimate <= 255) expect([issue!.field, issue!.value]).toEqual(['tiling.minBlocksPerSm', 2]);
      else expect([issue!.field, issue!.value]).toEqual(['tiling.warpQ', 32]);
    }
  });

  it("sm_86, D=128, 3 stages of 128-key tiles: pruned by the shared-memory rule (16-bit V: Q ctaQ·D + 3 × (K ctaK·D + V ctaK·D·2))", () => {
    const limit = CAPABILITIES.sm_86.maxSharedMemoryPerBlock;
    const hits = candidates.filter((c) => c.problem.arch === 'sm_86' && c.problem.headDim === 128 && c.point.stages === 3 && c.point.ctaK === 128 && !c.point.foldDequant);
    expect(hits.length).toBeGreaterThan(0);
    for (const c of hits) {
      const D = 128;
      const bytes = c.input.tiling.ctaQ * D + 3 * (128 * D + 128 * D * 2);
      expect(bytes).toBeGreaterThan(limit);
      const issue = prunedByName.get(c.name)?.reasons.find((r) => r.field === 'tiling');
      expect(issue, c.name).toBeDefined();
      expect(issue!.rule).toContain(`needs ${bytes} bytes of shared memory`);
      expect(issue!.rule).toContain(String(limit));
      expect(issue!.value).toEqual(c.input.tiling);
    }
  });

  it('the default spec of each arch and the tuned H100 specs are in the space and kept', () => {
    const kept = new Set(result.kept.map((k) => k.name));
    for (const arch of ['sm_90a', 'sm_89', 'sm_86', 'sm_80'] as const)
      for (const headDim of [64, 128] as const) expect(kept.has(variantName(parseSpec(defaultSpecInput({ arch, headDim }))))).toBe(true);
    const tuned = JSON.parse(readFileSync(path.join(FIXTURES, '..', '..', 'runtime', 'bench', 'specs', 'sm90a-pv16-tuned.json'), 'utf8')) as unknown[];
    const tunedFp16Full = tuned.map((s) => parseSpec(s)).filter((s) => s.dtype === 'fp16' && !s.causal);
    expect(tunedFp16Full.length).toBe(2);
    for (const s of tunedFp16Full) expect(kept.has(variantName(s)), variantName(s)).toBe(true);
  });
});

describe('occupancy arithmetic', () => {
  const SM90A = CAPABILITIES.sm_90a.maxSharedMemoryPerBlock; // 227 KiB = 232448
  const SM89 = CAPABILITIES.sm_89.maxSharedMemoryPerBlock; // 99 KiB = 101376

  it('255 registers × 128 threads: allocated as 256; 65536 / (256·128) = 2 blocks, 8 warps (registers bind)', () => {
    const o = occupancy({ registersPerThread: 255, threadsPerBlock: 128, sharedBytesPerBlock: 65536, sharedBytesPerSm: SM90A });
    expect(o).toMatchObject({ allocatedRegistersPerThread: 256, warpsPerBlock: 4, blocksByRegisters: 2, blocksBySharedMemory: 3, blocksPerSm: 2, warpsPerSm: 8 });
    expect(o.limitedBy).toEqual(['registers']);
    expect(describeOccupancy(o)).toBe('registers: 255 × 128 threads → 2 blocks/SM, 8 warps/SM');
  });

  it('rounding to 8 matters: 128 registers × 128 threads → 4 blocks, 129 registers (136 allocated) → ⌊65536/17408⌋ = 3', () => {
    const base = { threadsPerBlock: 128, sharedBytesPerBlock: 1024, sharedBytesPerSm: SM90A };
    expect(occupancy({ ...base, registersPerThread: 128 })).toMatchObject({ allocatedRegistersPerThread: 128, blocksPerSm: 4, warpsPerSm: 16 });
    expect(occupancy({ ...base, registersPerThread: 129 })).toMatchObject({ allocatedRegistersPerThread: 136, blocksPerSm: 3, warpsPerSm: 12 });
  });

  it('170 registers × 256 threads: 176 · 256 = 45056 → 1 block, 8 warps', () => {
    expect(occupancy({ registersPerThread: 170, threadsPerBlock: 256, sharedBytesPerBlock: 24576, sharedBytesPerSm: SM89 })).toMatchObject({
      allocatedRegistersPerThread: 176,
      blocksByRegisters: 1,
      blocksBySharedMemory: 4,
      blocksPerSm: 1,
      warpsPerSm: 8,
    });
  });

  it('shared memory binds: 64 registers × 128 threads (8 by registers), 40960 bytes of 101376 → 2 blocks, 8 warps', () => {
    const o = occupancy({ registersPerThread: 64, threadsPerBlock: 128, sharedBytesPerBlock: 40960, sharedBytesPerSm: SM89 });
    expect(o).toMatchObject({ blocksByRegisters: 8, blocksBySharedMemory: 2, blocksPerSm: 2, warpsPerSm: 8 });
    expect(o.limitedBy).toEqual(['shared memory']);
    expect(describeOccupancy(o)).toBe('shared memory: 40960 bytes per block of 101376 per SM → 2 blocks/SM, 8 warps/SM');
  });

  it('both bind: 128 registers × 256 threads and 49152 of 101376 bytes → 2 blocks each way', () => {
    const o = occupancy({ registersPerThread: 128, threadsPerBlock: 256, sharedBytesPerBlock: 49152, sharedBytesPerSm: SM89 });
    expect(o).toMatchObject({ blocksPerSm: 2, warpsPerSm: 16 });
    expect(o.limitedBy).toEqual(['registers', 'shared memory']);
  });

  it('a resident-warp limit, when given: 32 registers × 128 threads (16 by registers), 48 warps → 12 blocks', () => {
    const o = occupancy({ registersPerThread: 32, threadsPerBlock: 128, sharedBytesPerBlock: 0, sharedBytesPerSm: SM89, maxWarpsPerSm: 48 });
    expect(o).toMatchObject({ blocksByRegisters: 16, blocksBySharedMemory: Infinity, blocksByWarps: 12, blocksPerSm: 12, warpsPerSm: 48 });
    expect(o.limitedBy).toEqual(['warps']);
  });

  it('a block over the shared memory of an SM: 0 blocks, 0 warps; bad inputs throw', () => {
    expect(occupancy({ registersPerThread: 64, threadsPerBlock: 128, sharedBytesPerBlock: SM89 + 16, sharedBytesPerSm: SM89 })).toMatchObject({ blocksPerSm: 0, warpsPerSm: 0 });
    expect(() => occupancy({ registersPerThread: 64, threadsPerBlock: 0, sharedBytesPerBlock: 0, sharedBytesPerSm: SM89 })).toThrow(RangeError);
    expect(() => occupancy({ registersPerThread: 1.5, threadsPerBlock: 128, sharedBytesPerBlock: 0, sharedBytesPerSm: SM89 })).toThrow(/registersPerThread/);
  });
});

describe('pruneCompiled', () => {
  // The captured reports of test/fixtures (nvcc 13.0, sm_89) and plans of the specs they were compiled from.
  const spilling: CompiledEntry = {
    name: 'w32x4-d128',
    ptxas: parsePtxas(fixture('ptxas-sm89-d128-w32x4-spills.txt')),
    plan: planKernel(attention({ arch: 'sm_89', headDim: 128 }).tiling({ ctaQ: 128, ctaK: 64, warpQ: 32, warps: 4, stages: 2 }).build()),
  };
  const clean: CompiledEntry = {
    name: 'w16x8-d64',
    ptxas: parsePtxas(fixture('ptxas-sm89-d64-w16x8.txt')),
    plan: planKernel(parseSpec(defaultSpecInput({ arch: 'sm_89', headDim: 64 }))),
  };
  const attentionOf = (e: CompiledEntry) => e.ptxas.find((k) => k.kernel === 'attentionKernel')!;

  it('drops a spilling variant, naming the kernel and the bytes (the captured spill report)', () => {
    const a = attentionOf(spilling);
    expect(a.spillStoreBytes).toBeGreaterThan(0);
    const { kept, pruned } = pruneCompiled([spilling]);
    expect(kept).toEqual([]);
    expect(pruned).toHaveLength(1);
    expect(pruned[0]!.reasons).toEqual([`attentionKernel spills ${a.spillStoreBytes} bytes (${a.spillStoreBytes} bytes spill stores, ${a.spillLoadBytes} bytes spill loads)`]);
    // its occupancy is still reported: 255 → 256 registers × 128 threads = 32768 → 2 blocks;
    // shared memory Q 128·128 + 2 × (K 64·128 + Vᵀ 128·64) = 49152 of 101376 → 2 blocks
    expect(a.registers).toBe(255);
    expect(spilling.plan.smem.totalBytes).toBe(128 * 128 + 2 * (64 * 128 + 128 * 64));
    expect(pruned[0]!.occupancy).toMatchObject({ blocksPerSm: 2, warpsPerSm: 8, limitedBy: ['registers', 'shared memory'] });
  });

  it('keeps a clean variant above the floor, with its occupancy (128 registers × 256 threads → 2 blocks, 16 warps)', () => {
    const a = attentionOf(clean);
    expect(a.registers).toBe(128);
    const { kept, pruned } = pruneCompiled([clean]);
    expect(pruned).toEqual([]);
    expect(kept.map((k) => k.name)).toEqual(['w16x8-d64']);
    expect(kept[0]!.entry).toBe(clean);
    expect(kept[0]!.reasons).toEqual([]);
    expect(kept[0]!.occupancy).toMatchObject({ registersPerThread: 128, threadsPerBlock: 256, blocksPerSm: 2, warpsPerSm: 16 });
  });

  it('drops a variant below minWarpsPerSm with the register arithmetic as the reason', () => {
    const { kept, pruned } = pruneCompiled([clean, spilling], { minWarpsPerSm: 24 });
    expect(kept).toEqual([]);
    expect(pruned.map((p) => p.name)).toEqual(['w16x8-d64', 'w32x4-d128']);
    expect(pruned[0]!.reasons).toEqual(['registers: 128 × 256 threads → 2 blocks/SM, 16 warps/SM: below 24 warps/SM']);
    // the spilling one now has both reasons
    expect(pruned[1]!.reasons).toHaveLength(2);
    // a block counts its 49152 planned bytes and the runtime's 1 KiB against sm_89's 100 KiB per SM
    expect(pruned[1]!.reasons[1]).toMatch(/^registers: 255 × 128 threads; shared memory: 50176 bytes per block of 102400 per SM → 2 blocks\/SM, 8 warps\/SM: below 24 warps\/SM$/);
  });

  it('spills in any kernel drop it by default; spills: "attention" looks at attentionKernel only', () => {
    const ptxas: PtxasEntry[] = clean.ptxas.map((k) => (k.kernel === 'quantizeVKernel' ? { ...k, spillStoreBytes: 8, spillLoadBytes: 12 } : k));
    const entry = { ...clean, name: 'v-spills', ptxas };
    expect(pruneCompiled([entry]).pruned[0]!.reasons).toEqual(['quantizeVKernel spills 12 bytes (8 bytes spill stores, 12 bytes spill loads)']);
    expect(pruneCompiled([entry], { spills: 'attention' }).kept.map((k) => k.name)).toEqual(['v-spills']);
  });

  it('the shared-memory capacity per SM can be set (per arch), and falling below the plan\'s minBlocksPerSm drops it', () => {
    // minBlocksPerSm 2 at D=64: 24576 bytes per block; with 40000 bytes per SM only one block fits.
    const plan = planKernel(attention({ arch: 'sm_89', headDim: 64 }).tiling({ minBlocksPerSm: 2 }).build());
    expect(plan.smem.totalBytes).toBe(128 * 64 + 2 * (64 * 64 + 64 * 64));
    const entry = { name: 'b2', plan, ptxas: clean.ptxas };
    expect(pruneCompiled([entry]).kept).toHaveLength(1);
    const { pruned } = pruneCompiled([entry], { sharedBytesPerSm: { sm_89: 40000 } });
    expect(pruned[0]!.reasons).toEqual([`shared memory: ${plan.smem.totalBytes + 1024} bytes per block of 40000 per SM → 1 block/SM, 8 warps/SM: below the plan's minBlocksPerSm 2`]);
  });

  it('a report without attentionKernel is dropped, saying so', () => {
    const entry = { ...clean, name: 'no-attention', ptxas: clean.ptxas.filter((k) => k.kernel !== 'attentionKernel') };
    const { pruned } = pruneCompiled([entry]);
    expect(pruned[0]!.reasons[0]).toMatch(/^no attentionKernel in the ptxas report \(kernels: quantizeInt8Kernel/);
    expect(pruned[0]!.occupancy).toBeUndefined();
  });
});

describe('dry-run report', () => {
  it('counts match searchSpace and prune; the text ends with the summary line', () => {
    const options = { archs: ['sm_90a', 'sm_80'] as Arch[], headDims: [64, 128] as (64 | 128)[] };
    const report = dryRun(options);
    const cs = searchSpace(options);
    const { kept, pruned } = prune(cs);
    expect(report.summary).toEqual({ candidates: cs.length, kept: kept.length, pruned: pruned.length });
    expect(report.groups.map((g) => `${g.problem.arch}/${g.problem.headDim}`)).toEqual(['sm_90a/64', 'sm_90a/128', 'sm_80/64', 'sm_80/128']);
    expect(report.groups.flatMap((g) => g.kept.map((k) => k.name))).toEqual(kept.map((k) => k.name));
    expect(report.groups.flatMap((g) => g.pruned.map((k) => k.name))).toEqual(pruned.map((k) => k.name));
    const text = formatDryRun(report);
    expect(text.trimEnd().split('\n').at(-1)).toBe(`${cs.length} candidates, ${kept.length} kept, ${pruned.length} pruned`);
    for (const c of cs) expect(text).toContain(`    ${c.name} `);
  });

  it('varying fields are the spec paths whose values differ (a field missing in some counts)', () => {
    const cs = searchSpace({ archs: ['sm_89'], headDims: [64], axes: { warpQ: [16], warps: [8], ctaK: [64], stages: [2], minBlocksPerSm: [1], overlapQk: [false], granularity: ['per-warp'], foldDequant: [false] } });
    expect(cs).toHaveLength(3); // the three P·V forms
    expect(varyingFields(cs.map((c) => c.input))).toEqual(['pv.instruction', 'pv.accumulator', 'pv.flushKeys', 'pv.pRange', 'pv.vRange']);
    expect(varyingFields(cs.slice(0, 1).map((c) => c.input))).toEqual([]);
  });
});

describeNvcc('pruneCompiled on a real compile', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sagegen-autotune-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('a kept candidate (the sm_89 D=64 default tile) compiles and passes the post-compile pruning', async () => {
    const name = variantName(parseSpec(defaultSpecInput({ arch: 'sm_89', headDim: 64 })));
    const k = prune(searchSpace({ archs: ['sm_89'], headDims: [64] })).kept.find((x) => x.name === name);
    expect(k, name).toBeDefined();
    const dirs = { obj: path.join(tmp, 'obj'), keep: path.join(tmp, 'keep') };
    for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
    const source = path.join(tmp, `${name}.cu`);
    writeFileSync(source, renderVariant(k!.plan));
    const compiled = await compileVariant(requireNvcc(), source, k!.plan, dirs, [runtimeIncludeDir()]);
    const { kept, pruned } = pruneCompiled([{ name, ptxas: compiled.ptxas, plan: k!.plan }]);
    expect(pruned.map((p) => p.reasons)).toEqual([]);
    const a = compiled.ptxas.find((e) => e.kernel === 'attentionKernel')!;
    expect(kept[0]!.occupancy!.registersPerThread).toBe(a.registers);
    expect(kept[0]!.occupancy!.blocksByRegisters).toBe(Math.floor(65536 / (Math.ceil(a.registers / 8) * 8 * k!.plan.threads)));
  });
});
