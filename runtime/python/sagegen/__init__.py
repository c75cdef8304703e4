"""Python binding of libsagegen: quantized (SageAttention2/2++) attention forward on torch CUDA tensors.

    from sagegen import sageattn
    o = sageattn(q, k, v, tensor_layout="HND", is_causal=True)

The library is found through $SAGEGEN_LIB or the newest generated/*/lib/libsagegen.so; importing
this module never needs it, the first call does (see load_library).
"""
import contextlib
import ctypes
import math

import torch

from . import _abi, _lib
from ._abi import Phase, ABI_VERSION, DType, Layout, SagegenForwardArgs, SagegenStrides, Status
from ._lib import LibraryNotFoundError, library_path, load_library

__all__ = [
    "sageattn",
    "load_library",
    "library_path",
    "version",
    "abi_version",
    "archs",
    "variants",
    "dispatched_variant",
    "status_string",
    "SagegenError",
    "LibraryNotFoundError",
    "Status",
    "DType",
    "Layout",
    "ABI_VERSION",
    "SagegenForwardArgs",
    "SagegenStrides",
]

_DTYPES = {torch.float16: DType.FP16, torch.bfloat16: DType.BF16}
_LAYOUTS = {"HND": Layout.HND, "NHD": Layout.NHD}
# Tensor dims holding (batch, heads, seq) in each layout; head_dim is always the last dim.
_DIMS = {"HND": (0, 1, 2), "NHD": (0, 2, 1)}
# The workspace is never allocated empty, so its pointer is never NULL even if a size comes out 0.
_MIN_WORKSPACE = 256


class SagegenError(RuntimeError):
    """sagegen_forward returned a non-OK status. `.status` is the sagegen_status code."""

    def __init__(self, status, name, detail):
        self.status = int(status)
        self.status_name = name
        self.detail = detail
        super().__init__(f"sagegen_forward failed: {name} (status {self.status})" + (f": {detail}" if detail else ""))


def version():
    """sagegen_version() of the loaded library."""
    return _lib.decode(_lib.get_library().sagegen_version())


def abi_version():
    """sagegen_abi_version() of the loaded library."""
    return int(_lib.get_library().sagegen_abi_version())


def archs():
    """The GPU archs the loaded library holds code for (sagegen_archs()), e.g. ['sm_89', 'sm_90a']."""
    return [a for a in _lib.decode(_lib.get_library().sagegen_archs()).split(",") if a]


def status_string(status):
    """sagegen_status_string(status)."""
    return _lib.decode(_lib.get_library().sagegen_status_string(int(status)))


# ----------------------------------------------------------------------------------------------
# Validation. Everything the C library would reject with a generic status is caught here first
# with a message naming the argument, its value and the rule.


# Device seams: the only places that touch torch.cuda. Kept as module functions so a test of this
# binding against a host-memory mock library can replace them (runtime/test/gpu_check.py --device cpu).
def _on_cuda(t):
    return t.is_cuda


# Host time matters: at N = 1K a whole call is ~170 µs of GPU time, and each call below runs on every
# call (measured on the H100 host: results/wgmma/session24/). torch.cuda.device's context costs ~2 µs
# and torch.cuda.current_stream(...).cuda_stream ~5 µs; the raw forms below cost ~0.1 µs.
def _device_guard(device):
    if device.index is None or device.index == torch.cuda.current_device():
        return contextlib.nullcontext()  # already current: no switch, nothing to restore
    return torch.cuda.device(device)


# What torch's own generated launchers use; looked up once (absent from CPU-only builds of torch).
_RAW_STREAM = getattr(torch._C, "_cuda_getCurrentRawStream", None)


def _stream_handle(device):
    index = torch.cuda.current_device() if device.index is None else device.index
    return _RAW_STREAM(index) if _RAW_STREAM is not None else torch.cuda.current_stream(device).cuda_stream


# Whether sageattn may run the op's work itself instead of through torch's dispatcher (tens of µs of
# host time a call, results/wgmma/session24/): a seam of its own, so the checks of the decision run
# on host tensors (runtime/python/tests/check_torch_op.py) while the op's other checks keep the op.
def _runs_library(t):
    return t.is_cuda


