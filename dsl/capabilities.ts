/**
 * What each target architecture can do: the mma forms it executes natively, its shared-memory
 * limit per block, and for each PTX instruction the minimum PTX ISA and CUDA release that accept it.
 *
 * Sources: NVIDIA PTX ISA documentation and ptxas 13.0 error messages, as summarised in
 * shared/facts/hardware.md. The spec validator and the toolchain both read this table; nothing else
 * hard-codes an arch fact.
 */

export const ARCHS = ['sm_80', 'sm_86', 'sm_89', 'sm_90a', 'sm_120'] as const;
export type Arch = (typeof ARCHS)[number];

/** The mma instructions a spec can ask for. */
export const INSTRUCTIONS = {
  /** INT8 Q·Kᵀ. */
  'mma.m16n8k32.s8.s32': {
    ptx: 'mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32',
    minPtxIsa: [7, 0],
    minCuda: [11, 0],
    minArch: 'sm_80',
  },
  /** FP8 P·V, f32 accumulator (SageAttention2). */
  'mma.m16n8k32.e4m3.f32': {
    ptx: 'mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32',
    minPtxIsa: [8, 4],
    minCuda: [12, 4],
    minArch: 'sm_89',
  },
  /** FP8 P·V, f16 accumulator (SageAttention2++). */
  'mma.m16n8k32.e4m3.f16': {
    ptx: 'mma.sync.aligned.m16n8k32.row.col.f16.e4m3.e4m3.f16',
    minPtxIsa: [8, 7],
    minCuda: [12, 8],
    minArch: 'sm_89',
  },
  /** 16-bit P·V fallback for archs without FP8 (fp16 or bf16 operands, f32 accumulator). */
  'mma.m16n8k16.f16.f32': {
    ptx: 'mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32',
    minPtxIsa: [6, 4],
    minCuda: [11, 0],
    minArch: 'sm_80',
  },
  'mma.m16n8k16.bf16.f32': {
    ptx: 'mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32',
    minPtxIsa: [7, 0],
    minCuda: [11, 0],
    minArch: 'sm_80',
  },
  /** Warpgroup INT8 Q·Kᵀ, both operands in shared memory (Hopper, arch-specific sm_90a). */
  'wgmma.m64n128k32.s8.s32': {
    ptx: 'wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8',
    minPtxIsa: [8, 0],
    minCuda: [12, 0],
    minArch: 'sm_90a',
  },
  /** Warpgroup FP8 P·V, P from registers, Vᵀ in shared memory, f32 accumulator: D = 128 columns. */
  'wgmma.m64n128k32.e4m3.f32': {
    ptx: 'wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3',
    minPtxIsa: [8, 0],
    minCuda: [12, 0],
    minArch: 'sm_90a',
  },
  /**
   * The same for D = 64: 64 output columns and 8 more, whose Vᵀ rows are ones, so they hold the rows'
   * sums of P (the softmax denominators come from the tensor cores instead of 64 FADDs per thread and tile).
   */
  'wgmma.m64n72k32.e4m3.f32': {
    ptx: 'wgmma.mma_async.sync.aligned.m64n72k32.f32.e4m3.e4m3',
    minPtxIsa: [8, 0],
    minCuda: [12, 0],
    minArch: 'sm_90a',
  },
  /** D = 128 with the 8 row-sum columns (pv.rowSums "tensor"). */
  'wgmma.m64n136k32.e4m3.f32': {
    ptx: 'wgmma.mma_async.sync.aligned.m64n136k32.f32.e4m3.e4m3',
    minPtxIsa: [8, 0],
    minCuda: [12, 0],
    minArch: 'sm_90a',
  },
  /**
   * The row sums alone (pv.rowSums "tensor-shared"): P times the shared block of 8 ones rows, one per
   * k32 step of P·V, into 4 registers per thread beside O's partial.
   */
  'wgmma.m64n8k32.e4m3.f32': {
    ptx: 'wgmma.mma_async.sync.aligned.m64n8k32.f32.e4m3.e4m3',
    minPtxIsa: [8, 0],
    minCuda: [12, 0],
    minArch: 'sm_90a',
  },
  /** D = 64 without them (pv.rowSums "alu": the softmax sums its denominators in FADDs). */
  'wgmma.m64n64k32.e4m3.f32': {
    ptx: 'wgmma.mma_async.sync.aligned.m64n64k32.f32.e4m3.e4m3',
    minPtxIsa: [8, 0],
    minCuda: [12, 0],
    minArch: 'sm_90a',
  },
} as const satisfies Record<string, InstructionInfo>;

export interface InstructionInfo {
  ptx: string;
  minPtxIsa: readonly [number, number];
  minCuda: readonly [number, number];
  minArch: Arch;
}

export type InstructionName = keyof typeof INSTRUCTIONS;

