// Host time of one sagegen call, and of each CUDA API call its path makes, on the lent GPU's host.
// Session 25 measured the C call alone (sagegen.prepare()'s run()) at 17.7 µs a call at D=128 1K,
// close to cuDNN's whole SDPA call (20.6): this says where those microseconds go.
//
//   nvcc -O2 -std=c++17 -arch=sm_90a -I runtime/include results/wgmma/session27/host_profile.cu -o host_profile -ldl
//   ./host_profile LIB.so [LIB2.so ...] > host.json
//
// Each figure is the median over 15 rounds of the mean host time of a burst of calls issued without
// synchronisation (the GPU drains between rounds). A library is loaded with dlopen, so one binary
// times several builds in one process, one after the other for each shape.
#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "sagegen.h"

namespace {

constexpr int kRounds = 15;

__global__ void emptyKernel() {}
__global__ void emptyClusterKernel() {}

#define CHECK(x)                                                                     \
  do {                                                                               \
    cudaError_t e = (x);                                                             \
    if (e != cudaSuccess) {                                                          \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e)); \
      std::exit(1);                                                                  \
    }                                                                                \
  } while (0)

// Median over rounds of the mean ns per call of `burst` calls of f.
double hostNs(int burst, const std::function<void()>& f) {
  std::vector<double> rounds;
  for (int r = 0; r < kRounds; ++r) {
    CHECK(cudaDeviceSynchronize());
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < burst; ++i) f();
    const auto t1 = std::chrono::steady_clock::now();
    rounds.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / burst);
  }
  CHECK(cudaDeviceSynchronize());
  std::sort(rounds.begin(), rounds.end());
  return rounds[rounds.size() / 2];
}

struct Library {
  std::string path;
  void* handle;
  decltype(&sagegen_forward_args_init) init;
  decltype(&sagegen_workspace_size) workspaceSize;
  decltype(&sagegen_forward_phases) forwardPhases;
};

