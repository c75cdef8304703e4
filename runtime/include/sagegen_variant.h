/*
 * sagegen_variant.h — the internal contract between the hand-written runtime (runtime/src/sagegen.cpp)
 * and the generated variants. Not installed for consumers: the public ABI is sagegen.h.
 *
 * The runtime validates every argument and resolves strides before a variant sees the call, so a
 * variant can assume: pointers non-null and 16-byte aligned, sizes positive, heads divisible,
 * strides in elements with a unit head-dim stride, and a large-enough workspace.
 */
#ifndef SAGEGEN_VARIANT_H
#define SAGEGEN_VARIANT_H

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

namespace sagegen {

struct ProblemShape {
  int64_t batch;
  int64_t qHeads;
  int64_t kvHeads;
  int64_t qoLen;
  int64_t kvLen;
  int64_t headDim;
};

struct TensorStrides {
  int64_t batch;
  int64_t head;
  int64_t seq;
};

struct VariantCall {
  ProblemShape shape;
  const void* q;
  const void* k;
  const void* v;
  void* o;
  float* lse;  // may be null
  TensorStrides qStrides, kStrides, vStrides, oStrides;
  float softmaxScale;
  void* workspace;
  size_t workspaceBytes;
};

struct VariantDescriptor {
  const char* name;
  int computeCapability;  // major*10 + minor of the target (sm_90a -> 90)
  bool archSpecific;      // SASS only for exactly this capability (sm_90a); no portable PTX
  int headDim;
  int dtype;              // sagegen_dtype
  bool causal;
  int dispatchRank;       // at equal capability the dispatcher runs the highest (wgmma 1, mma.sync 0)
  size_t (*workspaceSize)(const ProblemShape&);
  // phases: sagegen_phase bits (quantize, attention).
  cudaError_t (*run)(const VariantCall&, cudaStream_t, unsigned phases);
};

// A fresh token for the ready words a whole call's K/V kernel writes and its attention kernel waits
// for (variants whose plan has quant.kvReady). The workspace is the caller's memory and is never
// cleared, so a word may still hold a token of an earlier call, or any bytes at all: tokens are
// never repeated within a process (one counter for every variant of the library) and start at a
// random value with a fixed tag in the top 16 bits, so neither is mistaken for this call's.
uint64_t nextReadyToken();

// Generated: the variants built into this library.
extern const VariantDescriptor* const kVariants[];
extern const int kVariantCount;

// Generated: which variant serves which kv_len range. A tuned build (sagegen build --config) maps
// sequence-length buckets to the variant measured fastest there; otherwise every variant covers all.
struct DispatchEntry {
  const VariantDescriptor* variant;
  int64_t minKvLen;  // inclusive
  int64_t maxKvLen;  // exclusive
};
extern const DispatchEntry kDispatch[];
extern const int kDispatchCount;

}  // namespace sagegen

#endif
