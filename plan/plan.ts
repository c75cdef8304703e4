/**
 * spec → plan: every number the generated CUDA needs, derived once, as plain data.
 *
 * Templates print these values and never compute them. The plan also carries the resource checks
 * that need derived numbers (shared memory against the arch limit, a register estimate) and reports
 * them as SpecIssues so users see one kind of error for everything they got wrong.
 */
import {
  CAPABILITIES,
  INSTRUCTIONS,
  PORTABLE_CLUSTER_BLOCKS,
  SHARED_MEMORY_RESERVED_PER_BLOCK,
  type ArchCapability,
  type InstructionName,
} from '../dsl/capabilities.js';
import { instructionsOf, SpecError, variantName, wgmmaRowSums, type AttentionSpec, type PolyExp2Form, type RowMax, type SpecIssue } from '../dsl/spec.js';

/** A shared-memory tile stored as rows of 16-byte chunks with an XOR swizzle so ldmatrix is conflict-free. */
export interface SmemTile {
  rows: number;
  rowBytes: number;
  chunksPerRow: number;
  /** Rows that share one 128-byte line (rowBytes < 128); the swizzle phase advances once per line. */
  rowsPerLine: number;
  /** The chunk index is XORed with (row / rowsPerLine) % swizzleMod. */
  swizzleMod: number;
  bytes: number;
  /** Byte offset of stage 0 in dynamic shared memory; stage s is at offset + s * bytes. */
  offset: number;
  stages: number;
  /** 16-byte cp.async copies per stage, and per thread (rounded up; the loop guards the tail). */
  copies: number;
  copiesPerThread: number;
}

/**
 * The fused K/V quantization on clusters: a cluster per head of K or V, each block staging a run of
 * key tiles in shared memory. The runtime spreads a head's tiles over at most maxClusterBlocks
 * blocks and takes this path while each block's run fits maxStagedTiles (the split kernels beyond).
 * Clusters above the portable 8 blocks (Hopper's 16) need an opt-in at launch.
 */
export interface KvClusterPlan {
  threads: number;
  /** Rows the block's threads cover in one pass, one 16-byte chunk each. */
  rowsPerPass: number;
  maxClusterBlocks: number;
  /** Clusters above this many blocks need the non-portable opt-in at launch (0 = the arch has none). */
  portableClusterBlocks: number;
  /** One key tile of 16-bit K or V rows (ctaK × D × 2). */
  tileBytes: number;
  /** Key tiles one block stages (at most 64 KiB, and with staticBytes within the arch's per-block limit). */
  maxStagedTiles: number;
  /** The dynamic shared memory a launch may ask for: maxStagedTiles × tileBytes. */
  maxDynamicBytes: number;
  /** Per-warp partial statistics, the block's partial, the head's statistic, two words per staged scale group. */
  staticBytes: number;
}

export interface KvReadyPlan {
  /** Ready words of one head of K, and as many of V: one per block of its cluster (the arch's largest cluster). */
  wordsPerHead: number;
}

export interface RegisterEstimate {
  outputAccumulator: number;
  scoreAccumulator: number;
  queryFragments: number;
  overhead: number;
  total: number;
}