def _dispatcher_needed(q, k, v):
    """True when sageattn must go through torch.ops.sagegen.sageattn: under torch.compile or export
    tracing (the graph needs the op node); when a tensor is a subclass (FakeTensor, DTensor, ...) or
    not on CUDA; under a TorchDispatchMode or TorchFunctionMode (FakeTensorMode, FlopCounterMode,
    ...), which must see the op; and when an input requires grad with grad mode on (through the op,
    autograd refuses a backward; directly, the result would silently carry no graph)."""
    if torch.compiler.is_compiling():
        return True
    if type(q) is not torch.Tensor or type(k) is not torch.Tensor or type(v) is not torch.Tensor:
        return True
    if not (_runs_library(q) and _runs_library(k) and _runs_library(v)):
        return True
    try:
        if torch._C._len_torch_dispatch_stack() > 0 or torch._C._is_torch_function_mode_enabled():
            return True
    except AttributeError:  # a torch without these internals: keep the op
        return True
    return torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or v.requires_grad)


def _check_tensor(name, t):
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if not _on_cuda(t):
        raise ValueError(f"{name} must be a CUDA tensor, got device '{t.device}'")
    if t.dim() != 4:
        raise ValueError(
            f"{name} must be 4-D ([B, H, N, D] for HND, [B, N, H, D] for NHD), "
            f"got {t.dim()}-D with shape {tuple(t.shape)}"
        )
    if t.dtype not in _DTYPES:
        raise TypeError(f"{name}.dtype must be torch.float16 or torch.bfloat16, got {t.dtype}")
    if t.size(-1) > 1 and t.stride(-1) != 1:
        raise ValueError(f"{name} must have stride 1 along head_dim (last dim), got strides {tuple(t.stride())}")


def _extents(t, layout):
    """(batch, heads, seq, head_dim) of a 4-D tensor in `layout`."""
    b, h, s = _DIMS[layout]
    shape = t.shape  # one call into torch, not one per dim: this runs on every call (host time)
    return shape[b], shape[h], shape[s], shape[3]


def _check_same(what, layout, **values):
    names = list(values)
    first = values[names[0]]
    for n in names[1:]:
        if values[n] != first:
            shown = ", ".join(f"{m} has {values[m]}" for m in names)
            raise ValueError(f"{what} mismatch in layout {layout}: {shown}; they must be equal")


def _check_inputs(q, k, v, layout):
    for name, t in (("q", q), ("k", k), ("v", v)):
        _check_tensor(name, t)
    if not (q.device == k.device == v.device):
        raise ValueError(f"q, k, v must be on the same device, got q on {q.device}, k on {k.device}, v on {v.device}")
    if not (q.dtype == k.dtype == v.dtype):
        raise TypeError(f"q, k, v must have the same dtype, got q {q.dtype}, k {k.dtype}, v {v.dtype}")
    bq, hq, nq, dq = _extents(q, layout)
    bk, hk, nk, dk = _extents(k, layout)
    bv, hv, nv, dv = _extents(v, layout)
    _check_same("batch size", layout, q=bq, k=bk, v=bv)
    _check_same("head_dim", layout, q=dq, k=dk, v=dv)
    _check_same("number of kv heads", layout, k=hk, v=hv)
    _check_same("kv sequence length", layout, k=nk, v=nv)
    if nk == 0 and bq * hq * nq > 0:
        # The library refuses kv_len 0 (and torch hands out NULL for empty tensors): say which it is.
        raise ValueError(f"kv sequence length is 0 in layout {layout} (k and v hold no keys): attention needs at least one key")
    if hk > 0 and hq % hk != 0:
        raise ValueError(
            f"number of q heads ({hq}) must be a multiple of the number of kv heads ({hk}) "
            "(grouped-query attention: q head h reads kv head h // (Hq // Hkv))"
        )


def _check_out(out, q):
    _check_tensor("out", out)
    if out.shape != q.shape or out.dtype != q.dtype or out.device != q.device:
        raise ValueError(
            f"out must match q in shape, dtype and device: out is {tuple(out.shape)} {out.dtype} on {out.device}, "
            f"q is {tuple(q.shape)} {q.dtype} on {q.device}"
        )
    if _has_broadcast_dim(out):
        raise ValueError(f"out must not have zero strides on dims of size > 1 (elements would overlap), got strides {tuple(out.stride())}")


def _check_lse_out(lse_out, q, shape):
    if not isinstance(lse_out, torch.Tensor):
        raise TypeError(f"lse_out must be a torch.Tensor, got {type(lse_out).__name__}")
    if tuple(lse_out.shape) != shape or lse_out.dtype != torch.float32 or lse_out.device != q.device:
        raise ValueError(
            f"lse_out must be float32 of shape {shape} [batch, q heads, qo_len] on {q.device}, "
            f"got {lse_out.dtype} of shape {tuple(lse_out.shape)} on {lse_out.device}"
        )
    if not lse_out.is_contiguous():
        raise ValueError(f"lse_out must be contiguous, got strides {tuple(lse_out.stride())}")


