// sagegen C++ example: runs libsagegen's forward on random fp16 inputs (HND layout, grouped-query
// attention, qo_len != kv_len) for every head dim and causal flag the library was built with, and
// checks each output against a plain fp32 reference kernel. Prints PASS or FAIL; exits 1 on FAIL.
#include <sagegen.h>

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <utility>
#include <vector>

#define CUDA_CHECK(call)                                                                        \
  do {                                                                                          \
    cudaError_t err_ = (call);                                                                  \
    if (err_ != cudaSuccess) {                                                                  \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(err_)); \
      std::exit(1);                                                                             \
    }                                                                                           \
  } while (0)

namespace {

struct Problem {
  int batch, qHeads, kvHeads, qoLen, kvLen, headDim;
  bool causal;
};

constexpr int kMaxHeadDim = 128;

// Same limits as runtime/test/gpu_check.py for Gaussian inputs (cosine similarity, relative L1).
constexpr double kMinCosine = 0.999;
constexpr double kMaxRelL1 = 0.043;

// The reference: one thread per (batch, query head, query row), two passes over the keys in fp32.
// HND tensors [B, H, N, D]; query head h reads kv head h / (qHeads / kvHeads); causal is
// bottom-right aligned (query i sees key j <= i + kvLen - qoLen); a row that sees no key is 0.
__global__ void referenceAttention(const __half* q, const __half* k, const __half* v, float* o, Problem p, float scale) {
  const long row = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (row >= long(p.batch) * p.qHeads * p.qoLen) return;
  const int i = int(row % p.qoLen);
  const int h = int((row / p.qoLen) % p.qHeads);
  const int b = int(row / (long(p.qoLen) * p.qHeads));
  const int kvHead = h / (p.qHeads / p.kvHeads);
  const __half* qRow = q + row * p.headDim;
  const __half* kHead = k + (long(b) * p.kvHeads + kvHead) * p.kvLen * p.headDim;
  const __half* vHead = v + (long(b) * p.kvHeads + kvHead) * p.kvLen * p.headDim;
  const int lastKey = p.causal ? min(p.kvLen - 1, i + p.kvLen - p.qoLen) : p.kvLen - 1;

  auto score = [&](int j) {
    float s = 0.f;
    for (int d = 0; d < p.headDim; ++d) s += __half2float(qRow[d]) * __half2float(kHead[long(j) * p.headDim + d]);
    return s * scale;
  };
  float m = -INFINITY;
  for (int j = 0; j <= lastKey; ++j) m = fmaxf(m, score(j));
  float acc[kMaxHeadDim] = {};
  float l = 0.f;
  for (int j = 0; j <= lastKey; ++j) {
    const float w = expf(score(j) - m);
    l += w;
    for (int d = 0; d < p.headDim; ++d) acc[d] += w * __half2float(vHead[long(j) * p.headDim + d]);
  }
  for (int d = 0; d < p.headDim; ++d) o[row * p.headDim + d] = l > 0.f ? acc[d] / l : 0.f;
}

template <typename T>
T* deviceCopy(const std::vector<T>& host) {
  T* p = nullptr;
  CUDA_CHECK(cudaMalloc(&p, host.size() * sizeof(T)));
  CUDA_CHECK(cudaMemcpy(p, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
  return p;
}

std::vector<__half> gaussian(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.f, 1.f);
  std::vector<__half> out(n);
  for (auto& x : out) x = __float2half(dist(rng));
  return out;
}

enum class Outcome { Pass, Fail, NotBuilt };

Outcome runOne(const Problem& p, unsigned seed) {
  std::mt19937 rng(seed);
  const size_t qElems = size_t(p.batch) * p.qHeads * p.qoLen * p.headDim;
  const size_t kvElems = size_t(p.batch) * p.kvHeads * p.kvLen * p.headDim;
  __half* q = deviceCopy(gaussian(qElems, rng));
  __half* k = deviceCopy(gaussian(kvElems, rng));
  __half* v = deviceCopy(gaussian(kvElems, rng));
  __half* o = nullptr;
  float* ref = nullptr;
  CUDA_CHECK(cudaMalloc(&o, qElems * sizeof(__half)));
  CUDA_CHECK(cudaMalloc(&ref, qElems * sizeof(float)));

  const size_t workspaceBytes = sagegen_workspace_size(p.batch, p.qHeads, p.kvHeads, p.qoLen, p.kvLen, p.headDim);
  void* workspace = nullptr;
  CUDA_CHECK(cudaMalloc(&workspace, workspaceBytes > 0 ? workspaceBytes : 256));  // cudaMalloc is 256-byte aligned

  sagegen_forward_args args;
  sagegen_forward_args_init(&args);
  args.q = q;
  args.k = k;
  args.v = v;
  args.o = o;
  args.dtype = SAGEGEN_DTYPE_FP16;
  args.layout = SAGEGEN_LAYOUT_HND;
  args.batch = p.batch;
  args.num_q_heads = p.qHeads;
  args.num_kv_heads = p.kvHeads;
  args.qo_len = p.qoLen;
  args.kv_len = p.kvLen;
  args.head_dim = p.headDim;
  args.causal = p.causal ? 1 : 0;
  args.softmax_scale = sagegen_default_scale(p.headDim);
  args.workspace = workspace;
  args.workspace_bytes = workspaceBytes;

  cudaStream_t stream;
  CUDA_CHECK(cudaStreamCreate(&stream));
  const sagegen_status status = sagegen_forward(&args, reinterpret_cast<sagegen_stream_t>(stream));
  Outcome outcome = Outcome::Pass;
  std::printf("head_dim %d causal %d (B=%d Hq=%d Hkv=%d qo=%d kv=%d): ", p.headDim, int(p.causal), p.batch, p.qHeads, p.kvHeads,
              p.qoLen, p.kvLen);
  if (status != SAGEGEN_STATUS_OK) {
    std::printf("%s: %s\n", sagegen_status_string(status), sagegen_last_error_detail());
    outcome = status == SAGEGEN_STATUS_NO_VARIANT ? Outcome::NotBuilt : Outcome::Fail;
  } else {
    const long rows = long(p.batch) * p.qHeads * p.qoLen;
    referenceAttention<<<unsigned((rows + 127) / 128), 128, 0, stream>>>(q, k, v, ref, p, args.softmax_scale);
    CUDA_CHECK(cudaGetLastError());
    CUDA_CHECK(cudaStreamSynchronize(stream));
    std::vector<__half> got(qElems);
    std::vector<float> want(qElems);
    CUDA_CHECK(cudaMemcpy(got.data(), o, qElems * sizeof(__half), cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(want.data(), ref, qElems * sizeof(float), cudaMemcpyDeviceToHost));
    double dot = 0, gotSq = 0, wantSq = 0, absErr = 0, absWant = 0;
    size_t nonFinite = 0;
    for (size_t e = 0; e < qElems; ++e) {
      const double g = __half2float(got[e]), w = want[e];
      if (!std::isfinite(g)) ++nonFinite;
      dot += g * w;
      gotSq += g * g;
      wantSq += w * w;
      absErr += std::fabs(g - w);
      absWant += std::fabs(w);
    }
    const double cosine = dot / std::sqrt(gotSq * wantSq + 1e-30), relL1 = absErr / (absWant + 1e-30);
    const bool ok = nonFinite == 0 && cosine >= kMinCosine && relL1 <= kMaxRelL1;
    std::printf("cos %.5f (>= %.3f), rel L1 %.4f (<= %.3f), non-finite %zu: %s\n", cosine, kMinCosine, relL1, kMaxRelL1, nonFinite,
                ok ? "pass" : "FAIL");
    outcome = ok ? Outcome::Pass : Outcome::Fail;
  }
  CUDA_CHECK(cudaStreamDestroy(stream));
  for (void* ptr : {static_cast<void*>(q), static_cast<void*>(k), static_cast<void*>(v), static_cast<void*>(o),
                    static_cast<void*>(ref), workspace})
    CUDA_CHECK(cudaFree(ptr));
  return outcome;
}

}  // namespace

int main() {
  // What the program links: log it the way a real consumer would.
  std::printf("sagegen %s, ABI %d (header %d), archs %s, %d variants\n", sagegen_version(), sagegen_abi_version(), SAGEGEN_ABI_VERSION,
              sagegen_archs(), sagegen_variant_count());
  if (sagegen_abi_version() != SAGEGEN_ABI_VERSION) {
    std::printf("FAIL: library ABI %d, header ABI %d\n", sagegen_abi_version(), SAGEGEN_ABI_VERSION);
    return 1;
  }
  int device = 0;
  cudaDeviceProp prop;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  std::printf("device %d: %s (sm_%d%d)\n", device, prop.name, prop.major, prop.minor);

  // Every (head dim, causal) the library has an fp16 variant for.
  std::set<std::pair<int, bool>> problems;
  for (int i = 0; i < sagegen_variant_count(); ++i) {
    sagegen_variant_info info;
    if (sagegen_variant_get_info(i, &info) != SAGEGEN_STATUS_OK) return 1;
    if (info.dtype == SAGEGEN_DTYPE_FP16) problems.insert({info.head_dim, info.causal != 0});
  }
  int passed = 0, failed = 0, notBuilt = 0;
  unsigned seed = 1234;
  for (const auto& [headDim, causal] : problems) {
    if (headDim > kMaxHeadDim) continue;
    const Problem p{2, 8, 2, 300, 517, headDim, causal};
    switch (runOne(p, seed++)) {
      case Outcome::Pass: ++passed; break;
      case Outcome::Fail: ++failed; break;
      case Outcome::NotBuilt: ++notBuilt; break;
    }
  }
  std::printf("%d passed, %d failed, %d without a variant for this device\n", passed, failed, notBuilt);
  const bool ok = failed == 0 && passed > 0;
  std::printf("%s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
