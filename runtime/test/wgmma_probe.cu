// wgmma probe (issue 7): checks on an sm_90a GPU the hardware facts the wgmma backend is built on,
// each against a CPU reference computed exactly (integer sums; FP8 values whose products and sums are
// exact in f32):
//   1. INT8 wgmma m64n64k32, both operands in shared memory, K-major, 128-byte swizzle, with the
//      descriptor encoding below and the K step taken by moving the start address 32 bytes;
//   2. FP8 e4m3 wgmma m64n64k32 with A from registers in mma.sync m16n8k32's A-fragment layout and
//      B (Vᵀ: one row per output column) in shared memory;
//   3. a TMA 2D tile load with CU_TENSOR_MAP_SWIZZLE_128B tracked by an mbarrier, read by (1)'s
//      descriptors: TMA's swizzle is the one the descriptors describe.
// All three read the accumulators in mma.sync's C layout per 8 columns (accPosition).
//
//   nvcc -gencode arch=compute_90a,code=sm_90a -O2 -o wgmma_probe runtime/test/wgmma_probe.cu
//   ./wgmma_probe results/gpu/wgmma-probe-h100.json     # exit 0 when all pass
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cuda_fp8.h>
#include <cuda.h>
#include <cuda_runtime.h>
#include <cudaTypedefs.h>

constexpr int kM = 64, kN = 64, kK = 128;  // one warpgroup tile; K = 128 bytes = one 128B swizzle row

__device__ __forceinline__ uint32_t smemAddr(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }

// 128-byte swizzle (the layout TMA's CU_TENSOR_MAP_SWIZZLE_128B writes): rows of 128 bytes in 1024-byte
// atoms of 8 rows; 16-byte chunk c of row r sits at chunk c ^ (r % 8).
__device__ __forceinline__ uint32_t swizzle128(int row, int byteInRow) {
  const int chunk = byteInRow / 16;
  return (row / 8) * 1024 + (row % 8) * 128 + ((chunk ^ (row % 8)) * 16) + byteInRow % 16;
}

// Shared-memory matrix descriptor, K-major, 128B swizzle: LBO unused (1), SBO = 1024 B between 8-row groups.
__device__ __forceinline__ uint64_t descriptor(uint32_t addr) {
  uint64_t d = 0;
  d |= static_cast<uint64_t>((addr & 0x3FFFF) >> 4);
  d |= static_cast<uint64_t>(1) << 16;
  d |= static_cast<uint64_t>(1024 >> 4) << 32;
  d |= static_cast<uint64_t>(1) << 62;
  return d;
}

__device__ __forceinline__ void fenceOperands() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void commitGroup() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void waitGroup0() { asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory"); }

#define D32(i) "+r"(d[i])
#define F32(i) "+f"(d[i])

__device__ __forceinline__ void wgmmaS8(int32_t (&d)[32], uint64_t a, uint64_t b, int accumulate) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k32.s32.s8.s8 "
      "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31}, "
      "%32, %33, p;\n}\n"
      : D32(0), D32(1), D32(2), D32(3), D32(4), D32(5), D32(6), D32(7), D32(8), D32(9), D32(10), D32(11), D32(12), D32(13), D32(14), D32(15),
        D32(16), D32(17), D32(18), D32(19), D32(20), D32(21), D32(22), D32(23), D32(24), D32(25), D32(26), D32(27), D32(28), D32(29), D32(30), D32(31)
      : "l"(a), "l"(b), "r"(accumulate));
}

__device__ __forceinline__ void wgmmaE4m3(float (&d)[32], const uint32_t (&a)[4], uint64_t b, int accumulate) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k32.f32.e4m3.e4m3 "
      "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31}, "
      "{%32,%33,%34,%35}, %36, p, 1, 1;\n}\n"
      : F32(0), F32(1), F32(2), F32(3), F32(4), F32(5), F32(6), F32(7), F32(8), F32(9), F32(10), F32(11), F32(12), F32(13), F32(14), F32(15),
        F32(16), F32(17), F32(18), F32(19), F32(20), F32(21), F32(22), F32(23), F32(24), F32(25), F32(26), F32(27), F32(28), F32(29), F32(30), F32(31)
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(accumulate));
}

