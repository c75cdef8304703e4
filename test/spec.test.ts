/**
 * The spec: zod shape, semantic rules, builder, variant names and the published JSON Schema.
 *
 * Every refusal is checked for its field (dotted path), the offending value and the rule, both in the
 * SpecIssue and in the error message a user reads.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ARCHS, CAPABILITIES } from '../dsl/capabilities.js';
import { attention, defaultSpecInput } from '../dsl/builder.js';
import { attentionSpecJsonSchema } from '../dsl/schema.js';
import {
  E4M3_MAX,
  FP16_MAX,
  HEAD_DIMS,
  formatIssue,
  instructionsOf,
  parseSpec,
  SpecError,
  variantName,
  wgmmaRowSums,
  type AttentionSpecInput,
  type SpecIssue,
} from '../dsl/spec.js';
import { validateJsonSchema } from './helpers/json-schema.js';
import { planKernel } from '../plan/plan.js';
import { specsFromFlags } from '../cli/flags.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A deep copy of the default input with `edit` applied (inputs are plain JSON). */
function edited(base: AttentionSpecInput, edit: (s: any) => void): unknown {
  const copy = structuredClone(base) as any;
  edit(copy);
  return copy;
}

const sm89d128 = () => defaultSpecInput({ arch: 'sm_89', headDim: 128 });

function refusal(input: unknown): SpecError {
  let caught: unknown;
  try {
    parseSpec(input);
  } catch (e) {
    caught = e;
  }
  expect(caught, 'the spec was accepted but should have been refused').toBeInstanceOf(SpecError);
  return caught as SpecError;
}

/** The SpecError of a spec that parses but that the plan refuses (what only the plan can count). */
function planRefusal(input: unknown): SpecError {
  let caught: unknown;
  try {
    planKernel(parseSpec(input));
  } catch (e) {
    caught = e;
  }
  expect(caught, 'the plan was made but should have been refused').toBeInstanceOf(SpecError);
  return caught as SpecError;
}

/**
 * Asserts that `err` holds an issue for `field` with `value` whose rule matches every pattern, and
 * that the user-facing message shows the field, the value and that rule.
 */
function expectIssue(err: SpecError, field: string, value: unknown, ...rule: RegExp[]): SpecIssue {
  const issue = err.issues.find((i) => i.field === field);
  expect(issue, `no issue for ${field}; got:\n${err.message}`).toBeDefined();
  expect(issue!.value).toEqual(value);
  for (const r of rule) expect(issue!.rule).toMatch(r);
  expect(err.message).toContain(`${field} = ${JSON.stringify(value)}`);
  expect(err.message).toContain(issue!.rule);
  expect(err.message).toContain(formatIssue(issue!));
  return issue!;
}

describe('default specs', () => {
  for (const arch of ARCHS)
    for (const headDim of HEAD_DIMS)
      for (const dtype of ['fp16', 'bf16'] as const)
        for (const causal of [false, true])
          it(`parse for ${arch} D=${headDim} ${dtype} causal=${causal}`, () => {
            const spec = parseSpec(defaultSpecInput({ arch, headDim, dtype, causal }));
            expect(spec.arch).toBe(arch);
            expect(spec.headDim).toBe(headDim);
            expect(spec.dtype).toBe(dtype);
            expect(spec.causal).toBe(causal);
          });

  it('use FP8 P·V exactly where the arch runs the FP8 f16-accumulate mma natively, else the 16-bit mma', () => {
    for (const arch of ARCHS) {
      const spec = parseSpec(defaultSpecInput({ arch, headDim: 128 }));
      const cap = CAPABILITIES[arch];
      const hasFp8 = cap.native.includes('mma.m16n8k32.e4m3.f16');
      expect(spec.pv.instruction, arch).toBe(hasFp8 ? 'm16n8k32.e4m3' : 'm16n8k16');
    }
    // sm_90a accepts the FP8 form (emulated) but defaults to the measured-faster 16-bit one
    expect(CAPABILITIES.sm_90a.emulated).toContain('mma.m16n8k32.e4m3.f16');
    expect(parseSpec(defaultSpecInput({ arch: 'sm_90a', headDim: 64 })).pv.instruction).toBe('m16n8k16');
  });

  it('qk.foldDequant: on by default on sm_90a except D=128 causal, names the variant with "f", and is refused with per-thread scales or FP8 P·V', () => {
    const fold = (arch: 'sm_89' | 'sm_90a', headDim: 64 | 128, causal: boolean) => parseSpec(defaultSpecInput({ arch, headDim, causal })).qk.foldDequant;
    expect([fold('sm_90a', 64, false), fold('sm_90a', 64, true), fold('sm_90a', 128, false), fold('sm_90a', 128, true)]).toEqual([true, true, true, false]);
    for (const d of [64, 128] as const) for (const c of [false, true]) expect(fold('sm_89', d, c)).toBe(false);
    // the builder's default follows the final causal flag, granularity and P·V form; an explicit choice wins
    expect(attention({ arch: 'sm_90a', headDim: 128 }).causal().build().qk.foldDequant).toBe(false);
    expect(attention({ arch: 'sm_90a', headDim: 128 }).qk({ granularity: 'per-thread' }).build().qk.foldDequant).toBe(false);
    expect(attention({ arch: 'sm_90a', headDim: 64 }).pvFp8({ accumulator: 'f16' }).build().qk.foldDequant).toBe(false);
    expect(attention({ arch: 'sm_90a', headDim: 64 }).qk({ foldDequant: false }).build().qk.foldDequant).toBe(false);
    expect(attention({ arch: 'sm_90a', headDim: 128 }).causal().qk({ foldDequant: true }).build().qk.foldDequant).toBe(true);
    const base = defaultSpecInput({ arch: 'sm_90a', headDim: 128, causal: true });
    expect(variantName(parseSpec(base))).toMatch(/_causal_.*_qkpwsm_/);
    const folded = parseSpec({ ...base, qk: { ...base.qk, foldDequant: true } });
    expect(variantName(folded)).toMatch(/_causal_.*_qkpwsmf_/);
    const refusal = (input: AttentionSpecInput) => {
      try {
        parseSpec(input);
      } catch (e) {
        return (e as SpecError).issues;
      }
      throw new Error('expected a refusal');
    };
    const perThread = refusal({ ...base, qk: { ...base.qk, granularity: 'per-thread', foldDequant: true } });
    expect(perThread).toEqual([expect.objectContaining({ field: 'qk.foldDequant', value: true, rule: expect.stringMatching(/per-warp" or "per-block/) })]);
    const fp8 = defaultSpecInput({ arch: 'sm_89', headDim: 64 });
    expect(refusal({ ...fp8, qk: { ...fp8.qk, foldDequant: true } })).toEqual([
      expect.objectContaining({ field: 'qk.foldDequant', rule: expect.stringMatching(/m16n8k16/) }),
    ]);
  });

  it('use the H100-measured WARP_Q 32 × 4 tiles on sm_90a and WARP_Q 16 × 8 elsewhere', () => {
    const t = (arch: 'sm_89' | 'sm_90a', headDim: 64 | 128, causal = false) => parseSpec(defaultSpecInput({ arch, headDim, causal })).tiling;
    expect(t('sm_90a', 128)).toMatchObject({ ctaQ: 128, ctaK: 32, warpQ: 32, warps: 4, minBlocksPerSm: 1 });
    expect(t('sm_90a', 128, true)).toMatchObject({ ctaQ: 128, ctaK: 32, warpQ: 32, warps: 4, minBlocksPerSm: 1 });
    expect(t('sm_90a', 64, true)).toMatchObject({ ctaK: 64, warpQ: 32, warps: 4 });
    expect(t('sm_90a', 64)).toMatchObject({ ctaQ: 128, ctaK: 64, warpQ: 32, warps: 4, minBlocksPerSm: 1 });
    for (const d of [64, 128] as const) expect(t('sm_89', d)).toMatchObject({ ctaQ: 128, ctaK: 64, warpQ: 16, warps: 8 });
  });

  it('fill qk.type with its default "int8" when a spec file leaves it out', () => {
    const input = edited(sm89d128(), (s) => delete s.qk.type);
    expect(parseSpec(input).qk.type).toBe('int8');
  });
});

