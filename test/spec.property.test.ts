/**
 * Property-based tests of the spec → plan → render path (fast-check; no nvcc). Drawn specs either
 * plan and render, or are refused by parseSpec or planKernel with SpecIssues that name the field, the
 * value found there and a one-line rule. Settings and replay: test/helpers/property.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CAPABILITIES } from '../dsl/capabilities.js';
import { parseSpec, type AttentionSpec } from '../dsl/spec.js';
import { planKernel } from '../plan/plan.js';
import { renderVariant } from '../render/render.js';
import {
  candidateSpecInput,
  describeSettings,
  expectWellFormedRefusal,
  leafPaths,
  mutatedSpecInput,
  OPTIONAL_FIELDS,
  propertySettings,
  validBaseInput,
  valueAt,
} from './helpers/property.js';

const settings = propertySettings();
console.log(describeSettings(settings));
const params = { seed: settings.seed, numRuns: settings.runs };
/** Below this many runs a category may legitimately never be drawn, so coverage is not asserted. */
const COVERAGE_RUNS = 200;

// Independent statements of the plan's resource rules (README / plan.ts comments), as test oracles.
function sharedMemoryBytes(spec: AttentionSpec): number {
  const { ctaQ, ctaK, stages } = spec.tiling;
  const D = spec.headDim;
  const fp8 = spec.pv.instruction === 'm16n8k32.e4m3';
  // INT8 Q and K (one byte per element); V in FP8 (one byte) or in the 16-bit input type.
  return ctaQ * D + stages * (ctaK * D + ctaK * D * (fp8 ? 1 : 2));
}

/** A cp.async pass of all threads must copy whole 8-row swizzle periods of each tile. */
function copyBandsFit(spec: AttentionSpec): boolean {
  const threads = spec.tiling.warps * 32;
  const D = spec.headDim;
  const fp8 = spec.pv.instruction === 'm16n8k32.e4m3';
  const chunksPerRow = [D / 16, D / 16, fp8 ? spec.tiling.ctaK / 16 : (D * 2) / 16];
  return chunksPerRow.every((chunks) => (threads / chunks) % 8 === 0);
}

const PLAN_FIELDS = ['tiling', 'tiling.warps', 'tiling.warpQ', 'tiling.minBlocksPerSm'];

describe(`drawn specs (seed ${settings.seed})`, () => {
  it('every candidate is refused by parseSpec or planKernel with well-formed issues, or plans and renders', () => {
    const seen = { rendered: 0, refusedByParse: 0, sharedMemory: 0, copyBands: 0, registers: 0 };
    fc.assert(
      fc.property(candidateSpecInput, (input) => {
        let spec: AttentionSpec;
        try {
          spec = parseSpec(structuredClone(input));
        } catch (e) {
          expectWellFormedRefusal(e, input);
          seen.refusedByParse++;
          return;
        }
        const overShared = sharedMemoryBytes(spec) > CAPABILITIES[spec.arch].maxSharedMemoryPerBlock;
        const bandsFit = copyBandsFit(spec);
        let plan: ReturnType<typeof planKernel>;
        try {
          plan = planKernel(spec);
        } catch (e) {
          // The plan's refusals take the same form, with the value found in the parsed spec.
          const issues = expectWellFormedRefusal(e, spec);
          for (const issue of issues) expect(PLAN_FIELDS).toContain(issue.field);
          const shared = issues.find((i) => i.field === 'tiling' && /shared memory/.test(i.rule));
          expect(shared !== undefined, `shared-memory issue for ${sharedMemoryBytes(spec)} bytes`).toBe(overShared);
          if (shared) expect(shared.rule).toContain(`needs ${sharedMemoryBytes(spec)} bytes`);
          expect(issues.some((i) => i.field === 'tiling.warps'), 'copy-band issue').toBe(!bandsFit);
          if (overShared) seen.sharedMemory++;
          if (!bandsFit) seen.copyBands++;
          if (issues.some((i) => /registers/.test(i.rule))) seen.registers++;
          return;
        }
        expect(overShared).toBe(false);
        expect(bandsFit).toBe(true);
        expect(plan.smem.totalBytes).toBe(sharedMemoryBytes(spec));
        const cu = renderVariant(plan);
        expect(cu).toContain(`namespace ${plan.name} {`);
        for (const { ptx } of plan.instructions) expect(cu).toContain(`asm volatile("${ptx} `);
        // Every plan value the template printed was defined and finite (comments may say "NaN").
        const code = cu.replace(/\/\/.*$/gm, '');
        expect(code).not.toMatch(/\bundefined\b|\bNaN\b|\bInfinity\b|\[object Object\]/);
        seen.rendered++;
      }),
      params,
    );
    console.log(`[property] candidates: ${JSON.stringify(seen)}`);
    if (settings.runs >= COVERAGE_RUNS) {
      for (const [category, count] of Object.entries(seen)) expect(count, `no draw of seed ${settings.seed} was ${category}`).toBeGreaterThan(0);
    }
  });

  it('every input with 1–3 fields made invalid is refused, naming each of those fields with its value', () => {
    fc.assert(
      fc.property(mutatedSpecInput, ({ input, mutations }) => {
        let error: unknown;
        try {
          parseSpec(structuredClone(input));
        } catch (e) {
          error = e;
        }
        expect(error, `accepted: ${JSON.stringify(mutations)}`).toBeDefined();
        const issues = expectWellFormedRefusal(error, input);
        for (const m of mutations) {
          const field = m.path.join('.');
          const issue = issues.find((i) => i.field === field);
          expect(issue, `no issue names ${field} (${m.kind}); got ${issues.map((i) => i.field).join(', ')}`).toBeDefined();
          expect(issue!.value).toEqual(m.kind === 'delete' ? undefined : m.value);
          if (m.kind === 'add') expect(issue!.rule).toMatch(/unknown field/);
        }
      }),
      params,
    );
  });

  it('every optional field may be left out of a valid spec: it still parses, that field taking its schema default', () => {
    // The `.default()`s of dsl/spec.ts (name and $schema have none: they stay absent).
    const SCHEMA_DEFAULTS: Record<string, unknown> = { name: undefined, $schema: undefined, 'qk.type': 'int8', 'tiling.minBlocksPerSm': 1, 'tiling.overlapQk': false };
    expect(Object.keys(SCHEMA_DEFAULTS).sort()).toEqual([...OPTIONAL_FIELDS].sort());
    fc.assert(
      fc.property(validBaseInput, fc.subarray([...OPTIONAL_FIELDS]), (base, dropped) => {
        const input = structuredClone(base) as Record<string, unknown>;
        const expected = parseSpec(structuredClone(base)) as unknown as Record<string, unknown>;
        for (const field of dropped) {
          const path = field.split('.');
          delete (valueAt(input, path.slice(0, -1)) as Record<string, unknown>)[path.at(-1)!];
          const parent = valueAt(expected, path.slice(0, -1)) as Record<string, unknown>;
          if (SCHEMA_DEFAULTS[field] === undefined) delete parent[path.at(-1)!];
          else parent[path.at(-1)!] = SCHEMA_DEFAULTS[field];
        }
        // (the defaults are the least demanding values: leaving a field out breaks no rule)
        expect(parseSpec(input)).toEqual(expected);
        // and nothing else was dropped
        for (const p of leafPaths(base)) if (!OPTIONAL_FIELDS.has(p.join('.'))) expect(valueAt(input, p)).toEqual(valueAt(base, p));
      }),
      { ...params, numRuns: Math.min(settings.runs, 100) },
    );
  });
});