Library load(const char* path) {
  void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) {
    std::fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
    std::exit(1);
  }
  Library lib{path, h, nullptr, nullptr, nullptr};
  lib.init = reinterpret_cast<decltype(lib.init)>(dlsym(h, "sagegen_forward_args_init"));
  lib.workspaceSize = reinterpret_cast<decltype(lib.workspaceSize)>(dlsym(h, "sagegen_workspace_size"));
  lib.forwardPhases = reinterpret_cast<decltype(lib.forwardPhases)>(dlsym(h, "sagegen_forward_phases"));
  if (!lib.init || !lib.workspaceSize || !lib.forwardPhases) {
    std::fprintf(stderr, "%s: missing symbols\n", path);
    std::exit(1);
  }
  return lib;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s LIB.so [LIB2.so ...]\n", argv[0]);
    return 2;
  }
  CHECK(cudaFree(nullptr));
  cudaStream_t stream;
  CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));

  // ---- the CUDA API calls on a call's path, each alone ----
  std::printf("{\n  \"api_ns\": {\n");
  int device = 0, value = 0;
  std::printf("    \"cudaGetDevice\": %.0f,\n", hostNs(1000, [&] { cudaGetDevice(&device); }));
  std::printf("    \"cudaDeviceGetAttribute\": %.0f,\n",
              hostNs(1000, [&] { cudaDeviceGetAttribute(&value, cudaDevAttrMultiProcessorCount, device); }));
  std::printf("    \"cudaStreamIsCapturing\": %.0f,\n", hostNs(1000, [&] {
                cudaStreamCaptureStatus s;
                cudaStreamIsCapturing(stream, &s);
              }));
  std::printf("    \"cudaFuncSetAttribute_smem\": %.0f,\n",
              hostNs(1000, [&] { cudaFuncSetAttribute(emptyKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 200 * 1024); }));
  std::printf("    \"cudaFuncSetAttribute_cluster\": %.0f,\n",
              hostNs(1000, [&] { cudaFuncSetAttribute(emptyClusterKernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 1); }));
  std::printf("    \"cudaOccupancyMaxActiveBlocks\": %.0f,\n",
              hostNs(1000, [&] { cudaOccupancyMaxActiveBlocksPerMultiprocessor(&value, emptyKernel, 384, 200 * 1024); }));
  std::printf("    \"cudaGetLastError\": %.0f,\n", hostNs(1000, [&] { (void)cudaGetLastError(); }));

  void* encodeFn = nullptr;
  cudaDriverEntryPointQueryResult found;
  CHECK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &encodeFn, 12000, cudaEnableDefault, &found));
  const auto encode = reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(encodeFn);
  void* buffer = nullptr;
  CHECK(cudaMalloc(&buffer, size_t(64) << 20));
  std::printf("    \"cuTensorMapEncodeTiled\": %.0f,\n", hostNs(1000, [&] {
                CUtensorMap map;
                const cuuint64_t dims[2] = {128, 1 << 18};
                const cuuint64_t strides[1] = {128};
                const cuuint32_t box[2] = {128, 128};
                const cuuint32_t elementStrides[2] = {1, 1};
                encode(&map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, buffer, dims, strides, box, elementStrides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                       CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
              }));
  std::printf("    \"launch_plain\": %.0f,\n", hostNs(200, [&] { emptyKernel<<<1024, 128, 0, stream>>>(); }));
  CHECK(cudaFuncSetAttribute(emptyClusterKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 64 * 1024));
  std::printf("    \"launch_cluster4_64k\": %.0f,\n", hostNs(200, [&] {
                cudaLaunchConfig_t c = {};
                c.gridDim = dim3(4, 64, 4);
                c.blockDim = dim3(256);
                c.dynamicSmemBytes = 64 * 1024;
                c.stream = stream;
                cudaLaunchAttribute a[1];
                a[0].id = cudaLaunchAttributeClusterDimension;
                a[0].val.clusterDim.x = 4;
                a[0].val.clusterDim.y = 1;
                a[0].val.clusterDim.z = 1;
                c.attrs = a;
                c.numAttrs = 1;
                cudaLaunchKernelEx(&c, emptyClusterKernel);
              }));
  std::printf("    \"launch_pdl\": %.0f\n  },\n", hostNs(200, [&] {
                cudaLaunchConfig_t c = {};
                c.gridDim = dim3(16, 32, 4);
                c.blockDim = dim3(128);
                c.stream = stream;
                cudaLaunchAttribute a[1];
                a[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
                a[0].val.programmaticStreamSerializationAllowed = 1;
                c.attrs = a;
                c.numAttrs = 1;
                cudaLaunchKernelEx(&c, emptyKernel);
              }));
  CHECK(cudaGetLastError());

  // ---- whole sagegen calls, per library, rounds interleaved ----
  struct Shape { int64_t headDim, seq; int causal; };
  const Shape shapes[] = {{128, 1024, 0}, {128, 1024, 1}, {64, 1024, 1}, {128, 8192, 0}};
  const int64_t B = 4, H = 32;
  std::vector<Library> libs;
  for (int i = 1; i < argc; ++i) libs.push_back(load(argv[i]));
  std::printf("  \"calls_ns\": [\n");
  for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); ++s) {
    const Shape& sh = shapes[s];
    const size_t elems = size_t(B * H * sh.seq * sh.headDim);
    void *q, *k, *v, *o, *ws;
    CHECK(cudaMalloc(&q, elems * 2));
    CHECK(cudaMalloc(&k, elems * 2));
    CHECK(cudaMalloc(&v, elems * 2));
    CHECK(cudaMalloc(&o, elems * 2));
    CHECK(cudaMemset(q, 0x11, elems * 2));
    CHECK(cudaMemset(k, 0x12, elems * 2));
    CHECK(cudaMemset(v, 0x13, elems * 2));
    size_t wsBytes = 0;
    for (const Library& lib : libs) wsBytes = std::max(wsBytes, lib.workspaceSize(B, H, H, sh.seq, sh.seq, sh.headDim));
    CHECK(cudaMalloc(&ws, wsBytes));
    for (size_t li = 0; li < libs.size(); ++li) {
      const Library& lib = libs[li];
      sagegen_forward_args a;
      lib.init(&a);
      a.q = q; a.k = k; a.v = v; a.o = o;
      a.dtype = SAGEGEN_DTYPE_FP16;
      a.batch = B; a.num_q_heads = H; a.num_kv_heads = H; a.qo_len = sh.seq; a.kv_len = sh.seq; a.head_dim = sh.headDim;
      a.causal = sh.causal;
      a.softmax_scale = 1.0f / std::sqrt(float(sh.headDim));
      a.workspace = ws; a.workspace_bytes = wsBytes;
      const auto st = lib.forwardPhases(&a, stream, SAGEGEN_PHASE_ALL);
      if (st != SAGEGEN_STATUS_OK) { std::fprintf(stderr, "%s: status %d\n", lib.path.c_str(), int(st)); return 1; }
      // A burst short enough that the launch queue never fills: 20 calls.
      const double all = hostNs(20, [&] { lib.forwardPhases(&a, stream, SAGEGEN_PHASE_ALL); });
      const double quant = hostNs(20, [&] { lib.forwardPhases(&a, stream, SAGEGEN_PHASE_QUANTIZE); });
      const double attention = hostNs(20, [&] { lib.forwardPhases(&a, stream, SAGEGEN_PHASE_ATTENTION); });
      sagegen_forward_args small = a;
      small.workspace_bytes = 256;  // fails after every host check, before any CUDA call
      const double checks = hostNs(200, [&] { lib.forwardPhases(&small, stream, SAGEGEN_PHASE_ALL); });
      std::printf("    {\"lib\": \"%s\", \"head_dim\": %lld, \"seq\": %lld, \"causal\": %d, \"all\": %.0f, \"quantize\": %.0f, \"attention\": %.0f, "
                  "\"checks_until_workspace\": %.0f}%s\n",
                  lib.path.c_str(), (long long)sh.headDim, (long long)sh.seq, sh.causal, all, quant, attention, checks,
                  (s + 1 == sizeof(shapes) / sizeof(shapes[0]) && li + 1 == libs.size()) ? "" : ",");
    }
    CHECK(cudaDeviceSynchronize());
    CHECK(cudaFree(q)); CHECK(cudaFree(k)); CHECK(cudaFree(v)); CHECK(cudaFree(o)); CHECK(cudaFree(ws));
  }
  std::printf("  ]\n}\n");
  return 0;
}