describe('runtime/test/specs-wgmma.json', () => {
  // The README and the experiments' scripts build "the wgmma defaults" from this file; it is a copy,
  // so it must follow the builder or say other specs than it claims.
  it('holds exactly the wgmma defaults of sm_90a, D=64 and 128, fp16 and bf16, causal or not', async () => {
    // both read as `sagegen build --spec FILE` and `sagegen build --arch sm_90a --headdim 64,128 --mma wgmma` would
    const file = await specsFromFlags({ spec: [path.join(ROOT, 'runtime', 'test', 'specs-wgmma.json')] });
    const defaults = await specsFromFlags({ arch: 'sm_90a', headdim: '64,128', mma: 'wgmma' });
    const byName = (specs: typeof file) => Object.fromEntries(specs.map((s) => [variantName(s), s]));
    expect(byName(file)).toEqual(byName(defaults));
  });
});

describe('tiling refusals', () => {
  it('warpQ not a multiple of 16', () => {
    // ctaQ kept equal to warpQ × warps so only the multiple-of-16 rule fires.
    const err = refusal(edited(sm89d128(), (s) => Object.assign(s.tiling, { warpQ: 24, warps: 4, ctaQ: 96 })));
    expectIssue(err, 'tiling.warpQ', 24, /multiple of 16/);
    expect(err.issues).toHaveLength(1);
  });

  it('ctaQ different from warpQ × warps, with the product in the rule', () => {
    const base = sm89d128();
    const { warpQ, warps } = base.tiling;
    const err = refusal(edited(base, (s) => (s.tiling.ctaQ = 100)));
    expect(warpQ * warps).not.toBe(100);
    expectIssue(err, 'tiling.ctaQ', 100, /warpQ × warps/, new RegExp(`= ${warpQ * warps}\\b`));
  });

  it('ctaK not a power of two', () => {
    // 96 is a multiple of 32 (passes the flush rule with flushKeys 32) but not a power of two.
    const err = refusal(
      edited(sm89d128(), (s) => {
        s.tiling.ctaK = 96;
        s.pv.flushKeys = 32;
      }),
    );
    expectIssue(err, 'tiling.ctaK', 96, /power of two/);
  });

  it('ctaK below 32', () => {
    const err = refusal(edited(sm89d128(), (s) => (s.tiling.ctaK = 16)));
    expectIssue(err, 'tiling.ctaK', 16, /at least 32/);
  });

  it('ctaK above 256', () => {
    const err = refusal(edited(sm89d128(), (s) => (s.tiling.ctaK = 512)));
    expectIssue(err, 'tiling.ctaK', 512, /at most 256/);
  });

  it('stages 1 (the pipeline needs at least double buffering)', () => {
    const err = refusal(edited(sm89d128(), (s) => (s.tiling.stages = 1)));
    expectIssue(err, 'tiling.stages', 1, /2/);
  });

  it('warps not one of 1, 2, 4, 8 (rule lists the allowed values)', () => {
    const err = refusal(edited(sm89d128(), (s) => Object.assign(s.tiling, { warps: 3, warpQ: 16, ctaQ: 48 })));
    expectIssue(err, 'tiling.warps', 3, /1/, /2/, /4/, /8/);
  });
});