// Accumulator layout assumed: warp w owns rows 16w..16w+15; register 4j+e holds
// row 16w + g + 8*(e/2), column 8j + 2t + e%2 (g = lane/4, t = lane%4) — mma.sync's C layout per 8 columns.
__device__ __forceinline__ void accPosition(int reg, int& row, int& col) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int j = reg / 4, e = reg % 4;
  row = 16 * warp + g + 8 * (e / 2);
  col = 8 * j + 2 * t + e % 2;
}

// INT8, both operands from shared memory: C[m][n] = sum_k A[m][k] B[n][k].
__global__ void probeS8(const int8_t* A, const int8_t* B, int32_t* C) {
  __shared__ __align__(1024) uint8_t sA[kM * kK];
  __shared__ __align__(1024) uint8_t sB[kN * kK];
  for (int i = threadIdx.x; i < kM * kK; i += blockDim.x) sA[swizzle128(i / kK, i % kK)] = A[i];
  for (int i = threadIdx.x; i < kN * kK; i += blockDim.x) sB[swizzle128(i / kK, i % kK)] = B[i];
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");  // generic-proxy writes visible to wgmma
  __syncthreads();
  int32_t d[32];
  for (int i = 0; i < 32; ++i) d[i] = 0;
  fenceOperands();
  for (int k = 0; k < kK / 32; ++k) wgmmaS8(d, descriptor(smemAddr(sA) + 32 * k), descriptor(smemAddr(sB) + 32 * k), k > 0);
  commitGroup();
  waitGroup0();
  for (int r = 0; r < 32; ++r) {
    int row, col;
    accPosition(r, row, col);
    C[row * kN + col] = d[r];
  }
}

// FP8 e4m3, A from registers (P), B from shared memory (Vᵀ, K-major: row n holds its K values).
// A fragment assumed as mma.sync m16n8k32's: a0 = row g, k 4t..4t+3; a1 = row g+8, same k;
// a2 = row g, k 16+4t..; a3 = row g+8, k 16+4t.. (within the warp's 16 rows and the 32-wide k step).
__global__ void probeE4m3(const uint8_t* A, const uint8_t* B, float* C) {
  __shared__ __align__(1024) uint8_t sB[kN * kK];
  for (int i = threadIdx.x; i < kN * kK; i += blockDim.x) sB[swizzle128(i / kK, i % kK)] = B[i];
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
  __syncthreads();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  float d[32];
  for (int i = 0; i < 32; ++i) d[i] = 0.f;
  for (int k = 0; k < kK / 32; ++k) {
    uint32_t a[4];
    for (int q = 0; q < 4; ++q) {
      const int row = 16 * warp + g + 8 * (q % 2);
      const int col = 32 * k + 16 * (q / 2) + 4 * t;
      a[q] = *reinterpret_cast<const uint32_t*>(A + row * kK + col);
    }
    fenceOperands();
    wgmmaE4m3(d, a, descriptor(smemAddr(sB) + 32 * k), k > 0);
    commitGroup();
    waitGroup0();
  }
  for (int r = 0; r < 32; ++r) {
    int row, col;
    accPosition(r, row, col);
    C[row * kN + col] = d[r];
  }
}


