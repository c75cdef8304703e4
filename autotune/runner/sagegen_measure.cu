/*
 * sagegen-measure — the autotuner's native measurement runner.
 *
 *   sagegen-measure BUNDLE --out RESULTS.jsonl [--seqs 1024,4096,16384] [--device I] [--shard I/N] [--warmup-ms MS] [--events]
 *   sagegen-measure BUNDLE --out RESULTS.jsonl --dry-run     what would be measured; touches no GPU
 *   sagegen-measure --device-count
 *   sagegen-measure --self-test                              the gate's arithmetic, on the CPU
 *
 * `sagegen autotune --compile-only` links this file statically against the bundle's libsagegen.a
 * (CUDA runtime static), so a GPU host needs neither Node, Python nor PyTorch to measure. It does what
 * autotune/measure.py does, through the public C ABI only:
 *
 * for each candidate (manifest order, those listed in candidates.json, every N-th from I with --shard):
 *   1. the accuracy gate on fixed-seed inputs with a large per-channel K bias (B=1, H=8, N=2048)
 *      against a float64 reference computed here by a plain attention kernel: cos >= 0.9990 and
 *      relative L1 <= 0.043 and no NaN/Inf in the output (poisoned with NaN before the run), else the
 *      candidate is recorded as rejected with its metrics and never timed;
 *   2. per sequence length: the attention kernel alone (sagegen_forward_phases-style, through
 *      sagegen_forward_variant with SAGEGEN_PHASE_ATTENTION) and the whole call, B=4, H=32, CUDA
 *      events, warm-up (back-to-back calls for --warmup-ms, default 25) then the median of
 *      repetitions, rotating over enough input sets that together they exceed 4x the L2.
 *
 * 3. with --refine-rounds R (R > 0), after every candidate is measured: per bucket (head dim, dtype,
 *    causal flag and sequence length), the candidates whose whole call came within --refine-margin
 *    (default 5%) of the bucket's fastest, at most --refine-max (default 4) of them, timed again in R
 *    interleaved rounds (each round times every one of them once, the order rotated by one each
 *    round) so that clock and thermal drift fall on all of them alike; each gets a timing record
 *    with the medians over the rounds and a "refined" member, which the selection prefers to the
 *    single sweep timing. One sweep timing per candidate ranked candidates a few percent apart
 *    wrongly (results/wgmma/score-bias/: a re-selection lost up to 10% in interleaved A/B rounds).
 *
 * Every record is one JSON line, the same fields measure.py writes, appended and fsync'ed the moment
 * it exists; records already in RESULTS are skipped (resume), and a line cut by a kill is measured
 * again. --events prints machine-readable progress on stdout for `sagegen autotune --measure`;
 * without it, plain progress lines.
 */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cfloat>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "json.h"
#include "sagegen.h"

namespace {

// The gate: the accuracy floor of shared/accuracy plus 10%, as in autotune/measure.py.
constexpr double kGateCos = 0.9990;
constexpr double kGateRelL1 = 0.043;
constexpr int64_t kGateBatch = 1, kGateHeads = 8, kGateSeq = 2048;
// Every candidate is gated on the same inputs, so a borderline candidate is judged like its rivals.
constexpr uint64_t kGateSeed = 1000;
// K = N(0,1) + kKeyBias * (one N(0,1) draw per channel): the channel bias K smoothing exists for.
constexpr float kKeyBias = 6.0f;
// Timing shape: the benchmark's (runtime/bench/shapes.py BATCH, HEADS).
constexpr int64_t kTimeBatch = 4, kTimeHeads = 32;
constexpr uint64_t kTimeSeed = 2000;
constexpr double kWarmupMs = 25.0, kRepMs = 100.0;  // kWarmupMs: the default of --warmup-ms
constexpr int kMinWarmups = 3, kMinReps = 5;
constexpr int kMaxInputSets = 8;
// Defaults of --refine-margin and --refine-max (--refine-rounds defaults to 0: no refinement).
constexpr double kRefineMargin = 0.05;
constexpr int kRefineMax = 4;
// What measure.py's torch.nan_to_num(out, nan=1e9) puts for a NaN output in the L1 numerator.
constexpr double kNanInL1 = 1e9;

[[noreturn]] void die(const char* fmt, ...) {
  std::fprintf(stderr, "sagegen-measure: ");
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "\n");
  std::exit(1);
}

[[noreturn]] void usage(const char* fmt, ...) {
  std::fprintf(stderr, "sagegen-measure: ");
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fprintf(stderr,
               "\nusage: sagegen-measure BUNDLE --out RESULTS.jsonl [--seqs 1024,4096,16384] [--device I] [--shard I/N] [--warmup-ms MS]\n"
               "                      [--refine-rounds R] [--refine-margin F] [--refine-max K] [--events] [--dry-run]\n"
               "       sagegen-measure --device-count | --self-test\n");
  std::exit(2);
}

void cudaCheck(cudaError_t err, const char* what) {
  if (err != cudaSuccess) die("%s: %s (%s)", what, cudaGetErrorName(err), cudaGetErrorString(err));
}

// ---------------------------------------------------------------------------------------------
// Inputs: a counter-based generator (each element a pure function of seed, stream and index, so the
// same seed gives the same inputs on any GPU, in any launch shape), Gaussian by Box–Muller.

__host__ __device__ inline uint64_t mix64(uint64_t x) {  // the splitmix64 finalizer
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Host and device: --self-test checks its moments on the CPU.
__host__ __device__ inline double gaussian(uint64_t seed, uint64_t stream, uint64_t index) {
  const uint64_t h = mix64(mix64(seed ^ mix64(stream)) + index);
  const double u1 = (static_cast<double>(h >> 32) + 1.0) * 0x1p-32;          // (0, 1]: log(u1) is finite
  const double u2 = static_cast<double>(h & 0xFFFFFFFFull) * 0x1p-32;        // [0, 1)
  return sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

enum Stream : uint64_t { kStreamQ = 1, kStreamK = 2, kStreamV = 3, kStreamKeyBias = 4 };

template <typename T> __device__ inline T fromFloat(float x);
template <> __device__ inline __half fromFloat<__half>(float x) { return __float2half_rn(x); }
template <> __device__ inline __nv_bfloat16 fromFloat<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }
template <typename T> __device__ inline double toDouble(T x);
template <> __device__ inline double toDouble<__half>(__half x) { return __half2float(x); }
template <> __device__ inline double toDouble<__nv_bfloat16>(__nv_bfloat16 x) { return __bfloat162float(x); }

// dst[i] = N(0,1) (+ bias * N(0,1) of channel i % headDim when bias != 0), rounded to T like
// torch's randn(...).to(dtype): drawn in fp32, rounded once.
template <typename T>
__global__ void fillGaussian(T* dst, size_t n, uint64_t seed, uint64_t stream, int headDim, float bias) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    float x = static_cast<float>(gaussian(seed, stream, i));
    if (bias != 0.0f) x += bias * static_cast<float>(gaussian(seed, kStreamKeyBias, i % headDim));
    dst[i] = fromFloat<T>(x);
  }
}

