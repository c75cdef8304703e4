/**
 * The runtime's dispatcher (runtime/src/sagegen.cpp selectVariant) through the C ABI's
 * sagegen_dispatch_variant, which needs no GPU: the real runtime linked with a stand-in registry
 * (test/fixtures/dispatch_registry.cpp) and called from Python through the ctypes mirror. Checks the
 * rule users rely on: the newest capability the device runs, and at equal capability the wgmma
 * variant (dispatch rank 1) over mma.sync (0), within a tuned build's kv_len buckets.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { compileHost, linkLibraries } from '../toolchain/nvcc.js';
import { describeNvcc, requireNvcc } from './helpers/nvcc.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// Loads _abi.py alone (the package imports torch, which CI machines lack) and prints the index the
// library dispatches to for each query.
const QUERY = `
import ctypes, importlib.util, json, sys
spec = importlib.util.spec_from_file_location("abi", sys.argv[2])
abi = importlib.util.module_from_spec(spec); spec.loader.exec_module(abi)
lib = abi.declare_prototypes(ctypes.CDLL(sys.argv[1]))
names = [None] * lib.sagegen_variant_count()
for i in range(len(names)):
    info = abi.SagegenVariantInfo(); lib.sagegen_variant_get_info(i, ctypes.byref(info)); names[i] = info.name.decode()
out = []
for cc, d, dtype, causal, kv in json.loads(sys.argv[3]):
    i = lib.sagegen_dispatch_variant(cc, d, dtype, causal, kv)
    out.append(None if i < 0 else names[i])
print(json.dumps(out))
`;

describeNvcc('dispatch: capability first, then wgmma over mma.sync', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sagegen-dispatch-'));
  let shared = '';
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeAll(async () => {
    const nvcc = requireNvcc();
    const include = [path.join(ROOT, 'runtime', 'include')];
    const runtime = path.join(dir, 'sagegen.o');
    const registry = path.join(dir, 'registry.o');
    await compileHost(nvcc, path.join(ROOT, 'runtime', 'src', 'sagegen.cpp'), runtime, include, ['SAGEGEN_VERSION_STRING="test"']);
    await compileHost(nvcc, path.join(ROOT, 'test', 'fixtures', 'dispatch_registry.cpp'), registry, include, []);
    ({ shared } = await linkLibraries(nvcc, [runtime, registry], dir));
  }, 180_000);

  const FP16 = 0;
  const dispatch = async (queries: [number, number, number, number, number][]): Promise<(string | null)[]> => {
    const r = await execa('python3', ['-c', QUERY, shared, path.join(ROOT, 'runtime', 'python', 'sagegen', '_abi.py'), JSON.stringify(queries)]);
    return JSON.parse(r.stdout) as (string | null)[];
  };

  it('an H100 (sm_90) runs the wgmma variant though the mma.sync one of its capability is listed first', async () => {
    expect(await dispatch([[90, 128, FP16, 0, 1024], [90, 128, FP16, 0, 1 << 20]])).toEqual(['sm90a_wgmma', 'sm90a_wgmma']);
  });

  it('other devices run the newest capability they can: sm_89 PTX on Ada and Blackwell, sm_80 on Ampere; sm_90a never off sm_90', async () => {
    expect(await dispatch([[89, 128, FP16, 0, 4096], [120, 128, FP16, 0, 4096], [86, 128, FP16, 0, 4096], [80, 128, FP16, 0, 4096], [75, 128, FP16, 0, 4096]]))
      .toEqual(['sm89_sync', 'sm89_sync', 'sm80_sync', 'sm80_sync', null]);
  });

  it("a tuned build's kv_len buckets come before the rank: mma.sync below 4096 causal keys, wgmma from 4096", async () => {
    expect(await dispatch([[90, 128, FP16, 1, 4095], [90, 128, FP16, 1, 4096], [89, 128, FP16, 1, 8192]])).toEqual(['sm90a_sync_causal', 'sm90a_wgmma_causal', null]);
  });

  it('a head dim or dtype no variant has dispatches to nothing (-1)', async () => {
    expect(await dispatch([[90, 64, FP16, 0, 4096], [90, 128, 1, 0, 4096]])).toEqual([null, null]);
  });
});
