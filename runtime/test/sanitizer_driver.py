#!/usr/bin/env python3
"""A small driver of libsagegen for compute-sanitizer: no torch, only the CUDA driver API (libcuda)
and the library, so the only kernels the tools see are sagegen's own.

    compute-sanitizer --tool memcheck python3 runtime/test/sanitizer_driver.py --lib generated/<target>/lib/libsagegen.so

Every tensor is its own exact-size allocation (an out-of-bounds access lands outside it, where
memcheck looks); inputs are written in full, o and lse are memset to 0xFF (NaN) first, the
workspace is left as allocated (initcheck flags a kernel reading workspace bytes nothing wrote).
Each shape runs sagegen_forward with LSE on the default stream, then the driver checks the status,
that every o element is finite, and that LSE is finite on rows that see a key. Prints one line per
shape; exit 1 when a call failed or left NaN/Inf, 0 otherwise.
"""
import argparse
import ctypes
import os
import random
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# (batch, q heads, kv heads, qo_len, kv_len, head_dim, dtype, causal, layout): small and odd lengths
# (partial 64-key and 128-query tiles), decode, qo_len > kv_len (rows with no visible key), GQA, NHD;
# together they reach all 8 default variants (D 64/128 x fp16/bf16 x causal or not); many heads.
SHAPES = [
    (1, 1, 1, 1, 1, 64, "fp16", 0, "HND"),
    (1, 2, 1, 17, 17, 64, "fp16", 1, "HND"),
    (1, 2, 2, 65, 130, 64, "bf16", 0, "NHD"),
    (1, 1, 1, 200, 200, 64, "bf16", 1, "HND"),
    (1, 2, 2, 65, 130, 128, "fp16", 0, "HND"),
    (2, 2, 1, 129, 65, 128, "bf16", 1, "HND"),
    (1, 1, 1, 1, 200, 128, "fp16", 1, "HND"),
    (1, 2, 2, 64, 64, 128, "bf16", 0, "NHD"),
    # many heads: several waves of K/V quantization clusters
    (4, 16, 16, 33, 300, 128, "fp16", 0, "HND"),
    (4, 16, 8, 33, 700, 64, "fp16", 1, "NHD"),
]


sys.path.insert(0, HERE)
from abi_table import abi  # noqa: E402  _abi.py loaded by path (torch-free), shared with the argument table


class Cuda:
    """The few driver-API calls the driver needs, on the device's primary context (the one the
    library's CUDA runtime uses)."""

    def __init__(self):
        self.cu = ctypes.CDLL("libcuda.so.1")
        self.check(self.cu.cuInit(0), "cuInit")
        dev = ctypes.c_int()
        self.check(self.cu.cuDeviceGet(ctypes.byref(dev), 0), "cuDeviceGet")
        ctx = ctypes.c_void_p()
        self.check(self.cu.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), dev), "cuDevicePrimaryCtxRetain")
        self.check(self.cu.cuCtxSetCurrent(ctx), "cuCtxSetCurrent")
        major, minor = ctypes.c_int(), ctypes.c_int()
        self.check(self.cu.cuDeviceGetAttribute(ctypes.byref(major), 75, dev), "cuDeviceGetAttribute(major)")  # COMPUTE_CAPABILITY_MAJOR
        self.check(self.cu.cuDeviceGetAttribute(ctypes.byref(minor), 76, dev), "cuDeviceGetAttribute(minor)")  # COMPUTE_CAPABILITY_MINOR
        self.capability = major.value * 10 + minor.value
        for name in ("cuMemAlloc_v2", "cuMemFree_v2", "cuMemcpyHtoD_v2", "cuMemcpyDtoH_v2", "cuMemsetD8_v2"):
            getattr(self.cu, name).argtypes = {
                "cuMemAlloc_v2": [ctypes.POINTER(ctypes.c_uint64), ctypes.c_size_t],
                "cuMemFree_v2": [ctypes.c_uint64],
                "cuMemcpyHtoD_v2": [ctypes.c_uint64, ctypes.c_void_p, ctypes.c_size_t],
                "cuMemcpyDtoH_v2": [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_size_t],
                "cuMemsetD8_v2": [ctypes.c_uint64, ctypes.c_ubyte, ctypes.c_size_t],
            }[name]

    @staticmethod
    def check(rc, what):
        if rc != 0:
            raise RuntimeError(f"{what} failed with CUresult {rc}")

    def alloc(self, nbytes):
        p = ctypes.c_uint64()
        self.check(self.cu.cuMemAlloc_v2(ctypes.byref(p), max(nbytes, 1)), "cuMemAlloc")
        return p.value

    def free(self, p):
        self.check(self.cu.cuMemFree_v2(p), "cuMemFree")

    def upload(self, p, data):
        self.check(self.cu.cuMemcpyHtoD_v2(p, data, len(data)), "cuMemcpyHtoD")

    def download(self, p, nbytes):
        buf = ctypes.create_string_buffer(nbytes)
        self.check(self.cu.cuMemcpyDtoH_v2(buf, p, nbytes), "cuMemcpyDtoH")
        return buf.raw

    def memset(self, p, byte, nbytes):
        self.check(self.cu.cuMemsetD8_v2(p, byte, nbytes), "cuMemsetD8")

    def sync(self):
        self.check(self.cu.cuCtxSynchronize(), "cuCtxSynchronize")