template <typename T>
__global__ void widen(const T* src, double* dst, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x)
    dst[i] = toDouble<T>(src[i]);
}

// ---------------------------------------------------------------------------------------------
// The reference: attention in float64, one block per (batch·head, query row), bottom-right causal
// (query i sees keys j <= i + kvLen - qoLen). Naive on purpose: it is checked by being obvious.
constexpr int kRefThreads = 128;

__device__ double blockReduce(double x, double* scratch, bool isMax) {
  scratch[threadIdx.x] = x;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) {
      const double other = scratch[threadIdx.x + half];
      scratch[threadIdx.x] = isMax ? fmax(scratch[threadIdx.x], other) : scratch[threadIdx.x] + other;
    }
    __syncthreads();
  }
  const double r = scratch[0];
  __syncthreads();
  return r;
}

template <typename T>
__global__ void __launch_bounds__(kRefThreads) referenceAttention(const T* q, const T* k, const T* v, double* o, int64_t qoLen, int64_t kvLen,
                                                                  int headDim, int causal, double scale) {
  extern __shared__ double shared[];
  double* scores = shared;              // kvLen
  double* qRow = scores + kvLen;        // headDim
  double* scratch = qRow + headDim;     // blockDim.x
  const int64_t row = blockIdx.x, bh = blockIdx.y;
  const T* qp = q + (bh * qoLen + row) * headDim;
  const T* kp = k + bh * kvLen * headDim;
  const T* vp = v + bh * kvLen * headDim;
  for (int d = threadIdx.x; d < headDim; d += blockDim.x) qRow[d] = toDouble<T>(qp[d]);
  __syncthreads();

  const int64_t lastKey = causal ? row + kvLen - qoLen : kvLen - 1;  // inclusive
  double localMax = -INFINITY;
  for (int64_t j = threadIdx.x; j < kvLen; j += blockDim.x) {
    double s = -INFINITY;
    if (j <= lastKey) {
      s = 0.0;
      for (int d = 0; d < headDim; ++d) s += qRow[d] * toDouble<T>(kp[j * headDim + d]);
      s *= scale;
    }
    scores[j] = s;
    localMax = fmax(localMax, s);
  }
  const double rowMax = blockReduce(localMax, scratch, true);
  double localSum = 0.0;
  for (int64_t j = threadIdx.x; j < kvLen; j += blockDim.x) {
    const double p = j <= lastKey ? exp(scores[j] - rowMax) : 0.0;
    scores[j] = p;
    localSum += p;
  }
  const double sum = blockReduce(localSum, scratch, false);
  __syncthreads();
  for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
    double acc = 0.0;
    for (int64_t j = 0; j <= lastKey && j < kvLen; ++j) acc += scores[j] * toDouble<T>(vp[j * headDim + d]);
    o[(bh * qoLen + row) * headDim + d] = sum > 0.0 ? acc / sum : 0.0;  // a row seeing no key: 0, as the library
  }
}

// ---------------------------------------------------------------------------------------------

struct DeviceBuffer {
  void* ptr = nullptr;
  size_t bytes = 0;
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t n) : bytes(n) {
    if (n) cudaCheck(cudaMalloc(&ptr, n), "cudaMalloc");
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (ptr) cudaFree(ptr);
  }
};

constexpr int kFillThreads = 256;
int gridFor(size_t n) { return static_cast<int>(std::min<size_t>((n + kFillThreads - 1) / kFillThreads, 65535 * 8)); }

struct Problem {
  int64_t batch, heads, seq, headDim;
  sagegen_dtype dtype;
  bool causal;
  size_t elements() const { return static_cast<size_t>(batch * heads * seq * headDim); }
  size_t bytes() const { return elements() * 2; }  // fp16 and bf16
};

void fill(const Problem& p, void* dst, uint64_t seed, uint64_t stream, float bias) {
  if (p.dtype == SAGEGEN_DTYPE_FP16)
    fillGaussian<__half><<<gridFor(p.elements()), kFillThreads>>>(static_cast<__half*>(dst), p.elements(), seed, stream, static_cast<int>(p.headDim), bias);
  else
    fillGaussian<__nv_bfloat16><<<gridFor(p.elements()), kFillThreads>>>(static_cast<__nv_bfloat16*>(dst), p.elements(), seed, stream, static_cast<int>(p.headDim), bias);
  cudaCheck(cudaGetLastError(), "input generation kernel");
}

/* One ready-to-run call: inputs, output and workspace on the device, arguments filled in. */
struct Call {
  Problem problem;
  DeviceBuffer q, k, v, o, workspace;
  sagegen_forward_args args;

  Call(const Problem& p, uint64_t seed, float keyBias)
      : problem(p), q(p.bytes()), k(p.bytes()), v(p.bytes()), o(p.bytes()),
        workspace(sagegen_workspace_size(p.batch, p.heads, p.heads, p.seq, p.seq, p.headDim)) {
    if (workspace.bytes == 0) die("sagegen_workspace_size is 0 for head_dim %lld: the library has no variant of that head dim", (long long)p.headDim);
    fill(p, q.ptr, seed, kStreamQ, 0.0f);
    fill(p, k.ptr, seed, kStreamK, keyBias);
    fill(p, v.ptr, seed, kStreamV, 0.0f);
    sagegen_forward_args_init(&args);
    args.q = q.ptr;
    args.k = k.ptr;
    args.v = v.ptr;
    args.o = o.ptr;
    args.dtype = p.dtype;
    args.layout = SAGEGEN_LAYOUT_HND;
    args.batch = p.batch;
    args.num_q_heads = args.num_kv_heads = p.heads;
    args.qo_len = args.kv_len = p.seq;
    args.head_dim = p.headDim;
    args.causal = p.causal ? 1 : 0;
    args.softmax_scale = sagegen_default_scale(p.headDim);
    args.workspace = workspace.ptr;
    args.workspace_bytes = workspace.bytes;
  }

