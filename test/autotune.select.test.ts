import { describe, expect, it } from 'vitest';
import { defaultSpecInput } from '../dsl/builder.js';
import { parseSpec, variantName } from '../dsl/spec.js';
import { TunedConfigSchema } from '../autotune/config.js';
import { parseRecords, quantizationPath, rankCandidates, selectConfig, seqBuckets, type MeasureRecord } from '../autotune/select.js';

const DEVICE = 'NVIDIA H100 80GB HBM3';

function spec(tiling: Record<string, number>, headDim: 64 | 128 = 128) {
  const input = defaultSpecInput({ arch: 'sm_90a', headDim, dtype: 'fp16', causal: false });
  Object.assign(input.tiling, tiling);
  return parseSpec(input);
}

function gate(s: ReturnType<typeof spec>, passed: boolean, cos = 0.9993): MeasureRecord {
  return {
    kind: 'gate',
    name: variantName(s),
    seq: null,
    passed,
    accuracy: { cos, rel_l1: passed ? 0.037 : 0.2, nonfinite: 0 },
    spec: s,
    device: DEVICE,
    capability: '9.0',
    nvcc: { version: '13.0', build: 'V13.0.88' },
    date: '2026-11-22T00:00:00Z',
  };
}

function timing(s: ReturnType<typeof spec>, seq: number, wholeTops: number): MeasureRecord {
  return { kind: 'timing', name: variantName(s), seq, kernel_tops: wholeTops * 1.1, whole_tops: wholeTops, device: DEVICE };
}

const a = spec({ ctaK: 64 });
const b = spec({ ctaK: 128 });
const c = spec({ stages: 3 });

describe('seqBuckets', () => {
  it('splits at the geometric means of neighbouring lengths and leaves the last open', () => {
    expect(seqBuckets([4096, 1024, 16384])).toEqual([
      { seq: 1024, minSeq: 0, maxSeq: Math.round(Math.sqrt(1024 * 4096)) },
      { seq: 4096, minSeq: 2048, maxSeq: Math.round(Math.sqrt(4096 * 16384)) },
      { seq: 16384, minSeq: 8192, maxSeq: null },
    ]);
  });
});

describe('rankCandidates', () => {
  it('puts the fastest first when no one is within the tolerance', () => {
    const r = rankCandidates(
      [
        { name: 'x', wholeTops: 300, kernelTops: 500, cosine: 0.9999 },
        { name: 'y', wholeTops: 400, kernelTops: 500, cosine: 0.999 },
      ],
      0.01,
    );
    expect(r.map((x) => x.name)).toEqual(['y', 'x']);
  });

  it('breaks a tie (within 1%, equal kernels) by accuracy, then by name, independent of input order', () => {
    const items = [
      { name: 'b', wholeTops: 400, kernelTops: 500, cosine: 0.9992 },
      { name: 'a', wholeTops: 398, kernelTops: 500, cosine: 0.9992 },
      { name: 'c', wholeTops: 397, kernelTops: 500, cosine: 0.9995 },
    ];
    const expected = ['c', 'a', 'b']; // c most accurate; a and b tie on accuracy, a < b by name
    expect(rankCandidates(items, 0.01).map((x) => x.name)).toEqual(expected);
    expect(rankCandidates([...items].reverse(), 0.01).map((x) => x.name)).toEqual(expected);
  });
});

describe('rankCandidates with kernel times', () => {
  it('among whole-call ties the faster kernel wins; kernels within the tolerance tie again and go to accuracy', () => {
    const items = [
      { name: 'a', wholeTops: 734, kernelTops: 812, cosine: 0.9995 },
      { name: 'b', wholeTops: 729, kernelTops: 885, cosine: 0.9992 },
      { name: 'c', wholeTops: 700, kernelTops: 950, cosine: 0.9999 }, // not a whole-call tie
      { name: 'd', wholeTops: 730, kernelTops: 880, cosine: 0.9994 },
    ];
    // b and d tie on the kernel too (within 1%): d is more accurate
    expect(rankCandidates(items, 0.01).map((x) => x.name)).toEqual(['d', 'b', 'a', 'c']);
    expect(rankCandidates([...items].reverse(), 0.01).map((x) => x.name)).toEqual(['d', 'b', 'a', 'c']);
  });
});

