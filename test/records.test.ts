/**
 * The benchmarks of record (measured on the lent H100; CI cannot re-run them) must be of the kernels
 * that the build makes now. Each record's JSON lists the variants of the library it timed; the first
 * suite checks those names against what its build in results/records.json names today (resolved
 * as the CLI resolves its flags), so a change of defaults or of the tuned set cannot land with its
 * old figures still standing as the record.
 *
 * The second suite sees what names cannot: it compares the source fingerprint each record measured
 * (build/fingerprint.ts) with what the build generates now, for every record listed in
 * results/records.json, so that a template or runtime change cannot land with the old figures
 * standing unmarked.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fingerprintOf, type SourceFingerprint } from '../build/fingerprint.js';
import { buildInputs } from '../cli/flags.js';
import { variantName } from '../dsl/spec.js';

const root = path.join(__dirname, '..');
const readJson = (file: string): unknown => JSON.parse(readFileSync(path.join(root, file), 'utf8'));

/** The variant names of each library a bench.py record timed, by its label. */
function benchRecordVariants(file: string): Record<string, string[]> {
  const record = readJson(file) as { libraries: Record<string, { variants: { name: string }[] }> };
  return Object.fromEntries(Object.entries(record.libraries).map(([label, lib]) => [label, lib.variants.map((v) => v.name).sort()]));
}

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const FingerprintSchema = z.strictObject({ kernels: z.record(z.string(), Sha256), flags: Sha256, headers: Sha256, host: Sha256 });

/** results/records.json: the records of the libraries built now, and how each one's sources are known. */
const CatalogueSchema = z.strictObject({
  comment: z.array(z.string()),
  libraries: z.record(
    z.string(),
    z.strictObject({
      // The flags of `sagegen build` (cli/flags.ts buildInputs), paths relative to the repository.
      build: z.strictObject({ arch: z.string().optional(), headdim: z.string().optional(), mma: z.string().optional(), spec: z.array(z.string()).optional(), config: z.string().optional() }),
    }),
  ),
  records: z.record(
    z.string(),
    z.strictObject({
      library: z.string(),
      /** For a benchmark record: the label of the library among its `libraries`. */
      benchLabel: z.string().optional(),
      /** Key into `measured`, for a record that does not carry its own fingerprint. */
      measured: z.string().optional(),
      /** Why the record no longer measures the sources built now, and what re-runs it. */
      stale: z.string().min(40).optional(),
    }),
  ),
  notRecords: z.record(z.string(), z.string().min(20)),
  measured: z.record(z.string(), z.strictObject({ commit: z.string().regex(/^[0-9a-f]{7,40}$/), how: z.string(), fingerprint: FingerprintSchema })),
});

/** The directories whose JSON files are results of record (session folders and experiments are history). */
const RECORD_DIRS = ['results/gpu', 'results/gpu/edge', 'results/wgmma/edge', 'results/wgmma/tuned/edge', 'results/bench', 'results/wgmma/bench', 'results/consumers'];

const catalogue = CatalogueSchema.parse(readJson('results/records.json'));

/** What `sagegen build` makes now for a library of the catalogue (cli/flags.ts, as the CLI resolves its flags). */
function buildNow(label: string): ReturnType<typeof buildInputs> {
  const b = catalogue.libraries[label]!.build;
  const abs = (f: string) => path.join(root, f);
  return buildInputs({ ...b, spec: b.spec?.map(abs), config: b.config && abs(b.config) });
}

describe('the benchmarks of record time the kernels the build makes now', () => {
  // Names only, stale or not: a benchmark of other variants than the build makes cannot stand even
  // marked stale (the records below say whether the sources of the same names changed).
  const benches = Object.entries(catalogue.records).filter(([, r]) => r.benchLabel);
  it('covers the three benchmarks of record (wgmma defaults, tuned wgmma set, mma.sync defaults)', () => {
    expect(benches.map(([file]) => file).sort()).toEqual(
      ['results/bench/h100-d128.json', 'results/bench/h100-d64.json', 'results/wgmma/bench/h100-wgmma-tuned.json', 'results/wgmma/bench/h100-wgmma.json'],
    );
  });
  for (const [file, entry] of benches)
    it(`${file}: the variants of ${entry.library}`, async () => {
      const names = (await buildNow(entry.library)).specs.map((s) => variantName(s)).sort();
      expect(benchRecordVariants(file)).toEqual({ [entry.benchLabel!]: names });
    });
});

