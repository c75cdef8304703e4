/**
 * Pruning after compilation, from what ptxas reported (toolchain/nvcc.ts parsePtxas): drop candidates
 * that spill registers, or whose attention kernel keeps too few warps resident per SM.
 *
 * Pure functions of the ptxas entries and the plan; nothing here runs a process or touches a GPU.
 *
 * Occupancy arithmetic (per SM, the way the CUDA occupancy calculator counts it for these archs):
 *   registers are allocated per warp in units of 256, i.e. per thread rounded up to a multiple of 8:
 *     blocks by registers      = ⌊ 65536 / (⌈registers/8⌉·8 × threads per block) ⌋
 *   shared memory (the plan's dynamic bytes plus the kernel's static bytes) against the arch's limit:
 *     blocks by shared memory  = ⌊ shared memory per SM / bytes per block ⌋
 *   blocks per SM = the smaller (and, when given, ⌊ maxWarpsPerSm / warps per block ⌋);
 *   warps per SM  = blocks per SM × warps per block.
 * pruneCompiled counts each block as the plan's bytes, the kernel's static bytes and the 1 KiB the
 * runtime reserves per block, against the capability table's sharedMemoryPerSm: the rule plan/ checks
 * minBlocksPerSm with.
 */
import { CAPABILITIES, SHARED_MEMORY_RESERVED_PER_BLOCK, type Arch } from '../dsl/capabilities.js';
import type { KernelPlan } from '../plan/plan.js';
import type { PtxasEntry } from '../toolchain/nvcc.js';

export const REGISTERS_PER_SM = 65536;
/** Registers are allocated per thread in multiples of this (256 per warp). */
export const REGISTER_ALLOCATION_UNIT = 8;
export const DEFAULT_MIN_WARPS_PER_SM = 4;
const WARP = 32;

export interface OccupancyInput {
  /** Registers per thread (ptxas "Used N registers"). */
  registersPerThread: number;
  threadsPerBlock: number;
  /** Shared memory of one block, dynamic plus static, bytes. */
  sharedBytesPerBlock: number;
  /** Shared memory one SM can give its blocks, bytes. */
  sharedBytesPerSm: number;
  /** Default 65536. */
  registersPerSm?: number;
  /** Default 8. */
  registerAllocationUnit?: number;
  /** Resident warps an SM can hold; no limit when absent (it never binds for these kernels). */
  maxWarpsPerSm?: number;
}

export type OccupancyLimiter = 'registers' | 'shared memory' | 'warps';

export interface Occupancy {
  registersPerThread: number;
  /** Registers per thread as allocated (rounded up to the allocation unit). */
  allocatedRegistersPerThread: number;
  threadsPerBlock: number;
  warpsPerBlock: number;
  sharedBytesPerBlock: number;
  sharedBytesPerSm: number;
  blocksByRegisters: number;
  /** Infinity when the block uses no shared memory. */
  blocksBySharedMemory: number;
  /** Infinity when no maxWarpsPerSm was given. */
  blocksByWarps: number;
  blocksPerSm: number;
  warpsPerSm: number;
  /** The limit(s) that set blocksPerSm. */
  limitedBy: OccupancyLimiter[];
}

/** Resident blocks and warps per SM of one kernel launch configuration (formulas in the module comment). */
export function occupancy(input: OccupancyInput): Occupancy {
  const { registersPerThread, threadsPerBlock, sharedBytesPerBlock, sharedBytesPerSm } = input;
  const registersPerSm = input.registersPerSm ?? REGISTERS_PER_SM;
  const unit = input.registerAllocationUnit ?? REGISTER_ALLOCATION_UNIT;
  for (const [name, v] of Object.entries({ registersPerThread, threadsPerBlock, sharedBytesPerBlock, sharedBytesPerSm, registersPerSm, unit })) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`occupancy: ${name} = ${v} must be a non-negative integer`);
  }
  if (threadsPerBlock === 0) throw new RangeError('occupancy: threadsPerBlock must be positive');
  const warpsPerBlock = Math.ceil(threadsPerBlock / WARP);
  const allocatedRegistersPerThread = Math.ceil(registersPerThread / unit) * unit;
  const blocksByRegisters = allocatedRegistersPerThread === 0 ? Infinity : Math.floor(registersPerSm / (allocatedRegistersPerThread * threadsPerBlock));
  const blocksBySharedMemory = sharedBytesPerBlock === 0 ? Infinity : Math.floor(sharedBytesPerSm / sharedBytesPerBlock);
  const blocksByWarps = input.maxWarpsPerSm === undefined ? Infinity : Math.floor(input.maxWarpsPerSm / warpsPerBlock);
  const blocksPerSm = Math.min(blocksByRegisters, blocksBySharedMemory, blocksByWarps);
  if (!Number.isFinite(blocksPerSm)) throw new RangeError('occupancy: no limit applies (zero registers, zero shared memory and no maxWarpsPerSm)');
  const limitedBy: OccupancyLimiter[] = [];
  if (blocksByRegisters === blocksPerSm) limitedBy.push('registers');
  if (blocksBySharedMemory === blocksPerSm) limitedBy.push('shared memory');
  if (blocksByWarps === blocksPerSm) limitedBy.push('warps');
  return {
    registersPerThread,
    allocatedRegistersPerThread,
    threadsPerBlock,
    warpsPerBlock,
    sharedBytesPerBlock,
    sharedBytesPerSm,
    blocksByRegisters,
    blocksBySharedMemory,
    blocksByWarps,
    blocksPerSm,
    warpsPerSm: blocksPerSm * warpsPerBlock,
    limitedBy,
  };
}

const blocks = (n: number) => `${n} block${n === 1 ? '' : 's'}/SM`;

