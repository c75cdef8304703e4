import { defaultSpecInput } from '../../dsl/builder.js';
import type { AttentionSpecInput } from '../../dsl/spec.js';

/**
 * The wgmma D=128 block in one consumer warpgroup × three blocks per SM, the tuned set's pick at
 * 1K–2K (the D=128 defaults have three consumers). Its row sums are FADDs: the ones rows of tensor
 * row sums for three blocks do not fit the SM's shared memory. fp16.
 */
export function oneConsumerWgmmaD128(causal: boolean): AttentionSpecInput {
  const input = defaultSpecInput({ arch: 'sm_90a', headDim: 128, causal, dtype: 'fp16', mma: 'wgmma' });
  Object.assign(input.tiling, { ctaQ: 64, warps: 4, minBlocksPerSm: 3 });
  if (input.pv.instruction === 'wgmma.e4m3') delete input.pv.rowSums;
  return input;
}