export interface KernelPlan {
  name: string;
  spec: AttentionSpec;
  arch: {
    name: AttentionSpec['arch'];
    computeCapability: number;
    gencodeArch: string;
    gencodeCode: string;
    archSpecific: boolean;
    /** Whether the FP8 P·V mma is native here or emulated (Hopper). */
    pvNative: boolean;
  };
  instructions: { name: InstructionName; ptx: string }[];
  /** PTX mnemonics the templates print for the two mma steps (and the row sums' own wgmma, pv.rowSums "tensor-shared"). */
  ptx: { qk: string; pv: string; rowSums: string | null };
  headDim: number;
  dtype: { name: 'fp16' | 'bf16'; cudaType: '__half' | '__nv_bfloat16'; pair: '__half2' | '__nv_bfloat162' };
  causal: boolean;
  threads: number;
  warps: number;
  ctaQ: number;
  ctaK: number;
  warpQ: number;
  stages: number;
  /** mma tiles of one warp. */
  mTiles: number;
  qkNTiles: number;
  qkKSteps: number;
  pvNTiles: number;
  pvKSteps: number;
  /** Keys of one P·V mma (32 for FP8, 16 for 16-bit). */
  pvMmaK: number;
  qFragmentsInRegisters: boolean;
  quant: {
    granularity: AttentionSpec['qk']['granularity'];
    smoothK: boolean;
    /** Scales per query tile of ctaQ rows, and per key tile of ctaK rows. */
    qGroupsPerTile: number;
    kGroupsPerTile: number;
    /**
     * Query rows one quantization block covers, and the scale groups among them: a warp's rows
     * (warpQ) unless one scale spans the whole query tile (per-block). Small blocks keep more of them
     * resident, and the ctaQ-row blocks read Q at 2.2 TB/s where the ctaK-row key blocks reach 3.0.
     * The scales land in the same places either way.
     */
    qQuantRows: number;
    qQuantGroups: number;
    threads: number;
    /** 8-element (16-byte) chunks per row of a 16-bit input tensor. */
    inputChunksPerRow: number;
    /** Rows the 128 quantization threads cover in one pass. */
    rowsPerPass: number;
    /** Rows of K/V one statistics block reduces before writing a partial sum. */
    statsRows: number;
    /** Rows each statistics thread has in flight at once (16-byte loads). */
    statsLoads: number;
    /** FP8 Vᵀ: keys of one shared-memory block of the transpose (a divisor of ctaK). */
    vBlockKeys: number;
    /**
     * Archs with thread-block clusters and FP8 P·V: the K/V statistics and quantization fused into
     * one kernel that reads K and V once (kvClusterQuantKernel); null keeps the split kernels.
     */
    kvCluster: KvClusterPlan | null;
    /** Whole calls quantize the queries in the attention kernel's prologue (wgmma.queryQuant): the query kernel runs only for the quantization phase alone. */
    queryInAttention: boolean;
    /**
     * Whole calls where the K/V cluster kernel is the only kernel before the attention kernel (the
     * queries are quantized in the attention kernel): the attention kernel is launched as its
     * programmatic dependent, and each attention block waits for the ready words of its own K/V head
     * instead of the end of the whole K/V grid, so the first heads' attention overlaps the last heads'
     * quantization (spec tiling.overlapKvQuant). null: the attention kernel starts after the
     * quantization kernels end.
     */
    kvReady: KvReadyPlan | null;
  };
  pv: {
    fp8: boolean;
    f16Accumulator: boolean;
    flushKeys: number;
    /** P·V mma steps between flushes into fp32. */
    flushSteps: number;
    flushesPerTile: number;
    pRange: number;
    log2PRange: number;
    /**
     * 16-bit P·V only: how far (log2) a row maximum may grow before O is rescaled; P stays ≤ 2^this.
     * 8 keeps P ≤ 256, far inside fp16/bf16 range and exact to their precision.
     */
    rescaleSlack: number;
    /** qk.foldDequant: max on raw scores, dequantization folded into the exp2 FFMA (16-bit P·V, one K scale per row). */
    dequantInExp2: boolean;
    vRange: number;
  };
  smem: {
    q: SmemTile;
    k: SmemTile;
    v: SmemTile;
    totalBytes: number;
    /** Dynamic shared memory above 48 KiB needs cudaFuncSetAttribute before launch. */
    needsOptIn: boolean;
  };
  registers: RegisterEstimate;
  /** __launch_bounds__ minimum blocks per SM, and the register ceiling per thread it implies. */
  minBlocksPerSm: number;
  registerBudget: number;
  /** The next tile's Q·Kᵀ is issued before this tile's softmax (software pipelining). */
  overlapQk: boolean;
  /** cp.async groups: key tiles loaded ahead of the one being computed, and groups left pending by the waits. */
  pipeline: { prefetchTiles: number; prologueWaitPending: number; loopWaitPending: number };
  /**
   * Which block computes which query tile. Causal tiles differ in work (query tile i sees i + 1 key
   * tiles of its own size), and blocks start in launch order, so causal kernels start the heavy
   * tiles first, inside groups of heads sized to about `wavesPerHeadGroup` waves of blocks (the
   * run time counts the wave from the SM count and the occupancy): the blocks of a group share
   * their heads' K/V in L2, and the grid ends on short tiles instead of on one head's longest one.
   */
  schedule: { heaviestFirst: boolean; wavesPerHeadGroup: number };
  /** mma "wgmma" only (null otherwise): the warpgroup kernel's roles, register split and barriers. */
  wgmma: WgmmaPlan | null;
  /**
   * Among built variants of one problem and one capability, the dispatcher runs the highest rank:
   * wgmma (1) before mma.sync (0), measured 1.4–1.5× faster on the H100 at D=128 (results/wgmma/README.md).
   * A newer capability still wins first; a tuned build's kv_len buckets narrow the candidates before.
   */
  dispatchRank: number;
}

/**
 * The wgmma kernel (sm_90a): TMA loads of K and Vᵀ tiles into a ring of `stages` shared-memory stages
 * (full/empty mbarriers), issued by a producer warpgroup or, without one, by the first consumer
 * thread; `consumers` warpgroups of 64 query rows each run Q·Kᵀ (m64n{ctaK}k32 INT8, both operands
 * in shared memory) and P·V (m64n{D}k32 e4m3, P from registers), with the next tile's Q·Kᵀ in flight
 * during this tile's softmax (overlapQk) or each tile's waited for in its step. Every operand tile is
 * K-major, its rows one swizzle span as TMA writes it (results/wgmma/README.md).
 */
