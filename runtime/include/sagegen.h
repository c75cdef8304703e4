/*
 * sagegen.h — C ABI of libsagegen, quantized (SageAttention2 / SageAttention2++) attention forward.
 *
 * C-compatible (C99 / C++). Every entry point validates its arguments and returns a status code;
 * a bad argument never launches a kernel and never writes to the output.
 *
 * ABI versioning: SAGEGEN_ABI_VERSION changes whenever a struct layout or a signature changes.
 * sagegen_forward_args begins with `struct_size` and `abi_version`, which the library checks, so a
 * program compiled against another ABI gets SAGEGEN_STATUS_ABI_MISMATCH instead of a misread struct.
 * Version 2 added sagegen_archs (a binding that needs it refuses a version-1 library by its number).
 */
#ifndef SAGEGEN_H
#define SAGEGEN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SAGEGEN_ABI_VERSION 2

#if defined(_WIN32)
#define SAGEGEN_API __declspec(dllexport)
#else
#define SAGEGEN_API __attribute__((visibility("default")))
#endif

/* cudaStream_t without pulling in the CUDA headers: the same opaque pointer type. */
typedef struct CUstream_st* sagegen_stream_t;

typedef enum sagegen_status {
  SAGEGEN_STATUS_OK = 0,
  SAGEGEN_STATUS_NULL_POINTER = 1,          /* q, k, v, o, args or (when requested) lse / workspace is NULL */
  SAGEGEN_STATUS_MISALIGNED_POINTER = 2,    /* a tensor base pointer is not 16-byte aligned */
  SAGEGEN_STATUS_UNSUPPORTED_HEAD_DIM = 3,  /* no variant was built for this head dim */
  SAGEGEN_STATUS_HEADS_NOT_DIVISIBLE = 4,   /* query heads not a multiple of kv heads */
  SAGEGEN_STATUS_BAD_LENGTH = 5,            /* batch, heads, qo_len or kv_len is zero or negative */
  SAGEGEN_STATUS_BAD_STRIDE = 6,            /* a stride is negative or not a multiple of 8 elements */
  SAGEGEN_STATUS_UNSUPPORTED_DTYPE = 7,     /* dtype not fp16/bf16, or no variant built for it */
  SAGEGEN_STATUS_UNSUPPORTED_LAYOUT = 8,    /* layout not HND/NHD */
  SAGEGEN_STATUS_WORKSPACE_TOO_SMALL = 9,   /* workspace_bytes < sagegen_workspace_size(...) */
  SAGEGEN_STATUS_NO_VARIANT = 10,           /* no built variant runs on this device / for this causal flag;
                                               the detail names the device's arch and the archs built */
  SAGEGEN_STATUS_BAD_SCALE = 11,            /* softmax scale is NaN, Inf or <= 0 */
  SAGEGEN_STATUS_ABI_MISMATCH = 12,         /* args->struct_size / abi_version do not match this library */
  SAGEGEN_STATUS_CUDA_ERROR = 13,           /* a CUDA runtime call or a kernel launch failed */
  SAGEGEN_STATUS_SIZE_OVERFLOW = 14,        /* a size, or the bytes a tensor's strides span, exceeds the library's index arithmetic */
  SAGEGEN_STATUS_BAD_PHASES = 15,           /* sagegen_forward_phases: phases is empty or has unknown bits */
  SAGEGEN_STATUS_OVERLAP = 16               /* o's strides overlap its own rows, or o / lse / workspace share bytes with another buffer */
} sagegen_status;

/* The two phases of a forward: quantization (K mean, INT8 Q and K, FP8 V or a padded 16-bit copy of
 * V, written into the workspace) and attention (reads the workspace, writes o and lse). 16-bit V
 * whose rows are head_dim elements apart, with kv_len a multiple of the variant's key tile, is not
 * copied: attention reads it from v. When both phases run in one call, the sm_90a wgmma variants of
 * one consumer warpgroup and no producer quantize the queries inside the attention kernel instead of in a kernel of
 * their own; they write the same INT8 queries and scales into the workspace, and the output is
 * bitwise the same as that of the two phases run one after the other. */