describe('rankCandidates across quantization paths', () => {
  it('the kernel breaks whole-call ties only among candidates running the fastest whole call\'s quantization passes', () => {
    // H100, D=128 non-causal 2K (results/wgmma/consumer-skip/): the one-consumer block quantizes its
    // queries in the attention kernel; the three-consumer block runs the query kernel.
    const items = [
      { name: 'one', wholeTops: 529, kernelTops: 692, cosine: 0.9993, quantPath: 'in-kernel' },
      { name: 'three', wholeTops: 525, kernelTops: 708, cosine: 0.9993, quantPath: 'query-kernel' },
      { name: 'one-b', wholeTops: 527, kernelTops: 700, cosine: 0.9993, quantPath: 'in-kernel' },
    ];
    // one-b ties one on the whole call and runs the same passes: its faster kernel wins; three's
    // faster kernel does not count against a whole call that skips a kernel it runs.
    expect(rankCandidates(items, 0.01).map((x) => x.name)).toEqual(['one-b', 'one', 'three']);
    expect(rankCandidates([...items].reverse(), 0.01).map((x) => x.name)).toEqual(['one-b', 'one', 'three']);
    // On one path (the field absent, as for records of one path) the kernel decides as before.
    const samePath = items.map(({ quantPath: _p, ...c }) => c);
    expect(rankCandidates(samePath, 0.01).map((x) => x.name)).toEqual(['three', 'one-b', 'one']);
  });

  it('quantizationPath tells one-consumer wgmma blocks (queries in the attention kernel) from three-consumer ones, and not stage counts apart', () => {
    const spec = (warps: number, stages: number) => parseSpec({
      arch: 'sm_90a', mma: 'wgmma', headDim: 128, causal: false, dtype: 'fp16', layout: 'HND',
      tiling: { ctaQ: 16 * warps, ctaK: 128, warpQ: 16, warps, stages, minBlocksPerSm: warps === 4 ? 3 : 1, overlapQk: false, producer: false },
      qk: { type: 'int8', granularity: 'per-warp', smoothK: true, foldDequant: true },
      pv: { instruction: 'wgmma.e4m3', pRange: 448, vRange: 448 },
    });
    expect(quantizationPath(spec(4, 2))).not.toBe(quantizationPath(spec(12, 2)));
    expect(quantizationPath(spec(12, 2))).toBe(quantizationPath(spec(12, 3)));
    expect(JSON.parse(quantizationPath(spec(4, 2))).queryInAttention).toBe(true);
  });
});