def random_words(rng, count, dtype):
    """Gaussian-ish values as fp16 / bf16 bit patterns."""
    out = []
    for _ in range(count):
        x = rng.gauss(0.0, 1.0)
        if dtype == "fp16":
            out.append(struct.unpack("<H", struct.pack("<e", x))[0])
        else:
            out.append(struct.unpack("<I", struct.pack("<f", x))[0] >> 16)
    return struct.pack(f"<{count}H", *out)


def run_shape(lib, cuda, shape, seed):
    b, hq, hkv, nq, nk, d, dtype, causal, layout = shape
    rng = random.Random(seed)
    q_elems, kv_elems = b * hq * nq * d, b * hkv * nk * d
    ptr = {}
    for name, elems in (("q", q_elems), ("k", kv_elems), ("v", kv_elems)):
        ptr[name] = cuda.alloc(2 * elems)
        cuda.upload(ptr[name], random_words(rng, elems, dtype))
    ptr["o"] = cuda.alloc(2 * q_elems)
    cuda.memset(ptr["o"], 0xFF, 2 * q_elems)
    ptr["lse"] = cuda.alloc(4 * b * hq * nq)
    cuda.memset(ptr["lse"], 0xFF, 4 * b * hq * nq)
    ws_bytes = lib.sagegen_workspace_size(b, hq, hkv, nq, nk, d)
    ptr["ws"] = cuda.alloc(ws_bytes)
    a = abi.SagegenForwardArgs()
    lib.sagegen_forward_args_init(ctypes.byref(a))
    a.q, a.k, a.v, a.o = ptr["q"], ptr["k"], ptr["v"], ptr["o"]
    abi.set_lse_pointer(a, ptr["lse"])
    a.dtype = abi.DType.FP16 if dtype == "fp16" else abi.DType.BF16
    a.layout = abi.Layout.HND if layout == "HND" else abi.Layout.NHD
    a.batch, a.num_q_heads, a.num_kv_heads, a.qo_len, a.kv_len, a.head_dim = b, hq, hkv, nq, nk, d
    a.causal = causal
    a.softmax_scale = lib.sagegen_default_scale(d)
    a.workspace, a.workspace_bytes = ptr["ws"], ws_bytes
    status = lib.sagegen_forward(ctypes.byref(a), None)
    problems = []
    if status != abi.Status.OK:
        problems.append(f"status {status}: {(lib.sagegen_last_error_detail() or b'').decode()}")
    else:
        cuda.sync()
        exp_mask = 0x7C00 if dtype == "fp16" else 0x7F80
        words = struct.unpack(f"<{q_elems}H", cuda.download(ptr["o"], 2 * q_elems))
        bad = sum((w & exp_mask) == exp_mask for w in words)
        if bad:
            problems.append(f"{bad} NaN/Inf (or unwritten) elements in o")
        lse = struct.unpack(f"<{b * hq * nq}f", cuda.download(ptr["lse"], 4 * b * hq * nq))
        first_seeing = max(0, nq - nk) if causal else 0  # rows before it see no key: LSE -inf
        bad_lse = sum(1 for i, x in enumerate(lse) if (i % nq) >= first_seeing and not (x == x and abs(x) != float("inf")))
        empty_wrong = sum(1 for i, x in enumerate(lse) if (i % nq) < first_seeing and x != float("-inf"))
        if bad_lse or empty_wrong:
            problems.append(f"LSE: {bad_lse} NaN/Inf on rows with keys, {empty_wrong} rows without keys not -inf")
    for p in ptr.values():
        cuda.free(p)
    return problems


def main(argv):
    ap = argparse.ArgumentParser(description="libsagegen driver for compute-sanitizer")
    ap.add_argument("--lib", required=True)
    opts = ap.parse_args(argv)
    cuda = Cuda()  # context first: the library's runtime then attaches to the same primary context
    lib = ctypes.CDLL(os.path.abspath(opts.lib))
    abi.declare_prototypes(lib)
    failed = skipped = 0
    for i, shape in enumerate(SHAPES):
        label = "b{}h{}kv{} q{}k{} d{} {} {} {}".format(*shape[:7], "causal" if shape[7] else "full", shape[8])
        _, _, _, _, nk, d, dtype, causal, _ = shape
        code = abi.DType.FP16 if dtype == "fp16" else abi.DType.BF16
        # A head dim, dtype or causal mode the library was not built for is skipped, as the GPU and
        # edge checks skip it; the argument table checks that such calls are refused by status.
        if lib.sagegen_dispatch_variant(cuda.capability, d, code, causal, nk) < 0:
            skipped += 1
            print(f"driver: skip {label} (no variant of this library serves it on sm_{cuda.capability})", flush=True)
            continue
        problems = run_shape(lib, cuda, shape, seed=100 + i)
        failed += bool(problems)
        print(f"driver: {'FAIL' if problems else 'ok  '} {label}" + "".join(f"\n        {p}" for p in problems), flush=True)
    ran = len(SHAPES) - skipped
    print(f"driver: {ran - failed} ok, {failed} failed, {skipped} skipped", flush=True)
    return 1 if failed or ran == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