  void run(int32_t variant, uint32_t phases) const {
    const sagegen_status st = sagegen_forward_variant(&args, nullptr, phases, variant);
    if (st != SAGEGEN_STATUS_OK) die("sagegen_forward_variant: %s: %s", sagegen_status_string(st), sagegen_last_error_detail());
  }
};

struct Candidate {
  std::string name;
  int32_t index;          // in the library
  const sgjson::Value* spec;
  std::string ptxasJson;  // the attention kernel's ptxas figures, copied into the gate record
  std::string sourceSha256;  // of the generated .cu measured, copied into the gate record (the tuned configuration keeps it)
  Problem shape(int64_t batch, int64_t heads, int64_t seq) const {
    const sgjson::Value* hd = spec->get("headDim");
    const sgjson::Value* dt = spec->get("dtype");
    const sgjson::Value* causal = spec->get("causal");
    return Problem{batch, heads, seq, static_cast<int64_t>(hd->number()),
                   dt->text == "bf16" ? SAGEGEN_DTYPE_BF16 : SAGEGEN_DTYPE_FP16, causal->boolean};
  }
};

// ---------------------------------------------------------------------------------------------
// The gate.

struct GateInputs {
  std::unique_ptr<Call> call;
  std::vector<double> reference;
};

struct Accuracy {
  double cos, relL1;
  long long nonfinite;
  bool passed;
};

template <typename T>
void launchReference(const Call& c, double* out) {
  const Problem& p = c.problem;
  const size_t smem = (p.seq + p.headDim + kRefThreads) * sizeof(double);
  cudaCheck(cudaFuncSetAttribute(referenceAttention<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)), "reference kernel shared memory");
  referenceAttention<T><<<dim3(static_cast<unsigned>(p.seq), static_cast<unsigned>(p.batch * p.heads)), kRefThreads, smem>>>(
      static_cast<const T*>(c.q.ptr), static_cast<const T*>(c.k.ptr), static_cast<const T*>(c.v.ptr), out, p.seq, p.seq, static_cast<int>(p.headDim),
      p.causal ? 1 : 0, 1.0 / std::sqrt(static_cast<double>(p.headDim)));
  cudaCheck(cudaGetLastError(), "reference kernel launch");
}

std::vector<double> toHostDoubles(const Problem& p, const void* src) {
  DeviceBuffer wide(p.elements() * sizeof(double));
  if (p.dtype == SAGEGEN_DTYPE_FP16)
    widen<__half><<<gridFor(p.elements()), kFillThreads>>>(static_cast<const __half*>(src), static_cast<double*>(wide.ptr), p.elements());
  else
    widen<__nv_bfloat16><<<gridFor(p.elements()), kFillThreads>>>(static_cast<const __nv_bfloat16*>(src), static_cast<double*>(wide.ptr), p.elements());
  cudaCheck(cudaGetLastError(), "widening kernel");
  std::vector<double> host(p.elements());
  cudaCheck(cudaMemcpy(host.data(), wide.ptr, wide.bytes, cudaMemcpyDeviceToHost), "copying the output back");
  return host;
}

/* The same inputs and float64 reference for every candidate of one (head dim, dtype, causal). */
GateInputs& gateInputs(std::map<std::string, GateInputs>& cache, const Candidate& c) {
  const Problem p = c.shape(kGateBatch, kGateHeads, kGateSeq);
  const std::string key = std::to_string(p.headDim) + (p.dtype == SAGEGEN_DTYPE_BF16 ? "bf16" : "fp16") + (p.causal ? "c" : "n");
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  GateInputs g;
  g.call = std::make_unique<Call>(p, kGateSeed, kKeyBias);
  DeviceBuffer ref(p.elements() * sizeof(double));
  if (p.dtype == SAGEGEN_DTYPE_FP16) launchReference<__half>(*g.call, static_cast<double*>(ref.ptr));
  else launchReference<__nv_bfloat16>(*g.call, static_cast<double*>(ref.ptr));
  g.reference.resize(p.elements());
  cudaCheck(cudaMemcpy(g.reference.data(), ref.ptr, ref.bytes, cudaMemcpyDeviceToHost), "reference kernel");
  return cache.emplace(key, std::move(g)).first->second;
}

/* Cosine and relative L1 as measure.py computes them: NaN counts as 0 in the cosine and as 1e9 in the
 * L1 numerator, infinities as the largest double (torch.nan_to_num). */
Accuracy compare(const std::vector<double>& out, const std::vector<double>& ref) {
  long double dot = 0, outSq = 0, refSq = 0, l1 = 0, refL1 = 0;
  long long nonfinite = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const double x = out[i], r = ref[i];
    double forCos = x, forL1 = x;
    if (!std::isfinite(x)) {
      ++nonfinite;
      forCos = std::isnan(x) ? 0.0 : std::copysign(DBL_MAX, x);
      forL1 = std::isnan(x) ? kNanInL1 : std::copysign(DBL_MAX, x);
    }
    dot += static_cast<long double>(forCos) * r;
    outSq += static_cast<long double>(forCos) * forCos;
    refSq += static_cast<long double>(r) * r;
    l1 += std::fabs(static_cast<long double>(forL1) - r);
    refL1 += std::fabs(static_cast<long double>(r));
  }
  double cos = static_cast<double>(dot / std::max(std::sqrt(outSq) * std::sqrt(refSq), 1e-8L));
  double rel = static_cast<double>(l1 / refL1);
  if (!std::isfinite(cos)) cos = 0.0;
  if (!std::isfinite(rel)) rel = DBL_MAX;
  return Accuracy{cos, rel, nonfinite, nonfinite == 0 && cos >= kGateCos && rel <= kGateRelL1};
}

struct GateResult {
  Accuracy accuracy;
  std::string error;  // non-empty: the candidate failed on the GPU (a fault, a bad launch)
};

