// Session 24: host microseconds of the CUDA runtime calls sagegen's whole call makes on every call
// (templates/attention.cu.hbs run()), each timed alone in a loop of 2000 without synchronisation.
// Launches go to a stream kept busy by a long spin kernel, so the queue never drains into the timing.
//   nvcc -arch=sm_90a -O2 -o api_cost api_cost.cu && ./api_cost
#include <cudaTypedefs.h>
#include <cuda_runtime.h>
#include <chrono>
#include <cstdio>

__global__ void spin(long long cycles) {
  const long long start = clock64();
  while (clock64() - start < cycles) {
  }
}
__global__ void big(int) {
  extern __shared__ int s[];
  if (threadIdx.x == 1 << 20) s[0] = 0;
}
__global__ void __cluster_dims__(1, 1, 1) clusterish(int) {}
__global__ void plain(int) {}

template <typename F>
double usPer(F f, int n = 2000) {
  for (int i = 0; i < 50; ++i) f();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) f();
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / n;
}

int main() {
  cudaStream_t st;
  cudaStreamCreate(&st);
  cudaFree(nullptr);
  int dev = 0, sms = 0, occ = 0, major = 0;
  const size_t smem = 160 * 1024;
  cudaFuncSetAttribute(big, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  void* buf = nullptr;
  cudaMalloc(&buf, 64 << 20);
  CUtensorMap map;
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult found;
  cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &found);  // as sagegen looks it up
  const auto cuTensorMapEncodeTiled = reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn);
  auto encode = [&] {
    cuuint64_t dims[2] = {128, 1 << 16}, strides[1] = {128};
    cuuint32_t box[2] = {128, 128}, el[2] = {1, 1};
    cuTensorMapEncodeTiled(&map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, buf, dims, strides, box, el, CU_TENSOR_MAP_INTERLEAVE_NONE,
                           CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_NONE, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  };
  spin<<<1, 1, 0, st>>>(4000000000LL);  // ~2 s: every launch below queues behind it
  printf("{\n");
  printf("  \"cudaGetDevice\": %.3f,\n", usPer([&] { cudaGetDevice(&dev); }));
  printf("  \"cudaDeviceGetAttribute\": %.3f,\n", usPer([&] { cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev); }));
  printf("  \"cudaFuncSetAttribute_maxDynamicSmem\": %.3f,\n", usPer([&] { cudaFuncSetAttribute(big, cudaFuncAttributeMaxDynamicSharedMemorySize, smem); }));
  printf("  \"cudaFuncSetAttribute_nonPortableCluster\": %.3f,\n", usPer([&] { cudaFuncSetAttribute(clusterish, cudaFuncAttributeNonPortableClusterSizeAllowed, 1); }));
  printf("  \"cudaOccupancyMaxActiveBlocksPerMultiprocessor\": %.3f,\n", usPer([&] { cudaOccupancyMaxActiveBlocksPerMultiprocessor(&occ, big, 384, smem); }));
  printf("  \"cudaDeviceGetAttribute_smCount\": %.3f,\n", usPer([&] { cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev); }));
  printf("  \"cuTensorMapEncodeTiled\": %.3f,\n", usPer(encode));
  printf("  \"launch_triple_chevron_smem\": %.3f,\n", usPer([&] { big<<<1, 128, smem, st>>>(0); }, 500));
  printf("  \"launch_triple_chevron_plain\": %.3f,\n", usPer([&] { plain<<<1, 128, 0, st>>>(0); }, 500));
  printf("  \"cudaLaunchKernelEx_cluster8\": %.3f,\n", usPer([&] {
    cudaLaunchConfig_t c = {};
    c.gridDim = dim3(8, 1, 1);
    c.blockDim = dim3(128);
    c.stream = st;
    cudaLaunchAttribute a[1];
    a[0].id = cudaLaunchAttributeClusterDimension;
    a[0].val.clusterDim.x = 8;
    a[0].val.clusterDim.y = 1;
    a[0].val.clusterDim.z = 1;
    c.attrs = a;
    c.numAttrs = 1;
    cudaLaunchKernelEx(&c, plain, 0);
  }, 500));
  printf("  \"cudaGetLastError\": %.3f,\n", usPer([&] { (void)cudaGetLastError(); }));
  printf("  \"errors_after\": \"%s\"\n}\n", cudaGetErrorString(cudaGetLastError()));
  cudaDeviceSynchronize();
  return 0;
}
