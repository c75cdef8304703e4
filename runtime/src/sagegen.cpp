// libsagegen runtime: validates every argument of the C ABI, resolves strides, and dispatches to the
// generated variant built for this device, head dim, dtype and causal flag. No kernel is launched
// and the output is never touched unless every check passes.
#include "sagegen.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <string>
#include <vector>

#include "sagegen_variant.h"

#ifndef SAGEGEN_VERSION_STRING
#define SAGEGEN_VERSION_STRING "0.0.0"
#endif

namespace {

thread_local std::string lastErrorDetail;

sagegen_status fail(sagegen_status status, const char* format, ...) {
  char buffer[512];
  va_list ap;
  va_start(ap, format);
  std::vsnprintf(buffer, sizeof buffer, format, ap);
  va_end(ap);
  lastErrorDetail = buffer;
  return status;
}

bool aligned(const void* p, uintptr_t bytes) { return (reinterpret_cast<uintptr_t>(p) % bytes) == 0; }

// Contiguous strides for a [B, H, N, D] tensor stored in `layout`.
sagegen::TensorStrides contiguousStrides(sagegen_layout layout, int64_t heads, int64_t len, int64_t headDim) {
  if (layout == SAGEGEN_LAYOUT_HND) return {heads * len * headDim, len * headDim, headDim};
  return {len * heads * headDim, headDim, heads * headDim};
}

sagegen_status resolveStrides(const char* name, const sagegen_strides& given, sagegen_layout layout, int64_t heads, int64_t len,
                              int64_t headDim, sagegen::TensorStrides* out) {
  if (given.batch == 0 && given.head == 0 && given.seq == 0) {
    *out = contiguousStrides(layout, heads, len, headDim);
    return SAGEGEN_STATUS_OK;
  }
  const int64_t s[3] = {given.batch, given.head, given.seq};
  const char* field[3] = {"batch", "head", "seq"};
  for (int i = 0; i < 3; ++i) {
    if (s[i] < 0)
      return fail(SAGEGEN_STATUS_BAD_STRIDE, "%s_strides.%s = %lld: strides must be non-negative", name, field[i], (long long)s[i]);
    // Rows are read with 16-byte vector loads: every row must start 16-byte aligned.
    if (s[i] % 8 != 0)
      return fail(SAGEGEN_STATUS_BAD_STRIDE, "%s_strides.%s = %lld: must be a multiple of 8 elements (16-byte rows)", name, field[i],
                  (long long)s[i]);
  }
  *out = {given.batch, given.head, given.seq};
  return SAGEGEN_STATUS_OK;
}

// The output must not alias itself: sorted by stride, each dimension must step past the whole
// extent of the smaller ones (the head-dim row of `headDim` elements is the innermost).
sagegen_status checkNoSelfOverlap(const sagegen::TensorStrides& st, int64_t batch, int64_t heads, int64_t len, int64_t headDim) {
  struct Dim { int64_t stride, extent; const char* name; } dims[3] = {{st.batch, batch, "batch"}, {st.head, heads, "head"}, {st.seq, len, "seq"}};
  for (int i = 0; i < 3; ++i)
    for (int j = i + 1; j < 3; ++j)
      if (dims[j].stride < dims[i].stride) { Dim t = dims[i]; dims[i] = dims[j]; dims[j] = t; }
  int64_t span = headDim;  // elements covered by the dimensions below
  for (const Dim& d : dims) {
    if (d.extent == 1) continue;
    if (d.stride < span)
      return fail(SAGEGEN_STATUS_OVERLAP, "o_strides.%s = %lld: output rows overlap (needs >= %lld for extent %lld below it)", d.name,
                  (long long)d.stride, (long long)span, (long long)d.extent);
    span = d.stride * d.extent;
  }
  return SAGEGEN_STATUS_OK;
}

// Bytes from a tensor's base pointer to the end of its last row: the span its strides address.
// Refused (SIZE_OVERFLOW) when it would not fit the kernels' 64-bit address arithmetic; that bound
// also keeps the self-overlap products below free of overflow.
constexpr uint64_t kMaxSpanBytes = uint64_t(1) << 62;

sagegen_status tensorSpan(const char* name, const void* base, const sagegen::TensorStrides& st, int64_t batch, int64_t heads, int64_t len,
                          int64_t headDim, size_t elementBytes, uint64_t* bytes) {
  const int64_t step[3] = {st.batch, st.head, st.seq}, extent[3] = {batch, heads, len};
  uint64_t elements = uint64_t(headDim);
  bool overflow = false;
  for (int i = 0; i < 3; ++i) {
    uint64_t term = 0;
    overflow |= __builtin_mul_overflow(uint64_t(extent[i] - 1), uint64_t(step[i]), &term);
    overflow |= __builtin_add_overflow(elements, term, &elements);
  }
  uint64_t span = 0, end = 0;
  overflow |= __builtin_mul_overflow(elements, uint64_t(elementBytes), &span);
  overflow |= span > kMaxSpanBytes || __builtin_add_overflow(uint64_t(reinterpret_cast<uintptr_t>(base)), span, &end);
  if (overflow)
    return fail(SAGEGEN_STATUS_SIZE_OVERFLOW, "%s_strides = {%lld, %lld, %lld}: %s would span more than 2^62 bytes (beyond 64-bit offsets)", name,
                (long long)st.batch, (long long)st.head, (long long)st.seq, name);
  *bytes = span;
  return SAGEGEN_STATUS_OK;
}

// A buffer as the byte range [begin, begin + bytes) its pointer and extents address.
struct ByteRange {
  const char* name;
  uintptr_t begin;
  uint64_t bytes;
};

bool intersect(const ByteRange& a, const ByteRange& b) {
  return a.bytes != 0 && b.bytes != 0 && a.begin < b.begin + b.bytes && b.begin < a.begin + a.bytes;
}

// What the library writes (o, lse, the workspace) must not share a byte with another buffer: the
// quantization kernels write the workspace while reading q, k and v, and o / lse may not clobber the
// workspace or each other. Compared by the range each spans, so interleaved views of one allocation
// are refused too (the cheap check that never misses a real overlap).
sagegen_status checkDisjoint(const ByteRange& o, const ByteRange& lse, const ByteRange& ws, const ByteRange& q, const ByteRange& k,
                             const ByteRange& v) {
  const ByteRange* written[] = {&o, &lse, &ws};
  const ByteRange* all[] = {&o, &lse, &ws, &q, &k, &v};
  for (const ByteRange* w : written)
    for (const ByteRange* other : all)
      if (other != w && intersect(*w, *other))
        return fail(SAGEGEN_STATUS_OVERLAP, "%s = %p (+%llu bytes) overlaps %s = %p (+%llu bytes): a buffer the library writes must not share memory",
                    w->name, (void*)w->begin, (unsigned long long)w->bytes, other->name, (void*)other->begin,
                    (unsigned long long)other->bytes);
  return SAGEGEN_STATUS_OK;
}

bool variantRunsOn(const sagegen::VariantDescriptor& v, int deviceCapability) {
  // Arch-specific SASS (sm_90a) runs only on its own capability; the rest ship PTX the driver can
  // JIT for any newer device.
  return v.archSpecific ? deviceCapability == v.computeCapability : deviceCapability >= v.computeCapability;
}

std::string archName(const sagegen::VariantDescriptor& v) { return "sm_" + std::to_string(v.computeCapability) + (v.archSpecific ? "a" : ""); }

// The distinct archs of the variants, oldest first ("sm_80,sm_89,sm_90a"), computed once.
const std::string& builtArchs() {
  static const std::string archs = [] {
    std::vector<const sagegen::VariantDescriptor*> sorted(sagegen::kVariants, sagegen::kVariants + sagegen::kVariantCount);
    std::stable_sort(sorted.begin(), sorted.end(), [](const sagegen::VariantDescriptor* a, const sagegen::VariantDescriptor* b) {
      return a->computeCapability != b->computeCapability ? a->computeCapability < b->computeCapability : a->archSpecific < b->archSpecific;
    });
    std::string s;
    for (const sagegen::VariantDescriptor* v : sorted) {
      const std::string name = archName(*v);
      if (("," + s + ",").find("," + name + ",") == std::string::npos) s += (s.empty() ? "" : ",") + name;
    }
    return s;
  }();
  return archs;
}

// The variant for the call: among the dispatch entries whose kv_len range holds the call, the one
// built for the newest capability the device runs (its exact one first, being the largest), and at
// equal capability the highest dispatch rank (wgmma before mma.sync).
const sagegen::VariantDescriptor* selectVariant(int deviceCapability, int64_t headDim, sagegen_dtype dtype, bool causal, int64_t kvLen) {
  const sagegen::VariantDescriptor* best = nullptr;
  for (int i = 0; i < sagegen::kDispatchCount; ++i) {
    const sagegen::DispatchEntry& e = sagegen::kDispatch[i];
    const sagegen::VariantDescriptor* v = e.variant;
    if (kvLen < e.minKvLen || kvLen >= e.maxKvLen) continue;
    if (v->headDim != headDim || v->dtype != dtype || v->causal != causal || !variantRunsOn(*v, deviceCapability)) continue;
    if (best == nullptr || v->computeCapability > best->computeCapability ||
        (v->computeCapability == best->computeCapability && v->dispatchRank > best->dispatchRank))
      best = v;
  }
  return best;
}

bool headDimBuilt(int64_t headDim) {
  for (int i = 0; i < sagegen::kVariantCount; ++i)
    if (sagegen::kVariants[i]->headDim == headDim) return true;
  return false;
}

bool dtypeBuilt(int64_t headDim, sagegen_dtype dtype) {
  for (int i = 0; i < sagegen::kVariantCount; ++i)
    if (sagegen::kVariants[i]->headDim == headDim && sagegen::kVariants[i]->dtype == dtype) return true;
  return false;
}

size_t workspaceFor(const sagegen::ProblemShape& shape) {
  size_t bytes = 0;
  for (int i = 0; i < sagegen::kVariantCount; ++i) {
    const sagegen::VariantDescriptor* v = sagegen::kVariants[i];
    if (v->headDim != shape.headDim) continue;
    const size_t need = v->workspaceSize(shape);
    if (need > bytes) bytes = need;
  }
  return bytes;
}

// Every extent must keep padded element counts well inside int64 and grid dimensions inside CUDA's.
constexpr int64_t kMaxLen = int64_t(1) << 31;
constexpr int64_t kMaxGridYZ = 65535;

sagegen_status checkShape(const sagegen_forward_args& a) {
  const struct { const char* name; int64_t value; } sizes[] = {
      {"batch", a.batch}, {"num_q_heads", a.num_q_heads}, {"num_kv_heads", a.num_kv_heads}, {"qo_len", a.qo_len}, {"kv_len", a.kv_len}};
  for (const auto& s : sizes)
    if (s.value <= 0) return fail(SAGEGEN_STATUS_BAD_LENGTH, "%s = %lld: must be positive", s.name, (long long)s.value);
  if (a.batch > kMaxGridYZ || a.num_q_heads > kMaxGridYZ)
    return fail(SAGEGEN_STATUS_SIZE_OVERFLOW, "batch = %lld, num_q_heads = %lld: each must be at most %lld", (long long)a.batch,
                (long long)a.num_q_heads, (long long)kMaxGridYZ);
  if (a.qo_len >= kMaxLen || a.kv_len >= kMaxLen)
    return fail(SAGEGEN_STATUS_SIZE_OVERFLOW, "qo_len = %lld, kv_len = %lld: each must be below 2^31", (long long)a.qo_len,
                (long long)a.kv_len);
  if (a.num_q_heads % a.num_kv_heads != 0)
    return fail(SAGEGEN_STATUS_HEADS_NOT_DIVISIBLE, "num_q_heads = %lld, num_kv_heads = %lld: query heads must be a multiple of kv heads",
                (long long)a.num_q_heads, (long long)a.num_kv_heads);
  if (a.head_dim != 64 && a.head_dim != 128)
    return fail(SAGEGEN_STATUS_UNSUPPORTED_HEAD_DIM, "head_dim = %lld: supported head dims are 64 and 128", (long long)a.head_dim);
  if (!headDimBuilt(a.head_dim))
    return fail(SAGEGEN_STATUS_UNSUPPORTED_HEAD_DIM, "head_dim = %lld: this library was not built for it (rebuild with --headdim %lld)",
                (long long)a.head_dim, (long long)a.head_dim);
  return SAGEGEN_STATUS_OK;
}

sagegen_status checkPointers(const sagegen_forward_args& a) {
  const struct { const char* name; const void* p; } tensors[] = {{"q", a.q}, {"k", a.k}, {"v", a.v}, {"o", a.o}};
  for (const auto& t : tensors) {
    if (t.p == nullptr) return fail(SAGEGEN_STATUS_NULL_POINTER, "%s = NULL: a device pointer is required", t.name);
    if (!aligned(t.p, 16)) return fail(SAGEGEN_STATUS_MISALIGNED_POINTER, "%s = %p: must be 16-byte aligned", t.name, t.p);
  }
  if (a.lse != nullptr && !aligned(a.lse, 4)) return fail(SAGEGEN_STATUS_MISALIGNED_POINTER, "lse = %p: must be 4-byte aligned", (void*)a.lse);
  if (a.workspace == nullptr) return fail(SAGEGEN_STATUS_NULL_POINTER, "workspace = NULL: use sagegen_workspace_size() bytes of device memory");
  if (!aligned(a.workspace, 256)) return fail(SAGEGEN_STATUS_MISALIGNED_POINTER, "workspace = %p: must be 256-byte aligned", a.workspace);
  return SAGEGEN_STATUS_OK;
}

sagegen_status validate(const sagegen_forward_args* args, sagegen::VariantCall* call, const sagegen::VariantDescriptor** variant) {
  if (args == nullptr) return fail(SAGEGEN_STATUS_NULL_POINTER, "args = NULL");
  if (args->struct_size != sizeof(sagegen_forward_args) || args->abi_version != SAGEGEN_ABI_VERSION)
    return fail(SAGEGEN_STATUS_ABI_MISMATCH, "struct_size = %zu, abi_version = %d: this library expects %zu and %d (rebuild against its sagegen.h)",
                args->struct_size, args->abi_version, sizeof(sagegen_forward_args), SAGEGEN_ABI_VERSION);
  const sagegen_forward_args& a = *args;
  sagegen_status st = checkPointers(a);
  if (st != SAGEGEN_STATUS_OK) return st;
  if (a.dtype != SAGEGEN_DTYPE_FP16 && a.dtype != SAGEGEN_DTYPE_BF16)
    return fail(SAGEGEN_STATUS_UNSUPPORTED_DTYPE, "dtype = %d: must be SAGEGEN_DTYPE_FP16 (0) or SAGEGEN_DTYPE_BF16 (1)", (int)a.dtype);
  if (a.layout != SAGEGEN_LAYOUT_HND && a.layout != SAGEGEN_LAYOUT_NHD)
    return fail(SAGEGEN_STATUS_UNSUPPORTED_LAYOUT, "layout = %d: must be SAGEGEN_LAYOUT_HND (0) or SAGEGEN_LAYOUT_NHD (1)", (int)a.layout);
  if ((st = checkShape(a)) != SAGEGEN_STATUS_OK) return st;
  if (!dtypeBuilt(a.head_dim, a.dtype))
    return fail(SAGEGEN_STATUS_UNSUPPORTED_DTYPE, "dtype = %s: this library has no variant for it at head_dim %lld",
                a.dtype == SAGEGEN_DTYPE_FP16 ? "fp16" : "bf16", (long long)a.head_dim);
  if (!std::isfinite(a.softmax_scale) || a.softmax_scale <= 0.f)
    return fail(SAGEGEN_STATUS_BAD_SCALE, "softmax_scale = %g: must be finite and positive (1/sqrt(head_dim) is the usual value)",
                (double)a.softmax_scale);

  sagegen::VariantCall& c = *call;
  c.shape = {a.batch, a.num_q_heads, a.num_kv_heads, a.qo_len, a.kv_len, a.head_dim};
  if ((st = resolveStrides("q", a.q_strides, a.layout, a.num_q_heads, a.qo_len, a.head_dim, &c.qStrides)) != SAGEGEN_STATUS_OK) return st;
  if ((st = resolveStrides("k", a.k_strides, a.layout, a.num_kv_heads, a.kv_len, a.head_dim, &c.kStrides)) != SAGEGEN_STATUS_OK) return st;
  if ((st = resolveStrides("v", a.v_strides, a.layout, a.num_kv_heads, a.kv_len, a.head_dim, &c.vStrides)) != SAGEGEN_STATUS_OK) return st;
  if ((st = resolveStrides("o", a.o_strides, a.layout, a.num_q_heads, a.qo_len, a.head_dim, &c.oStrides)) != SAGEGEN_STATUS_OK) return st;
  const size_t elementBytes = 2;  // fp16 and bf16
  uint64_t qBytes = 0, kBytes = 0, vBytes = 0, oBytes = 0;
  if ((st = tensorSpan("q", a.q, c.qStrides, a.batch, a.num_q_heads, a.qo_len, a.head_dim, elementBytes, &qBytes)) != SAGEGEN_STATUS_OK) return st;
  if ((st = tensorSpan("k", a.k, c.kStrides, a.batch, a.num_kv_heads, a.kv_len, a.head_dim, elementBytes, &kBytes)) != SAGEGEN_STATUS_OK) return st;
  if ((st = tensorSpan("v", a.v, c.vStrides, a.batch, a.num_kv_heads, a.kv_len, a.head_dim, elementBytes, &vBytes)) != SAGEGEN_STATUS_OK) return st;
  if ((st = tensorSpan("o", a.o, c.oStrides, a.batch, a.num_q_heads, a.qo_len, a.head_dim, elementBytes, &oBytes)) != SAGEGEN_STATUS_OK) return st;

  const size_t need = workspaceFor(c.shape);
  if (a.workspace_bytes < need)
    return fail(SAGEGEN_STATUS_WORKSPACE_TOO_SMALL, "workspace_bytes = %zu: this call needs %zu (sagegen_workspace_size)", a.workspace_bytes, need);

  if ((st = checkNoSelfOverlap(c.oStrides, a.batch, a.num_q_heads, a.qo_len, a.head_dim)) != SAGEGEN_STATUS_OK) return st;
  // lse is [batch, num_q_heads, qo_len] fp32; sizes are bounded above, so the product cannot overflow.
  const uint64_t lseBytes = a.lse != nullptr ? uint64_t(a.batch * a.num_q_heads * a.qo_len) * sizeof(float) : 0;
  if ((st = checkDisjoint({"o", reinterpret_cast<uintptr_t>(a.o), oBytes}, {"lse", reinterpret_cast<uintptr_t>(a.lse), lseBytes},
                          {"workspace", reinterpret_cast<uintptr_t>(a.workspace), need}, {"q", reinterpret_cast<uintptr_t>(a.q), qBytes},
                          {"k", reinterpret_cast<uintptr_t>(a.k), kBytes}, {"v", reinterpret_cast<uintptr_t>(a.v), vBytes})) != SAGEGEN_STATUS_OK)
    return st;

  int device = 0, major = 0, minor = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err == cudaSuccess) err = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
  if (err == cudaSuccess) err = cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
  if (err != cudaSuccess) return fail(SAGEGEN_STATUS_CUDA_ERROR, "querying the current device: %s", cudaGetErrorString(err));
  const int capability = major * 10 + minor;
  *variant = selectVariant(capability, a.head_dim, a.dtype, a.causal != 0, a.kv_len);
  if (*variant == nullptr)
    return fail(SAGEGEN_STATUS_NO_VARIANT, "device sm_%d, head_dim %lld, %s, causal %d: no built variant runs here (built: %s)", capability,
                (long long)a.head_dim, a.dtype == SAGEGEN_DTYPE_FP16 ? "fp16" : "bf16", a.causal != 0,
                builtArchs().empty() ? "none" : builtArchs().c_str());