describe('selectConfig', () => {
  const records: MeasureRecord[] = [
    gate(a, true),
    gate(b, true),
    gate(c, false), // rejected by the accuracy gate: must never win, even though it is fastest
    timing(a, 1024, 200),
    timing(b, 1024, 250),
    timing(a, 16384, 390),
    timing(b, 16384, 350),
    timing(c, 1024, 999),
    timing(c, 16384, 999),
  ];

  it('picks per bucket the fastest passing candidate, with the runner-up, and counts the rejected', () => {
    const config = selectConfig(records, { date: '2026-11-22' });
    expect(config.targets).toHaveLength(1);
    const [t] = config.targets;
    expect(t!.arch).toBe('sm_90a');
    expect(t!.gpu).toBe(DEVICE);
    expect(t!.entries.map((e) => [e.measuredSeq, e.winner.name, e.runnerUp?.name])).toEqual([
      [1024, variantName(b), variantName(a)],
      [16384, variantName(a), variantName(b)],
    ]);
    for (const e of t!.entries) {
      expect(e.rejected).toBe(1);
      expect(e.candidates).toBe(2);
      expect(e.winner.name).not.toBe(variantName(c));
    }
    expect(t!.entries[0]!.maxSeq).toBe(Math.round(Math.sqrt(1024 * 16384)));
    expect(TunedConfigSchema.safeParse(config).success).toBe(true);
  });

  it('a refined timing (interleaved re-timing of the close candidates) replaces the sweep\'s, in any record order', () => {
    const refined = (s: ReturnType<typeof spec>, seq: number, wholeTops: number): MeasureRecord => ({
      ...timing(s, seq, wholeTops),
      refined: { rounds: 5, candidates: 2 },
    });
    // the sweep put a ahead at 16384 (900 vs 880); the rounds say b (870 vs 885)
    const sweep = [gate(a, true), gate(b, true), timing(a, 16384, 900), timing(b, 16384, 880)];
    const redo = [refined(a, 16384, 870), refined(b, 16384, 885)];
    for (const order of [[...sweep, ...redo], [...redo, ...sweep], [...sweep.slice(0, 2), ...redo, ...sweep.slice(2)]]) {
      const [entry] = selectConfig(order).targets[0]!.entries;
      expect(entry!.winner.name).toBe(variantName(b));
      expect([entry!.winner.wholeTops, entry!.runnerUp!.wholeTops]).toEqual([885, 870]);
      expect(entry!.candidates).toBe(2);  // one timing per candidate, not two
    }
    // without the refined records the sweep's order stands
    expect(selectConfig(sweep).targets[0]!.entries[0]!.winner.name).toBe(variantName(a));
    // a refined record must say how many rounds and candidates it compared
    expect(() => parseRecords(JSON.stringify({ ...refined(a, 16384, 870), refined: { rounds: 0, candidates: 2 } }))).toThrow(/refined\.rounds/);
  });

  it('refuses a run where nothing was measured', () => {
    expect(() => selectConfig([])).toThrow(/nothing was measured/);
  });

  it("keeps the winner's and runner-up's measured source (the gate record's sourceSha256), and none where the gate has none", () => {
    const shaA = 'a'.repeat(64);
    const shaB = 'b'.repeat(64);
    const config = selectConfig([{ ...gate(a, true), sourceSha256: shaA } as MeasureRecord, { ...gate(b, true), sourceSha256: shaB } as MeasureRecord, gate(c, true), timing(a, 1024, 400), timing(b, 1024, 300), timing(c, 4096, 350)]);
    const [e1024, e4096] = config.targets[0]!.entries;
    expect([e1024!.winner.sourceSha256, e1024!.runnerUp!.sourceSha256]).toEqual([shaA, shaB]);
    expect(e4096!.winner.name).toBe(variantName(c));
    expect('sourceSha256' in e4096!.winner).toBe(false);
    // Not a sha256: refused by the record's schema, naming the field.
    expect(() => parseRecords(JSON.stringify({ ...gate(a, true), sourceSha256: 'abc' }))).toThrow(/line 1: sourceSha256 = "abc": must be a sha256/);
  });

  it('ignores a timing whose candidate has no gate record', () => {
    const orphan = spec({ minBlocksPerSm: 1, stages: 4 });
    const config = selectConfig([...records, timing(orphan, 1024, 5000)]);
    expect(config.targets[0]!.entries.every((e) => e.winner.name !== variantName(orphan))).toBe(true);
  });
});

describe('parseRecords (resume)', () => {
  it('skips a line cut by an interruption and keeps the rest', () => {
    const text = `${JSON.stringify(records0())}\n{"kind": "timing", "name": "x", "se`;
    expect(parseRecords(text)).toHaveLength(1);
  });
  function records0() {
    return gate(a, true);
  }
});

describe('TunedConfigSchema', () => {
  it('refuses an entry whose winner spec is for another head dim', () => {
    const config = selectConfig([gate(a, true), timing(a, 4096, 300)]);
    const bad = structuredClone(config);
    bad.targets[0]!.entries[0]!.headDim = 64;
    const r = TunedConfigSchema.safeParse(bad);
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toMatch(/does not match its entry/);
  });
});