describe('P·V refusals', () => {
  it('flushKeys not a multiple of 32', () => {
    const err = refusal(edited(sm89d128(), (s) => (s.pv.flushKeys = 48)));
    expectIssue(err, 'pv.flushKeys', 48, /multiple of 32/);
  });

  it('flushKeys not dividing ctaK', () => {
    const base = sm89d128();
    const ctaK = base.tiling.ctaK;
    const flushKeys = 3 * 32; // a multiple of 32 that divides no power of two
    expect(ctaK % flushKeys).not.toBe(0);
    const err = refusal(edited(base, (s) => (s.pv.flushKeys = flushKeys)));
    expectIssue(err, 'pv.flushKeys', flushKeys, new RegExp(`divide tiling\\.ctaK = ${ctaK}`));
  });

  it('pRange above the largest finite e4m3 (448)', () => {
    expect(E4M3_MAX).toBe(448);
    const err = refusal(edited(sm89d128(), (s) => Object.assign(s.pv, { accumulator: 'f32', pRange: 449 })));
    expectIssue(err, 'pv.pRange', 449, /at most 448/);
  });

  it('vRange above the largest finite e4m3 (448)', () => {
    const err = refusal(edited(sm89d128(), (s) => Object.assign(s.pv, { accumulator: 'f32', vRange: 500 })));
    expectIssue(err, 'pv.vRange', 500, /at most 448/);
  });

  it('f16 accumulator whose worst case pRange × vRange × flushKeys overflows fp16', () => {
    expect(FP16_MAX).toBe(65504);
    const [pRange, vRange, flushKeys] = [448, 4.5, 64];
    const worst = pRange * vRange * flushKeys;
    expect(worst).toBeGreaterThan(65504);
    const err = refusal(edited(sm89d128(), (s) => Object.assign(s.pv, { accumulator: 'f16', pRange, vRange, flushKeys })));
    expectIssue(err, 'pv.vRange', vRange, new RegExp(`\\b${worst}\\b`), /65504/, /f16/);
  });

  it.each([
    [224, 4.5],
    [112, 9],
  ])('f16 accumulator with pRange %d × vRange %d × 64 keys stays within fp16 and is accepted', (pRange, vRange) => {
    expect(pRange * vRange * 64).toBeLessThanOrEqual(65504);
    const spec = parseSpec(edited(sm89d128(), (s) => Object.assign(s.pv, { accumulator: 'f16', pRange, vRange, flushKeys: 64 })));
    expect(spec.pv).toMatchObject({ pRange, vRange });
  });

  it('the same ranges that overflow f16 are accepted with an f32 accumulator', () => {
    const spec = parseSpec(edited(sm89d128(), (s) => Object.assign(s.pv, { accumulator: 'f32', pRange: 448, vRange: 448 })));
    expect(spec.pv).toMatchObject({ accumulator: 'f32', vRange: 448 });
  });

  for (const arch of ['sm_80', 'sm_86'] as const)
    it(`FP8 P·V on ${arch} is refused on pv.instruction, naming the arch`, () => {
      const err = refusal(edited(sm89d128(), (s) => (s.arch = arch)));
      expectIssue(err, 'pv.instruction', 'm16n8k32.e4m3', new RegExp(arch), /m16n8k16/);
    });

  it('FP8 P·V is accepted on sm_89, sm_90a and sm_120', () => {
    for (const arch of ['sm_89', 'sm_90a', 'sm_120'] as const) {
      expect(parseSpec(edited(sm89d128(), (s) => (s.arch = arch))).pv.instruction).toBe('m16n8k32.e4m3');
    }
  });
});

describe('shape refusals', () => {
  it('an unknown top-level field (strict object) is named with its value', () => {
    const err = refusal(edited(sm89d128(), (s) => (s.blockSize = 7)));
    expect(err.issues).toHaveLength(1);
    expectIssue(err, 'blockSize', 7, /unknown field/, /"blockSize"/);
  });

  it('each unknown nested field is its own issue, named by its full path', () => {
    const err = refusal(edited(sm89d128(), (s) => Object.assign(s.tiling, { splitK: 2, swizzle: 'xor' })));
    expect(err.issues).toHaveLength(2);
    expectIssue(err, 'tiling.splitK', 2, /unknown field/, /tiling has no "splitK"/);
    expectIssue(err, 'tiling.swizzle', 'xor', /unknown field/);
  });

  it('a bad P·V instruction names pv.instruction with the instruction, not the whole pv object', () => {
    const err = refusal(edited(sm89d128(), (s) => (s.pv.instruction = 'm16n8k8')));
    expectIssue(err, 'pv.instruction', 'm16n8k8', /m16n8k32\.e4m3/, /m16n8k16/);
  });

  it('a number JSON cannot hold (NaN, from the builder API) is shown as such, not as null', () => {
    const err = refusal(edited(sm89d128(), (s) => (s.pv.pRange = Number.NaN)));
    const issue = err.issues.find((i) => i.field === 'pv.pRange')!;
    expect(issue.value).toBeNaN();
    expect(formatIssue(issue)).toMatch(/^pv\.pRange = NaN: /);
  });

  it('an arch outside the five supported ones', () => {
    const err = refusal(edited(sm89d128(), (s) => (s.arch = 'sm_75')));
    const issue = expectIssue(err, 'arch', 'sm_75');
    for (const a of ARCHS) expect(issue.rule).toContain(a);
  });

  it('headDim 96 (rule names the supported 64 and 128)', () => {
    const err = refusal(edited(sm89d128(), (s) => (s.headDim = 96)));
    expectIssue(err, 'headDim', 96, /64/, /128/);
  });

  it('a missing required field', () => {
    const err = refusal(edited(sm89d128(), (s) => delete s.causal));
    const issue = err.issues.find((i) => i.field === 'causal');
    expect(issue).toMatchObject({ value: undefined, rule: expect.stringMatching(/boolean/) });
    expect(err.message).toContain(`causal = (missing): ${issue!.rule}`);
  });

  it('reports every issue of a spec at once', () => {
    const err = refusal(
      edited(sm89d128(), (s) => {
        s.tiling.ctaQ = 100;
        s.pv.flushKeys = 48;
      }),
    );
    expect(err.issues.map((i) => i.field).sort()).toEqual(['pv.flushKeys', 'tiling.ctaQ']);
  });
});