export interface WgmmaPlan {
  consumers: number;
  /**
   * 1: a producer warpgroup issues every TMA load and the registers are split by setmaxnreg; 0: the
   * consumer's first thread issues them (Q and the first stages up front, each stage again once its
   * P·V is done), and the launch bounds give the block its whole share of the register file.
   */
  producerWarpgroups: 0 | 1;
  /** setmaxnreg of the producer and of the consumer warpgroups (their sum over 384 threads ≤ 64K); with no producer, the launch bounds' cap. */
  producerRegisters: number;
  consumerRegisters: number;
  /** Accumulator registers per thread of Q·Kᵀ and of P·V (64 rows × N columns over 128 threads); the k32 steps are the plan's qkKSteps and pvKSteps. */
  qkAccumulators: number;
  pvAccumulators: number;
  /**
   * Operand numbers of the two wgmma inline-asm statements: the accumulator registers %0.., then
   * the A operand(s), the B descriptor and the accumulate flag.
   */
  qkRegisters: number[];
  qkOperandA: number;
  qkOperandB: number;
  qkOperandScale: number;
  pvRegisters: number[];
  /** Registers of one score buffer: the Q·Kᵀ accumulators, or the P·V partial with its row sums if more. */
  scoreSlots: number;
  pvOperandsA: number[];
  pvOperandB: number;
  pvOperandScale: number;
  /** Bytes TMA brings per stage (K tile + Vᵀ tile), and where the mbarriers sit. */
  stageTxBytes: number;
  barrierOffset: number;
  /**
   * Without a producer: where the per-stage counts of consumers done with a stage sit (4 bytes per
   * stage, after the mbarriers), so the plan's byte count is all the block's shared memory. 0 with a
   * producer, whose empty mbarriers do that job.
   */
  stageCounterOffset: number;
  /**
   * Where the Q·Kᵀ accumulators' starting words sit (qkAccumulators words of the float bias, 16-byte
   * aligned, after the stage counters): each tile's accumulators are loaded from them four at a time
   * (16-byte broadcast loads) rather than set one register per instruction.
   */
  scoreBiasOffset: number;
  /** Columns of ones rows the row sums of P come from (8), 0 when the softmax sums in FADDs. */
  rowSumColumns: number;
  pvSumAccumulators: number;
  /**
   * pv.rowSums "tensor-shared": the one block of ones rows (rowSumColumns rows of ctaK keys) that all
   * stages share, read by the row sums' own wgmma; null when the ones rows follow each stage's Vᵀ
   * rows ("tensor") or there are none ("alu").
   */
  sharedOnes: { offset: number; bytes: number } | null;
  /** Ones rows after each stage's Vᵀ rows (pv.rowSums "tensor": rowSumColumns), else 0. */
  onesRowsPerStage: number;
  /** pv.rowMax: the row maximum of unmasked tiles by FMNMX on the scores, or by VIMNMX3 on the raw biased accumulators. */
  rowMax: RowMax;
  /** pv.polyExp2Every: exponential i of a thread's tile (0-based) is a polynomial on the FMA pipe when i mod n = n − 1; 0: none. */
  polyExp2Every: number;
  /** pv.polyExp2Form: "f16x2" counts pairs of adjacent columns (one packed-half polynomial a pair), "f32" single exponentials. */
  polyExp2Form: PolyExp2Form;
  /** Shared-memory layout of the INT8 Q and K tiles (rows of D bytes) and of the FP8 Vᵀ tiles (rows of ctaK keys). */
  qkOperand: SwizzledOperand;
  vOperand: SwizzledOperand;
  /**
   * How the two consumer warpgroups start: "free" (each at once), or "stagger" (the second issues its
   * first Q·Kᵀ when the first issues its first P·V, through a named barrier), after which each runs at
   * its own pace. Measured on the H100 at D=128 (results/wgmma/experiments/ab-consumer-order.json):
   * stagger +4–6% non-causal and within noise causal (where it spilled 16 bytes); making their P·V
   * issues alternate all along (FlashAttention-3's ping-pong, commit 39dba42) was 5–9% slower.
   */
  consumerOrder: 'free' | 'stagger';
  /** Named barrier between consumers c and c + 1 when staggered: staggerFirstBarrier + c. */
  staggerFirstBarrier: number;
  /** Queries quantized in the prologue of whole calls; null: the query kernel always runs. */
  queryQuant: QueryQuantPlan | null;
}

/**
 * A K-major wgmma operand tile as TMA writes it: rows of `rowBytes` in the swizzle of the same span
 * (the TMA box is rowBytes wide), described to wgmma by the descriptor's swizzle mode and the
 * distance between groups of 8 rows.
 */
export interface SwizzledOperand {
  rowBytes: 64 | 128;
  /** Descriptor bits 62–63: 1 = 128-byte swizzle, 2 = 64-byte. */
  descriptorMode: 1 | 2;
  /** Descriptor stride byte offset: 8 rows. */
  groupStrideBytes: number;
  tmaSwizzle: 'CU_TENSOR_MAP_SWIZZLE_128B' | 'CU_TENSOR_MAP_SWIZZLE_64B';
  /**
   * 16-byte chunks per swizzle span: TMA stores a row's chunk c at c XOR ((row offset >> 7) mod
   * swizzleChunks), which is what a thread writing the tile itself must do too.
   */
  swizzleChunks: 4 | 8;
}

/**
 * Queries quantized in the attention kernel's prologue (whole calls): each consumer warp reads its
 * warpQ rows of 16-bit input, one 16-byte chunk (8 channels) per lane and pass, takes their INT8
 * scale and writes the INT8 rows into the Q tile in the operand's swizzle; the query kernel and
 * the TMA load of its INT8 copy are skipped. A call of the quantization phase alone still runs the
 * query kernel, for a later attention-only call (sagegen_forward_phases).
 */
