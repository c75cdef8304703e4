/**
 * plan → CUDA source. The PTX mnemonics are spelled out here from the PTX ISA (not read from the
 * capability table), so a wrong table entry or a template that prints the wrong operand types fails.
 */
import { describe, expect, it } from 'vitest';
import { attention, defaultSpecInput } from '../dsl/builder.js';
import { parseSpec, type AttentionSpec } from '../dsl/spec.js';
import { planKernel, type KernelPlan } from '../plan/plan.js';
import { renderRegistry, renderVariant } from '../render/render.js';

const QK_INT8 = 'mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32';
const PV_FP8_F16 = 'mma.sync.aligned.m16n8k32.row.col.f16.e4m3.e4m3.f16';
const PV_FP8_F32 = 'mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32';
const PV_F16 = 'mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32';
const PV_BF16 = 'mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32';
const CVT_E4M3 = 'cvt.rn.satfinite.e4m3x2.f32';

function render(spec: AttentionSpec): { plan: KernelPlan; cu: string } {
  const plan = planKernel(spec);
  return { plan, cu: renderVariant(plan) };
}

/** A C++ float literal: integers need a decimal point before the f suffix (448 → 448.0f). */
const cFloat = (n: number) => `${Number.isInteger(n) ? n.toFixed(1) : String(n)}f`;

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `constexpr <type> <name> = <value>;` exactly once. */
function expectConstant(cu: string, type: string, name: string, value: string | number | boolean): void {
  const re = new RegExp(`constexpr ${escape(type)} ${escape(name)} = ${escape(String(value))};`, 'g');
  expect(cu.match(re)?.length ?? 0, `constexpr ${type} ${name} = ${value};`).toBe(1);
}