describe('builder', () => {
  it('with no changes builds the same spec as parseSpec of the defaults', () => {
    for (const arch of ARCHS)
      for (const headDim of HEAD_DIMS) {
        expect(attention({ arch, headDim }).build()).toEqual(parseSpec(defaultSpecInput({ arch, headDim })));
      }
  });

  it('chained setters build the same spec as parseSpec of the equivalent file', () => {
    const built = attention({ arch: 'sm_89', headDim: 64 })
      .name('my_variant')
      .causal()
      .dtype('bf16')
      .layout('NHD')
      .tiling({ ctaQ: 128, ctaK: 128, warpQ: 32, warps: 4, stages: 3 })
      .qk({ granularity: 'per-thread', smoothK: false })
      .pvFp8({ accumulator: 'f32', flushKeys: 32, vRange: 100 })
      .build();
    const fromFile = parseSpec({
      name: 'my_variant',
      arch: 'sm_89',
      headDim: 64,
      causal: true,
      dtype: 'bf16',
      layout: 'NHD',
      tiling: { ctaQ: 128, ctaK: 128, warpQ: 32, warps: 4, stages: 3 },
      qk: { type: 'int8', granularity: 'per-thread', smoothK: false },
      // pRange is left to the builder: its documented default is the full e4m3 range.
      pv: { instruction: 'm16n8k32.e4m3', accumulator: 'f32', flushKeys: 32, pRange: 448, vRange: 100 },
    });
    expect(built).toEqual(fromFile);
  });

  it('pvHalf builds the 16-bit P·V form', () => {
    expect(attention({ arch: 'sm_80', headDim: 128 }).pvHalf().build().pv).toEqual({ instruction: 'm16n8k16' });
  });

  it('refuses the same things as parseSpec, with the same issues', () => {
    const cases: [string, () => unknown, unknown][] = [
      ['ctaQ', () => attention({ arch: 'sm_89', headDim: 128 }).tiling({ ctaQ: 100 }).build(), edited(sm89d128(), (s) => (s.tiling.ctaQ = 100))],
      [
        'FP8 on sm_86',
        () => attention({ arch: 'sm_86', headDim: 128 }).pvFp8({ accumulator: 'f16' }).build(),
        edited(defaultSpecInput({ arch: 'sm_86', headDim: 128 }), (s) => {
          s.pv = { instruction: 'm16n8k32.e4m3', accumulator: 'f16', flushKeys: 64, pRange: 448, vRange: 2.25 };
        }),
      ],
      [
        'f16 overflow',
        () => attention({ arch: 'sm_89', headDim: 128 }).pvFp8({ accumulator: 'f16', vRange: 4.5 }).build(),
        edited(sm89d128(), (s) => Object.assign(s.pv, { accumulator: 'f16', pRange: 448, vRange: 4.5, flushKeys: 64 })),
      ],
      ['bad name', () => attention({ arch: 'sm_89', headDim: 128 }).name('Not-An-Identifier').build(), edited(sm89d128(), (s) => (s.name = 'Not-An-Identifier'))],
    ];
    for (const [label, viaBuilder, file] of cases) {
      let fromBuilder: unknown;
      try {
        viaBuilder();
      } catch (e) {
        fromBuilder = e;
      }
      expect(fromBuilder, label).toBeInstanceOf(SpecError);
      expect((fromBuilder as SpecError).issues, label).toEqual(refusal(file).issues);
    }
  });

  it('build() does not share state between the specs it returns', () => {
    const b = attention({ arch: 'sm_89', headDim: 128 });
    const first = b.build();
    first.tiling.ctaQ = 1;
    expect(b.build().tiling.ctaQ).toBe(sm89d128().tiling.ctaQ);
  });
});