GateResult gate(std::map<std::string, GateInputs>& cache, const Candidate& c) {
  GateInputs& g = gateInputs(cache, c);
  // 0xFFFF is a NaN in fp16 and in bf16: an output element the kernel does not write stays NaN.
  cudaCheck(cudaMemset(g.call->o.ptr, 0xFF, g.call->o.bytes), "poisoning the output");
  const sagegen_status st = sagegen_forward_variant(&g.call->args, nullptr, SAGEGEN_PHASE_ALL, c.index);
  if (st != SAGEGEN_STATUS_OK && st != SAGEGEN_STATUS_CUDA_ERROR)
    die("sagegen_forward_variant(%s): %s: %s", c.name.c_str(), sagegen_status_string(st), sagegen_last_error_detail());
  const cudaError_t err = st == SAGEGEN_STATUS_OK ? cudaDeviceSynchronize() : cudaSuccess;
  if (st == SAGEGEN_STATUS_CUDA_ERROR || err != cudaSuccess) {
    // Judged as if it had written nothing (every output NaN): rejected, with the error recorded.
    const std::vector<double> unwritten(g.reference.size(), NAN);
    return GateResult{compare(unwritten, g.reference),
                      st == SAGEGEN_STATUS_CUDA_ERROR ? std::string(sagegen_last_error_detail()) : std::string(cudaGetErrorName(err)) + " (" + cudaGetErrorString(err) + ")"};
  }
  return GateResult{compare(toHostDoubles(g.call->problem, g.call->o.ptr), g.reference), ""};
}

// ---------------------------------------------------------------------------------------------
// Timing.

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

/* The median, as Python's statistics.median. */
double median(std::vector<double> x) {
  std::sort(x.begin(), x.end());
  const size_t n = x.size();
  return n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2.0;
}

/* Warm-up (at least 3 calls and warmupMs), then calls timed one by one with CUDA events until at
 * least 5 of them and 100 ms of GPU time; the median. `call(i)` runs the i-th call. */
template <typename F>
double medianMs(F call, double warmupMs) {
  long long turn = 0;
  const auto start = Clock::now();
  for (int n = 0; n < kMinWarmups || msSince(start) < warmupMs; ++n) {
    call(turn++);
    cudaCheck(cudaDeviceSynchronize(), "warm-up");
  }
  cudaEvent_t a, b;
  cudaCheck(cudaEventCreate(&a), "cudaEventCreate");
  cudaCheck(cudaEventCreate(&b), "cudaEventCreate");
  std::vector<double> times;
  double spent = 0.0;
  while (static_cast<int>(times.size()) < kMinReps || spent < kRepMs) {
    cudaCheck(cudaEventRecord(a, nullptr), "cudaEventRecord");
    call(turn++);
    cudaCheck(cudaEventRecord(b, nullptr), "cudaEventRecord");
    cudaCheck(cudaEventSynchronize(b), "timed call");
    float ms = 0.0f;
    cudaCheck(cudaEventElapsedTime(&ms, a, b), "cudaEventElapsedTime");
    times.push_back(ms);
    spent += ms;
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return median(std::move(times));
}

/* Operations of one forward, as runtime/bench/shapes.py attention_ops counts them. */
double attentionOps(const Problem& p) {
  const double ops = 4.0 * p.batch * p.heads * static_cast<double>(p.seq) * p.seq * p.headDim;
  return p.causal ? ops / 2 : ops;
}

struct Timing {
  double kernelMs, wholeMs, kernelTops, wholeTops;
};

Timing timing(const Candidate& c, int64_t seq, size_t l2Bytes, double warmupMs) {
  const Problem p = c.shape(kTimeBatch, kTimeHeads, seq);
  // Rotate over enough input sets that together they exceed 4x the L2, so no launch runs from cache.
  const size_t setBytes = 3 * p.bytes();
  const int sets = static_cast<int>(std::max<size_t>(1, std::min<size_t>(kMaxInputSets, (4 * l2Bytes + setBytes - 1) / setBytes)));
  std::vector<std::unique_ptr<Call>> calls;
  for (int s = 0; s < sets; ++s) {
    calls.push_back(std::make_unique<Call>(p, kTimeSeed + static_cast<uint64_t>(s), 0.0f));
    calls.back()->run(c.index, SAGEGEN_PHASE_QUANTIZE);
  }
  cudaCheck(cudaDeviceSynchronize(), "quantizing the timing inputs");
  const double kernel = medianMs([&](long long i) { calls[i % sets]->run(c.index, SAGEGEN_PHASE_ATTENTION); }, warmupMs);
  const double whole = medianMs([&](long long i) { calls[i % sets]->run(c.index, SAGEGEN_PHASE_ALL); }, warmupMs);
  const double ops = attentionOps(p);
  return Timing{kernel, whole, ops / (kernel / 1e3) / 1e12, ops / (whole / 1e3) / 1e12};
}

// ---------------------------------------------------------------------------------------------
// The bundle and the results file.

std::string readFile(const std::string& path, bool* exists) {
  std::ifstream f(path, std::ios::binary);
  *exists = static_cast<bool>(f);
  if (!f) return "";
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

sgjson::Value readJson(const std::string& path) {
  bool exists;
  const std::string text = readFile(path, &exists);
  if (!exists) die("cannot read %s", path.c_str());
  sgjson::Value v;
  if (!sgjson::parse(text, &v)) die("%s is not valid JSON", path.c_str());
  return v;
}

/* What an earlier, interrupted run of the same results file measured. */
struct Previous {
  std::map<std::string, std::string> gates;   // name -> the record line
  std::map<std::string, bool> passed;
  std::set<std::pair<std::string, int64_t>> timed;
  std::map<std::pair<std::string, int64_t>, std::string> timings;
  std::map<std::pair<std::string, int64_t>, double> wholeTops;  // of the sweep's timing records
  std::set<std::pair<std::string, int64_t>> refined;            // timing records with a "refined" member
  bool endsWithNewline = true;
  size_t records = 0;
};

Previous readPrevious(const std::string& path) {
  Previous prev;
  bool exists;
  const std::string text = readFile(path, &exists);
  if (!exists || text.empty()) return prev;
  prev.endsWithNewline = text.back() == '\n';
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    sgjson::Value r;
    if (!sgjson::parse(line, &r) || r.type != sgjson::Value::Object) continue;  // a line cut by a kill: measured again
    const sgjson::Value* name = r.get("name");
    const sgjson::Value* seq = r.get("seq");
    if (!name || !name->isString() || !seq) continue;
    ++prev.records;
    if (seq->type == sgjson::Value::Null) {
      const sgjson::Value* passed = r.get("passed");
      prev.gates[name->text] = line;
      prev.passed[name->text] = passed && passed->type == sgjson::Value::Bool && passed->boolean;
    } else if (seq->isNumber()) {
      const auto key = std::make_pair(name->text, static_cast<int64_t>(seq->number()));
      if (r.get("refined")) {
        prev.refined.insert(key);
        continue;
      }
      prev.timed.insert(key);
      prev.timings[key] = line;
      if (const sgjson::Value* whole = r.get("whole_tops"); whole && whole->isNumber()) prev.wholeTops[key] = whole->number();
    }
  }
  return prev;
}

class ResultsFile {
 public:
  ResultsFile(const std::string& path, bool closeCutLine) {
    fd_ = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd_ < 0) die("cannot open %s for appending: %s", path.c_str(), std::strerror(errno));
    if (closeCutLine) write("\n");  // so the next record starts on its own line
  }
  ~ResultsFile() { close(fd_); }
  void append(const std::string& record) { write(record + "\n"); }

 private:
  int fd_;
  void write(const std::string& text) {
    size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        die("writing the results file: %s", std::strerror(errno));
      }
      done += static_cast<size_t>(n);
    }
    fsync(fd_);  // a record on disk is a record a resumed run will not measure again
  }
};

