import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { variantSourceSha256 } from '../build/fingerprint.js';
import { buildInputs, tunedSourcesWarning } from '../cli/flags.js';
import { checkTunedSources, tunedSourceWarning } from '../autotune/provenance.js';
import { planKernel } from '../plan/plan.js';
import { TunedConfigSchema, type TunedConfig } from '../autotune/config.js';
import { ConfigSelectionError, tunedBuildInputs } from '../autotune/tuned-build.js';
import { variantName } from '../dsl/spec.js';

const readShipped = (file: string) => TunedConfigSchema.parse(JSON.parse(readFileSync(path.join(__dirname, '..', 'autotune', 'tuned', file), 'utf8')));
const shipped = readShipped('h100-sm90a.json');
const cli = path.join(__dirname, '..', 'dist', 'cli', 'sagegen.js');

describe('the shipped H100 configurations', () => {
  it('validate and name each winner as this sagegen does', () => {
    for (const file of ['h100-sm90a.json', 'h100-sm90a-wgmma.json'])
      for (const e of readShipped(file).targets.flatMap((t) => t.entries)) expect(variantName(e.winner.spec), file).toBe(e.winner.name);
  });

  it('the wgmma one covers D=64 and 128, both dtypes, causal or not, every kv_len, with wgmma winners only', () => {
    const wgmma = readShipped('h100-sm90a-wgmma.json');
    const entries = wgmma.targets.flatMap((t) => t.entries);
    for (const headDim of [64, 128])
      for (const dtype of ['fp16', 'bf16'])
        for (const causal of [false, true]) {
          const buckets = entries.filter((e) => e.headDim === headDim && e.dtype === dtype && e.causal === causal).sort((a, b) => a.minSeq - b.minSeq);
          expect(buckets[0]?.minSeq, `${headDim} ${dtype} ${causal}`).toBe(0);
          expect(buckets.at(-1)?.maxSeq).toBeNull();
          for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.minSeq).toBe(buckets[i - 1]!.maxSeq);
        }
    for (const e of entries) expect(e.winner.spec.mma).toBe('wgmma');
    // a change made after the tuning run names its measurement, and that measurement is in the repo
    for (const a of wgmma.amendments ?? []) expect(existsSync(path.join(__dirname, '..', a.evidence)), a.evidence).toBe(true);
    // every problem is tuned, so a build from it adds no default spec
    const { specs } = tunedBuildInputs(wgmma);
    expect(specs.every((s) => entries.some((e) => e.winner.name === variantName(s)))).toBe(true);
  });
});

describe('tunedBuildInputs', () => {
  const { specs, dispatch } = tunedBuildInputs(shipped);
  const entries = shipped.targets[0]!.entries;

  it('maps every tuned bucket to its winner and builds each winner once', () => {
    for (const e of entries) expect(dispatch).toContainEqual({ name: e.winner.name, minSeq: e.minSeq, maxSeq: e.maxSeq });
    const winners = new Set(entries.map((e) => e.winner.name));
    for (const w of winners) expect(specs.filter((s) => variantName(s) === w)).toHaveLength(1);
  });

  it('adds the default spec, for every length, for each (head dim, dtype, causal) not tuned', () => {
    const headDims = new Set(entries.map((e) => e.headDim));
    const tuned = new Set(entries.map((e) => `${e.headDim}|${e.dtype}|${e.causal}`));
    const untuned = [...headDims].flatMap((d) => ['fp16', 'bf16'].flatMap((dt) => [false, true].map((c) => `${d}|${dt}|${c}`))).filter((k) => !tuned.has(k));
    for (const key of untuned) {
      const [d, dt, c] = key.split('|');
      const s = specs.find((x) => String(x.headDim) === d && x.dtype === dt && String(x.causal) === c);
      expect(s, key).toBeDefined();
      expect(dispatch).toContainEqual({ name: variantName(s!), minSeq: 0, maxSeq: null });
    }
  });

  it('refuses an arch the file does not tune, naming what it has', () => {
    expect(() => tunedBuildInputs(shipped, { archs: ['sm_89'] })).toThrow(ConfigSelectionError);
    expect(() => tunedBuildInputs(shipped, { archs: ['sm_89'] })).toThrow(/sm_90a on "NVIDIA H100 80GB HBM3"/);
  });

  it('asks for --gpu when one arch is tuned for several GPUs', () => {
    const two: TunedConfig = structuredClone(shipped);
    two.targets.push({ ...structuredClone(shipped.targets[0]!), gpu: 'NVIDIA H200' });
    expect(() => tunedBuildInputs(two)).toThrow(/choose one with --gpu/);
    expect(tunedBuildInputs(two, { gpu: 'NVIDIA H200' }).specs.length).toBe(specs.length);
  });

  it('refuses a file whose winner names differ from this version\'s naming', () => {
    const renamed: TunedConfig = structuredClone(shipped);
    renamed.targets[0]!.entries[0]!.winner.name = 'sage_old_name';
    expect(() => tunedBuildInputs(renamed)).toThrow(/another version/);
  });
});