describe('variantName', () => {
  const base = () => sm89d128();
  /** One change at a time to every field that changes the generated code. */
  const variations: [string, (s: any) => void][] = [
    ['default', () => {}],
    ['arch sm_90a', (s) => (s.arch = 'sm_90a')],
    ['arch sm_120', (s) => (s.arch = 'sm_120')],
    ['arch sm_80', (s) => ((s.arch = 'sm_80'), (s.pv = { instruction: 'm16n8k16' }))],
    ['arch sm_86', (s) => ((s.arch = 'sm_86'), (s.pv = { instruction: 'm16n8k16' }))],
    ['headDim 64', (s) => (s.headDim = 64)],
    ['causal', (s) => (s.causal = true)],
    ['bf16', (s) => (s.dtype = 'bf16')],
    ['ctaK 128', (s) => (s.tiling.ctaK = 128)],
    ['stages 3', (s) => (s.tiling.stages = 3)],
    ['warpQ 32 × 4', (s) => Object.assign(s.tiling, { ctaQ: 128, warpQ: 32, warps: 4 })],
    ['ctaQ 64', (s) => Object.assign(s.tiling, { ctaQ: 64, warpQ: 16, warps: 4 })],
    ['per-block', (s) => (s.qk.granularity = 'per-block')],
    ['per-thread', (s) => (s.qk.granularity = 'per-thread')],
    ['no smoothK', (s) => (s.qk.smoothK = false)],
    ['f32 accumulator', (s) => (s.pv.accumulator = 'f32')],
    ['flushKeys 32', (s) => (s.pv.flushKeys = 32)],
    ['pRange 224', (s) => (s.pv.pRange = 224)],
    ['vRange 2', (s) => (s.pv.vRange = 2)],
    ['vRange 1.5', (s) => (s.pv.vRange = 1.5)],
    ['f32, vRange 2.5', (s) => Object.assign(s.pv, { accumulator: 'f32', vRange: 2.5 })],
    ['f32, vRange 22.5', (s) => Object.assign(s.pv, { accumulator: 'f32', vRange: 22.5 })],
    ['16-bit P·V on sm_89', (s) => (s.pv = { instruction: 'm16n8k16' })],
  ];
  const specs = variations.map(([label, edit]) => [label, parseSpec(edited(base(), edit))] as const);

  it('differs for specs that differ in any code-changing field', () => {
    const byName = new Map<string, string>();
    for (const [label, spec] of specs) {
      const name = variantName(spec);
      expect(byName.get(name), `"${label}" and "${byName.get(name)}" share the name ${name}`).toBeUndefined();
      byName.set(name, label);
    }
    expect(byName.size).toBe(variations.length);
  });

  it('is stable: the same spec (any key order) always gets the same name', () => {
    const reverseKeys = (v: unknown): unknown =>
      v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverseKeys(x)])) : v;
    for (const [label, spec] of specs) {
      expect(variantName(parseSpec(structuredClone(spec))), label).toBe(variantName(spec));
      const reordered = reverseKeys(spec);
      expect(JSON.stringify(reordered)).not.toBe(JSON.stringify(spec));
      expect(variantName(parseSpec(reordered)), label).toBe(variantName(spec));
    }
  });

  it('is a lower-case C identifier (it names a C++ namespace and a descriptor symbol)', () => {
    for (const [label, spec] of specs) expect(variantName(spec), label).toMatch(/^[a-z][a-z0-9_]*$/);
  });

  it('is a C identifier even for ranges JavaScript prints in exponent form (vRange 1e-7)', () => {
    // The schema accepts any positive vRange; String(1e-7) is "1e-7", whose "-" cannot go in a C++ name.
    const spec = parseSpec(edited(base(), (s) => Object.assign(s.pv, { accumulator: 'f32', vRange: 1e-7 })));
    expect(variantName(spec)).toMatch(/^[a-z][a-z0-9_]*$/);
  });

  it('is the explicit name when the spec has one', () => {
    expect(variantName(parseSpec(edited(base(), (s) => (s.name = 'my_kernel'))))).toBe('my_kernel');
  });
});

describe('JSON Schema', () => {
  const schema = attentionSpecJsonSchema();

  it('is an object schema that refuses unknown top-level fields', () => {
    expect(schema.type).toBe('object');
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(expect.arrayContaining(['arch', 'headDim', 'causal', 'dtype', 'layout', 'tiling', 'qk', 'pv']));
  });

  it('lists the five archs as the arch enum', () => {
    const arch = (schema.properties as Record<string, { enum?: unknown[] }>).arch;
    expect(arch?.enum).toEqual([...ARCHS]);
    expect(ARCHS).toHaveLength(5);
  });

  it('accepts every default spec (checked with the test helper validator)', () => {
    for (const arch of ARCHS)
      for (const headDim of HEAD_DIMS) {
        expect(validateJsonSchema(schema, defaultSpecInput({ arch, headDim })), `${arch} D=${headDim}`).toEqual([]);
      }
  });

  it('refuses what zod refuses on shape: an unknown field, an unknown arch, headDim 96', () => {
    // Proves the validator and the schema can fail, so the acceptance above means something.
    expect(validateJsonSchema(schema, edited(sm89d128(), (s) => (s.extra = 1)))).not.toEqual([]);
    expect(validateJsonSchema(schema, edited(sm89d128(), (s) => (s.arch = 'sm_75')))).not.toEqual([]);
    expect(validateJsonSchema(schema, edited(sm89d128(), (s) => (s.headDim = 96)))).not.toEqual([]);
    expect(validateJsonSchema(schema, edited(sm89d128(), (s) => (s.pv = { instruction: 'm16n8k16', accumulator: 'f16' })))).not.toEqual([]);
  });

  it('is committed as dsl/attention-spec.schema.json and that file is up to date', () => {
    const file = path.join(ROOT, 'dsl', 'attention-spec.schema.json');
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      throw new Error(`${file} is missing: run \`npm run schema\` (node dist/cli/sagegen.js schema --out dsl/attention-spec.schema.json)`);
    }
    expect(JSON.parse(text), 'dsl/attention-spec.schema.json is stale: run `npm run schema` and commit it').toEqual(
      JSON.parse(JSON.stringify(schema)),
    );
  });
});