typedef enum sagegen_phase {
  SAGEGEN_PHASE_QUANTIZE = 1,
  SAGEGEN_PHASE_ATTENTION = 2,
  SAGEGEN_PHASE_ALL = 3
} sagegen_phase;

typedef enum sagegen_dtype {
  SAGEGEN_DTYPE_FP16 = 0,
  SAGEGEN_DTYPE_BF16 = 1
} sagegen_dtype;

/* HND: [batch, heads, seq, head_dim]; NHD: [batch, seq, heads, head_dim]. Used only to derive
 * strides when a tensor's strides are all zero; explicit strides win. */
typedef enum sagegen_layout {
  SAGEGEN_LAYOUT_HND = 0,
  SAGEGEN_LAYOUT_NHD = 1
} sagegen_layout;

/* Strides in elements. The head-dim stride is always 1. All three zero: contiguous in `layout`.
 * Otherwise each must be a non-negative multiple of 8 elements (every row starts 16-byte aligned),
 * also for dimensions of size 1; inputs may repeat rows (stride 0 broadcasts), the output may not
 * (SAGEGEN_STATUS_OVERLAP). The buffers the library writes (o, lse, workspace) must not share a byte
 * with each other or with q, k, v, judged by the byte range each one's pointer and strides span. */
typedef struct sagegen_strides {
  int64_t batch;
  int64_t head;
  int64_t seq;
} sagegen_strides;

typedef struct sagegen_forward_args {
  size_t struct_size;   /* sizeof(sagegen_forward_args) */
  int32_t abi_version;  /* SAGEGEN_ABI_VERSION */

  const void* q;        /* [batch, num_q_heads, qo_len, head_dim] in `layout` / strides */
  const void* k;        /* [batch, num_kv_heads, kv_len, head_dim] */
  const void* v;        /* [batch, num_kv_heads, kv_len, head_dim] */
  void* o;              /* [batch, num_q_heads, qo_len, head_dim], same dtype as q */
  float* lse;           /* optional: [batch, num_q_heads, qo_len] fp32 contiguous, 4-byte aligned, natural log; NULL: not written */

  sagegen_dtype dtype;
  sagegen_layout layout;
  int64_t batch;
  int64_t num_q_heads;
  int64_t num_kv_heads;
  int64_t qo_len;
  int64_t kv_len;
  int64_t head_dim;
  sagegen_strides q_strides, k_strides, v_strides, o_strides;

  /* GQA/MQA: query head h reads kv head h / (num_q_heads / num_kv_heads).
   * causal nonzero: bottom-right aligned mask, query i sees keys j <= i + kv_len - qo_len. A query
   * row that sees no key (qo_len > kv_len) gets o = 0 and lse = -inf. */
  int32_t causal;
  float softmax_scale;  /* <= 0 is an error; use sagegen_default_scale(head_dim) for 1/sqrt(head_dim) */

  void* workspace;      /* device memory, 256-byte aligned, at least sagegen_workspace_size(...) bytes; never NULL.
                         * Its contents need no clearing (a call never relies on what is in it when it starts);
                         * calls that may run at the same time must not share one. */
  size_t workspace_bytes;
} sagegen_forward_args;

/* Fills args with defaults: struct_size, abi_version, layout HND, zero strides, scale 0 (meaning:
 * set it), everything else zero/NULL. */
SAGEGEN_API void sagegen_forward_args_init(sagegen_forward_args* args);

/* Device bytes the forward needs for quantized copies of q, k, v and their scales (the largest over
 * the built variants of this head dim). 0 on bad sizes or a head dim that was not built. */
SAGEGEN_API size_t sagegen_workspace_size(int64_t batch, int64_t num_q_heads, int64_t num_kv_heads,
                                          int64_t qo_len, int64_t kv_len, int64_t head_dim);