std::string utcNow() {
  char buf[32];
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S+00:00", &tm);  // Python's isoformat() of a UTC time
  return buf;
}

std::string versionText(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

struct Options {
  std::string bundle, out;
  std::vector<int64_t> seqs{1024, 4096, 16384};
  int device = 0, shard = 0, shards = 1;
  double warmupMs = kWarmupMs;
  int refineRounds = 0, refineMax = kRefineMax;
  double refineMargin = kRefineMargin;
  bool events = false, dryRun = false, deviceCount = false, selfTest = false;
};

bool parseInt(const std::string& s, long long min, long long* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno || *end || v < min) return false;
  *out = v;
  return true;
}

/* A whole decimal number (strtod's syntax), nothing after it. */
bool parseDouble(const std::string& s, double* out) {
  char* end = nullptr;
  errno = 0;
  const double x = std::strtod(s.c_str(), &end);
  if (s.empty() || errno || *end) return false;
  *out = x;
  return true;
}

Options parseArgs(int argc, char** argv) {
  Options o;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage("%s needs a value", a.c_str());
      return argv[++i];
    };
    long long v;
    if (a == "--out") {
      o.out = next();
    } else if (a == "--seqs") {
      const std::string s = next();
      o.seqs.clear();
      std::stringstream ss(s);
      std::string item;
      while (std::getline(ss, item, ',')) {
        if (!parseInt(item, 1, &v)) usage("--seqs = \"%s\": must be positive integers, comma-separated", s.c_str());
        o.seqs.push_back(v);
      }
      if (o.seqs.empty()) usage("--seqs = \"%s\": give at least one length", s.c_str());
    } else if (a == "--device") {
      const std::string s = next();
      if (!parseInt(s, 0, &v)) usage("--device = \"%s\": must be a device index (0, 1, ...)", s.c_str());
      o.device = static_cast<int>(v);
    } else if (a == "--shard") {
      const std::string s = next();
      const size_t slash = s.find('/');
      long long i0, n;
      if (slash == std::string::npos || !parseInt(s.substr(0, slash), 0, &i0) || !parseInt(s.substr(slash + 1), 1, &n) || i0 >= n)
        usage("--shard = \"%s\": must be I/N with 0 <= I < N", s.c_str());
      o.shard = static_cast<int>(i0);
      o.shards = static_cast<int>(n);
    } else if (a == "--warmup-ms") {
      const std::string s = next();
      double ms;
      if (!parseDouble(s, &ms) || !(ms >= 0.0 && ms <= 60000.0)) usage("--warmup-ms = \"%s\": must be milliseconds from 0 to 60000", s.c_str());
      o.warmupMs = ms;
    } else if (a == "--refine-rounds") {
      const std::string s = next();
      if (!parseInt(s, 0, &v) || v > 100) usage("--refine-rounds = \"%s\": must be a whole number of rounds from 0 (no refinement) to 100", s.c_str());
      o.refineRounds = static_cast<int>(v);
    } else if (a == "--refine-max") {
      const std::string s = next();
      if (!parseInt(s, 2, &v) || v > 16) usage("--refine-max = \"%s\": must be from 2 to 16 candidates per bucket", s.c_str());
      o.refineMax = static_cast<int>(v);
    } else if (a == "--refine-margin") {
      const std::string s = next();
      double m;
      if (!parseDouble(s, &m) || !(m > 0.0 && m <= 0.5)) usage("--refine-margin = \"%s\": must be a fraction above 0 and at most 0.5 (0.05: within 5%% of the fastest)", s.c_str());
      o.refineMargin = m;
    } else if (a == "--events") {
      o.events = true;
    } else if (a == "--dry-run") {
      o.dryRun = true;
    } else if (a == "--device-count") {
      o.deviceCount = true;
    } else if (a == "--self-test") {
      o.selfTest = true;
    } else if (a == "--help" || a == "-h") {
      usage("measures an autotuning bundle's candidates on this GPU (accuracy gate, then timing)");
    } else if (a.rfind("--", 0) == 0) {
      usage("unknown option %s", a.c_str());
    } else {
      positional.push_back(a);
    }
  }
  if (o.refineRounds > 0 && o.shards > 1)
    usage("--refine-rounds with --shard %d/%d: refinement compares every candidate of a bucket; run it once, unsharded, on the merged results", o.shard, o.shards);
  if (o.deviceCount || o.selfTest) return o;
  if (positional.size() != 1) usage("give exactly one BUNDLE directory");
  o.bundle = positional[0];
  if (o.out.empty()) usage("--out RESULTS.jsonl is required");
  return o;
}