describe('mma "wgmma" (sm_90a warpgroup kernels)', () => {
  const wgmma = (): AttentionSpecInput => ({
    arch: 'sm_90a',
    mma: 'wgmma',
    headDim: 128,
    causal: false,
    dtype: 'fp16',
    layout: 'HND',
    tiling: { ctaQ: 128, ctaK: 128, warpQ: 16, warps: 8, stages: 3, minBlocksPerSm: 1, overlapQk: true },
    qk: { type: 'int8', granularity: 'per-warp', smoothK: true },
    pv: { instruction: 'wgmma.e4m3', pRange: 448, vRange: 448 },
  });
  it('accepts the measured shape and names the variant after it', () => {
    const spec = parseSpec(wgmma());
    expect(spec.mma).toBe('wgmma');
    expect(variantName(spec)).toBe('sage_sm90a_d128_fp16_full_wgmma_q128k128w16x8s3b1o_qkpwsm_pvwg8p448v448');
  });
  it('a spec without mma stays mma.sync and keeps its name', () => {
    const spec = parseSpec(defaultSpecInput({ arch: 'sm_90a', headDim: 128 }));
    expect(spec.mma).toBeUndefined();
    expect(variantName(spec)).not.toContain('wgmma');
  });
  it('is refused on other archs, naming mma and the reason', () => {
    for (const arch of ['sm_80', 'sm_89', 'sm_120'] as const) {
      expectIssue(refusal(edited(wgmma(), (s) => (s.arch = arch))), 'mma', 'wgmma', new RegExp(`only on sm_90a \\(arch is ${arch}\\)`));
    }
  });
  it('takes headDim 64: Q and K rows of 64 bytes in the 64-byte swizzle, P·V on m64n72k32 (8 row-sum columns)', () => {
    const spec = parseSpec(edited(wgmma(), (s) => (s.headDim = 64)));
    expect(instructionsOf(spec)).toEqual(['wgmma.m64n128k32.s8.s32', 'wgmma.m64n72k32.e4m3.f32']);
    const plan = planKernel(spec);
    expect(plan.wgmma!.qkOperand).toEqual({ rowBytes: 64, descriptorMode: 2, groupStrideBytes: 512, tmaSwizzle: 'CU_TENSOR_MAP_SWIZZLE_64B', swizzleChunks: 4 });
    expect(plan.wgmma!.vOperand).toEqual({ rowBytes: 128, descriptorMode: 1, groupStrideBytes: 1024, tmaSwizzle: 'CU_TENSOR_MAP_SWIZZLE_128B', swizzleChunks: 8 });
    expect(plan.wgmma!.pvAccumulators).toBe(32);
    expect(plan.ptx.pv).toBe('wgmma.mma_async.sync.aligned.m64n72k32.f32.e4m3.e4m3');
    // the 8 columns beyond D: ones rows after Vᵀ in every stage, 4 more accumulators in each score buffer
    expect([plan.wgmma!.rowSumColumns, plan.wgmma!.pvSumAccumulators, plan.wgmma!.scoreSlots]).toEqual([8, 4, 64]);
    expect(plan.smem.v.rows).toBe(64 + 8);
    expect(plan.wgmma!.stageTxBytes).toBe(128 * 64 + 64 * 128);  // TMA brings the K tile and D rows of Vᵀ only
    expect(plan.wgmma!.pvRegisters).toEqual([...Array(36).keys()]);  // 32 of O's partial, 4 row sums, one register block
  });
  it('puts the row sums where pv.rowSums says: the tensor cores (N = D + 8, ones rows after Vᵀ) or FADDs, names only the non-default', () => {
    const d128 = parseSpec(edited(wgmma(), (s) => Object.assign(s.pv, { rowSums: 'tensor' })));
    expect(instructionsOf(d128)).toEqual(['wgmma.m64n128k32.s8.s32', 'wgmma.m64n136k32.e4m3.f32']);
    expect(variantName(d128)).toBe('sage_sm90a_d128_fp16_full_wgmma_q128k128w16x8s3b1o_qkpwsm_pvwg8p448v448rt');
    const plan = planKernel(d128);
    expect([plan.wgmma!.rowSumColumns, plan.wgmma!.pvSumAccumulators, plan.wgmma!.scoreSlots]).toEqual([8, 4, 68]);
    expect(plan.smem.v.rows).toBe(128 + 8);
    expect(wgmmaRowSums(parseSpec(wgmma()))).toBe('alu');
    expect(variantName(parseSpec(edited(wgmma(), (s) => Object.assign(s.pv, { rowSums: 'alu' }))))).toBe(variantName(parseSpec(wgmma())));
    const d64 = parseSpec(edited(wgmma(), (s) => Object.assign(s, { headDim: 64 }, { pv: { ...s.pv, rowSums: 'alu' } })));
    expect(instructionsOf(d64)).toEqual(['wgmma.m64n128k32.s8.s32', 'wgmma.m64n64k32.e4m3.f32']);
    expect(variantName(d64)).toMatch(/pvwg8p448v448ra$/);
    expect(planKernel(d64).wgmma!.rowSumColumns).toBe(0);
    expect(() => parseSpec(edited(wgmma(), (s) => Object.assign(s.pv, { rowSums: 'mufu' })))).toThrow(/pv\.rowSums/);
  });
  it('pv.polyExp2Every: an integer 0–64 on the wgmma P·V only, named e<n> when set, carried into the plan', () => {
    const every = (n: unknown) => edited(wgmma(), (s) => Object.assign(s.pv, { polyExp2Every: n }));
    const eight = parseSpec(every(8));
    expect(variantName(eight)).toBe(`${variantName(parseSpec(wgmma()))}e8`);
    expect(planKernel(eight).wgmma!.polyExp2Every).toBe(8);
    // 0 and absent are the same kernel, one name
    expect(variantName(parseSpec(every(0)))).toBe(variantName(parseSpec(wgmma())));
    expect(planKernel(parseSpec(wgmma())).wgmma!.polyExp2Every).toBe(0);
    for (const bad of [65, -1, 2.5, '8']) expect(() => parseSpec(every(bad)), String(bad)).toThrow(/pv\.polyExp2Every/);
    // the mma.sync P·V forms have no such field
    expect(() => parseSpec(edited(defaultSpecInput({ arch: 'sm_90a', headDim: 128 }), (s) => Object.assign(s.pv, { polyExp2Every: 8 })))).toThrow(/polyExp2Every/);
  });
  it('pv.polyExp2Form: "f32" by default, "f16x2" named h<n> and carried into the plan; needs polyExp2Every and tensor row sums', () => {
    const form = (polyExp2Form: unknown, extra: object = { polyExp2Every: 4, rowSums: 'tensor' }) => edited(wgmma(), (s) => Object.assign(s.pv, extra, { polyExp2Form }));
    const pairs = parseSpec(form('f16x2'));
    const plain = parseSpec(edited(wgmma(), (s) => Object.assign(s.pv, { rowSums: 'tensor' })));
    expect(variantName(pairs)).toBe(`${variantName(plain)}h4`);
    expect(planKernel(pairs).wgmma!.polyExp2Form).toBe('f16x2');
    expect(planKernel(parseSpec(wgmma())).wgmma!.polyExp2Form).toBe('f32');
    // "f32" and absent are the same kernel, one name (e<n>)
    expect(variantName(parseSpec(form('f32')))).toBe(`${variantName(plain)}e4`);
    expect(variantName(parseSpec(form(undefined)))).toBe(`${variantName(plain)}e4`);
    expect(() => parseSpec(form('f16'))).toThrow(/pv\.polyExp2Form/);
    // the pairs leave no fp32 values for FADD row sums, and without polyExp2Every there is nothing to pair
    const alu = planRefusal(form('f16x2', { polyExp2Every: 4, rowSums: 'alu' }));
    expect(alu.issues).toHaveLength(1);
    expectIssue(alu, 'pv.polyExp2Form', 'f16x2', /row sums from the tensor cores/, /"alu"/);
    const unpaired = planRefusal(form('f16x2', { rowSums: 'tensor' }));
    expect(unpaired.issues).toHaveLength(1);
    expectIssue(unpaired, 'pv.polyExp2Form', 'f16x2', /polyExp2Every ≥ 1/);
    expect(planKernel(parseSpec(form('f16x2', { polyExp2Every: 4, rowSums: 'tensor-shared' }))).wgmma!.polyExp2Form).toBe('f16x2');
  });
  it('pv.rowMax: "fmnmx" by default, "vimnmx3" named m3 and carried into the plan, wgmma only', () => {
    const rowMax = (v: unknown) => edited(wgmma(), (s) => Object.assign(s.pv, { rowMax: v }));
    const int3 = parseSpec(rowMax('vimnmx3'));
    expect(variantName(int3)).toBe(`${variantName(parseSpec(wgmma()))}m3`);
    expect(planKernel(int3).wgmma!.rowMax).toBe('vimnmx3');
    // "fmnmx" and absent are the same kernel, one name
    expect(variantName(parseSpec(rowMax('fmnmx')))).toBe(variantName(parseSpec(wgmma())));
    expect(planKernel(parseSpec(wgmma())).wgmma!.rowMax).toBe('fmnmx');
    expect(() => parseSpec(rowMax('imnmx'))).toThrow(/pv\.rowMax/);
    // the mma.sync P·V forms have no such field
    expect(() => parseSpec(edited(defaultSpecInput({ arch: 'sm_90a', headDim: 128 }), (s) => Object.assign(s.pv, { rowMax: 'vimnmx3' })))).toThrow(/rowMax/);
  });
  it('"tensor-shared" row sums: one ones block for every stage and an m64n8k32 per k32 step beside P·V (N = D)', () => {
    const shared = parseSpec(edited(wgmma(), (s) => Object.assign(s.pv, { rowSums: 'tensor-shared' })));
    expect(instructionsOf(shared)).toEqual(['wgmma.m64n128k32.s8.s32', 'wgmma.m64n128k32.e4m3.f32', 'wgmma.m64n8k32.e4m3.f32']);
    expect(variantName(shared)).toBe('sage_sm90a_d128_fp16_full_wgmma_q128k128w16x8s3b1o_qkpwsm_pvwg8p448v448rs');
    const plan = planKernel(shared);
    const w = plan.wgmma!;
    expect(plan.ptx.pv).toBe('wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3');
    expect(plan.ptx.rowSums).toBe('wgmma.mma_async.sync.aligned.m64n8k32.f32.e4m3.e4m3');
    expect(plan.smem.v.rows).toBe(128);  // no ones rows in the stages
    // the block of 8 ones rows of 128 keys right after the Vᵀ stages, on a 1024-byte boundary, then the barriers
    expect(w.sharedOnes).toEqual({ offset: plan.smem.v.offset + 3 * plan.smem.v.bytes, bytes: 8 * 128 });
    expect(w.sharedOnes!.offset % 1024).toBe(0);
    expect(w.barrierOffset).toBe(w.sharedOnes!.offset + 1024);
    // P·V's own accumulators are O's partial; the sums take the 4 registers after it (score buffers of 68)
    expect([w.rowSumColumns, w.pvSumAccumulators, w.scoreSlots]).toEqual([8, 4, 68]);
    expect(w.pvRegisters).toEqual([...Array(64).keys()]);
    expect([w.pvOperandsA, w.pvOperandB, w.pvOperandScale]).toEqual([[64, 65, 66, 67], 68, 69]);
    // the other forms print no third instruction
    expect(planKernel(parseSpec(wgmma())).ptx.rowSums).toBeNull();
    expect(planKernel(parseSpec(wgmma())).wgmma!.sharedOnes).toBeNull();
  });
  it('refuses more blocks per SM than its shared memory and the runtime reserve let reside, naming minBlocksPerSm', () => {
    const lone = (rowSums: 'tensor' | 'alu' | 'tensor-shared') =>
      edited(wgmma(), (s) => {
        Object.assign(s.tiling, { ctaQ: 64, warps: 4, minBlocksPerSm: 3, stages: 2, overlapQk: false, producer: false });
        Object.assign(s.pv, { rowSums });
      });
    // 75.1 KB a block fits three times in 228 KiB with 1 KiB reserved each; the ones rows (1 KiB a stage) do not
    const fits = planKernel(parseSpec(lone('alu')));
    expect(3 * (fits.smem.totalBytes + 1024)).toBeLessThanOrEqual(228 * 1024);
    expectIssue(planRefusal(lone('tensor')), 'tiling.minBlocksPerSm', 3, /3 blocks × \(77104 bytes of shared memory \+ 1024 the runtime reserves per block\) exceed sm_90a's 233472 per SM/);
    // one shared block of ones rows (1 KiB in all) fits where a block per stage does not
    const shared = planKernel(parseSpec(lone('tensor-shared')));
    expect(shared.smem.totalBytes).toBe(fits.smem.totalBytes + 1024);
    expect(3 * (shared.smem.totalBytes + 1024)).toBeLessThanOrEqual(228 * 1024);
  });
  it('keeps the producerless stage counters in the planned shared memory, after the mbarriers', () => {
    const lone = planKernel(parseSpec(edited(wgmma(), (s) => Object.assign(s.tiling, { ctaQ: 64, warps: 4, minBlocksPerSm: 3, stages: 2, overlapQk: false, producer: false }))));
    const w = lone.wgmma!;
    expect(w.stageCounterOffset).toBe(w.barrierOffset + 8 * (2 * 2 + 1));
    // then the Q·Kᵀ accumulators' 64 starting words, 16-byte aligned, then the alignment slack
    expect(w.scoreBiasOffset).toBe(Math.ceil((w.stageCounterOffset + 4 * 2) / 16) * 16);
    expect(w.scoreBiasOffset % 16).toBe(0);
    expect(lone.smem.totalBytes).toBe(w.scoreBiasOffset + 4 * 64 + 1024);
    expect(planKernel(parseSpec(wgmma())).wgmma!.stageCounterOffset).toBe(0);
  });
  it('takes one consumer warpgroup with two blocks per SM, and refuses other block shapes by field', () => {
    const one = parseSpec(edited(wgmma(), (s) => Object.assign(s.tiling, { ctaQ: 64, warps: 4, minBlocksPerSm: 2 })));
    const plan = planKernel(one);
    expect(plan.threads).toBe(256);
    // (65536 / 2 − 128 × 24) / 128 = 232 registers per consumer thread, in steps of 8
    expect(plan.wgmma!.consumerRegisters).toBe(232);
    expectIssue(refusal(edited(wgmma(), (s) => Object.assign(s.tiling, { ctaQ: 64, warps: 4, minBlocksPerSm: 1 }))), 'tiling.minBlocksPerSm', 1, /4 warps and producer true: the shapes are .*4 warps × 2 blocks per SM with a producer/);
    expectIssue(refusal(edited(wgmma(), (s) => Object.assign(s.tiling, { ctaQ: 32, warps: 2 }))), 'tiling.warps', 2, /must be 4, 8, 12 \(consumer warpgroups × 4\)/);
    // without a producer: 2 to 4 blocks of one consumer, or one block of two or three
    const lone = parseSpec(edited(wgmma(), (s) => Object.assign(s.tiling, { ctaQ: 64, warps: 4, minBlocksPerSm: 3, stages: 2, overlapQk: false, producer: false })));
    expect(planKernel(lone).threads).toBe(128);
    expectIssue(refusal(edited(wgmma(), (s) => Object.assign(s.tiling, { ctaQ: 192, warps: 12, producer: true }))), 'tiling.minBlocksPerSm', 1, /12 warps and producer true/);
    expectIssue(refusal(edited(wgmma(), (s) => Object.assign(s.tiling, { ctaQ: 192, warps: 12, producer: false, overlapQk: true, stages: 2 }))), 'tiling.stages', 2, /at least 3 with overlapQk/);
    // 12 warps and producer are wgmma-only
    const sync = defaultSpecInput({ arch: 'sm_90a', headDim: 128 });
    expectIssue(refusal(edited(sync, (s) => Object.assign(s.tiling, { warps: 12, ctaQ: 12 * s.tiling.warpQ }))), 'tiling.warps', 12, /mma "mma.sync"/);
    expectIssue(refusal(edited(sync, (s) => Object.assign(s.tiling, { producer: false }))), 'tiling.producer', false, /only with mma "wgmma"/);
  });
  it('needs its own P·V instruction, and that instruction needs mma "wgmma"', () => {
    expectIssue(refusal(edited(wgmma(), (s) => (s.pv = { instruction: 'm16n8k16' }))), 'pv.instruction', 'm16n8k16', /wgmma\.e4m3/);
    expectIssue(refusal(edited(wgmma(), (s) => delete s.mma)), 'pv.instruction', 'wgmma.e4m3', /needs mma "wgmma"/);
  });
  it('refuses other tile shapes, fewer than 3 stages with overlap, no overlap with a producer, and other scale granularities', () => {
    expectIssue(refusal(edited(wgmma(), (s) => (s.tiling.ctaK = 64))), 'tiling.ctaK', 64, /must be 128/);
    expectIssue(refusal(edited(wgmma(), (s) => (s.tiling.stages = 2))), 'tiling.stages', 2, /at least 3/);
    expectIssue(refusal(edited(wgmma(), (s) => (s.tiling.overlapQk = false))), 'tiling.overlapQk', false, /must be true with mma "wgmma" and a producer warpgroup/);
    expectIssue(refusal(edited(wgmma(), (s) => (s.qk.granularity = 'per-thread'))), 'qk.granularity', 'per-thread', /per-warp/);
    expectIssue(refusal(edited(wgmma(), (s) => (s.pv.pRange = 500))), 'pv.pRange', 500, /448/);
  });
});