def _scale(sm_scale, head_dim):
    if sm_scale is None:
        return 1.0 / math.sqrt(head_dim)
    s = float(sm_scale)
    if not math.isfinite(s) or s <= 0:
        raise ValueError(f"sm_scale must be a finite number > 0, got {sm_scale!r}")
    return s


# ----------------------------------------------------------------------------------------------
# Strides.


def _has_broadcast_dim(t):
    stride = t.stride()
    return 0 in stride and any(n > 1 and s == 0 for n, s in zip(t.shape, stride))


def _strides(t, layout):
    """sagegen_strides (elements) of `t` in `layout`.

    torch reports an arbitrary stride for a dim of size 1 (it is never stepped over), which the
    library could reject (negative / not a multiple of 8). Such strides are replaced by the
    tensor's span rounded up to 8: valid, unused, and beyond every element, so never overlapping.
    """
    shape, stride = t.shape, t.stride()
    vals = [stride[d] for d in _DIMS[layout]]
    for i, d in enumerate(_DIMS[layout]):
        if shape[d] == 1 and (vals[i] <= 0 or vals[i] % 8 != 0):
            span = 1 + sum((n - 1) * s for n, s in zip(shape, stride))
            vals[i] = -(-span // 8) * 8
    return SagegenStrides(*vals)


def _materialize(t):
    """Copies a broadcast (expanded, zero-stride) input: with every stride zero the library would
    read it as contiguous, and zero strides are not in its contract otherwise."""
    return t.contiguous() if _has_broadcast_dim(t) else t


# ----------------------------------------------------------------------------------------------
# The call.


def _fill_pointers(args, q, k, v, o, lse, workspace):
    """The buffer addresses of one call: all that differs between calls of one geometry."""
    args.q, args.k, args.v, args.o = q.data_ptr(), k.data_ptr(), v.data_ptr(), o.data_ptr()
    _abi.set_lse_pointer(args, lse.data_ptr() if lse is not None else 0)
    args.workspace = workspace.data_ptr()


def _fill_args(args, q, k, v, o, lse, layout, dims, causal, scale, workspace):
    b, hq, hkv, nq, nk, d = dims
    _fill_pointers(args, q, k, v, o, lse, workspace)
    args.dtype = _DTYPES[q.dtype]
    args.layout = _LAYOUTS[layout]
    args.batch, args.num_q_heads, args.num_kv_heads = b, hq, hkv
    args.qo_len, args.kv_len, args.head_dim = nq, nk, d
    args.q_strides = _strides(q, layout)
    args.k_strides = _strides(k, layout)
    args.v_strides = _strides(v, layout)
    args.o_strides = _strides(o, layout)
    args.causal = 1 if causal else 0
    args.softmax_scale = scale
    args.workspace_bytes = workspace.numel()


def _run(lib, args, device, phases=_abi.Phase.ALL, variant=None):
    stream = _stream_handle(device)
    if variant is None:
        status = lib.sagegen_forward_phases(ctypes.byref(args), stream, phases)
    else:
        status = lib.sagegen_forward_variant(ctypes.byref(args), stream, phases, variant)
    if status != Status.OK:
        # Read the thread-local detail right away, before anything else can call the library.
        detail = _lib.decode(lib.sagegen_last_error_detail())
        raise SagegenError(status, _lib.decode(lib.sagegen_status_string(status)), detail)


def _problem(q, k, v, tensor_layout, sm_scale):
    """Checks the inputs; returns ((B, Hq, Hkv, Nq, Nkv, D), softmax scale)."""
    if tensor_layout not in _LAYOUTS:
        raise ValueError(f"tensor_layout must be 'HND' or 'NHD', got {tensor_layout!r}")
    _check_inputs(q, k, v, tensor_layout)
    b, hq, nq, d = _extents(q, tensor_layout)
    _, hkv, nk, _ = _extents(k, tensor_layout)
    return (b, hq, hkv, nq, nk, d), _scale(sm_scale, d)


def sageattn(q, k, v, tensor_layout="HND", is_causal=False, sm_scale=None, return_lse=False, *, out=None, lse_out=None):
    """Quantized attention forward: softmax(q k^T * sm_scale [+ causal mask]) v.

    q: [B, Hq, Nq, D] (HND) or [B, Nq, Hq, D] (NHD); k, v: [B, Hkv, Nkv, D] / [B, Nkv, Hkv, D].
    fp16 or bf16, CUDA, stride 1 along D, any other strides (multiples of 8 elements, 16-byte
    aligned base pointers: the library checks). Hq must be a multiple of Hkv (GQA/MQA).
    is_causal: bottom-right aligned mask, query i sees key j iff j <= i + Nkv - Nq.
    sm_scale: default 1/sqrt(D).
    out: optional preallocated output (q's shape/dtype/device, any valid strides).
    lse_out: optional float32 [B, Hq, Nq] contiguous tensor for the natural-log LSE of the scaled
    scores; passing it computes the LSE even when return_lse is False.
    Returns o, or (o, lse) when return_lse. Runs asynchronously on torch's current stream of q's
    device. Forward only: the result carries no autograd graph.

    Without out= / lse_out= the call is the custom op torch.ops.sagegen.sageattn, which torch.compile
    (fullgraph=True included) keeps in the graph. In plain eager use (CUDA tensors, no tracing, no
    dispatch or function mode, no input requiring grad) the op's work runs without torch's dispatcher,
    tens of µs less host time a call (about 50 on the H100 host); the result is the same. With out= / lse_out= it always runs directly.
    """
    if out is None and lse_out is None and _dispatcher_needed(q, k, v):
        _problem(q, k, v, tensor_layout, sm_scale)  # the binding's messages, also while tracing
        scale = None if sm_scale is None else float(sm_scale)
        o, lse = torch.ops.sagegen.sageattn(q, k, v, tensor_layout, bool(is_causal), scale, bool(return_lse))
        return (o, lse) if return_lse else o
    return _sageattn_eager(q, k, v, tensor_layout, is_causal, sm_scale, return_lse, out=out, lse_out=lse_out)


# Calls already checked, by geometry. A call's checks, its argument block (less the pointers) and its
# workspace size depend only on the library, the layout, causal, sm_scale and each input's shape,
# strides, dtype and device: a call whose geometry was seen before skips the checks and fills only
# the pointers of a copy of that block (on the development machine 16.6 -> 5.2 µs of Python a call;
# on the H100 host sageattn went from about 3x cuDNN's host time to 1.5x, results/wgmma/session25/).
# Only calls that allocate their own output (no out= / lse_out=) and need no copy
# of a broadcast input are kept, at most _CALL_PLANS_MAX geometries (then the table starts over).
_CALL_PLANS = {}
_CALL_PLANS_MAX = 64


def _call_key(lib, q, k, v, tensor_layout, is_causal, sm_scale):
    """The geometry of a call as a dict key, or None where it is not kept (no library loaded yet, a
    scale that is not a plain number, a layout that is not one of the two names)."""
    if lib is None or tensor_layout not in ("HND", "NHD") or not (sm_scale is None or type(sm_scale) in (float, int)):
        return None
    return (lib, tensor_layout, bool(is_causal), sm_scale, q.dtype, k.dtype, v.dtype, q.device, k.device, v.device,
            q.shape, k.shape, v.shape, q.stride(), k.stride(), v.stride())


def _sageattn_eager(q, k, v, tensor_layout, is_causal, sm_scale, return_lse, out=None, lse_out=None):
    """sageattn's work, called directly: checks, allocations and the C call (the custom op's kernel)."""
    key = None
    if out is None and lse_out is None and type(q) is torch.Tensor and type(k) is torch.Tensor and type(v) is torch.Tensor:
        key = _call_key(_lib.loaded_library(), q, k, v, tensor_layout, is_causal, sm_scale)
        known = _CALL_PLANS.get(key) if key is not None else None
        if known is not None:
            return _run_known(q, k, v, return_lse, key[0], *known)
    dims, scale = _problem(q, k, v, tensor_layout, sm_scale)
    b, hq, hkv, nq, nk, d = dims
    lse_shape = (b, hq, nq)
    if out is not None:
        _check_out(out, q)
    if lse_out is not None:
        _check_lse_out(lse_out, q, lse_shape)

    with _device_guard(q.device):
        o = out if out is not None else torch.empty(q.shape, dtype=q.dtype, device=q.device)
        lse = lse_out
        if lse is None and return_lse:
            lse = torch.empty(lse_shape, dtype=torch.float32, device=q.device)
        if b * hq * nq == 0:
            return (o, lse) if return_lse else o  # nothing to compute (the library rejects zero lengths)
        inputs = (q, k, v)
        q, k, v = _materialize(q), _materialize(k), _materialize(v)
        lib = _lib.get_library()
        ws_bytes = max(lib.sagegen_workspace_size(*dims), _MIN_WORKSPACE)
        # torch's caching allocator returns >= 256-byte aligned blocks; freeing this tensor when the
        # function returns is safe because reuse is ordered on the same (current) stream.
        workspace = torch.empty(ws_bytes, dtype=torch.uint8, device=q.device)
        args = _lib.new_args(lib)
        _fill_args(args, q, k, v, o, lse, tensor_layout, dims, is_causal, scale, workspace)
        _run(lib, args, q.device)
    if key is not None and key[0] is lib and all(a is b for a, b in zip((q, k, v), inputs)):  # no broadcast input was copied
        if len(_CALL_PLANS) >= _CALL_PLANS_MAX:
            _CALL_PLANS.clear()
        _CALL_PLANS[key] = (_abi.SagegenForwardArgs.from_buffer_copy(args), lse_shape, ws_bytes)
    return (o, lse) if return_lse else o


def _run_known(q, k, v, return_lse, lib, template, lse_shape, ws_bytes):
    """A call of a geometry checked before: the same argument block with this call's pointers."""
    with _device_guard(q.device):
        o = torch.empty(q.shape, dtype=q.dtype, device=q.device)
        lse = torch.empty(lse_shape, dtype=torch.float32, device=q.device) if return_lse else None
        workspace = torch.empty(ws_bytes, dtype=torch.uint8, device=q.device)
        args = _abi.SagegenForwardArgs.from_buffer_copy(template)
        _fill_pointers(args, q, k, v, o, lse, workspace)
        _run(lib, args, q.device)
    return (o, lse) if return_lse else o


def variants():
    """The variants built into the loaded library, in registry order (index = position)."""
    lib = _lib.get_library()
    out = []
    for i in range(lib.sagegen_variant_count()):
        info = _abi.SagegenVariantInfo()
        status = lib.sagegen_variant_get_info(i, ctypes.byref(info))
        if status != Status.OK:
            raise SagegenError(status, _lib.decode(lib.sagegen_status_string(status)), _lib.decode(lib.sagegen_last_error_detail()))
        out.append({"index": i, "name": _lib.decode(info.name), "compute_capability": info.compute_capability,
                    "arch_specific": bool(info.arch_specific), "head_dim": info.head_dim,
                    "dtype": "fp16" if info.dtype == DType.FP16 else "bf16", "causal": bool(info.causal)})
    return out


def dispatched_variant(compute_capability, head_dim, dtype, is_causal, kv_len):
    """The index into variants() of the variant sageattn runs for such a call on a device of
    compute_capability (major*10+minor, e.g. 90), or None when no built variant serves it. Needs no GPU."""
    if dtype not in ("fp16", "bf16"):
        raise ValueError(f"dtype = {dtype!r}: must be 'fp16' or 'bf16'")
    lib = _lib.get_library()
    code = DType.FP16 if dtype == "fp16" else DType.BF16
    index = lib.sagegen_dispatch_variant(int(compute_capability), int(head_dim), code, int(bool(is_causal)), int(kv_len))
    return None if index < 0 else index


def prepare(q, k, v, tensor_layout="HND", is_causal=False, sm_scale=None, return_lse=False, variant=None):
    """A forward prepared for repeated launches (benchmarks): o, lse and the workspace are allocated
    once. Returns (run, o, lse); run(phases=Phase.ALL) launches on torch's current stream, and
    run(Phase.ATTENTION) re-runs the attention kernel alone on the workspace an earlier
    run(Phase.QUANTIZE) or run() filled. variant: an index from variants() to bypass the dispatcher
    (autotuning); the library refuses one that does not serve the call."""
    dims, scale = _problem(q, k, v, tensor_layout, sm_scale)
    b, hq, hkv, nq, nk, d = dims
    q, k, v = _materialize(q), _materialize(k), _materialize(v)
    lib = _lib.get_library()
    with _device_guard(q.device):
        o = torch.empty(q.shape, dtype=q.dtype, device=q.device)
        lse = torch.empty((b, hq, nq), dtype=torch.float32, device=q.device) if return_lse else None
        workspace = torch.empty(max(lib.sagegen_workspace_size(*dims), _MIN_WORKSPACE), dtype=torch.uint8, device=q.device)
    args = _lib.new_args(lib)
    _fill_args(args, q, k, v, o, lse, tensor_layout, dims, is_causal, scale, workspace)
    keep = (q, k, v, workspace)  # the closure keeps every buffer the pointers in args refer to

    def run(phases=_abi.Phase.ALL):
        with _device_guard(keep[0].device):
            _run(lib, args, keep[0].device, phases, variant)

    return run, o, lse


from . import _op  # noqa: E402,F401  registers torch.ops.sagegen.sageattn (needs _sageattn_eager above)