/* The candidates of this shard, in manifest order, with their library index. */
std::vector<Candidate> candidates(const Options& o, const sgjson::Value& manifest, const sgjson::Value* chosen) {
  std::map<std::string, int32_t> index;
  for (int32_t i = 0; i < sagegen_variant_count(); ++i) {
    sagegen_variant_info info;
    if (sagegen_variant_get_info(i, &info) == SAGEGEN_STATUS_OK) index[info.name] = i;
  }
  std::set<std::string> keep;
  const sgjson::Value* measure = chosen ? chosen->get("measure") : nullptr;
  if (chosen && (!measure || measure->type != sgjson::Value::Array)) die("%s/candidates.json has no \"measure\" list", o.bundle.c_str());
  if (measure)
    for (const auto& n : measure->items) keep.insert(n.text);
  const sgjson::Value* variants = manifest.get("variants");
  if (!variants || variants->type != sgjson::Value::Array) die("%s/manifest.json has no \"variants\" list", o.bundle.c_str());
  std::vector<Candidate> all;
  for (const auto& v : variants->items) {
    const sgjson::Value* name = v.get("name");
    const sgjson::Value* spec = v.get("spec");
    if (!name || !name->isString() || !spec || spec->type != sgjson::Value::Object) die("%s/manifest.json: a variant without name or spec", o.bundle.c_str());
    if (measure && !keep.count(name->text)) continue;  // pruned after compile (spills, occupancy)
    auto at = index.find(name->text);
    if (at == index.end()) continue;  // not in this library: measure.py skips it the same way
    for (const char* field : {"headDim", "dtype", "causal"})
      if (!spec->get(field)) die("%s/manifest.json: the spec of %s has no %s", o.bundle.c_str(), name->text.c_str(), field);
    sgjson::Value ptxas;
    ptxas.type = sgjson::Value::Array;
    if (const sgjson::Value* entries = v.get("ptxas"))
      for (const auto& e : entries->items)
        if (const sgjson::Value* k = e.get("kernel"); k && k->text == "attentionKernel") ptxas.items.push_back(e);
    const sgjson::Value* source = v.get("sourceSha256");
    if (!source || !source->isString() || source->text.size() != 64)
      die("%s/manifest.json: variant %s has no sourceSha256 (a bundle of an older sagegen: compile it again)", o.bundle.c_str(), name->text.c_str());
    all.push_back(Candidate{name->text, at->second, spec, sgjson::dump(ptxas), source->text});
  }
  std::vector<Candidate> mine;
  for (size_t i = static_cast<size_t>(o.shard); i < all.size(); i += static_cast<size_t>(o.shards)) mine.push_back(all[i]);
  return mine;
}

/* Refuses, before measuring anything, a bundle whose variants cannot run on this device. */
void checkDevice(const std::vector<Candidate>& mine, int capability, const char* deviceName) {
  for (const auto& c : mine) {
    sagegen_variant_info info;
    sagegen_variant_get_info(c.index, &info);
    const bool runs = info.arch_specific ? info.compute_capability == capability : info.compute_capability <= capability;
    if (!runs)
      die("%s is built for sm_%d%s; this device (%s) is sm_%d: measure the bundle on a GPU it was compiled for", c.name.c_str(), info.compute_capability,
          info.arch_specific ? " only" : " and newer", deviceName, capability);
  }
}

std::string seqsJson(const std::vector<int64_t>& seqs) {
  std::string s = "[";
  for (size_t i = 0; i < seqs.size(); ++i) s += (i ? ", " : "") + std::to_string(seqs[i]);
  return s + "]";
}

void emitEvent(const std::string& json) {
  std::fputs(json.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// ---------------------------------------------------------------------------------------------
// Refinement (--refine-rounds): the close candidates of each bucket timed again, interleaved.

struct RefineBucket {
  std::string group;  // "D=128 fp16 causal"
  int64_t seq;
  std::vector<const Candidate*> members;  // the fastest whole call first
  bool done;                              // every member has its refined record (a resumed run)
};

std::string groupOf(const Candidate& c) {
  const Problem p = c.shape(1, 1, 1);
  return "D=" + std::to_string(p.headDim) + (p.dtype == SAGEGEN_DTYPE_BF16 ? " bf16" : " fp16") + (p.causal ? " causal" : " full");
}

/* Per bucket of this process's candidates, in first-seen order: the gate-passing candidates whose
 * sweep timing came within the margin of the bucket's fastest whole call, at most refineMax of them.
 * A bucket where fewer than two come that close has nothing to re-rank and is left out. */
std::vector<RefineBucket> refinePlan(const Options& o, const std::vector<Candidate>& mine, const Previous& prev) {
  std::vector<RefineBucket> plan;
  std::map<std::pair<std::string, int64_t>, std::vector<std::pair<double, const Candidate*>>> timed;
  std::vector<std::pair<std::string, int64_t>> order;
  for (const auto& c : mine)
    for (int64_t seq : o.seqs) {
      const auto speed = prev.wholeTops.find({c.name, seq});
      if (speed == prev.wholeTops.end()) continue;
      const auto key = std::make_pair(groupOf(c), seq);
      if (!timed.count(key)) order.push_back(key);
      timed[key].push_back({speed->second, &c});
    }
  for (const auto& key : order) {
    auto list = timed[key];
    std::stable_sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second->name < b.second->name); });
    RefineBucket bucket{key.first, key.second, {}, true};
    for (const auto& [whole, c] : list) {
      if (whole < list.front().first * (1.0 - o.refineMargin) || static_cast<int>(bucket.members.size()) == o.refineMax) break;
      bucket.members.push_back(c);
      bucket.done = bucket.done && prev.refined.count({c->name, key.second});
    }
    if (bucket.members.size() >= 2) plan.push_back(bucket);
  }
  return plan;
}

std::string namesJson(const std::vector<const Candidate*>& members) {
  std::string s = "[";
  for (size_t i = 0; i < members.size(); ++i) s += (i ? ", " : "") + sgjson::quote(members[i]->name);
  return s + "]";
}

int dryRun(const Options& o, const std::vector<Candidate>& mine, const Previous& prev) {
  for (const auto& c : mine) {
    std::vector<int64_t> toTime;
    const auto gate = prev.passed.find(c.name);
    const bool rejected = gate != prev.passed.end() && !gate->second;
    if (!rejected)
      for (int64_t s : o.seqs)
        if (!prev.timed.count({c.name, s})) toTime.push_back(s);
    emitEvent(sgjson::ObjectWriter()
                  .str("name", c.name)
                  .integer("index", c.index)
                  .str("gate", gate == prev.passed.end() ? "todo" : gate->second ? "passed" : "rejected")
                  .raw("time", seqsJson(toTime))
                  .value("spec", *c.spec)  // as the gate record will carry them
                  .raw("ptxas", c.ptxasJson)
                  .str("sourceSha256", c.sourceSha256)
                  .text());
  }
  // The refinement of what is timed so far (a run refines after its sweep, on all of it).
  if (o.refineRounds > 0)
    for (const auto& b : refinePlan(o, mine, prev))
      emitEvent(sgjson::ObjectWriter().str("refine", b.group).integer("seq", b.seq).raw("candidates", namesJson(b.members)).integer("rounds", o.refineRounds)
                    .boolean("done", b.done).text());
  return 0;
}