  c.q = a.q;
  c.k = a.k;
  c.v = a.v;
  c.o = a.o;
  c.lse = a.lse;
  c.softmaxScale = a.softmax_scale;
  c.workspace = a.workspace;
  c.workspaceBytes = a.workspace_bytes;
  return SAGEGEN_STATUS_OK;
}

// Runs a validated call on `forced` (or on the dispatcher's choice when forced is null).
sagegen_status forwardOn(const sagegen_forward_args* args, sagegen_stream_t stream, uint32_t phases,
                         const sagegen::VariantDescriptor* forced) {
  lastErrorDetail.clear();
  if (phases == 0 || (phases & ~uint32_t(SAGEGEN_PHASE_ALL)) != 0)
    return fail(SAGEGEN_STATUS_BAD_PHASES, "phases = %u: must be a non-empty combination of SAGEGEN_PHASE_QUANTIZE (1) and SAGEGEN_PHASE_ATTENTION (2)",
                phases);
  sagegen::VariantCall call{};
  const sagegen::VariantDescriptor* variant = nullptr;
  const sagegen_status st = validate(args, &call, &variant);
  if (st != SAGEGEN_STATUS_OK) return st;
  if (forced != nullptr) {
    int device = 0, major = 0, minor = 0;
    cudaGetDevice(&device);
    cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
    cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
    if (forced->headDim != args->head_dim || forced->dtype != args->dtype || forced->causal != (args->causal != 0) ||
        !variantRunsOn(*forced, major * 10 + minor))
      return fail(SAGEGEN_STATUS_NO_VARIANT, "variant %s (head_dim %d, dtype %d, causal %d, sm_%d) does not serve this call on sm_%d%d",
                  forced->name, forced->headDim, forced->dtype, (int)forced->causal, forced->computeCapability, major, minor);
    variant = forced;
  }
  const cudaError_t err = variant->run(call, reinterpret_cast<cudaStream_t>(stream), phases);
  if (err != cudaSuccess)
    return fail(SAGEGEN_STATUS_CUDA_ERROR, "variant %s: %s (%s)", variant->name, cudaGetErrorName(err), cudaGetErrorString(err));
  return SAGEGEN_STATUS_OK;
}

}  // namespace