export interface QueryQuantPlan {
  /** Rows a warp covers per pass: 32 lanes over the input chunks of a row. */
  rowsPerPass: number;
  /** Passes over the warp's warpQ rows (16-byte loads per lane, all in flight at once). */
  passes: number;
  /** Named barrier of consumer warpgroup c: firstBarrier + c (barrier 0 is __syncthreads, 1–2 the consumers' stagger). */
  firstBarrier: number;
}

/** N of a wgmma mnemonic (…m64nNk32…). */
function wgmmaN(ptx: string): number {
  const m = /\.m64n(\d+)k32\./.exec(ptx);
  if (!m) throw new RangeError(`not a wgmma m64nNk32 instruction: ${ptx}`);
  return Number(m[1]);
}

function swizzledOperand(rowBytes: number): SwizzledOperand {
  if (rowBytes !== 64 && rowBytes !== 128) throw new RangeError(`wgmma operand rows of ${rowBytes} bytes: only 64 and 128 are laid out`);
  return rowBytes === 128
    ? { rowBytes, descriptorMode: 1, groupStrideBytes: 8 * rowBytes, tmaSwizzle: 'CU_TENSOR_MAP_SWIZZLE_128B', swizzleChunks: 8 }
    : { rowBytes, descriptorMode: 2, groupStrideBytes: 8 * rowBytes, tmaSwizzle: 'CU_TENSOR_MAP_SWIZZLE_64B', swizzleChunks: 4 };
}

const CHUNK = 16;
const QUANT_THREADS = 128;
const STATS_ROWS = 256;
const STATS_LOADS = 8;
// FP8 Vᵀ: keys per shared-memory block of the transpose (16 KB of 16-bit rows at D=128), at most
// four 16-key groups, so the XOR swizzle 2·group stays inside a row's 8 or 16 chunks.
const V_BLOCK_KEYS = 64;
// The fused K/V quantization block: twice the split kernels' threads, since one block now also
// reduces. A block stages at most 64 KiB of key tiles, so three blocks share an SM: on the H100 the
// fused kernel beat the split ones by 3–14% whole-call with 32–64 KiB per block in clusters of 8
// (D=128 at 1K–2K, D=64 at 1K–4K), by 1–3% in clusters of 16 (D=128 4K, D=64 8K), and lost 1–4%
// with 128 KiB (one block per SM; results/wgmma/quant/).
const KV_CLUSTER_THREADS = 256;
const KV_CLUSTER_STAGING_BYTES = 64 * 1024;
// Addresses, indices, softmax state: a floor, not a prediction (ptxas has the last word, in the manifest).
const REGISTER_OVERHEAD = 16;
const Q_REGISTER_MARGIN = 48;
// 16-bit P·V: O is rescaled only when a row maximum grows by more than 2^8 (P ≤ 256).
const RESCALE_SLACK = 8;
// Causal schedule: one wave per group left a 5% tail at 4K keys in a list-scheduling model, two
// waves ≤ 0.4%, more waves no better and more heads' K/V in L2 at once (results/bench/NOTES.md, item 28).
const WAVES_PER_HEAD_GROUP = 2;
// wgmma: the producer warpgroup keeps 24 registers; the consumers take the rest of a block's share of
// the 64K registers, in setmaxnreg's steps of 8, at most 240 (the measured prototype's split,
// results/wgmma/README.md): 128 × 24 + 256 × 240 ≤ 64K with two consumers; 232 with one consumer and
// two blocks per SM.
const WGMMA_PRODUCER_REGISTERS = 24;
const WGMMA_MAX_CONSUMER_REGISTERS = 240;
const SM_REGISTERS = 65536;
const WARPGROUP = 128;
// Per consumer thread, in steps of 8: with a producer, what setmaxnreg leaves after the producer's
// share (at most WGMMA_MAX_CONSUMER_REGISTERS); without one, the block's whole share of the register
// file, at most the arch's per-thread ceiling (255 at two blocks per SM, 168 at three).
function wgmmaConsumerRegisters(consumers: number, blocksPerSm: number, producer: boolean, maxRegistersPerThread: number): number {
  const share = SM_REGISTERS / blocksPerSm - (producer ? WARPGROUP * WGMMA_PRODUCER_REGISTERS : 0);
  const cap = producer ? WGMMA_MAX_CONSUMER_REGISTERS : maxRegistersPerThread;
  return Math.min(cap, Math.floor(share / (WARPGROUP * consumers) / 8) * 8);
}
// Named barriers of the wgmma kernel (0 is __syncthreads): 1 and 2 stagger the start of consumers 1
// and 2 behind the one before; each of the (at most three) consumer warpgroups' in-kernel query
// quantization has its own from 3 on.
const STAGGER_FIRST_BARRIER = 1;
const QUERY_QUANT_FIRST_BARRIER = 3;
const DISPATCH_RANK_MMA_SYNC = 0;
const DISPATCH_RANK_WGMMA = 1;

/** `bytes` rounded up to a multiple of `alignment`. */
function alignUp(bytes: number, alignment: number): number {
  return Math.ceil(bytes / alignment) * alignment;
}