/* Checks of the host-side arithmetic the gate rests on, runnable without a GPU (the tests run it
 * in CI): the generator's moments, and the metrics on outputs whose verdict is known. Prints one
 * JSON object; exit 0 when every check holds. */
int selfTest() {
  constexpr int kSamples = 1 << 20;
  double sum = 0, sumSq = 0, sum4 = 0;
  for (int i = 0; i < kSamples; ++i) {
    const double x = gaussian(kGateSeed, kStreamQ, static_cast<uint64_t>(i));
    sum += x, sumSq += x * x, sum4 += x * x * x * x;
  }
  const double mean = sum / kSamples, var = sumSq / kSamples - mean * mean, kurtosis = sum4 / kSamples / (var * var);
  bool ok = std::fabs(mean) < 0.005 && std::fabs(var - 1) < 0.01 && std::fabs(kurtosis - 3) < 0.05;
  // the same index gives the same number; another stream another one
  ok = ok && gaussian(7, kStreamK, 12345) == gaussian(7, kStreamK, 12345) && gaussian(7, kStreamK, 12345) != gaussian(7, kStreamV, 12345);

  std::vector<double> ref(4096), out(4096);
  for (size_t i = 0; i < ref.size(); ++i) ref[i] = gaussian(1, kStreamV, i);
  const Accuracy same = compare(ref, ref);
  for (size_t i = 0; i < ref.size(); ++i) out[i] = ref[i] * (1 + 0.1 * gaussian(2, kStreamV, i));  // ~8% relative L1
  const Accuracy noisy = compare(out, ref);
  std::vector<double> oneNan = ref;
  oneNan[17] = NAN;
  const Accuracy withNan = compare(oneNan, ref);
  const Accuracy unwritten = compare(std::vector<double>(ref.size(), NAN), ref);
  ok = ok && same.passed && same.cos > 1 - 1e-12 && same.relL1 == 0 && !noisy.passed && noisy.relL1 > kGateRelL1 && !withNan.passed &&
       withNan.nonfinite == 1 && !unwritten.passed && unwritten.cos == 0 && unwritten.nonfinite == static_cast<long long>(ref.size());
  auto acc = [](const Accuracy& a) {
    return sgjson::ObjectWriter().num("cos", a.cos).num("rel_l1", a.relL1).integer("nonfinite", a.nonfinite).boolean("passed", a.passed).text();
  };
  emitEvent(sgjson::ObjectWriter()
                .boolean("ok", ok)
                .raw("gaussian", sgjson::ObjectWriter().integer("samples", kSamples).num("mean", mean).num("variance", var).num("kurtosis", kurtosis).text())
                .raw("identical", acc(same))
                .raw("noisy", acc(noisy))
                .raw("one_nan", acc(withNan))
                .raw("unwritten", acc(unwritten))
                .text());
  return ok ? 0 : 1;
}

/* The refinement: each bucket's close candidates (refinePlan, on what the results file holds now)
 * timed again in interleaved rounds; their records appended with the medians and a "refined" member. */