namespace sagegen {

uint64_t nextReadyToken() {
  constexpr uint64_t kTag = uint64_t{0x5A6E} << 48;  // "Zn": never 0, so 0 can mean "no wait"
  constexpr uint64_t kCountMask = (uint64_t{1} << 48) - 1;
  // Start: the clock mixed with this library's address, so two libraries in one process (or one
  // loaded twice) do not count the same tokens over the same workspace.
  static std::atomic<uint64_t> next{[] {
    uint64_t x = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
                 reinterpret_cast<uintptr_t>(&nextReadyToken);
    x ^= x >> 33;  // splitmix64's finalizer: nearby starts land far apart
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
  }()};
  return kTag | (next.fetch_add(1, std::memory_order_relaxed) & kCountMask);
}

}  // namespace sagegen

extern "C" {

SAGEGEN_API void sagegen_forward_args_init(sagegen_forward_args* args) {
  if (args == nullptr) return;
  *args = sagegen_forward_args{};
  args->struct_size = sizeof(sagegen_forward_args);
  args->abi_version = SAGEGEN_ABI_VERSION;
  args->layout = SAGEGEN_LAYOUT_HND;
  args->dtype = SAGEGEN_DTYPE_FP16;
}

SAGEGEN_API size_t sagegen_workspace_size(int64_t batch, int64_t num_q_heads, int64_t num_kv_heads, int64_t qo_len, int64_t kv_len,
                                          int64_t head_dim) {
  if (batch <= 0 || num_q_heads <= 0 || num_kv_heads <= 0 || qo_len <= 0 || kv_len <= 0 || qo_len >= kMaxLen || kv_len >= kMaxLen ||
      batch > kMaxGridYZ || num_q_heads > kMaxGridYZ)
    return 0;
  return workspaceFor({batch, num_q_heads, num_kv_heads, qo_len, kv_len, head_dim});
}


SAGEGEN_API sagegen_status sagegen_forward_phases(const sagegen_forward_args* args, sagegen_stream_t stream, uint32_t phases) {
  return forwardOn(args, stream, phases, nullptr);
}

SAGEGEN_API sagegen_status sagegen_forward(const sagegen_forward_args* args, sagegen_stream_t stream) {
  return forwardOn(args, stream, SAGEGEN_PHASE_ALL, nullptr);
}

SAGEGEN_API sagegen_status sagegen_forward_variant(const sagegen_forward_args* args, sagegen_stream_t stream, uint32_t phases,
                                                   int32_t variant_index) {
  if (variant_index < 0 || variant_index >= sagegen::kVariantCount) {
    lastErrorDetail.clear();
    return fail(SAGEGEN_STATUS_NO_VARIANT, "variant_index = %d: this library holds %d variants", variant_index, sagegen::kVariantCount);
  }
  return forwardOn(args, stream, phases, sagegen::kVariants[variant_index]);
}

SAGEGEN_API int32_t sagegen_variant_count(void) { return sagegen::kVariantCount; }

SAGEGEN_API int32_t sagegen_dispatch_variant(int32_t compute_capability, int64_t head_dim, sagegen_dtype dtype, int32_t causal,
                                             int64_t kv_len) {
  const sagegen::VariantDescriptor* v = selectVariant(compute_capability, head_dim, dtype, causal != 0, kv_len);
  for (int i = 0; v != nullptr && i < sagegen::kVariantCount; ++i)
    if (sagegen::kVariants[i] == v) return i;
  return -1;
}

SAGEGEN_API sagegen_status sagegen_variant_get_info(int32_t index, sagegen_variant_info* info) {
  if (info == nullptr) return fail(SAGEGEN_STATUS_NULL_POINTER, "info = NULL");
  if (index < 0 || index >= sagegen::kVariantCount)
    return fail(SAGEGEN_STATUS_NO_VARIANT, "index = %d: this library holds %d variants", index, sagegen::kVariantCount);
  const sagegen::VariantDescriptor& v = *sagegen::kVariants[index];
  *info = sagegen_variant_info{v.name, v.computeCapability, v.archSpecific ? 1 : 0, v.headDim, static_cast<sagegen_dtype>(v.dtype), v.causal ? 1 : 0};
  return SAGEGEN_STATUS_OK;
}

SAGEGEN_API const char* sagegen_status_string(sagegen_status status) {
  switch (status) {
    case SAGEGEN_STATUS_OK: return "success";
    case SAGEGEN_STATUS_NULL_POINTER: return "a required pointer is NULL";
    case SAGEGEN_STATUS_MISALIGNED_POINTER: return "a pointer is misaligned (tensors need 16 bytes, the workspace 256)";
    case SAGEGEN_STATUS_UNSUPPORTED_HEAD_DIM: return "head dim not supported or not built";
    case SAGEGEN_STATUS_HEADS_NOT_DIVISIBLE: return "query heads are not a multiple of kv heads";
    case SAGEGEN_STATUS_BAD_LENGTH: return "a size (batch, heads, qo_len, kv_len) is zero or negative";
    case SAGEGEN_STATUS_BAD_STRIDE: return "a stride is negative or not a multiple of 8 elements";
    case SAGEGEN_STATUS_UNSUPPORTED_DTYPE: return "dtype not supported or not built";
    case SAGEGEN_STATUS_UNSUPPORTED_LAYOUT: return "layout not supported";
    case SAGEGEN_STATUS_WORKSPACE_TOO_SMALL: return "workspace too small";
    case SAGEGEN_STATUS_NO_VARIANT: return "no built variant runs on this device";
    case SAGEGEN_STATUS_BAD_SCALE: return "softmax scale is not finite and positive";
    case SAGEGEN_STATUS_ABI_MISMATCH: return "caller was compiled against another sagegen.h ABI";
    case SAGEGEN_STATUS_CUDA_ERROR: return "a CUDA call failed";
    case SAGEGEN_STATUS_SIZE_OVERFLOW: return "a size exceeds the supported range";
    case SAGEGEN_STATUS_BAD_PHASES: return "phases must combine SAGEGEN_PHASE_QUANTIZE and SAGEGEN_PHASE_ATTENTION";
    case SAGEGEN_STATUS_OVERLAP: return "the output overlaps itself, or o, lse or the workspace overlaps another buffer";
  }
  return "unknown status";
}

SAGEGEN_API const char* sagegen_last_error_detail(void) { return lastErrorDetail.c_str(); }

SAGEGEN_API float sagegen_default_scale(int64_t head_dim) { return head_dim > 0 ? 1.0f / std::sqrt(static_cast<float>(head_dim)) : 0.0f; }

SAGEGEN_API int32_t sagegen_abi_version(void) { return SAGEGEN_ABI_VERSION; }

SAGEGEN_API const char* sagegen_version(void) { return SAGEGEN_VERSION_STRING; }

SAGEGEN_API const char* sagegen_archs(void) { return builtArchs().c_str(); }

}  // extern "C"