/** "registers: 255 × 128 threads → 2 blocks/SM, 8 warps/SM" (or the shared-memory / warp limit that binds). */
export function describeOccupancy(o: Occupancy): string {
  const result = `${blocks(o.blocksPerSm)}, ${o.warpsPerSm} warps/SM`;
  const parts = o.limitedBy.map((l) =>
    l === 'registers'
      ? `registers: ${o.registersPerThread} × ${o.threadsPerBlock} threads`
      : l === 'shared memory'
        ? `shared memory: ${o.sharedBytesPerBlock} bytes per block of ${o.sharedBytesPerSm} per SM`
        : `warps: ${o.warpsPerBlock} per block`,
  );
  return `${parts.join('; ')} → ${result}`;
}

/** One compiled candidate: its name, the ptxas report of its object, and its plan. */
export interface CompiledEntry {
  name: string;
  ptxas: readonly PtxasEntry[];
  plan: KernelPlan;
}

export interface CompiledLimits {
  /** Drop a candidate whose attention kernel keeps fewer warps per SM than this. Default 4. */
  minWarpsPerSm?: number;
  /** Default 65536. */
  registersPerSm?: number;
  /** Shared memory per SM, bytes, for every arch or per arch; default the arch's sharedMemoryPerSm. */
  sharedBytesPerSm?: number | Partial<Record<Arch, number>>;
  /** Resident warps per SM; not applied when absent. */
  maxWarpsPerSm?: number;
  /** Whose spills drop a candidate: any kernel of the variant (default) or only attentionKernel. */
  spills?: 'any' | 'attention';
  /**
   * Spill bytes (stores or loads, per kernel) a candidate may have and still be measured. Default 0:
   * any spill drops it. A few bytes of spill can sit off the hot path (the H100 wgmma tuning measured
   * a three-consumer causal block spilling 12 bytes 6–7% faster than its spill-free sibling).
   */
  maxSpillBytes?: number;
}

export interface CompiledVerdict<E extends CompiledEntry> {
  name: string;
  entry: E;
  /** Of the attention kernel; absent when ptxas reported none. */
  occupancy?: Occupancy;
  /** Why it was dropped; empty for kept candidates. */
  reasons: string[];
}

export const ATTENTION_KERNEL = 'attentionKernel';

function sharedPerSm(limits: CompiledLimits, arch: Arch): number {
  const l = limits.sharedBytesPerSm;
  if (typeof l === 'number') return l;
  return l?.[arch] ?? CAPABILITIES[arch].sharedMemoryPerSm;
}

/**
 * Keeps the compiled candidates that do not spill and whose attention kernel reaches the occupancy
 * floor; the rest are returned with one reason per problem found, e.g.
 *   "attentionKernel spills 16 bytes (16 bytes spill stores, 16 bytes spill loads)"
 *   "registers: 255 × 128 threads → 2 blocks/SM, 8 warps/SM: below 16 warps/SM"
 * Order is kept within each list.
 */
export function pruneCompiled<E extends CompiledEntry>(entries: readonly E[], limits: CompiledLimits = {}): { kept: CompiledVerdict<E>[]; pruned: CompiledVerdict<E>[] } {
  const minWarps = limits.minWarpsPerSm ?? DEFAULT_MIN_WARPS_PER_SM;
  const maxSpill = limits.maxSpillBytes ?? 0;
  const kept: CompiledVerdict<E>[] = [];
  const pruned: CompiledVerdict<E>[] = [];
  for (const entry of entries) {
    const reasons: string[] = [];
    for (const k of entry.ptxas) {
      if (limits.spills === 'attention' && k.kernel !== ATTENTION_KERNEL) continue;
      if (Math.max(k.spillStoreBytes, k.spillLoadBytes) > maxSpill) {
        reasons.push(
          `${k.kernel} spills ${Math.max(k.spillStoreBytes, k.spillLoadBytes)} bytes (${k.spillStoreBytes} bytes spill stores, ${k.spillLoadBytes} bytes spill loads)${maxSpill ? `: over ${maxSpill}` : ''}`,
        );
      }
    }
    const attention = entry.ptxas.filter((k) => k.kernel === ATTENTION_KERNEL);
    let occ: Occupancy | undefined;
    if (!attention.length) {
      reasons.push(`no ${ATTENTION_KERNEL} in the ptxas report (kernels: ${entry.ptxas.map((k) => k.kernel).join(', ') || 'none'})`);
    } else {
      // One entry per arch compiled for; a variant targets one arch, but take the worst if there are more.
      const worst = attention.reduce((a, b) => (b.registers > a.registers ? b : a));
      occ = occupancy({
        registersPerThread: worst.registers,
        threadsPerBlock: entry.plan.threads,
        sharedBytesPerBlock: entry.plan.smem.totalBytes + worst.sharedBytes + SHARED_MEMORY_RESERVED_PER_BLOCK,
        sharedBytesPerSm: sharedPerSm(limits, entry.plan.arch.name),
        registersPerSm: limits.registersPerSm,
        maxWarpsPerSm: limits.maxWarpsPerSm,
      });
      if (occ.warpsPerSm < minWarps) reasons.push(`${describeOccupancy(occ)}: below ${minWarps} warps/SM`);
      else if (occ.blocksPerSm < entry.plan.minBlocksPerSm) {
        reasons.push(`${describeOccupancy(occ)}: below the plan's minBlocksPerSm ${entry.plan.minBlocksPerSm}`);
      }
    }
    const verdict: CompiledVerdict<E> = { name: entry.name, entry, reasons, ...(occ ? { occupancy: occ } : {}) };
    (reasons.length ? pruned : kept).push(verdict);
  }
  return { kept, pruned };
}