// TMA (cp.async.bulk.tensor, 128B swizzle) loads A and B, an mbarrier tracks the bytes, then the
// INT8 wgmma reads them: TMA's swizzle must be the one the descriptors describe.
__device__ __forceinline__ void mbarrierInit(uint32_t bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count));
}
__device__ __forceinline__ void mbarrierExpectTx(uint32_t bar, int bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbarrierWait(uint32_t bar, int phase) {
  asm volatile(
      "{\n.reg .pred done;\nwait:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra wait;\n}\n" ::"r"(bar), "r"(phase) : "memory");
}
__device__ __forceinline__ void tmaLoad2d(uint32_t dst, const CUtensorMap* map, int x, int y, uint32_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n"
      ::"r"(dst), "l"(reinterpret_cast<uint64_t>(map)), "r"(x), "r"(y), "r"(bar) : "memory");
}

__global__ void probeTmaS8(const __grid_constant__ CUtensorMap mapA, const __grid_constant__ CUtensorMap mapB, int tileA, int tileB, int32_t* C) {
  __shared__ __align__(1024) uint8_t sA[kM * kK];
  __shared__ __align__(1024) uint8_t sB[kN * kK];
  __shared__ __align__(8) uint64_t bar;
  const uint32_t barAddr = smemAddr(&bar);
  if (threadIdx.x == 0) {
    mbarrierInit(barAddr, 1);
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    mbarrierExpectTx(barAddr, (kM + kN) * kK);
    tmaLoad2d(smemAddr(sA), &mapA, 0, tileA * kM, barAddr);
    tmaLoad2d(smemAddr(sB), &mapB, 0, tileB * kN, barAddr);
  }
  mbarrierWait(barAddr, 0);
  int32_t d[32];
  for (int i = 0; i < 32; ++i) d[i] = 0;
  fenceOperands();
  for (int k = 0; k < kK / 32; ++k) wgmmaS8(d, descriptor(smemAddr(sA) + 32 * k), descriptor(smemAddr(sB) + 32 * k), k > 0);
  commitGroup();
  waitGroup0();
  for (int r = 0; r < 32; ++r) {
    int row, col;
    accPosition(r, row, col);
    C[row * kN + col] = d[r];
  }
}

static PFN_cuTensorMapEncodeTiled_v12000 encodeTiled() {
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult q;
  if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &q) != cudaSuccess || q != cudaDriverEntryPointSuccess) return nullptr;
  return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn);
}

