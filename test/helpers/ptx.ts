/**
 * Reading the attention kernel's epilogue in a variant's PTX. The O stores are the kernel's only
 * 32-bit global stores (a pair of 16-bit outputs each). The epilogue loads everything it needs (V
 * scales, the LSE's q·mean(K) corrections) before the first of them: a load after a store to O waits
 * for that store in order, since the two might alias.
 */
export function attentionKernelPtx(ptx: string): string {
  const entries = [...ptx.matchAll(/^\.(?:visible\s+)?\.?entry\s+([^\s(]+)/gm)];
  const at = entries.findIndex((m) => m[1]!.includes('attentionKernel'));
  if (at < 0) throw new Error('no attentionKernel entry in the PTX');
  return ptx.slice(entries[at]!.index, entries[at + 1]?.index ?? ptx.length);
}

/** Global loads after the kernel's first O store, and the number of O stores. */
export function loadsAfterFirstOutputStore(kernelPtx: string): { outputStores: number; loadsAfter: number } {
  const first = kernelPtx.indexOf('st.global.u32');
  if (first < 0) return { outputStores: 0, loadsAfter: 0 };
  return {
    outputStores: kernelPtx.match(/\bst\.global\.u32\b/g)!.length,
    loadsAfter: kernelPtx.slice(first).match(/\bld\.global\.[a-z0-9.]+/g)?.length ?? 0,
  };
}