function smemTile(rows: number, rowBytes: number, stages: number, offset: number, threads: number): SmemTile {
  const chunksPerRow = rowBytes / CHUNK;
  const rowsPerLine = Math.max(1, 128 / rowBytes);
  const bytes = rows * rowBytes;
  const copies = bytes / CHUNK;
  return {
    rows,
    rowBytes,
    chunksPerRow,
    rowsPerLine,
    swizzleMod: Math.min(chunksPerRow, 8),
    bytes,
    offset,
    stages,
    copies,
    copiesPerThread: Math.ceil(copies / threads),
  };
}

function registerEstimate(mTiles: number, qkNTiles: number, pvNTiles: number, qkKSteps: number, qInRegs: boolean, overlapQk: boolean): RegisterEstimate {
  const outputAccumulator = mTiles * pvNTiles * 4;
  const scoreAccumulator = mTiles * qkNTiles * 4 * (overlapQk ? 2 : 1);
  const queryFragments = qInRegs ? mTiles * qkKSteps * 4 : 0;
  return {
    outputAccumulator,
    scoreAccumulator,
    queryFragments,
    overhead: REGISTER_OVERHEAD,
    total: outputAccumulator + scoreAccumulator + queryFragments + REGISTER_OVERHEAD,
  };
}

/** Derives the plan; throws SpecError when the spec exceeds the arch's shared memory or registers. */
export function planKernel(spec: AttentionSpec): KernelPlan {
  const cap = CAPABILITIES[spec.arch];
  const t = spec.tiling;
  const D = spec.headDim;
  const wgmma = spec.mma === 'wgmma';
  // wgmma: the spec's warps are the consumer warps; a producer warpgroup comes on top unless the
  // spec says producer false.
  const producer = wgmma && (t.producer ?? true);
  const consumers = t.warps / 4;  // wgmma: consumer warpgroups of 64 query rows
  const threads = t.warps * 32 + (producer ? WARPGROUP : 0);
  const fp8 = spec.pv.instruction !== 'm16n8k16';
  const mTiles = t.warpQ / 16;
  const qkNTiles = t.ctaK / 8;
  const qkKSteps = D / 32;
  const pvNTiles = D / 8;
  const pvMmaK = fp8 ? 32 : 16;
  const [qkInstruction, pvInstruction, rowSumsInstruction] = instructionsOf(spec) as [InstructionName, InstructionName, InstructionName?];

  // Keep Q's mma fragments in registers for the whole kernel when they fit beside the accumulators;
  // otherwise re-read them from shared memory (ldmatrix) every key tile.
  const withQ = registerEstimate(mTiles, qkNTiles, pvNTiles, qkKSteps, true, t.overlapQk);
  // Registers per thread the launch bounds leave: the register file (64K) shared by minBlocksPerSm blocks.
  const registerBudget = wgmma
    ? wgmmaConsumerRegisters(consumers, t.minBlocksPerSm, producer, cap.maxRegistersPerThread)
    : Math.min(cap.maxRegistersPerThread, Math.floor(65536 / (threads * t.minBlocksPerSm) / 8) * 8);
  // ptxas needs about 50 registers beyond the accumulator count (measured: 181 for an estimate of 128
  // at WARP_Q 16, D 128); Q stays in registers only when that margin is left, else it spills.
  const qFragmentsInRegisters = !wgmma && withQ.total + Q_REGISTER_MARGIN <= registerBudget;
  const registers = qFragmentsInRegisters ? withQ : registerEstimate(mTiles, qkNTiles, pvNTiles, qkKSteps, false, t.overlapQk);

  const q = smemTile(t.ctaQ, D, 1, 0, threads);
  const k = smemTile(t.ctaK, D, t.stages, q.bytes, threads);
  // FP8 V is stored transposed (head-dim rows of ctaK keys); 16-bit V keeps key rows of D elements.
  // wgmma with row sums on the tensor cores (pv.rowSums "tensor"): rows of ones after Vᵀ's D rows
  // (their P·V columns are the row sums), as many as the P·V instruction has columns beyond D (8).
  // H100: +0.5–5% at D=64 (results/wgmma/experiments/ab-d64-row-sums-on-tensor-cores.json); at D=128
  // +4–13% in the three-consumer block (results/wgmma/experiments/rowsums/), but the 1 KiB more per
  // stage leaves no room for a third block of one consumer, and two score buffers of 68 registers spill.
  // pv.rowSums "tensor-shared": one block of the 8 ones rows for every stage after the Vᵀ stages
  // (1 KiB, where "tensor" takes 1 KiB a stage), read by an m64n8k32 beside each k32 step of P·V.
  const onesRowsPerStage = wgmma ? wgmmaN(INSTRUCTIONS[pvInstruction].ptx) - D : 0;
  const rowSumColumns = rowSumsInstruction ? wgmmaN(INSTRUCTIONS[rowSumsInstruction].ptx) : onesRowsPerStage;
  const v = fp8
    ? smemTile(D + onesRowsPerStage, t.ctaK, t.stages, k.offset + k.bytes * t.stages, threads)
    : smemTile(t.ctaK, D * 2, t.stages, k.offset + k.bytes * t.stages, threads);
  const vEnd = v.offset + v.bytes * t.stages;
  // (the tiles are whole KiB, so the block starts on the 1024-byte boundary of the 128-byte swizzle)
  const sharedOnes = rowSumsInstruction ? { offset: vEnd, bytes: rowSumColumns * t.ctaK } : null;
  const barrierOffset = vEnd + (sharedOnes?.bytes ?? 0);
  // wgmma accumulator registers per thread: 64 rows × N columns over a warpgroup's 128 threads.
  const qkAccumulators = (64 * t.ctaK) / WARPGROUP;
  const pvAccumulators = (64 * D) / WARPGROUP;
  const pvSumAccumulators = (64 * rowSumColumns) / WARPGROUP;
  // wgmma: full and empty barriers per stage and one for Q, 8 bytes each; without a producer the
  // stage counters (4 bytes each); the Q·Kᵀ accumulators' starting words (16-byte aligned); then
  // 1 KiB of alignment slack.
  const barriersEnd = barrierOffset + 8 * (2 * t.stages + 1);
  const stageCounterOffset = wgmma && !producer ? barriersEnd : 0;
  const scoreBiasOffset = wgmma ? alignUp(barriersEnd + (producer ? 0 : 4 * t.stages), 16) : 0;
  const totalBytes = wgmma ? scoreBiasOffset + 4 * qkAccumulators + 1024 : barrierOffset;

  const issues: SpecIssue[] = [];
  if (totalBytes > cap.maxSharedMemoryPerBlock) {
    issues.push({
      field: 'tiling',
      value: t,
      rule: `needs ${totalBytes} bytes of shared memory (Q ${q.bytes} + ${t.stages} stages × (K ${k.bytes} + V ${v.bytes})), over ${spec.arch}'s limit of ${cap.maxSharedMemoryPerBlock}`,
    });
  }
  // Each cp.async pass copies a band of threads/chunksPerRow rows; bands must span whole swizzle
  // periods (8 rows) so a thread's copies differ only by constant offsets.
  for (const [name, tile] of [['Q', q], ['K', k], ['V', v]] as const) {
    if ((threads / tile.chunksPerRow) % 8 !== 0) {
      issues.push({
        field: 'tiling.warps',
        value: t.warps,
        rule: `${threads} threads copy ${threads / tile.chunksPerRow} rows of the ${name} tile (${tile.rowBytes}-byte rows) per pass; needs a multiple of 8 rows, i.e. at least ${(8 * tile.chunksPerRow) / 32} warps`,
      });
    }
  }
  if (registers.total > registerBudget) {
    issues.push({
      field: t.minBlocksPerSm > 1 && registers.total <= cap.maxRegistersPerThread ? 'tiling.minBlocksPerSm' : 'tiling.warpQ',
      value: t.minBlocksPerSm > 1 && registers.total <= cap.maxRegistersPerThread ? t.minBlocksPerSm : t.warpQ,
      rule: `accumulators need about ${registers.total} registers per thread (O ${registers.outputAccumulator} + S ${registers.scoreAccumulator} + ${registers.overhead}), over ${registerBudget} (what ${t.minBlocksPerSm} block(s) of ${threads} threads per SM leave each thread); lower warpQ, ctaK or minBlocksPerSm`,
    });
  }
  // Resident blocks share the SM's shared memory, each with the runtime's reserve: a block more than
  // fits would leave minBlocksPerSm a promise the launch does not keep (and the register share sized
  // for it wasted).
  const bytesPerResidentBlock = totalBytes + SHARED_MEMORY_RESERVED_PER_BLOCK;
  if (bytesPerResidentBlock * t.minBlocksPerSm > cap.sharedMemoryPerSm) {
    issues.push({
      field: 'tiling.minBlocksPerSm',
      value: t.minBlocksPerSm,
      rule: `${t.minBlocksPerSm} blocks × (${totalBytes} bytes of shared memory + ${SHARED_MEMORY_RESERVED_PER_BLOCK} the runtime reserves per block) exceed ${spec.arch}'s ${cap.sharedMemoryPerSm} per SM`,
    });
  }
  if (spec.pv.instruction === 'wgmma.e4m3' && spec.pv.polyExp2Form === 'f16x2') {
    // The packed-half polynomial leaves each pair as FP8 bits, with no fp32 values for FADD row sums.
    if (rowSumColumns === 0) {
      issues.push({
        field: 'pv.polyExp2Form',
        value: spec.pv.polyExp2Form,
        rule: `"f16x2" needs the row sums from the tensor cores (pv.rowSums "tensor" or "tensor-shared"), not "${wgmmaRowSums(spec)}"`,
      });
    }
    if (!spec.pv.polyExp2Every) {
      issues.push({ field: 'pv.polyExp2Form', value: spec.pv.polyExp2Form, rule: '"f16x2" applies to the exponentials pv.polyExp2Every moves to the FMA pipe; set pv.polyExp2Every ≥ 1' });
    }
  }
  if (issues.length) throw new SpecError(issues);

  const granularity = spec.qk.granularity;
  const qGroupsPerTile = granularity === 'per-block' ? 1 : granularity === 'per-warp' ? t.warps : t.warps * 8;
  // A thread's S columns are keys {8i+2t, 8i+2t+1}: per-thread K scales group key rows by t (4 groups).
  const kGroupsPerTile = granularity === 'per-thread' ? 4 : 1;
  const inputChunksPerRow = (D * 2) / CHUNK;
  const rowsPerPass = QUANT_THREADS / inputChunksPerRow;
  const qQuantRows = granularity === 'per-block' || t.warpQ % rowsPerPass !== 0 ? t.ctaQ : t.warpQ;
  const qQuantGroups = (qGroupsPerTile * qQuantRows) / t.ctaQ;

  // Queries quantized in the wgmma kernel's prologue, in producerless blocks of one consumer only:
  // with three consumers the same kernel ran 1.5–2.5% slower on the H100 even where the prologue did
  // not run (ptxas's code for its main loop; the whole call lost 1.7% at 16K), while one-consumer
  // blocks lost nothing and their whole calls gained 1–7% (results/wgmma/fusedq/). Blocks with a
  // producer warpgroup keep the query kernel: none ran on a GPU with the prologue.
  const queryQuant: QueryQuantPlan | null =
    wgmma && consumers === 1 && !producer
      ? { rowsPerPass: 32 / inputChunksPerRow, passes: t.warpQ / (32 / inputChunksPerRow), firstBarrier: QUERY_QUANT_FIRST_BARRIER }
      : null;

  const kvCluster = fp8 ? kvClusterOf(cap, D, t.ctaK, kGroupsPerTile, inputChunksPerRow) : null;

  const pv = spec.pv;
  const pvPlan =
    pv.instruction === 'wgmma.e4m3'
      ? // f32 accumulation in the wgmma itself: one "flush" per key tile.
        { fp8: true, f16Accumulator: false, flushKeys: t.ctaK, flushSteps: t.ctaK / 32, flushesPerTile: 1, pRange: pv.pRange, log2PRange: Math.log2(pv.pRange), vRange: pv.vRange, rescaleSlack: 0, dequantInExp2: spec.qk.foldDequant }
      : pv.instruction === 'm16n8k32.e4m3'
      ? {
          fp8: true,
          f16Accumulator: pv.accumulator === 'f16',
          flushKeys: pv.flushKeys,
          flushSteps: pv.flushKeys / 32,
          flushesPerTile: t.ctaK / pv.flushKeys,
          pRange: pv.pRange,
          log2PRange: Math.log2(pv.pRange),
          vRange: pv.vRange,
          rescaleSlack: 0,
          dequantInExp2: false,
        }
      : // 16-bit P·V accumulates in real fp32 registers: one "flush" per key tile, P unscaled.
        { fp8: false, f16Accumulator: false, flushKeys: t.ctaK, flushSteps: t.ctaK / 16, flushesPerTile: 1, pRange: 1, log2PRange: 0, vRange: 1, rescaleSlack: RESCALE_SLACK, dequantInExp2: spec.qk.foldDequant };

  return {
    name: variantName(spec),
    spec,
    arch: {
      name: spec.arch,
      computeCapability: cap.computeCapability,
      gencodeArch: cap.gencodeArch,
      gencodeCode: cap.gencodeCode,
      archSpecific: cap.archSpecific,
      pvNative: instructionsOf(spec).every((i) => cap.native.includes(i)),
    },
    instructions: instructionsOf(spec).map((name) => ({ name, ptx: INSTRUCTIONS[name].ptx })),
    ptx: { qk: INSTRUCTIONS[qkInstruction].ptx, pv: INSTRUCTIONS[pvInstruction].ptx, rowSums: rowSumsInstruction ? INSTRUCTIONS[rowSumsInstruction].ptx : null },
    headDim: D,
    dtype:
      spec.dtype === 'fp16'
        ? { name: 'fp16', cudaType: '__half', pair: '__half2' }
        : { name: 'bf16', cudaType: '__nv_bfloat16', pair: '__nv_bfloat162' },
    causal: spec.causal,
    threads,
    warps: t.warps,
    ctaQ: t.ctaQ,
    ctaK: t.ctaK,
    warpQ: t.warpQ,
    stages: t.stages,
    mTiles,
    qkNTiles,
    qkKSteps,
    pvNTiles,
    pvKSteps: t.ctaK / pvMmaK,
    pvMmaK,
    qFragmentsInRegisters,
    quant: {
      granularity,
      smoothK: spec.qk.smoothK,
      qGroupsPerTile,
      kGroupsPerTile,
      threads: QUANT_THREADS,
      inputChunksPerRow,
      qQuantRows,
      qQuantGroups,
      rowsPerPass,
      statsRows: STATS_ROWS,
      statsLoads: STATS_LOADS,
      vBlockKeys: Math.min(t.ctaK, V_BLOCK_KEYS),
      kvCluster,
      queryInAttention: queryQuant !== null,
      kvReady: spec.tiling.overlapKvQuant && kvCluster !== null && queryQuant !== null ? { wordsPerHead: kvCluster.maxClusterBlocks } : null,
    },
    pv: pvPlan,
    smem: { q, k, v, totalBytes, needsOptIn: totalBytes > 48 * 1024 },
    registers,
    minBlocksPerSm: t.minBlocksPerSm,
    registerBudget,
    overlapQk: t.overlapQk,
    pipeline: pipelineOf(t),
    schedule: { heaviestFirst: spec.causal, wavesPerHeadGroup: WAVES_PER_HEAD_GROUP },
    wgmma: wgmma
      ? {
          consumers,
          producerWarpgroups: producer ? 1 : 0,
          producerRegisters: producer ? WGMMA_PRODUCER_REGISTERS : 0,
          consumerRegisters: registerBudget,
          qkAccumulators,
          pvAccumulators,
          ...asmOperands(qkAccumulators, pvAccumulators, pvSumAccumulators, sharedOnes !== null),
          stageTxBytes: k.bytes + D * t.ctaK,
          rowSumColumns,
          pvSumAccumulators,
          sharedOnes,
          onesRowsPerStage,
          polyExp2Every: spec.pv.instruction === 'wgmma.e4m3' ? (spec.pv.polyExp2Every ?? 0) : 0,
          polyExp2Form: spec.pv.instruction === 'wgmma.e4m3' ? (spec.pv.polyExp2Form ?? 'f32') : 'f32',
          rowMax: spec.pv.instruction === 'wgmma.e4m3' ? (spec.pv.rowMax ?? 'fmnmx') : 'fmnmx',
          barrierOffset,
          stageCounterOffset,
          scoreBiasOffset,
          // INT8 rows are D bytes; FP8 Vᵀ rows are ctaK keys of one byte.
          qkOperand: swizzledOperand(D),
          vOperand: swizzledOperand(t.ctaK),
          consumerOrder: consumers === 2 && !spec.causal ? 'stagger' : 'free',
          staggerFirstBarrier: STAGGER_FIRST_BARRIER,
          queryQuant,
        }
      : null,
    dispatchRank: wgmma ? DISPATCH_RANK_WGMMA : DISPATCH_RANK_MMA_SYNC,
  };
}