// rows x 128 bytes of int8, row-major; a box of boxRows x 128 bytes, 128B swizzle.
static bool makeMap(CUtensorMap* map, void* base, int rows, int boxRows) {
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(kK), static_cast<cuuint64_t>(rows)};
  const cuuint64_t strides[1] = {static_cast<cuuint64_t>(kK)};
  const cuuint32_t box[2] = {static_cast<cuuint32_t>(kK), static_cast<cuuint32_t>(boxRows)};
  const cuuint32_t elemStrides[2] = {1, 1};
  return encodeTiled()(map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, base, dims, strides, box, elemStrides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                       CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_128B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

static float e4m3ToFloat(uint8_t x) {
  __nv_fp8_e4m3 v;
  v.__x = x;
  return static_cast<float>(v);
}

struct Check {
  const char* name;
  bool pass;
  int mismatches;
  const char* error;
};

int main(int argc, char** argv) {
  int failures = 0;
  Check checks[3];
  int nChecks = 0;
  srand(7);
  // INT8
  {
    int8_t hA[kM * kK], hB[kN * kK];
    for (auto& x : hA) x = static_cast<int8_t>(rand() % 255 - 127);
    for (auto& x : hB) x = static_cast<int8_t>(rand() % 255 - 127);
    int8_t *dA, *dB;
    int32_t* dC;
    cudaMalloc(&dA, sizeof hA); cudaMalloc(&dB, sizeof hB); cudaMalloc(&dC, kM * kN * 4);
    cudaMemcpy(dA, hA, sizeof hA, cudaMemcpyHostToDevice); cudaMemcpy(dB, hB, sizeof hB, cudaMemcpyHostToDevice);
    cudaMemset(dC, 0xFF, kM * kN * 4);
    probeS8<<<1, 128>>>(dA, dB, dC);
    cudaError_t e = cudaDeviceSynchronize();
    int32_t hC[kM * kN];
    cudaMemcpy(hC, dC, sizeof hC, cudaMemcpyDeviceToHost);
    int bad = 0;
    for (int m = 0; m < kM; ++m)
      for (int n = 0; n < kN; ++n) {
        int32_t ref = 0;
        for (int k = 0; k < kK; ++k) ref += hA[m * kK + k] * hB[n * kK + k];
        if (ref != hC[m * kN + n] && bad++ < 5) printf("  s8 C[%d][%d] = %d, expected %d\n", m, n, hC[m * kN + n], ref);
      }
    printf("wgmma m64n64k32 s8 (A, B smem, 128B swizzle, K-major): %s (%d mismatches, %s)\n", bad ? "FAIL" : "PASS", bad, cudaGetErrorString(e));
    failures += bad != 0 || e != cudaSuccess;
    checks[nChecks++] = {"wgmma m64n64k32 s32.s8.s8, A and B in shared memory (K-major, 128B swizzle)", bad == 0 && e == cudaSuccess, bad, cudaGetErrorString(e)};
  }
  // FP8
  {
    uint8_t hA[kM * kK], hB[kN * kK];
    // small values exactly representable: e4m3 of integers -4..4 and halves keep sums exact in f32
    const float vals[] = {0.f, 0.5f, 1.f, 1.5f, 2.f, -0.5f, -1.f, -2.f, 3.f, -3.f};
    for (auto& x : hA) { __nv_fp8_e4m3 v(vals[rand() % 10]); x = v.__x; }
    for (auto& x : hB) { __nv_fp8_e4m3 v(vals[rand() % 10]); x = v.__x; }
    uint8_t *dA, *dB;
    float* dC;
    cudaMalloc(&dA, sizeof hA); cudaMalloc(&dB, sizeof hB); cudaMalloc(&dC, kM * kN * 4);
    cudaMemcpy(dA, hA, sizeof hA, cudaMemcpyHostToDevice); cudaMemcpy(dB, hB, sizeof hB, cudaMemcpyHostToDevice);
    cudaMemset(dC, 0xFF, kM * kN * 4);
    probeE4m3<<<1, 128>>>(dA, dB, dC);
    cudaError_t e = cudaDeviceSynchronize();
    float hC[kM * kN];
    cudaMemcpy(hC, dC, sizeof hC, cudaMemcpyDeviceToHost);
    int bad = 0;
    for (int m = 0; m < kM; ++m)
      for (int n = 0; n < kN; ++n) {
        float ref = 0.f;
        for (int k = 0; k < kK; ++k) ref += e4m3ToFloat(hA[m * kK + k]) * e4m3ToFloat(hB[n * kK + k]);
        if (ref != hC[m * kN + n] && bad++ < 5) printf("  e4m3 C[%d][%d] = %g, expected %g\n", m, n, hC[m * kN + n], ref);
      }
    printf("wgmma m64n64k32 e4m3 (A registers, B smem, 128B swizzle, K-major): %s (%d mismatches, %s)\n", bad ? "FAIL" : "PASS", bad, cudaGetErrorString(e));
    failures += bad != 0 || e != cudaSuccess;
    checks[nChecks++] = {"wgmma m64n64k32 f32.e4m3.e4m3, A in registers (m16n8k32 A layout), B in shared memory", bad == 0 && e == cudaSuccess, bad, cudaGetErrorString(e)};
  }
  // TMA + mbarrier + INT8 wgmma: tiles 2 of A (rows 128..191 of 256) and 1 of B (rows 64..127 of 200, the last box partly past the end is not used)
  {
    const int rowsA = 256, rowsB = 200, tileA = 2, tileB = 1;
    int8_t* hA = new int8_t[rowsA * kK];
    int8_t* hB = new int8_t[rowsB * kK];
    for (int i = 0; i < rowsA * kK; ++i) hA[i] = static_cast<int8_t>(rand() % 255 - 127);
    for (int i = 0; i < rowsB * kK; ++i) hB[i] = static_cast<int8_t>(rand() % 255 - 127);
    int8_t *dA, *dB;
    int32_t* dC;
    cudaMalloc(&dA, rowsA * kK); cudaMalloc(&dB, rowsB * kK); cudaMalloc(&dC, kM * kN * 4);
    cudaMemcpy(dA, hA, rowsA * kK, cudaMemcpyHostToDevice); cudaMemcpy(dB, hB, rowsB * kK, cudaMemcpyHostToDevice);
    cudaMemset(dC, 0xFF, kM * kN * 4);
    CUtensorMap mapA, mapB;
    const bool mapsOk = encodeTiled() && makeMap(&mapA, dA, rowsA, kM) && makeMap(&mapB, dB, rowsB, kN);
    cudaError_t e = cudaErrorUnknown;
    if (mapsOk) {
      probeTmaS8<<<1, 128>>>(mapA, mapB, tileA, tileB, dC);
      e = cudaDeviceSynchronize();
    }
    int32_t hC[kM * kN];
    cudaMemcpy(hC, dC, sizeof hC, cudaMemcpyDeviceToHost);
    int bad = 0;
    for (int m = 0; m < kM; ++m)
      for (int n = 0; n < kN; ++n) {
        int32_t ref = 0;
        for (int k = 0; k < kK; ++k) ref += hA[(tileA * kM + m) * kK + k] * hB[(tileB * kN + n) * kK + k];
        if (ref != hC[m * kN + n] && bad++ < 5) printf("  tma s8 C[%d][%d] = %d, expected %d\n", m, n, hC[m * kN + n], ref);
      }
    printf("TMA 2D load (128B swizzle) + mbarrier + wgmma s8: %s (%d mismatches, maps %s, %s)\n", bad || !mapsOk ? "FAIL" : "PASS", bad, mapsOk ? "encoded" : "NOT encoded", cudaGetErrorString(e));
    failures += bad != 0 || e != cudaSuccess || !mapsOk;
    checks[nChecks++] = {"TMA 2D load, CU_TENSOR_MAP_SWIZZLE_128B, mbarrier expect_tx, then wgmma s8", bad == 0 && e == cudaSuccess && mapsOk, bad, mapsOk ? cudaGetErrorString(e) : "tensor map not encoded"};
  }
  if (argc > 1) {
    FILE* f = fopen(argv[1], "w");
    if (!f) { perror(argv[1]); return 2; }
    cudaDeviceProp prop;
    cudaGetDeviceProperties(&prop, 0);
    int driver = 0;
    cudaDriverGetVersion(&driver);
    const char* commit = getenv("SAGEGEN_COMMIT");
    const char* date = getenv("PROBE_DATE");
    fprintf(f, "{\n \"device\": \"%s\",\n \"capability\": \"%d.%d\",\n \"cuda_driver\": %d,\n \"commit\": \"%s\",\n \"date\": \"%s\",\n",
            prop.name, prop.major, prop.minor, driver, commit ? commit : "unknown", date ? date : "unknown");
    fprintf(f, " \"command\": \"nvcc -gencode arch=compute_90a,code=sm_90a -O2 -o wgmma_probe runtime/test/wgmma_probe.cu && ./wgmma_probe %s\",\n", argv[1]);
    fprintf(f, " \"passed\": %d,\n \"failed\": %d,\n \"checks\": [\n", nChecks - failures, failures);
    for (int i = 0; i < nChecks; ++i)
      fprintf(f, "  {\"name\": \"%s\", \"pass\": %s, \"mismatches\": %d, \"cuda\": \"%s\"}%s\n", checks[i].name, checks[i].pass ? "true" : "false",
              checks[i].mismatches, checks[i].error, i + 1 < nChecks ? "," : "");
    fprintf(f, " ]\n}\n");
    fclose(f);
  }
  return failures ? 1 : 0;
}