describe('the published JSON Schema of tuned configurations', () => {
  it('is committed as autotune/tuned-config.schema.json and up to date', async () => {
    const { tunedConfigJsonSchema } = await import('../autotune/config.js');
    const committed = JSON.parse(readFileSync(path.join(__dirname, '..', 'autotune', 'tuned-config.schema.json'), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(tunedConfigJsonSchema())));
  });
});

describe('the tuned winners\' measured sources (autotune/provenance.ts)', () => {
  const withSources = (config: TunedConfig, sha: (name: string) => string | undefined): TunedConfig => {
    const copy = structuredClone(config);
    for (const e of copy.targets.flatMap((t) => t.entries)) {
      const s = sha(e.winner.name);
      if (s === undefined) delete e.winner.sourceSha256;
      else e.winner.sourceSha256 = s;
    }
    return copy;
  };
  const now = (name: string) => {
    const e = shipped.targets.flatMap((t) => t.entries).find((x) => x.winner.name === name)!;
    return variantSourceSha256(planKernel(e.winner.spec));
  };
  const names = [...new Set(shipped.targets.flatMap((t) => t.entries).map((e) => e.winner.name))].sort();

  it('finds no change where each winner carries the source this sagegen renders', () => {
    const check = checkTunedSources(withSources(shipped, now).targets);
    expect(check).toEqual({ changed: [], checked: names.length });
    expect(tunedSourceWarning('--config = "t.json"', check, shipped)).toBeNull();
  });

  it('names the winners whose source changed, out of those that record one', () => {
    const changed = names.slice(0, 4);
    const check = checkTunedSources(withSources(shipped, (n) => (changed.includes(n) ? '0'.repeat(64) : n === names[4] ? undefined : now(n))).targets);
    expect(check).toEqual({ changed, checked: names.length - 1 });
    const warning = tunedSourceWarning('--config = "t.json"', check, shipped)!;
    expect(warning).toContain(`--config = "t.json": 4 of the ${names.length - 1} winners that record their source were timed on generated sources that differ`);
    expect(warning).toContain(`${changed.slice(0, 3).join(', ')}, and 1 more`);
    expect(warning).toMatch(/tune again with sagegen autotune/);
  });

  it('says nothing of a configuration that records no sources (tuned before they were recorded, as the shipped ones)', () => {
    const check = checkTunedSources(withSources(shipped, () => undefined).targets);
    expect(check).toEqual({ changed: [], checked: 0 });
    expect(tunedSourceWarning('--config = "t.json"', check, shipped)).toBeNull();
  });

  it('build --config\'s warning, from what buildInputs returns; sagegen build prints it before building', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sagegen-provenance-'));
    try {
      const file = path.join(dir, 'tuned.json');
      writeFileSync(file, JSON.stringify(withSources(shipped, (n) => (n === names[0] ? 'f'.repeat(64) : now(n)))));
      const warning = tunedSourcesWarning((await buildInputs({ config: file })).tuned!);
      expect(warning).toContain(`--config = "${file}": 1 of the ${names.length} winners`);
      expect(warning).toContain(names[0]);
      // A fresh file: no warning.
      writeFileSync(file, JSON.stringify(withSources(shipped, now)));
      expect(tunedSourcesWarning((await buildInputs({ config: file })).tuned!)).toBeNull();
      // The CLI prints it: an --out under a regular file stops the build right after.
      writeFileSync(file, JSON.stringify(withSources(shipped, (n) => (n === names[0] ? 'f'.repeat(64) : now(n)))));
      writeFileSync(path.join(dir, 'file'), '');
      const r = await execa(process.execPath, [cli, 'build', '--config', file, '--out', path.join(dir, 'file', 'out')], { reject: false });
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr.split('\n')[0]).toContain(`warning: --config = "${file}": 1 of the ${names.length} winners`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