function kvClusterOf(cap: ArchCapability, D: number, ctaK: number, kGroupsPerTile: number, inputChunksPerRow: number): KvClusterPlan | null {
  if (!cap.threadBlockClusters) return null;
  const tileBytes = ctaK * D * 2;
  const warps = KV_CLUSTER_THREADS / 32;
  const staticBytes = (tiles: number) => 4 * D * (warps + 2) + 8 * tiles * kGroupsPerTile;
  // Static and dynamic shared memory share the per-block limit.
  let maxStagedTiles = Math.floor(Math.min(KV_CLUSTER_STAGING_BYTES, cap.maxSharedMemoryPerBlock) / tileBytes);
  while (maxStagedTiles > 0 && maxStagedTiles * tileBytes + staticBytes(maxStagedTiles) > cap.maxSharedMemoryPerBlock) maxStagedTiles--;
  if (maxStagedTiles === 0) return null;
  return {
    threads: KV_CLUSTER_THREADS,
    rowsPerPass: KV_CLUSTER_THREADS / inputChunksPerRow,
    maxClusterBlocks: cap.maxClusterBlocks,
    portableClusterBlocks: PORTABLE_CLUSTER_BLOCKS,
    tileBytes,
    maxStagedTiles,
    maxDynamicBytes: maxStagedTiles * tileBytes,
    staticBytes: staticBytes(maxStagedTiles),
  };
}