/* Runs quantization and attention on `stream`. Asynchronous; returns after the launches. */
SAGEGEN_API sagegen_status sagegen_forward(const sagegen_forward_args* args, sagegen_stream_t stream);

/* sagegen_forward restricted to some phases. SAGEGEN_PHASE_ATTENTION alone reads the workspace that
 * an earlier call with SAGEGEN_PHASE_QUANTIZE and the same arguments filled: it exists to time the
 * attention kernel by itself. Arguments are validated exactly as by sagegen_forward. */
SAGEGEN_API sagegen_status sagegen_forward_phases(const sagegen_forward_args* args, sagegen_stream_t stream, uint32_t phases);

/* The variants built into this library (for logging what a program links, and for autotuning). */
typedef struct sagegen_variant_info {
  const char* name;            /* the variant's name, e.g. sage_sm90a_d128_fp16_full_... (static storage) */
  int32_t compute_capability;  /* of its target, major*10+minor (sm_90a -> 90) */
  int32_t arch_specific;       /* 1: SASS for exactly that capability only (sm_90a); 0: PTX for newer GPUs too */
  int32_t head_dim;
  sagegen_dtype dtype;
  int32_t causal;
} sagegen_variant_info;

SAGEGEN_API int32_t sagegen_variant_count(void);

/* Fills *info for 0 <= index < sagegen_variant_count(); SAGEGEN_STATUS_NO_VARIANT otherwise. */
SAGEGEN_API sagegen_status sagegen_variant_get_info(int32_t index, sagegen_variant_info* info);

/* The index of the variant sagegen_forward would run for a call with these parameters on a device of
 * `compute_capability` (major*10+minor), or -1 when none serves it. Needs no GPU: for logging which
 * kernel a program will run. At equal capability a wgmma variant is preferred over mma.sync. */
SAGEGEN_API int32_t sagegen_dispatch_variant(int32_t compute_capability, int64_t head_dim, sagegen_dtype dtype, int32_t causal,
                                             int64_t kv_len);

/* sagegen_forward_phases with the variant chosen by the caller instead of the dispatcher (autotuning,
 * A/B checks). Arguments are validated as by sagegen_forward; the variant must match head_dim, dtype
 * and causal and run on the current device, else SAGEGEN_STATUS_NO_VARIANT. */
SAGEGEN_API sagegen_status sagegen_forward_variant(const sagegen_forward_args* args, sagegen_stream_t stream, uint32_t phases,
                                                   int32_t variant_index);

/* Text for a status code; never NULL. When several arguments are wrong, the first check in this
 * order reports: args/ABI, pointers and alignment, dtype, layout, sizes, head dim, scale, strides,
 * the bytes each tensor spans, workspace size, overlap, device. Only the last one calls CUDA. */
SAGEGEN_API const char* sagegen_status_string(sagegen_status status);

/* Detail of the last error on the calling thread (names the argument and the value); "" after a
 * successful call (every sagegen_forward clears it first). */
SAGEGEN_API const char* sagegen_last_error_detail(void);

SAGEGEN_API float sagegen_default_scale(int64_t head_dim);

/* SAGEGEN_ABI_VERSION of the library (compare with the header's to catch a mismatched pair). */
SAGEGEN_API int32_t sagegen_abi_version(void);
/* The sagegen release that generated the library, e.g. "0.1.0" (static storage). */
SAGEGEN_API const char* sagegen_version(void);
/* The GPU archs the library holds code for, comma-separated, oldest first, e.g. "sm_80,sm_89,sm_90a"
 * (static storage). Each variant's fat binary has SASS for its arch; variants for archs without the
 * "a" suffix also carry PTX, which the driver compiles for newer GPUs (sm_90a code runs only on
 * compute capability 9.0). sagegen_variant_get_info tells which variant has which arch. */
SAGEGEN_API const char* sagegen_archs(void);

#ifdef __cplusplus
}
#endif

#endif /* SAGEGEN_H */