/** The fingerprint a record carries: written by the GPU script (gpu_check, edge, ABI table, sanitizer, bench). */
function carriedFingerprint(record: Record<string, unknown>, benchLabel: string | undefined): unknown {
  if (benchLabel) return (record.libraries as Record<string, { fingerprint?: unknown }>)[benchLabel]?.fingerprint ?? null;
  const lib = record.library;
  return (lib && typeof lib === 'object' ? (lib as { fingerprint?: unknown }).fingerprint : record.fingerprint) ?? null;
}

/**
 * The failures a record reports about itself (a benchmark has no pass/fail): gpu_check, the edge checks,
 * the ABI table, check_torch_op and the consumers count them in summary.failed, gpu_check and
 * edge_check give each case a status, the sanitizer marks each tool clean or not, and a library that
 * did not load leaves an error.
 */
function recordFailures(r: Record<string, unknown>): string[] {
  const out: string[] = [];
  if (r.error) out.push(`error: ${String(r.error)}`);
  const failed = (r.summary as { failed?: number } | undefined)?.failed ?? 0;
  if (failed) out.push(`summary: ${failed} failed`);
  if (Array.isArray(r.cases))
    for (const c of r.cases as { name?: string; status?: string }[]) if (c.status !== 'pass' && c.status !== 'skip') out.push(`case ${c.name}: ${c.status}`);
  if (r.tools && typeof r.tools === 'object')
    for (const [tool, t] of Object.entries(r.tools as Record<string, { clean?: boolean }>)) if (!t.clean) out.push(`${tool}: not clean`);
  return out;
}

/** What differs between two fingerprints, in words (empty: the same sources). */
function differences(measured: SourceFingerprint, now: SourceFingerprint): string[] {
  const out: string[] = [];
  const names = [...new Set([...Object.keys(measured.kernels), ...Object.keys(now.kernels)])].sort();
  for (const n of names) {
    if (!(n in now.kernels)) out.push(`variant ${n} measured, no longer built`);
    else if (!(n in measured.kernels)) out.push(`variant ${n} built now, not measured`);
    else if (measured.kernels[n] !== now.kernels[n]) out.push(`variant ${n}: generated source changed`);
  }
  if (measured.flags !== now.flags) out.push("the variants' nvcc flags changed");
  if (measured.headers !== now.headers) out.push('runtime headers changed');
  if (measured.host !== now.host) out.push('host code (runtime or registry) changed');
  return out;
}