void refine(const Options& o, const std::vector<Candidate>& mine, size_t l2Bytes, ResultsFile& out,
            const std::function<std::string(const sgjson::ObjectWriter&)>& record) {
  for (const RefineBucket& b : refinePlan(o, mine, readPrevious(o.out))) {
    const size_t n = b.members.size();
    if (!b.done) {
      std::vector<std::vector<Timing>> rounds(n);
      for (int r = 0; r < o.refineRounds; ++r)
        for (size_t k = 0; k < n; ++k) {
          const size_t m = (k + static_cast<size_t>(r)) % n;  // each round starts one further on
          rounds[m].push_back(timing(*b.members[m], b.seq, l2Bytes, o.warmupMs));
        }
      // All of a bucket's records at the end, so a killed bucket is timed again from its first round.
      for (size_t m = 0; m < n; ++m) {
        std::vector<double> kernel, whole;
        std::string wholeRounds = "[";
        for (const Timing& t : rounds[m]) {
          kernel.push_back(t.kernelMs);
          whole.push_back(t.wholeMs);
          wholeRounds += (wholeRounds.size() > 1 ? ", " : "") + sgjson::number(t.wholeTops);
        }
        const double ops = attentionOps(b.members[m]->shape(kTimeBatch, kTimeHeads, b.seq));
        const double kernelMs = median(kernel), wholeMs = median(whole);
        const std::string line = record(sgjson::ObjectWriter()
                                            .str("name", b.members[m]->name)
                                            .integer("seq", b.seq)
                                            .str("kind", "timing")
                                            .num("kernel_ms", kernelMs)
                                            .num("whole_ms", wholeMs)
                                            .num("kernel_tops", ops / (kernelMs / 1e3) / 1e12)
                                            .num("whole_tops", ops / (wholeMs / 1e3) / 1e12)
                                            .num("warmup_ms", o.warmupMs)
                                            .raw("refined", sgjson::ObjectWriter()
                                                                .integer("rounds", o.refineRounds)
                                                                .integer("candidates", static_cast<long long>(n))
                                                                .num("margin", o.refineMargin)
                                                                .raw("whole_tops_rounds", wholeRounds + "]")
                                                                .text()));
        out.append(line);
        if (o.events) emitEvent(sgjson::ObjectWriter().str("event", "record").boolean("resumed", false).raw("record", line).text());
      }
    }
    if (o.events)
      emitEvent(sgjson::ObjectWriter().str("event", "refine").str("group", b.group).integer("seq", b.seq).raw("candidates", namesJson(b.members))
                    .integer("rounds", o.refineRounds).boolean("resumed", b.done).text());
    else
      std::printf("refined %s N=%lld: %zu candidates within %.0f%% of the fastest, %d interleaved rounds%s\n", b.group.c_str(), static_cast<long long>(b.seq), n,
                  o.refineMargin * 100, o.refineRounds, b.done ? " (in the results file already)" : "");
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parseArgs(argc, argv);
  if (o.selfTest) return selfTest();
  if (o.deviceCount) {
    int n = 0;
    const cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess && err != cudaErrorNoDevice) die("cudaGetDeviceCount: %s (%s)", cudaGetErrorName(err), cudaGetErrorString(err));
    std::printf("%d\n", err == cudaErrorNoDevice ? 0 : n);
    return 0;
  }

  const sgjson::Value manifest = readJson(o.bundle + "/manifest.json");
  bool haveChosen;
  readFile(o.bundle + "/candidates.json", &haveChosen);
  // candidates.json (sagegen autotune --compile-only) lists those that survived the post-compile
  // pruning (spills, occupancy); without it every variant of the library is a candidate.
  const sgjson::Value chosen = haveChosen ? readJson(o.bundle + "/candidates.json") : sgjson::Value{};
  const std::vector<Candidate> mine = candidates(o, manifest, haveChosen ? &chosen : nullptr);
  const Previous prev = readPrevious(o.out);
  if (o.dryRun) return dryRun(o, mine, prev);

  cudaCheck(cudaSetDevice(o.device), "selecting the device");
  cudaDeviceProp prop;
  cudaCheck(cudaGetDeviceProperties(&prop, o.device), "querying the device");
  checkDevice(mine, prop.major * 10 + prop.minor, prop.name);
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  const char* commit = std::getenv("SAGEGEN_COMMIT");
  const sgjson::Value* nvcc = manifest.get("nvcc");
  // The fields every record starts with, as measure.py's header (with the runner in place of torch).
  sgjson::ObjectWriter headerFields;
  headerFields.str("device", prop.name)
      .str("capability", std::to_string(prop.major) + "." + std::to_string(prop.minor))
      .str("runner", "sagegen-measure")
      .str("cuda_driver", versionText(driver))
      .str("cuda_runtime", versionText(runtime))
      .raw("nvcc", nvcc ? sgjson::dump(*nvcc) : "null")
      .str("date", utcNow())
      .str("commit", commit && *commit ? commit : "unknown");
  const std::string header = headerFields.text();
  auto record = [&](const sgjson::ObjectWriter& fields) {
    // {header..., fields...}: both are flat objects written by us, so splice their members.
    const std::string body = fields.text();
    return header.substr(0, header.size() - 1) + ", " + body.substr(1);
  };

  ResultsFile out(o.out, !prev.endsWithNewline);
  std::map<std::string, GateInputs> gateCache;
  if (o.events)
    emitEvent(sgjson::ObjectWriter().str("event", "start").str("device", prop.name).integer("gpu", o.device).integer("candidates", static_cast<long long>(mine.size()))
                  .raw("seqs", seqsJson(o.seqs)).integer("previous_records", static_cast<long long>(prev.records)).text());
  else
    std::printf("sagegen-measure: %s (sm_%d%d), %zu candidates x %zu lengths -> %s (%zu records there already)\n", prop.name, prop.major, prop.minor,
                mine.size(), o.seqs.size(), o.out.c_str(), prev.records);
  std::fflush(stdout);

  const auto started = Clock::now();
  int measuredCandidates = 0;
  std::pair<std::string, double> best{"-", 0.0};
  for (size_t i = 0; i < mine.size(); ++i) {
    const Candidate& c = mine[i];
    bool fresh = false;
    auto announce = [&](const std::string& line, bool resumed) {
      if (o.events) emitEvent(sgjson::ObjectWriter().str("event", "record").boolean("resumed", resumed).raw("record", line).text());
    };
    bool passed;
    if (auto g = prev.gates.find(c.name); g != prev.gates.end()) {
      passed = prev.passed.at(c.name);
      announce(g->second, true);
    } else {
      const GateResult result = gate(gateCache, c);
      const Accuracy& a = result.accuracy;
      passed = a.passed;
      sgjson::ObjectWriter fields;
      fields.str("name", c.name)
          .raw("seq", "null")
          .str("kind", "gate")
          .boolean("passed", a.passed)
          .raw("accuracy", sgjson::ObjectWriter()
                               .num("cos", std::round(a.cos * 1e6) / 1e6)
                               .num("rel_l1", std::round(a.relL1 * 1e5) / 1e5)
                               .integer("nonfinite", a.nonfinite)
                               .text())
          .value("spec", *c.spec)
          .raw("ptxas", c.ptxasJson)
          .str("sourceSha256", c.sourceSha256);
      if (!result.error.empty()) fields.str("error", result.error);
      const std::string line = record(fields);
      out.append(line);
      announce(line, false);
      fresh = true;
      // After a fault the CUDA context is gone: nothing more can run in this process. The record is
      // on disk, so a rerun resumes after this candidate instead of faulting on it again.
      if (!result.error.empty())
        die("%s failed on the GPU (%s): recorded as rejected; rerun to measure the remaining candidates", c.name.c_str(), result.error.c_str());
      if (!a.passed && !o.events)
        std::printf("  rejected %s: cos %.6f, rel L1 %.5f, %lld non-finite\n", c.name.c_str(), a.cos, a.relL1, a.nonfinite);
    }
    for (int64_t seq : o.seqs) {
      if (!passed) break;  // rejected by the gate: never timed
      if (auto t = prev.timings.find({c.name, seq}); t != prev.timings.end()) {
        announce(t->second, true);
        continue;
      }
      const Timing t = timing(c, seq, static_cast<size_t>(prop.l2CacheSize), o.warmupMs);
      const std::string line = record(sgjson::ObjectWriter()
                                          .str("name", c.name)
                                          .integer("seq", seq)
                                          .str("kind", "timing")
                                          .num("kernel_ms", t.kernelMs)
                                          .num("whole_ms", t.wholeMs)
                                          .num("kernel_tops", t.kernelTops)
                                          .num("whole_tops", t.wholeTops)
                                          .num("warmup_ms", o.warmupMs));
      out.append(line);
      announce(line, false);
      fresh = true;
      if (t.kernelTops > best.second) best = {c.name, t.kernelTops};
    }
    if (fresh) ++measuredCandidates;
    if (o.events) {
      emitEvent(sgjson::ObjectWriter().str("event", "candidate").str("name", c.name).integer("done", static_cast<long long>(i + 1))
                    .integer("of", static_cast<long long>(mine.size())).boolean("resumed", !fresh).text());
    } else {
      const double perCandidate = measuredCandidates ? msSince(started) / 1e3 / measuredCandidates : 0.0;
      std::printf("[%zu/%zu] %s  best so far %.1f TOP/s (%s)  ~%.1f min left\n", i + 1, mine.size(), c.name.c_str(), best.second, best.first.c_str(),
                  perCandidate * static_cast<double>(mine.size() - i - 1) / 60.0);
      std::fflush(stdout);
    }
  }
  if (o.refineRounds == 0) return 0;

  // Refinement, on everything the results file holds now (this run's records and earlier ones).
  refine(o, mine, static_cast<size_t>(prop.l2CacheSize), out, record);
  return 0;
}
