"""ctypes mirror of runtime/include/sagegen.h (ABI version 2).

Imports only ctypes so that a CPU-only check (runtime/python/tests/check_abi_layout.py) can load
this file without torch and compare the layout against what a C compiler makes of the header.
Every field type here mirrors the header one to one; ctypes applies the platform's C alignment
rules, so padding (e.g. after the int32 `abi_version`) comes out as the C compiler lays it out.
"""
import ctypes

ABI_VERSION = 2  # SAGEGEN_ABI_VERSION


class Status:
    """sagegen_status values."""

    OK = 0
    NULL_POINTER = 1
    MISALIGNED_POINTER = 2
    UNSUPPORTED_HEAD_DIM = 3
    HEADS_NOT_DIVISIBLE = 4
    BAD_LENGTH = 5
    BAD_STRIDE = 6
    UNSUPPORTED_DTYPE = 7
    UNSUPPORTED_LAYOUT = 8
    WORKSPACE_TOO_SMALL = 9
    NO_VARIANT = 10
    BAD_SCALE = 11
    ABI_MISMATCH = 12
    CUDA_ERROR = 13
    SIZE_OVERFLOW = 14
    BAD_PHASES = 15
    OVERLAP = 16


class Phase:
    """sagegen_phase bits for sagegen_forward_phases."""

    QUANTIZE = 1
    ATTENTION = 2
    ALL = 3


class DType:
    """sagegen_dtype values."""

    FP16 = 0
    BF16 = 1


class Layout:
    """sagegen_layout values."""

    HND = 0
    NHD = 1


def enum_constants():
    """{C macro/enumerator name: value} for every constant mirrored here (used by the layout check)."""
    out = {"SAGEGEN_ABI_VERSION": ABI_VERSION}
    for prefix, cls in (("SAGEGEN_STATUS_", Status), ("SAGEGEN_DTYPE_", DType), ("SAGEGEN_LAYOUT_", Layout)):
        for name, value in vars(cls).items():
            if not name.startswith("_"):
                out[prefix + name] = value
    return out


# C enums are `int`-sized on every ABI the library targets (x86-64 / aarch64 Linux, Windows).
c_enum = ctypes.c_int


class SagegenStrides(ctypes.Structure):
    """sagegen_strides: strides in elements; all zero means contiguous in `layout`."""

    _fields_ = [
        ("batch", ctypes.c_int64),
        ("head", ctypes.c_int64),
        ("seq", ctypes.c_int64),
    ]


class SagegenVariantInfo(ctypes.Structure):
    """sagegen_variant_info: one variant built into the library."""

    _fields_ = [
        ("name", ctypes.c_char_p),
        ("compute_capability", ctypes.c_int32),
        ("arch_specific", ctypes.c_int32),
        ("head_dim", ctypes.c_int32),
        ("dtype", ctypes.c_int),
        ("causal", ctypes.c_int32),
    ]


class SagegenForwardArgs(ctypes.Structure):
    """sagegen_forward_args. Fill with sagegen_forward_args_init, then set fields."""

    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("abi_version", ctypes.c_int32),
        ("q", ctypes.c_void_p),
        ("k", ctypes.c_void_p),
        ("v", ctypes.c_void_p),
        ("o", ctypes.c_void_p),
        ("lse", ctypes.POINTER(ctypes.c_float)),
        ("dtype", c_enum),
        ("layout", c_enum),
        ("batch", ctypes.c_int64),
        ("num_q_heads", ctypes.c_int64),
        ("num_kv_heads", ctypes.c_int64),
        ("qo_len", ctypes.c_int64),
        ("kv_len", ctypes.c_int64),
        ("head_dim", ctypes.c_int64),
        ("q_strides", SagegenStrides),
        ("k_strides", SagegenStrides),
        ("v_strides", SagegenStrides),
        ("o_strides", SagegenStrides),
        ("causal", ctypes.c_int32),
        ("softmax_scale", ctypes.c_float),
        ("workspace", ctypes.c_void_p),
        ("workspace_bytes", ctypes.c_size_t),
    ]


def set_lse_pointer(args, address):
    """Sets args.lse from an integer device address (0 -> NULL)."""
    # (NULL directly: the cast costs about a microsecond a call, and most calls want no LSE)
    args.lse = ctypes.cast(ctypes.c_void_p(address), ctypes.POINTER(ctypes.c_float)) if address else None


def declare_prototypes(lib):
    """Sets argtypes/restype of every exported function on a loaded ctypes.CDLL.

    Without argtypes ctypes would pass Python ints as C `int`, truncating int64 sizes and pointers.
    """
    i64 = ctypes.c_int64
    args_p = ctypes.POINTER(SagegenForwardArgs)
    protos = {
        "sagegen_forward_args_init": (None, [args_p]),
        "sagegen_workspace_size": (ctypes.c_size_t, [i64, i64, i64, i64, i64, i64]),
        "sagegen_forward": (c_enum, [args_p, ctypes.c_void_p]),
        "sagegen_forward_phases": (c_enum, [args_p, ctypes.c_void_p, ctypes.c_uint32]),
        "sagegen_forward_variant": (c_enum, [args_p, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int32]),
        "sagegen_variant_count": (ctypes.c_int32, []),
        "sagegen_dispatch_variant": (ctypes.c_int32, [ctypes.c_int32, i64, c_enum, ctypes.c_int32, i64]),
        "sagegen_variant_get_info": (c_enum, [ctypes.c_int32, ctypes.POINTER(SagegenVariantInfo)]),
        "sagegen_status_string": (ctypes.c_char_p, [c_enum]),
        "sagegen_last_error_detail": (ctypes.c_char_p, []),
        "sagegen_default_scale": (ctypes.c_float, [i64]),
        "sagegen_abi_version": (ctypes.c_int32, []),
        "sagegen_version": (ctypes.c_char_p, []),
        "sagegen_archs": (ctypes.c_char_p, []),
    }
    for name, (restype, argtypes) in protos.items():
        fn = getattr(lib, name)  # AttributeError names the missing symbol
        fn.restype = restype
        fn.argtypes = argtypes
    return lib