/** wgmma inline-asm operand numbering: accumulators first, then the inputs in the order the asm lists them. */
function asmOperands(qkAccumulators: number, pvAccumulators: number, pvSumAccumulators: number, sumsOwnWgmma: boolean) {
  const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);
  const pvAll = pvAccumulators + pvSumAccumulators;
  // The P·V wgmma's accumulators: O's partial, then the row-sum columns when the same instruction
  // returns them; with their own wgmma ("tensor-shared") the sums take the registers after O's partial.
  const pvOwn = sumsOwnWgmma ? pvAccumulators : pvAll;
  return {
    qkRegisters: range(qkAccumulators),
    qkOperandA: qkAccumulators,
    qkOperandB: qkAccumulators + 1,
    qkOperandScale: qkAccumulators + 2,
    pvRegisters: range(pvOwn),
    // (the P·V accumulators, O's partial then the row-sum columns, are all a tile's score registers:
    // a wgmma accumulator is one contiguous register block)
    scoreSlots: Math.max(qkAccumulators, pvAll),
    pvOperandsA: range(4, pvOwn),
    pvOperandB: pvOwn + 4,
    pvOperandScale: pvOwn + 5,
  };
}

/**
 * One cp.async group per key tile (Q joins the first). Tile `tile + prefetchTiles` is loaded into the
 * stage tile - 1 used. The loop waits until the tiles it reads have landed: `tile` (and `tile + 1`
 * with overlapQk).
 */
function pipelineOf(t: AttentionSpec['tiling']): KernelPlan['pipeline'] {
  const prefetchTiles = t.stages - 1;
  return {
    prefetchTiles,
    prologueWaitPending: prefetchTiles - 1,
    loopWaitPending: t.overlapQk ? prefetchTiles - 2 : prefetchTiles - 1,
  };
}