describe('results/records.json: every result of record measured the sources built now, or says it did not', () => {
  const nowByLibrary = new Map<string, Promise<SourceFingerprint>>();
  const now = (label: string): Promise<SourceFingerprint> => {
    if (!nowByLibrary.has(label)) nowByLibrary.set(label, buildNow(label).then(({ specs, dispatch }) => fingerprintOf(specs, dispatch)));
    return nowByLibrary.get(label)!;
  };

  it('reads a carried fingerprint where each GPU script writes it', () => {
    const fp = { kernels: { v: 'a'.repeat(64) }, flags: 'd'.repeat(64), headers: 'b'.repeat(64), host: 'c'.repeat(64) };
    // gpu_check, edge_check, check_torch_op: library is an object; abi_table, sanitizer: a path, and
    // run_gpu_consumers: none, both with the fingerprint at the top; bench: per library label.
    expect(carriedFingerprint({ library: { path: 'x', fingerprint: fp } }, undefined)).toEqual(fp);
    expect(carriedFingerprint({ library: '/x/lib/libsagegen.so', fingerprint: fp }, undefined)).toEqual(fp);
    expect(carriedFingerprint({ fingerprint: fp }, undefined)).toEqual(fp);
    expect(carriedFingerprint({ libraries: { wg: { variants: [], fingerprint: fp } } }, 'wg')).toEqual(fp);
    // Written before fingerprints, or from a library built before them (the scripts write null).
    expect(carriedFingerprint({ library: { path: 'x' } }, undefined)).toBeNull();
    expect(carriedFingerprint({ library: { path: 'x', fingerprint: null } }, undefined)).toBeNull();
    expect(carriedFingerprint({ library: 'x', fingerprint: null }, undefined)).toBeNull();
    expect(carriedFingerprint({ libraries: { wg: { variants: [] } } }, 'wg')).toBeNull();
  });

  it('lists every JSON file of the record directories, and only files that exist', () => {
    const onDisk = RECORD_DIRS.flatMap((d) =>
      readdirSync(path.join(root, d))
        .filter((f) => f.endsWith('.json'))
        .map((f) => `${d}/${f}`),
    ).sort();
    expect([...Object.keys(catalogue.records), ...Object.keys(catalogue.notRecords)].sort()).toEqual(onDisk);
  });

  it('names a known library for each record, and uses every backfilled fingerprint', () => {
    for (const [file, r] of Object.entries(catalogue.records)) {
      expect(Object.keys(catalogue.libraries), file).toContain(r.library);
      if (r.measured) expect(Object.keys(catalogue.measured), file).toContain(r.measured);
    }
    const used = new Set(Object.values(catalogue.records).map((r) => r.measured));
    expect(Object.keys(catalogue.measured).filter((k) => !used.has(k))).toEqual([]);
  });

  it('each record says when, where and how it was made, ran on an NVIDIA GPU, and reports no failure', () => {
    for (const file of Object.keys(catalogue.records)) {
      const r = readJson(file) as Record<string, unknown>;
      expect(r.date, file).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/);
      expect(r.commit, file).toMatch(/^[0-9a-f]{7,40}$/);
      expect(Array.isArray(r.command) ? (r.command as string[]).join(' ') : r.command, file).toMatch(/\S/);
      // not the host mock some scripts can run against ("cpu (...)", "none ...")
      expect(r.device, file).toMatch(/^NVIDIA /);
      expect(recordFailures(r), file).toEqual([]);
    }
  });

  it('a backfilled fingerprint comes from the commit its records ran, or says why not', () => {
    for (const [file, entry] of Object.entries(catalogue.records)) {
      if (!entry.measured) continue;
      const measured = catalogue.measured[entry.measured]!;
      const commit = String((readJson(file) as { commit: unknown }).commit);
      const same = commit.startsWith(measured.commit) || measured.commit.startsWith(commit);
      expect(same || measured.how.includes(commit.slice(0, 7)), `${file}: ran at ${commit}, backfill rendered at ${measured.commit}`).toBe(true);
    }
  });

  for (const [file, entry] of Object.entries(catalogue.records)) {
    it(`${file}: ${entry.stale ? 'marked stale, and its sources do differ' : 'measured the sources built now'}`, async () => {
      const record = readJson(file) as Record<string, unknown>;
      const carried = carriedFingerprint(record, entry.benchLabel);
      // A record that carries its fingerprint needs no backfill; one that does not must have it.
      if (carried !== null) expect(entry.measured, `${file} carries its fingerprint: drop "measured"`).toBeUndefined();
      else expect(entry.measured, `${file} carries no fingerprint: give "measured"`).toBeDefined();
      const measured = carried !== null ? FingerprintSchema.parse(carried) : catalogue.measured[entry.measured!]!.fingerprint;
      if (entry.benchLabel) {
        const timed = (record.libraries as Record<string, { variants: { name: string }[] }>)[entry.benchLabel]!.variants.map((v) => v.name).sort();
        expect(timed, `${file}: the variants timed are those fingerprinted`).toEqual(Object.keys(measured.kernels).sort());
      }
      const diff = differences(measured, await now(entry.library));
      if (entry.stale) expect(diff, `${file} measured the sources built now: remove its "stale" mark`).not.toEqual([]);
      else expect(diff, `${file} measured other sources than the build makes now: re-run it, or mark it "stale" with why`).toEqual([]);
    });
  }
});
