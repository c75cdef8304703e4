/*
 * sagegen C example, built with pkg-config (see README.md):
 *
 *   cc examples/c/forward_constant_v.c $(pkg-config --cflags --libs sagegen) \
 *      -I$(pkg-config --variable=cuda_includedir sagegen) -L$(pkg-config --variable=cuda_libdir sagegen) -lcudart \
 *      -o forward_constant_v
 *
 * Logs what it links (version, ABI, archs, variants), then runs one forward whose answer is known
 * without a reference: with every value row equal to 1, any softmax-weighted average of them is 1.
 * Prints PASS or FAIL; exits 1 on FAIL.
 */
#include <sagegen.h>

#include <cuda_runtime_api.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HALF_ONE 0x3C00u /* 1.0 in IEEE fp16 */

static float half_to_float(uint16_t h) {
  const int exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  const float sign = (h & 0x8000) ? -1.0f : 1.0f;
  if (exponent == 0) return sign * ldexpf((float)mantissa, -24);
  if (exponent == 31) return mantissa ? NAN : sign * INFINITY;
  return sign * ldexpf((float)(mantissa | 0x400), exponent - 25);
}

static int check_cuda(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return 0;
  fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(err));
  return 1;
}

int main(void) {
  const int64_t batch = 1, heads = 4, len = 200;
  int64_t head_dim = 0;
  int32_t i;
  printf("sagegen %s, ABI %d (header %d), archs %s, %d variants\n", sagegen_version(), sagegen_abi_version(), SAGEGEN_ABI_VERSION,
         sagegen_archs(), sagegen_variant_count());
  for (i = 0; i < sagegen_variant_count(); ++i) {
    sagegen_variant_info info;
    if (sagegen_variant_get_info(i, &info) != SAGEGEN_STATUS_OK) return 1;
    printf("  variant %d: %s (sm_%d%s, head_dim %d, %s, causal %d)\n", i, info.name, info.compute_capability,
           info.arch_specific ? "a" : "", info.head_dim, info.dtype == SAGEGEN_DTYPE_FP16 ? "fp16" : "bf16", info.causal);
    if (head_dim == 0 && info.dtype == SAGEGEN_DTYPE_FP16) head_dim = info.head_dim;
  }
  if (head_dim == 0) {
    printf("FAIL: the library has no fp16 variant\n");
    return 1;
  }

  const size_t elems = (size_t)(batch * heads * len * head_dim), bytes = elems * sizeof(uint16_t);
  uint16_t* host = (uint16_t*)malloc(bytes);
  void *q = NULL, *k = NULL, *v = NULL, *o = NULL, *workspace = NULL;
  const size_t workspace_bytes = sagegen_workspace_size(batch, heads, heads, len, len, head_dim);
  size_t e;
  for (e = 0; e < elems; ++e) host[e] = HALF_ONE;
  if (check_cuda(cudaMalloc(&q, bytes), "cudaMalloc q") || check_cuda(cudaMalloc(&k, bytes), "cudaMalloc k") ||
      check_cuda(cudaMalloc(&v, bytes), "cudaMalloc v") || check_cuda(cudaMalloc(&o, bytes), "cudaMalloc o") ||
      check_cuda(cudaMalloc(&workspace, workspace_bytes), "cudaMalloc workspace") ||
      check_cuda(cudaMemset(q, 0, bytes), "cudaMemset q") || check_cuda(cudaMemset(k, 0, bytes), "cudaMemset k") ||
      check_cuda(cudaMemcpy(v, host, bytes, cudaMemcpyHostToDevice), "cudaMemcpy v"))
    return 1;

  sagegen_forward_args args;
  sagegen_forward_args_init(&args);
  args.q = q;
  args.k = k;
  args.v = v;
  args.o = o;
  args.dtype = SAGEGEN_DTYPE_FP16;
  args.batch = batch;
  args.num_q_heads = heads;
  args.num_kv_heads = heads;
  args.qo_len = len;
  args.kv_len = len;
  args.head_dim = head_dim;
  args.softmax_scale = sagegen_default_scale(head_dim);
  args.workspace = workspace;
  args.workspace_bytes = workspace_bytes;
  {
    const sagegen_status status = sagegen_forward(&args, NULL);
    if (status != SAGEGEN_STATUS_OK) {
      printf("FAIL: sagegen_forward: %s: %s\n", sagegen_status_string(status), sagegen_last_error_detail());
      return 1;
    }
  }
  if (check_cuda(cudaDeviceSynchronize(), "forward") || check_cuda(cudaMemcpy(host, o, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy o"))
    return 1;
  {
    float worst = 0.0f;
    for (e = 0; e < elems; ++e) {
      const float err = fabsf(half_to_float(host[e]) - 1.0f);
      if (!(err <= worst)) worst = err; /* NaN counts as the worst */
    }
    /* V is quantized to FP8 per channel; 1.0 may move by one e4m3 step (1/8) at worst. */
    printf("head_dim %lld: max |o - 1| = %g (limit 0.125)\n%s\n", (long long)head_dim, worst, worst <= 0.125f ? "PASS" : "FAIL");
    free(host);
    return worst <= 0.125f ? 0 : 1;
  }
}