describe('default sm_89 D=128 variant', () => {
  const spec = parseSpec(defaultSpecInput({ arch: 'sm_89', headDim: 128 }));
  const { plan, cu } = render(spec);

  it('is the FP8 f16-accumulate spec this file expects', () => {
    expect(spec.pv).toMatchObject({ instruction: 'm16n8k32.e4m3', accumulator: 'f16' });
  });

  it('leaves no template syntax behind', () => {
    expect(cu).not.toContain('{{');
    expect(cu).not.toContain('}}}');
    expect(cu).not.toMatch(/\bundefined\b|\[object Object\]|[=(,] *NaN\b/);
  });

  it('starts with a header comment holding every line of the spec JSON', () => {
    const header = cu.slice(0, cu.indexOf('#include'));
    expect(header.startsWith(`// ${plan.name}.cu`)).toBe(true);
    const lines = JSON.stringify(spec, null, 2).split('\n');
    expect(lines.length).toBeGreaterThan(10);
    for (const line of lines) expect(header).toContain(`//   ${line}\n`);
    // and the spec can be read back from it
    const json = header
      .split('\n')
      .filter((l) => l.startsWith('//   '))
      .map((l) => l.slice(5))
      .filter((l) => !l.startsWith('mma.sync'))
      .join('\n');
    expect(JSON.parse(json)).toEqual(spec);
  });

  it('contains the exact PTX of both mma steps, cp.async, ldmatrix and the e4m3 conversion', () => {
    for (const s of [QK_INT8, PV_FP8_F16, 'cp.async.cg.shared.global', 'cp.async.commit_group', 'cp.async.wait_group', 'ldmatrix.sync.aligned', CVT_E4M3]) {
      expect(cu, s).toContain(s);
    }
    expect(cu).not.toContain(PV_FP8_F32);
    expect(cu).not.toContain('m16n8k16');
  });

  it('prints the plan numbers as named constants', () => {
    expectConstant(cu, 'int', 'kHeadDim', spec.headDim);
    expectConstant(cu, 'int', 'kCtaQ', spec.tiling.ctaQ);
    expectConstant(cu, 'int', 'kCtaK', spec.tiling.ctaK);
    expectConstant(cu, 'int', 'kWarpQ', spec.tiling.warpQ);
    expectConstant(cu, 'int', 'kWarps', spec.tiling.warps);
    expectConstant(cu, 'int', 'kThreads', spec.tiling.warps * 32);
    expectConstant(cu, 'int', 'kStages', spec.tiling.stages);
    expectConstant(cu, 'bool', 'kCausal', spec.causal);
    expectConstant(cu, 'int', 'kMTiles', plan.mTiles);
    expectConstant(cu, 'int', 'kQkNTiles', plan.qkNTiles);
    expectConstant(cu, 'int', 'kQkKSteps', plan.qkKSteps);
    expectConstant(cu, 'int', 'kPvNTiles', plan.pvNTiles);
    expectConstant(cu, 'int', 'kPvMmaK', plan.pvMmaK);
    expectConstant(cu, 'int', 'kQGroupsPerTile', plan.quant.qGroupsPerTile);
    expectConstant(cu, 'int', 'kKGroupsPerTile', plan.quant.kGroupsPerTile);
    expectConstant(cu, 'bool', 'kSmoothK', spec.qk.smoothK);
    expectConstant(cu, 'bool', 'kPvFp8', true);
    expectConstant(cu, 'int', 'kFlushSteps', plan.pv.flushSteps);
    expectConstant(cu, 'int', 'kFlushesPerTile', plan.pv.flushesPerTile);
    expectConstant(cu, 'int', 'kSmemBytes', plan.smem.totalBytes);
    if (spec.pv.instruction !== 'm16n8k32.e4m3') throw new Error('expected an FP8 spec');
    expectConstant(cu, 'float', 'kVRange', cFloat(spec.pv.vRange));
    expectConstant(cu, 'float', 'kPRange', cFloat(spec.pv.pRange));
  });

  it('prints each shared-memory tile layout from the plan', () => {
    for (const [name, t] of [['QTile', plan.smem.q], ['KTile', plan.smem.k], ['VTile', plan.smem.v]] as const) {
      expect(cu).toContain(`using ${name} = TileLayout<${t.rowBytes}, ${t.rowsPerLine}, ${t.swizzleMod}, ${t.bytes}, ${t.offset}>;`);
    }
  });

  it('names its namespace and descriptor after the variant', () => {
    expect(cu).toContain(`namespace ${plan.name} {`);
    expect(cu).toContain(`extern const VariantDescriptor ${plan.name}_descriptor = {`);
    // descriptor: name, compute capability, arch-specific, head dim, dtype code (fp16 = 0), causal
    expect(cu).toContain(`"${plan.name}", 89, false, ${spec.headDim}, 0, ${spec.causal},`);
  });
});

describe('other variants', () => {
  it('f32 accumulator renders the .f32.e4m3.e4m3.f32 mma and not the f16 one', () => {
    const { cu } = render(attention({ arch: 'sm_89', headDim: 128 }).pvFp8({ accumulator: 'f32' }).build());
    expect(cu).toContain(PV_FP8_F32);
    expect(cu).not.toContain(PV_FP8_F16);
    expect(cu).toContain(QK_INT8);
  });

  it('sm_80 renders the 16-bit m16n8k16 P·V and no e4m3 instruction', () => {
    const { cu } = render(parseSpec(defaultSpecInput({ arch: 'sm_80', headDim: 128 })));
    expect(cu).toContain(PV_F16);
    expect(cu).toContain(QK_INT8);
    expect(cu).toContain('ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16');
    // No FP8 instruction of any kind: no e4m3 mma operand type, no e4m3 conversion.
    expect(cu).not.toMatch(/\.e4m3\b/);
    expect(cu).not.toContain('e4m3x2');
    expect(cu).not.toContain('m16n8k32.row.col.f');
    expectConstant(cu, 'bool', 'kPvFp8', false);
  });

  it('16-bit P·V reads V in place only for full tiles of kHeadDim-apart rows; FP8 always quantizes V', () => {
    const { cu: cu16 } = render(parseSpec(defaultSpecInput({ arch: 'sm_90a', headDim: 128 })));
    // The host decides per call; a ragged last tile or another row stride goes through the padded copy.
    expect(cu16).toContain('const bool vInPlace = p.kvLen % kCtaK == 0 && c.vStrides.seq == kHeadDim;');
    expect(cu16).toContain('p.vData = vInPlace ? static_cast<const uint8_t*>(c.v) : p.ws.v;');
    expect(cu16).toContain('if (!vInPlace) quantizeVKernel<<<');
    // The kernel's V rows stay a compile-time kHeadDim * 2 bytes apart (a runtime stride cost registers).
    expect(cu16).toContain('copyTile<VTile>(smemBase + VTile::offset + stage * VTile::bytes, vSrc + firstKey * kHeadDim * 2, kHeadDim * 2);');
    const { cu: cu8 } = render(parseSpec(defaultSpecInput({ arch: 'sm_89', headDim: 128 })));
    expect(cu8).toContain('const bool vInPlace = false;');
    expect(cu8).not.toContain('p.vData');
  });

  it('archs with clusters fuse the K/V quantization, falling back to the split kernels; others only have the split kernels', () => {
    const { plan, cu } = render(parseSpec(defaultSpecInput({ arch: 'sm_90a', headDim: 128, mma: 'wgmma' })));
    const k = plan.quant.kvCluster!;
    const constants: [string, number][] = [
      ['kKvThreads', k.threads],
      ['kKvMaxStagedTiles', k.maxStagedTiles],
      ['kKvTileBytes', k.tileBytes],
      ['kKvMaxClusterBlocks', k.maxClusterBlocks],
      ['kPortableClusterBlocks', k.portableClusterBlocks],
      ['kKvMaxDynamicBytes', k.maxDynamicBytes],
    ];
    for (const [name, value] of constants) expectConstant(cu, 'int', name, value);
    expect(cu).toContain('#include <cooperative_groups.h>');
    expect(cu).toContain('__global__ void __launch_bounds__(kKvThreads) kvClusterQuantKernel(const Params p, const int tilesPerBlock)');
    expect(cu).toContain('cudaLaunchAttributeClusterDimension');
    // clusters of 8 first; past 8 only where 8 blocks cannot stage a head, with the non-portable opt-in
    expect(cu).toContain('int64_t tilesPerBlock = ceilDiv(p.ext.kTiles, kPortableClusterBlocks);');
    expect(cu).toContain('if (tilesPerBlock > kKvMaxStagedTiles) tilesPerBlock = ceilDiv(p.ext.kTiles, kKvMaxClusterBlocks);');
    expect(cu).toContain('cudaFuncAttributeNonPortableClusterSizeAllowed');
    // a cluster launch the device refuses falls back to the split kernels rather than failing the call
    expect(cu).toMatch(/bool fused = kvClusterShapeOf\(p, shape\);\s+fused = fused && launchKvClusterQuant\(p, shape, stream\) == cudaSuccess;/);
    // a refused cluster launch is cleared (not sticky); only variants with the overlap have a token to drop
    expect(cu).toMatch(/if \(!fused\) \{\s+\(void\)cudaGetLastError\(\);\s+\}/);
    // the fused kernel, then the queries (their LSE correction reads mean(K)); the split kernels otherwise
    const fused = cu.indexOf('if (fused) {');
    const split = cu.indexOf('kvStatsKernel<<<');
    expect(fused).toBeGreaterThan(0);
    expect(cu.indexOf('quantizeInt8Kernel<Operand::Query', fused)).toBeLessThan(split);
    expect(split).toBeGreaterThan(fused);
    // The cluster barrier is split: a block arrives (relaxed: it publishes nothing) once it has used
    // every partial it read, and waits (acquire) only before it exits, so no block frees its shared
    // memory while another may still read its partial.
    const kernel = cu.slice(cu.indexOf('kvClusterQuantKernel(const Params p, const int tilesPerBlock) {'));
    const body = kernel.slice(0, kernel.indexOf('\n}\n'));
    expect(cu).toContain('asm volatile("barrier.cluster.arrive.relaxed.aligned;\\n" ::: "memory")');
    expect(cu).toContain('asm volatile("barrier.cluster.wait.acquire.aligned;\\n" ::: "memory")');
    expect(cu).not.toContain('barrier.cluster.arrive.release');
    const reads = body.indexOf('cluster.map_shared_rank(&sPartial[d], b)');
    const used = body.indexOf('sStat[d] = scale;');
    const arrive = body.indexOf('clusterArriveRelaxed();');
    const wait = body.indexOf('clusterWait();');
    const sync = body.indexOf('cluster.sync();');
    expect(sync).toBeGreaterThan(0);
    expect(reads).toBeGreaterThan(sync);
    expect(used).toBeGreaterThan(reads);
    expect(arrive).toBeGreaterThan(used);
    expect(wait).toBeGreaterThan(arrive);
    expect(body.slice(wait).trim()).toBe('clusterWait();  // every block has read this one\'s partial');
    const { cu: ada } = render(parseSpec(defaultSpecInput({ arch: 'sm_89', headDim: 128 })));
    expect(ada).not.toContain('kvClusterQuantKernel');
    expect(ada).not.toContain('cooperative_groups');
    expect(ada).toContain('kvStatsKernel<<<');
  });

  it('tiling.overlapKvQuant: in a whole call the K/V blocks publish ready words, and the attention blocks, launched beside them, wait for their own head', () => {
    // the D=64 default has it on (one consumer warpgroup, two blocks per SM)
    const input = defaultSpecInput({ arch: 'sm_90a', headDim: 64, causal: true, mma: 'wgmma' });
    expect(input.tiling.overlapKvQuant).toBe(true);
    const { cu } = render(parseSpec(input));
    expectConstant(cu, 'int', 'kKvReadyWordsPerHead', 16);
    // the K/V kernel lets its dependent launch as soon as it starts, and publishes after its stores,
    // before the cluster wait that only keeps its shared memory alive
    const kernel = cu.slice(cu.indexOf('kvClusterQuantKernel(const Params p, const int tilesPerBlock) {'));
    const body = kernel.slice(0, kernel.indexOf('\n}\n'));
    expect(body.indexOf('griddepcontrol.launch_dependents')).toBeLessThan(body.indexOf('cpAsync16('));
    const publish = body.indexOf('if (p.kvReadyToken != 0) publishKvReady(p, batch);');
    expect(publish).toBeGreaterThan(body.indexOf('transposeVBlock<kKvThreads>'));
    expect(publish).toBeGreaterThan(body.indexOf('quantizeStagedKeys(p, sStaged'));
    expect(publish).toBeLessThan(body.indexOf('clusterWait();'));
    // release after a block barrier; the reader acquires, then fences the async proxy
    expect(cu).toContain('st.release.gpu.global.u64');
    expect(cu).toContain('ld.acquire.gpu.global.u64');
    const wait = cu.indexOf('if (p.kvReadyToken != 0 && threadIdx.x < 32) waitKvReady(p, batch, kvHead, threadIdx.x);');
    const attention = cu.indexOf('attentionKernel(const __grid_constant__ TensorMaps maps, const Params p) {');
    expect(wait).toBeGreaterThan(attention);
    // ... before the block barrier that comes before every load of the workspace and every TMA load
    const barrier = cu.indexOf('__syncthreads();', wait);
    expect(barrier).toBeGreaterThan(wait);
    expect(barrier).toBeLessThan(cu.indexOf('loadTile(j);', attention));
    expect(barrier).toBeLessThan(cu.indexOf('quantizeQueryRows(p, smem', attention));
    // a fresh token only for a whole call on the fused kernel; none when the split kernels run
    // ... and not while the stream is captured into a graph, whose replays would repeat the token
    expect(cu).toMatch(/if \(fused && !queryKernel && !streamCapturing\(stream\)\) \{\s+p\.kvReadyToken = sagegen::nextReadyToken\(\);/);
    expect(cu).toContain('return status != cudaStreamCaptureStatusNone;');
    expect(cu).toContain('fused = fused && launchKvClusterQuant(p, shape, stream) == cudaSuccess;');
    expect(cu).toMatch(/if \(!fused\) \{\s+\(void\)cudaGetLastError\(\);\s+p\.kvReadyToken = 0;/);
    expect(cu).toContain('if (p.kvReadyToken != 0) return launchBesideKvQuant(maps, p, stream);');
    expect(cu).toContain('dependent[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;');
  });

  it('causal kernels remap the launch order heaviest-first; the rest take blockIdx as is', () => {
    const causal = render(parseSpec({ ...defaultSpecInput({ arch: 'sm_90a', headDim: 128 }), causal: true })).cu;
    const full = render(parseSpec(defaultSpecInput({ arch: 'sm_90a', headDim: 128 }))).cu;
    expectConstant(causal, 'bool', 'kHeaviestFirst', true);
    expectConstant(full, 'bool', 'kHeaviestFirst', false);
    expectConstant(causal, 'int', 'kWavesPerHeadGroup', 2);
    for (const cu of [causal, full]) {
      // The host sizes the head groups from the occupancy before the launch; the kernel maps through blockWork.
      expect(cu).toContain('err = headGroupsOf(p);');
      expect(cu).toContain('cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocksPerSm, attentionKernel, kThreads, kSmemBytes)');
      expect(cu).toContain('const BlockWork work = blockWork(p);');
    }
  });

  it('the query quantization blocks cover the plan\'s qQuantRows rows', () => {
    const { cu } = render(parseSpec(defaultSpecInput({ arch: 'sm_90a', headDim: 128 })));
    expectConstant(cu, 'int', 'kQQuantRows', 32);
    expect(cu).toContain('quantizeInt8Kernel<Operand::Query, kQQuantRows, kQQuantGroups><<<dim3(static_cast<unsigned>(p.ext.qoPad / kQQuantRows), Hq, B)');
  });

  it('a wgmma variant renders the warpgroup kernel (TMA, mbarriers, setmaxnreg, both wgmma forms) and not the mma.sync one', () => {
    const { cu } = render(parseSpec({
      arch: 'sm_90a', mma: 'wgmma', headDim: 128, causal: true, dtype: 'fp16', layout: 'HND',
      tiling: { ctaQ: 128, ctaK: 128, warpQ: 16, warps: 8, stages: 3, minBlocksPerSm: 1, overlapQk: true },
      qk: { type: 'int8', granularity: 'per-warp', smoothK: true },
      pv: { instruction: 'wgmma.e4m3', pRange: 448, vRange: 448 },
    }));
    expect(cu).toContain('"wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 "\n      "{%0,%1,');
    expect(cu).toContain('"wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3 "\n      "{%0,%1,');
    expect(cu).toContain('cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes');
    expect(cu).toContain('setmaxnreg.inc.sync.aligned.u32');
    expect(cu).toContain('CU_TENSOR_MAP_SWIZZLE_128B');
    expect(cu).toContain('attentionKernel<<<dim3(static_cast<unsigned>(p.ext.qTiles), Hq, B), kThreads, kSmemBytes, stream>>>(maps, p);');
    expectConstant(cu, 'int', 'kConsumers', 2);
    expect(cu).not.toContain('mma.sync.aligned');
    expect(cu).not.toMatch(/void mmaS8\(|void mmaPv\(/);
    // mma.sync variants render neither TMA nor wgmma.
    const sync = render(parseSpec(defaultSpecInput({ arch: 'sm_90a', headDim: 128 }))).cu;
    expect(sync).not.toContain('wgmma');
    expect(sync).not.toContain('cp.async.bulk.tensor');
    // The descriptor carries the dispatch rank after `causal`: wgmma 1 wins over mma.sync 0 at sm_90.
    expect(cu).toMatch(/_descriptor = \{\n    "sage_sm90a_[^"]+", 90, true, 128, 0, true,\n    1, &/);
    expect(sync).toMatch(/_descriptor = \{\n    "sage_sm90a_[^"]+", 90, true, 128, 0, false,\n    0, &/);
  });

  it('pv.rowMax "vimnmx3": VIMNMX3 over the raw biased accumulators on unmasked tiles, the float max on masked ones; "fmnmx" keeps the float max everywhere', () => {
    const input = (foldDequant: boolean, rowMax?: string) => ({
      arch: 'sm_90a', mma: 'wgmma', headDim: 64, causal: true, dtype: 'fp16', layout: 'HND',
      tiling: { ctaQ: 64, ctaK: 128, warpQ: 16, warps: 4, stages: 2, minBlocksPerSm: 3, overlapQk: false, producer: false },
      qk: { type: 'int8', granularity: 'per-warp', smoothK: true, foldDequant },
      pv: { instruction: 'wgmma.e4m3', pRange: 448, vRange: 448, ...(rowMax === undefined ? {} : { rowMax }) },
    });
    const floatMax = 'for (int i = 0; i < kQkAccumulators; ++i) tileMax[(i / 2) % 2] = fmaxf(tileMax[(i / 2) % 2], sc[i]);';
    for (const foldDequant of [true, false]) {
      const cu = render(parseSpec(input(foldDequant, 'vimnmx3'))).cu;
      // rows h: registers 4n + 2h and 4n + 2h + 1 of every group n, the first group by max()
      expect(cu).toContain('int32_t biasedMax = max(cur[2 * h], cur[2 * h + 1]);');
      expect(cu).toContain('for (int n = 1; n < kQkAccumulators / 4; ++n) biasedMax = __vimax3_s32(biasedMax, cur[4 * n + 2 * h], cur[4 * n + 2 * h + 1]);');
      // the float max only in the masked branch, which sees the -inf of masked keys
      const body = cu.slice(cu.indexOf('float tileMax[2] = {kNegInf, kNegInf};'));
      expect(body.startsWith(`float tileMax[2] = {kNegInf, kNegInf};\n    if constexpr (decltype(mask)::value) {\n#pragma unroll\n      ${floatMax}\n    } else {`)).toBe(true);
      // with the dequantization folded into the exp2 the max stays on biased scores; else it is dequantized like sc[]
      expect(cu).toContain(foldDequant ? 'tileMax[h] = biasedScore(biasedMax);' : 'tileMax[h] = fmaf(biasedScore(biasedMax), dequant, -biasTimesDequant);');
      expect(cu).toContain(foldDequant ? 'sc[i] = biasedScore(cur[i]);' : 'sc[i] = fmaf(biasedScore(cur[i]), dequant, -biasTimesDequant);');
      for (const plain of [render(parseSpec(input(foldDequant))).cu, render(parseSpec(input(foldDequant, 'fmnmx'))).cu]) {
        expect(plain).not.toContain('__vimax3_s32');
        expect(plain).toContain(`float tileMax[2] = {kNegInf, kNegInf};\n#pragma unroll\n    ${floatMax}`);
      }
    }
  });

  it('pv.polyExp2Every: every n-th exponential of a tile by the quadratic, whose printed coefficients give 2^x within 2e-3 over P\'s range', () => {
    const input = (polyExp2Every?: number) => ({
      arch: 'sm_90a', mma: 'wgmma', headDim: 64, causal: false, dtype: 'fp16', layout: 'HND',
      tiling: { ctaQ: 64, ctaK: 128, warpQ: 16, warps: 4, stages: 2, minBlocksPerSm: 3, overlapQk: false, producer: false },
      qk: { type: 'int8', granularity: 'per-warp', smoothK: true },
      pv: { instruction: 'wgmma.e4m3', pRange: 448, vRange: 448, ...(polyExp2Every === undefined ? {} : { polyExp2Every }) },
    });
    const { cu } = render(parseSpec(input(8)));
    expectConstant(cu, 'int', 'kPolyExp2Every', 8);
    expect(cu).toContain('if (i % kPolyExp2Every == kPolyExp2Every - 1) return polyExp2(x);');
    // the tile's exponential loop (the one the row-sum setting prints) goes through the choice
    expect(cu.match(/sc\[i\] = tileExp2\(i, /g)?.length).toBe(1);
    expect(cu).not.toMatch(/sc\[i\] = fastExp2\(/);
    for (const off of [undefined, 0]) {
      const plain = render(parseSpec(input(off))).cu;
      expectConstant(plain, 'int', 'kPolyExp2Every', 0);
      expect(plain).not.toContain('polyExp2(');
    }
    // The polynomial as printed, evaluated in binary32 (Math.fround) as the GPU does, against 2^x:
    // x from the clamp (-126) to above log2(448), where P's e4m3 rounding (2^-4) is what limits it.
    const body = cu.slice(cu.indexOf('__device__ __forceinline__ float polyExp2(float x)'));
    const [c2, c1, c0] = /fmaf\(fmaf\(([\d.]+)f, f, ([\d.]+)f\), f, ([\d.]+)f\)/.exec(body)!.slice(1).map(Number) as [number, number, number];
    const bias = Number(/kRoundingBias = ([\d.]+)f/.exec(body)![1]);
    expect(body).toMatch(/x = fmaxf\(x, -126\.f\)/);
    const f32 = Math.fround;
    const buf = new DataView(new ArrayBuffer(4));
    const bits = (v: number) => (buf.setFloat32(0, v), buf.getInt32(0));
    const float = (b: number) => (buf.setInt32(0, b | 0), buf.getFloat32(0));
    const polyExp2 = (x0: number) => {
      const x = Math.max(f32(x0), -126);
      const t = f32(x + bias);
      const f = f32(x - f32(t - bias));
      const p = f32(f32(f32(c2 * f) + c1) * f + c0);  // fmaf rounds once: the product of two binary32 fits a double
      return float(bits(p) + (bits(t) << 23));
    };
    let worst = 0;
    for (let x = -125; x <= 9; x += 1 / 512) worst = Math.max(worst, Math.abs(polyExp2(x) / 2 ** f32(x) - 1));
    expect(worst).toBeGreaterThan(0);
    expect(worst).toBeLessThan(2e-3);
    expect(polyExp2(-Infinity)).toBeLessThan(2 ** -125);  // a masked score: 2^-126·p(0), far below e4m3's least subnormal (2^-9), so P rounds to 0
  });

  it('pv.polyExp2Form "f16x2": every n-th pair of a row\'s columns by the packed-half quadratic, whose printed constants give 2^x within 1% over P\'s range', () => {
    const input = (pv: object) => ({
      arch: 'sm_90a', mma: 'wgmma', headDim: 64, causal: false, dtype: 'fp16', layout: 'HND',
      tiling: { ctaQ: 64, ctaK: 128, warpQ: 16, warps: 4, stages: 2, minBlocksPerSm: 3, overlapQk: false, producer: false },
      qk: { type: 'int8', granularity: 'per-warp', smoothK: true },
      pv: { instruction: 'wgmma.e4m3', pRange: 448, vRange: 448, rowSums: 'tensor', ...pv },
    });
    const { cu } = render(parseSpec(input({ polyExp2Every: 4, polyExp2Form: 'f16x2' })));
    expectConstant(cu, 'int', 'kPolyExp2Every', 4);
    expect(cu).toContain('pPair[q] = q % kPolyExp2Every == kPolyExp2Every - 1 ? polyExp2PairE4m3(x0, x1) : packE4m3x2(fastExp2(x0), fastExp2(x1));');
    // P's fragments come from the pairs, in packE4m3x4's order (registers 4n, 4n+1 | 4n+4, 4n+5 …)
    expect(cu).toContain('pFrag[kk][0] = pPair[2 * n] | (static_cast<uint32_t>(pPair[2 * (n + 1)]) << 16);');
    expect(cu).toContain('const float x0 = exponent(2 * q), x1 = exponent(2 * q + 1);');
    expect(cu).not.toContain('tileExp2');  // neither called nor printed: the pairs replace the tile's exponential loop
    for (const other of [render(parseSpec(input({ polyExp2Every: 4 }))).cu, render(parseSpec(input({}))).cu]) {
      expect(other).not.toContain('polyExp2PairE4m3');
      expect(other).toContain('pFrag[kk][0] = packE4m3x4(');
    }
    // The pair as printed, each step rounded to binary16 as HADD2/HFMA2 do, the exponents added with
    // 32-bit integer arithmetic: against 2^x, and both halves independent of each other.
    const body = cu.slice(cu.indexOf('__device__ __forceinline__ uint16_t polyExp2PairE4m3('));
    const hex = (name: string) => {  // e.g. `kExponentBias = 0x65E065E0u + 64;`
      const [, word, plus] = new RegExp(`${name} = (0x[0-9A-F]+)u(?: \\+ (\\d+))?;`).exec(body)!;
      return Number(word) + Number(plus ?? 0);
    };
    const [rounding, lowest, exponentBias] = ['kRoundingBias', 'kLowestExponent', 'kExponentBias'].map(hex) as [number, number, number];
    const [c2, c1, c0] = /__hfma2\(__hfma2\(__float2half2_rn\((-[\d.]+)f\), f, __float2half2_rn\((-[\d.]+)f\)\), f, __float2half2_rn\((-[\d.]+)f\)\)/.exec(body)!.slice(1).map(Number) as [number, number, number];
    const f16 = (v: number) => {  // round to binary16, nearest even (no overflow in this range)
      if (v === 0 || !Number.isFinite(v)) return v;
      const e = Math.max(Math.floor(Math.log2(Math.abs(v))), -14);
      const ulp = 2 ** (e - 10), q = Math.abs(v) / ulp, r = Math.floor(q), rounded = q - r > 0.5 || (q - r === 0.5 && r % 2 === 1) ? r + 1 : r;
      return Math.sign(v) * rounded * ulp;
    };
    const bitsOf = (v: number) => {  // binary16 bits of a binary16 value
      if (v === 0) return 0;
      const sign = v < 0 ? 0x8000 : 0, a = Math.abs(v), e = Math.max(Math.floor(Math.log2(a)), -14);
      return sign | (a < 2 ** -14 ? a / 2 ** -24 : ((e + 15) << 10) | (a / 2 ** e - 1) * 1024);
    };
    const valueOf = (b: number) => {
      const e = (b >> 10) & 31, m = b & 1023, v = e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15);
      return b & 0x8000 ? -v : v;
    };
    const half = (bits32: number, hi: boolean) => valueOf(hi ? bits32 >>> 16 : bits32 & 0xffff);
    const pair = (x0: number, x1: number) => {
      const x = [x0, x1].map((v, i) => Math.max(f16(v), half(lowest, i === 1)));
      const t = x.map((v, i) => f16(v + half(rounding, i === 1)));
      const f = x.map((v, i) => f16(v - f16(t[i]! - half(rounding, i === 1))));
      const p = f.map((v) => f16(f16(c2 * v + c1) * v + c0));
      const tBits = (bitsOf(t[1]!) << 16) | bitsOf(t[0]!), pBits = (bitsOf(p[1]!) << 16) | bitsOf(p[0]!);
      const packed = (Math.imul((tBits - exponentBias) | 0, 1024) + pBits) >>> 0;
      // each half on its own: −p · 2^n with n = t − 1.5·2^10, exact in binary16 while normal
      const alone = p.map((v, i) => -v * 2 ** (t[i]! - half(rounding, i === 1)));
      return [half(packed, false), half(packed, true), ...alone] as [number, number, number, number];
    };
    let worst = 0;
    for (let x = -10; x <= 9; x += 1 / 64) {
      for (const y of [x, -3.3, 8.7, -13.9]) {
        const [a, b, a1, b1] = pair(x, y);
        // the packed multiply-add moves no bit between the halves (no borrow, no carry)
        expect([a, y > -13 ? b : b1]).toEqual([a1, b1]);
        worst = Math.max(worst, Math.abs(a / 2 ** x - 1), Math.abs(b / 2 ** y - 1));
      }
    }
    expect(worst).toBeGreaterThan(0);
    expect(worst).toBeLessThan(0.01);
    // below 2^-10, under half e4m3's least subnormal (2^-9), P rounds to 0: a masked key's -inf too
    for (const x of [-Infinity, -1e30, -14, -12]) expect(Math.max(...pair(x, x).slice(0, 2))).toBeLessThan(2 ** -10);
  });

  it('serial wgmma consumers skip the tiles after their own, counting each stage done once it landed; overlapped ones do not', () => {
    const spec = (overlapQk: boolean, consumers: number) => parseSpec({
      arch: 'sm_90a', mma: 'wgmma', headDim: 128, causal: true, dtype: 'fp16', layout: 'HND',
      tiling: { ctaQ: 64 * consumers, ctaK: 128, warpQ: 16, warps: 4 * consumers, stages: 3, minBlocksPerSm: 1, overlapQk, producer: false },
      qk: { type: 'int8', granularity: 'per-warp', smoothK: true },
      pv: { instruction: 'wgmma.e4m3', pRange: 448, vRange: 448 },
    });
    const serial = render(spec(false, 3)).cu;
    expect(serial).toContain('if constexpr (kCausal && kConsumers > 1) {');
    expect(serial).toContain('tiles(unmasked, consumerTiles, std::true_type{});');
    expect(serial).toMatch(/for \(int j = consumerTiles; j < kTiles; \+\+j\) \{\n    barrierWait\(full\(j % kStages\), \(j \/ kStages\) & 1\);\n    releaseStage\(j\);/);
    // The step releases through the same helper, so a skipped tile is counted like a computed one.
    expect(serial.match(/releaseStage\(j\);/g)).toHaveLength(2);
    // With the next Q·Kᵀ issued a tile ahead, a consumer runs every tile of its block: a skipped tile
    // could be released while that early Q·Kᵀ still reads its stage.
    const overlapped = render(spec(true, 2)).cu;
    expect(overlapped).not.toContain('consumerTiles');
    expect(overlapped).toContain('tiles(unmasked, kTiles, std::true_type{});');
  });

  it('sm_80 bf16 renders the bf16 m16n8k16 and bf16 conversions', () => {
    const { cu } = render(parseSpec(defaultSpecInput({ arch: 'sm_80', headDim: 64, dtype: 'bf16' })));
    expect(cu).toContain(PV_BF16);
    expect(cu).not.toContain(PV_F16);
    expect(cu).toContain('using InputT = __nv_bfloat16;');
    expect(cu).toContain('__floats2bfloat162_rn');
  });

  it('causal and non-causal specs differ in kCausal and in the descriptor', () => {
    const full = render(parseSpec(defaultSpecInput({ arch: 'sm_89', headDim: 64, causal: false })));
    const causal = render(parseSpec(defaultSpecInput({ arch: 'sm_89', headDim: 64, causal: true })));
    expectConstant(full.cu, 'bool', 'kCausal', false);
    expectConstant(causal.cu, 'bool', 'kCausal', true);
    expect(causal.plan.name).not.toBe(full.plan.name);
  });

  it('sm_90a descriptor marks the variant arch-specific with compute capability 90', () => {
    const { plan, cu } = render(parseSpec(defaultSpecInput({ arch: 'sm_90a', headDim: 128 })));
    expect(cu).toContain(`"${plan.name}", 90, true, 128, 0, false,`);
  });

  it('per-thread granularity renders its scale-group mapping, per-warp its own', () => {
    const perThread = render(attention({ arch: 'sm_89', headDim: 128 }).qk({ granularity: 'per-thread' }).build()).cu;
    const perWarp = render(attention({ arch: 'sm_89', headDim: 128 }).qk({ granularity: 'per-warp' }).build()).cu;
    expect(perThread).toContain('(row / kWarpQ) * 8 + row % 8');
    expect(perWarp).not.toContain('(row / kWarpQ) * 8 + row % 8');
    expect(perWarp).toContain('row / kWarpQ : 0');
  });
});

describe('registry', () => {
  it('declares and lists every variant, and counts them', () => {
    const names = ['sage_a', 'sage_b', 'sage_c'];
    const cpp = renderRegistry(names);
    for (const n of names) {
      expect(cpp).toContain(`extern const VariantDescriptor ${n}_descriptor;`);
      expect(cpp).toContain(`&${n}_descriptor,`);
    }
    expect(cpp).toContain(`const int kVariantCount = ${names.length};`);
    expect(cpp).not.toContain('{{');
  });
});

// The Q·Kᵀ accumulators start at the bits of 1.5·2^23 (NOTES item 21); the kernel then relies on two
// float facts, checked here with the same float32 operations (Math.fround) on many drawn scales.
describe('biased Q·Kᵀ accumulator arithmetic', () => {
  const f32 = new Float32Array(1);
  const i32 = new Int32Array(f32.buffer);
  const bitsToFloat = (b: number) => ((i32[0] = b), f32[0]!);
  const floatToBits = (x: number) => ((f32[0] = x), i32[0]!);
  const scoreDequant = (dq: number) => bitsToFloat(floatToBits(dq) & ~3);
  const bias = 12582912; // 1.5·2^23, the float whose bits are 0x4B400000

  it('the rendered kernel presets the accumulators and removes the bias in one FFMA', () => {
    const { cu } = render(parseSpec(defaultSpecInput({ arch: 'sm_90a', headDim: 128, causal: true })));
    expect(cu).toContain('constexpr int32_t kScoreBiasBits = 0x4B400000;');
    expect(cu).toMatch(/sInt\[m\]\[n\]\[3\] = kScoreBiasBits;/);
    expect(cu).toContain('fmaf(biasedScore(sInt[m][n][i]), dequant, -biasTimesDequant)');
    expect(bitsToFloat(0x4b400000)).toBe(bias);
  });

  it('int32 sums of 0x4B400000 and |score| < 2^22 are the float bias + score, and order like the scores', () => {
    let seed = 12345;
    const next = () => ((seed = (seed * 1103515245 + 12345) >>> 0), seed);
    let previous = -Infinity;
    for (const s of [-(2 ** 22) + 1, -2_064_512, -1, 0, 1, 2_064_512, 2 ** 22 - 1].concat(Array.from({ length: 1000 }, () => (next() % 2 ** 22) - 2 ** 21)).sort((a, b) => a - b)) {
      const biased = bitsToFloat(0x4b400000 + s);
      expect(biased - bias).toBe(s);
      expect(biased).toBeGreaterThanOrEqual(previous);
      previous = biased;
    }
  });

  it('with the two low mantissa bits cleared, 1.5·2^23·dq is exact and fma(biased, dq, −that) is the rounded score·dq', () => {
    let seed = 99;
    const next = () => ((seed = (seed * 1664525 + 1013904223) >>> 0), seed / 2 ** 32);
    for (let k = 0; k < 5000; ++k) {
      const dq = scoreDequant(Math.fround(Math.exp((next() - 0.5) * 40)));
      expect(Math.abs(dq - Math.fround(dq))).toBe(0);
      const c = Math.fround(bias * dq);
      expect(c).toBe(bias * dq); // exact: 24-bit mantissa with 2 low zeros times 3·2^22
      const s = Math.round((next() - 0.5) * 2 ** 22);
      const biased = bitsToFloat(0x4b400000 + s);
      // FFMA rounds once: biased·dq − c is exact in float64 (48-bit product, same exponent range)
      expect(Math.fround(biased * dq - c)).toBe(Math.fround(s * dq));
    }
  });
});