export interface ArchCapability {
  /** Compute capability as major*10+minor (sm_90a → 90). */
  computeCapability: number;
  /** Largest dynamic shared memory a block may opt into, bytes. */
  maxSharedMemoryPerBlock: number;
  /**
   * Shared memory of one SM, bytes: its resident blocks share it, each also holding
   * SHARED_MEMORY_RESERVED_PER_BLOCK for the runtime (CUDA programming guide, compute capabilities).
   */
  sharedMemoryPerSm: number;
  /** Registers per thread ceiling. */
  maxRegistersPerThread: number;
  /** Instructions the arch executes in hardware (not emulated). */
  native: readonly InstructionName[];
  /** Instructions the arch accepts but runs through a slower emulation (Hopper's FP8 mma.sync). */
  emulated: readonly InstructionName[];
  /** nvcc -gencode pieces. */
  gencodeArch: string;
  gencodeCode: string;
  /** The SASS runs only on this exact compute capability (sm_90a); PTX of it is not forward-portable. */
  archSpecific: boolean;
  /** Thread-block clusters with distributed shared memory (compute capability 9.0 and later). */
  threadBlockClusters: boolean;
  /**
   * Blocks one cluster may hold: 8 is portable; Hopper allows 16 with
   * cudaFuncAttributeNonPortableClusterSizeAllowed (CUDA programming guide, thread block clusters).
   * 0 without clusters.
   */
  maxClusterBlocks: number;
}

const SIXTEEN_BIT: InstructionName[] = ['mma.m16n8k16.f16.f32', 'mma.m16n8k16.bf16.f32'];
const INT8: InstructionName[] = ['mma.m16n8k32.s8.s32'];
const FP8: InstructionName[] = ['mma.m16n8k32.e4m3.f32', 'mma.m16n8k32.e4m3.f16'];
const WGMMA: InstructionName[] = [
  'wgmma.m64n128k32.s8.s32',
  'wgmma.m64n128k32.e4m3.f32',
  'wgmma.m64n72k32.e4m3.f32',
  'wgmma.m64n136k32.e4m3.f32',
  'wgmma.m64n64k32.e4m3.f32',
  'wgmma.m64n8k32.e4m3.f32',
];

/** Blocks a cluster may hold on every GPU that has clusters (the portable size, CUDA programming guide). */
export const PORTABLE_CLUSTER_BLOCKS = 8;

/** Shared memory the runtime keeps of every resident block (sm_80 and later), bytes. */
export const SHARED_MEMORY_RESERVED_PER_BLOCK = 1024;

export const CAPABILITIES: Record<Arch, ArchCapability> = {
  sm_80: {
    computeCapability: 80,
    maxSharedMemoryPerBlock: 163 * 1024,
    sharedMemoryPerSm: 164 * 1024,
    maxRegistersPerThread: 255,
    native: [...INT8, ...SIXTEEN_BIT],
    emulated: [],
    gencodeArch: 'compute_80',
    gencodeCode: 'sm_80',
    archSpecific: false,
    threadBlockClusters: false,
    maxClusterBlocks: 0,
  },
  sm_86: {
    computeCapability: 86,
    maxSharedMemoryPerBlock: 99 * 1024,
    sharedMemoryPerSm: 100 * 1024,
    maxRegistersPerThread: 255,
    native: [...INT8, ...SIXTEEN_BIT],
    emulated: [],
    gencodeArch: 'compute_86',
    gencodeCode: 'sm_86',
    archSpecific: false,
    threadBlockClusters: false,
    maxClusterBlocks: 0,
  },
  sm_89: {
    computeCapability: 89,
    maxSharedMemoryPerBlock: 99 * 1024,
    sharedMemoryPerSm: 100 * 1024,
    maxRegistersPerThread: 255,
    native: [...INT8, ...FP8, ...SIXTEEN_BIT],
    emulated: [],
    gencodeArch: 'compute_89',
    gencodeCode: 'sm_89',
    archSpecific: false,
    threadBlockClusters: false,
    maxClusterBlocks: 0,
  },
  sm_90a: {
    computeCapability: 90,
    maxSharedMemoryPerBlock: 227 * 1024,
    sharedMemoryPerSm: 228 * 1024,
    maxRegistersPerThread: 255,
    native: [...INT8, ...SIXTEEN_BIT, ...WGMMA],
    // Hopper accepts FP8 mma.sync but lowers it to F2FP unpack + fp16 HMMA (measured, hardware.md).
    emulated: [...FP8],
    gencodeArch: 'compute_90a',
    gencodeCode: 'sm_90a',
    archSpecific: true,
    threadBlockClusters: true,
    maxClusterBlocks: 16,
  },
  sm_120: {
    computeCapability: 120,
    maxSharedMemoryPerBlock: 99 * 1024,
    sharedMemoryPerSm: 100 * 1024,
    maxRegistersPerThread: 255,
    native: [...INT8, ...FP8, ...SIXTEEN_BIT],
    emulated: [],
    gencodeArch: 'compute_120',
    gencodeCode: 'sm_120',
    archSpecific: false,
    threadBlockClusters: true,
    maxClusterBlocks: PORTABLE_CLUSTER_BLOCKS,
  },
};

/** True when the arch accepts the instruction at all (natively or emulated). */
export function archSupports(arch: Arch, instruction: InstructionName): boolean {
  const cap = CAPABILITIES[arch];
  return cap.native.includes(instruction) || cap.emulated.includes(instruction);
}

export function formatVersion(v: readonly [number, number]): string {
  return `${v[0]}.${v[1]}`;
}

export function compareVersion(a: readonly [number, number], b: readonly [number, number]): number {
  return a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1];
}
