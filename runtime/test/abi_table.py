#!/usr/bin/env python3
"""Table of every argument check of the C ABI (and, with --binding, of the Python binding).

    python3 runtime/test/abi_table.py --lib generated/<target>/lib/libsagegen.so --memory host --out abi.json
    python3 runtime/test/abi_table.py --lib ... --memory cuda --binding --out abi.json      # on a GPU host

Each row breaks one argument of an otherwise valid sagegen_forward call (or calls another entry
point) and expects its own status code, a detail (sagegen_last_error_detail) naming the argument
and its value, and every buffer (o, lse, workspace, inputs) byte for byte as poisoned before.

--memory host: the buffers are host memory and no CUDA device is visible (the caller sets
CUDA_VISIBLE_DEVICES=''; this script sets it itself before loading the library). Every argument
check runs before the library's first CUDA call, so each row gets the same answer as on a GPU; a
valid call reaches the device query and must come back SAGEGEN_STATUS_CUDA_ERROR with nothing
written. Needs neither torch nor a GPU: CI runs it (test/abi_table.test.ts).
--memory cuda: the buffers are CUDA memory (torch); valid calls must return OK and write o / lse.
--binding (needs torch and a GPU): also the Python binding's checks (non-CUDA tensors, different
devices, dtypes, shapes, and the C statuses surfacing as SagegenError with the status text).

Prints one line per row and `N passed, M failed, K skipped`; exit 1 when a row failed.
"""
import argparse
import ctypes
import datetime
import importlib.util
import json
import os
import platform
import random
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.append(os.path.join(REPO, "runtime", "bench"))  # libraries.py: the manifest fingerprint a record carries
from libraries import manifest_fingerprint  # noqa: E402
ABI_PY = os.path.join(REPO, "runtime", "python", "sagegen", "_abi.py")


def load_abi():
    """_abi.py by path: importing the sagegen package would import torch."""
    spec = importlib.util.spec_from_file_location("sagegen_abi_table", ABI_PY)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


abi = load_abi()
S = abi.Status
STATUS_NAMES = {v: k for k, v in vars(S).items() if not k.startswith("_")}
VALID = "valid"  # expected status of a valid call: OK on a GPU, CUDA_ERROR at the device query without one
POISON = 0xFF    # 0xFFFF is NaN in fp16 and bf16, 0xFFFFFFFF in fp32
ELEMENT_BYTES = 2


# ------------------------------------------------------------------------------------------------
# Memory: host (ctypes arrays) or CUDA (torch uint8 tensors). A Buffer is a byte range to poison,
# snapshot and compare; its address is what goes into sagegen_forward_args.


class Buffer:
    def __init__(self, addr, nbytes, keep):
        self.addr, self.nbytes, self.keep = addr, nbytes, keep


class HostMemory:
    name = "host"
    has_device = False

    def alloc(self, nbytes):
        arr = (ctypes.c_uint8 * nbytes)()
        return Buffer(ctypes.addressof(arr), nbytes, arr)

    def write(self, buf, data):
        ctypes.memmove(buf.addr, data, len(data))

    def read(self, buf):
        return ctypes.string_at(buf.addr, buf.nbytes)

    def sync(self):
        pass

    def stream(self):
        return None


class CudaMemory:
    name = "cuda"
    has_device = True

    def __init__(self):
        import torch  # only here: --memory host must run without torch

        self.torch = torch

    def alloc(self, nbytes):
        t = self.torch.empty(nbytes, dtype=self.torch.uint8, device="cuda")
        return Buffer(t.data_ptr(), nbytes, t)

    def write(self, buf, data):
        buf.keep.copy_(self.torch.frombuffer(bytearray(data), dtype=self.torch.uint8))

    def read(self, buf):
        host = buf.keep.cpu()
        try:
            return host.numpy().tobytes()
        except (ImportError, RuntimeError):  # torch without numpy
            return bytes(host.tolist())

    def sync(self):
        self.torch.cuda.synchronize()

    def stream(self):
        return self.torch.cuda.current_stream().cuda_stream


# ------------------------------------------------------------------------------------------------
# One call: buffers three times the tensor, the tensor in the middle, so that even a library that
# wrongly accepted a shifted pointer or a bad stride would stay inside memory it may touch.


class Call:
    def __init__(self, lib, mem, d, dtype, batch=1, hq=2, hkv=1, qo=64, kv=64, layout="HND", causal=0, seed=7):
        self.lib, self.mem = lib, mem
        self.dims = dict(batch=batch, hq=hq, hkv=hkv, qo=qo, kv=kv, d=d)
        self.layout, self.dtype = layout, dtype
        rng = random.Random(seed)
        q_bytes, kv_bytes = batch * hq * qo * d * ELEMENT_BYTES, batch * hkv * kv * d * ELEMENT_BYTES
        self.buffers = {}
        self.q = self._tensor("q", q_bytes, rng)
        self.k = self._tensor("k", kv_bytes, rng)
        self.v = self._tensor("v", kv_bytes, rng)
        self.o = self._tensor("o", q_bytes, None)
        self.lse = self._tensor("lse", batch * hq * qo * 4, None)
        self.ws_need = lib.sagegen_workspace_size(batch, hq, hkv, qo, kv, d)
        ws = self.buffers["workspace"] = mem.alloc(max(self.ws_need, 256) + 512)
        self.ws = -(-ws.addr // 256) * 256  # 256-byte aligned inside the buffer (host arrays are not)
        for name in ("o", "lse", "workspace"):
            mem.write(self.buffers[name], bytes([POISON]) * self.buffers[name].nbytes)
        a = self.args = abi.SagegenForwardArgs()
        lib.sagegen_forward_args_init(ctypes.byref(a))
        a.q, a.k, a.v, a.o = self.q, self.k, self.v, self.o
        abi.set_lse_pointer(a, self.lse)
        a.dtype = abi.DType.FP16 if dtype == "fp16" else abi.DType.BF16
        a.layout = abi.Layout.HND if layout == "HND" else abi.Layout.NHD
        a.batch, a.num_q_heads, a.num_kv_heads, a.qo_len, a.kv_len, a.head_dim = batch, hq, hkv, qo, kv, d
        a.q_strides, a.o_strides = self.contiguous(hq, qo), self.contiguous(hq, qo)
        a.k_strides, a.v_strides = self.contiguous(hkv, kv), self.contiguous(hkv, kv)
        a.causal = causal
        a.softmax_scale = 1.0 / d ** 0.5
        a.workspace = self.ws
        a.workspace_bytes = ws.addr + ws.nbytes - self.ws

    def _tensor(self, name, nbytes, rng):
        """Address of an nbytes tensor in the middle of a 3x buffer: random small finite values for
        inputs, poison for outputs."""
        buf = self.buffers[name] = self.mem.alloc(3 * nbytes)
        if rng is not None:
            # Words 0x3C00..0x3DFF with a random sign: |x| in [1, 1.5) as fp16, about 0.008 as bf16.
            words = [(rng.getrandbits(1) << 15) | (0x3C00 | rng.getrandbits(9)) for _ in range(3 * nbytes // 2)]
            self.mem.write(buf, struct.pack(f"<{len(words)}H", *words))
        return buf.addr + nbytes

    def contiguous(self, heads, length):
        d = self.dims["d"]
        if self.layout == "HND":
            return abi.SagegenStrides(heads * length * d, length * d, d)
        return abi.SagegenStrides(length * heads * d, d, heads * d)

    def snapshot(self):
        self.mem.sync()
        return {name: self.mem.read(buf) for name, buf in self.buffers.items()}

    def forward(self, entry="forward", phases=abi.Phase.ALL, variant=None, null_args=False):
        args = None if null_args else ctypes.byref(self.args)
        if entry == "forward":
            status = self.lib.sagegen_forward(args, self.mem.stream())
        elif entry == "phases":
            status = self.lib.sagegen_forward_phases(args, self.mem.stream(), phases)
        else:
            status = self.lib.sagegen_forward_variant(args, self.mem.stream(), phases, variant)
        detail = (self.lib.sagegen_last_error_detail() or b"").decode("utf-8", "replace")
        return int(status), detail

    def written_rows(self, snap):
        """Problems with o / lse after a successful call: every element of the o view (per its
        strides) and of lse finite, every byte outside them still poison."""
        a, d = self.args, self.dims["d"]
        o_buf, l_buf = self.buffers["o"], self.buffers["lse"]
        o_bytes, l_bytes = bytearray(snap["o"]), bytearray(snap["lse"])
        problems = []
        o_start = a.o - o_buf.addr
        st = a.o_strides if (a.o_strides.batch, a.o_strides.head, a.o_strides.seq) != (0, 0, 0) else \
            self.contiguous(self.dims["hq"], self.dims["qo"])
        bad = 0
        exp_mask = 0x7C00 if self.dtype == "fp16" else 0x7F80
        for b in range(self.dims["batch"]):
            for h in range(self.dims["hq"]):
                for n in range(self.dims["qo"]):
                    off = o_start + ELEMENT_BYTES * (b * st.batch + h * st.head + n * st.seq)
                    row = o_bytes[off:off + ELEMENT_BYTES * d]
                    bad += sum((w & exp_mask) == exp_mask for w in struct.unpack(f"<{d}H", bytes(row)))
                    o_bytes[off:off + ELEMENT_BYTES * d] = bytes([POISON]) * (ELEMENT_BYTES * d)
        if bad:
            problems.append(f"{bad} NaN/Inf (or unwritten) elements in o")
        if any(x != POISON for x in o_bytes):
            problems.append("bytes outside the o view were written")
        if a.lse:
            lse_addr = ctypes.cast(a.lse, ctypes.c_void_p).value
            start, count = lse_addr - l_buf.addr, self.dims["batch"] * self.dims["hq"] * self.dims["qo"]
            words = struct.unpack(f"<{count}I", bytes(l_bytes[start:start + 4 * count]))
            nonfinite = sum((w & 0x7F800000) == 0x7F800000 for w in words)
            if nonfinite:
                problems.append(f"{nonfinite} NaN/Inf (or unwritten) LSE entries")
            l_bytes[start:start + 4 * count] = bytes([POISON]) * (4 * count)
        if any(x != POISON for x in l_bytes):
            problems.append("lse bytes outside [batch, heads, qo_len] were written" if a.lse else "lse written although NULL")
        return problems


# ------------------------------------------------------------------------------------------------
# The table. A row: name, expected status (a code or VALID), a substring the detail must contain,
# a mutation of the Call, dims overriding the base call, the entry point, and a `needs` condition.


class Row:
    def __init__(self, name, expect, detail="", mutate=None, dims=None, entry="forward", phases=abi.Phase.ALL,
                 variant=None, null_args=False, device_only=False, needs=None):
        self.name, self.expect, self.detail, self.mutate = name, expect, detail, mutate
        self.dims, self.entry, self.phases, self.variant = dims or {}, entry, phases, variant
        self.null_args, self.device_only, self.needs = null_args, device_only, needs


def _set(field, value):
    return lambda c: setattr(c.args, field, value)


def _shift(field, delta):
    return lambda c: setattr(c.args, field, getattr(c.args, field) + delta)


def _stride(tensor, field, value):
    return lambda c: setattr(getattr(c.args, f"{tensor}_strides"), field, value)


def _zero_strides(c):
    for t in ("q", "k", "v", "o"):
        setattr(c.args, f"{t}_strides", abi.SagegenStrides(0, 0, 0))


def _lse_at(addr_of):
    return lambda c: abi.set_lse_pointer(c.args, addr_of(c))


def _all(*mutations):
    def run(c):
        for m in mutations:
            m(c)
    return run


def forward_rows(built):
    """Rows for sagegen_forward & co. `built`: (head_dim, dtype, causal) triples of the library."""
    heads = {h for h, _, _ in built}
    dtypes_at = lambda h: {dt for hh, dt, _ in built if hh == h}  # noqa: E731
    rows = [
        # --- valid calls: reach the device (OK on a GPU, CUDA_ERROR at the device query without one)
        Row("valid baseline", VALID),
        Row("valid: lse NULL (optional)", VALID, mutate=_set("lse", None)),
        Row("valid: lse 4-byte aligned (+4 bytes)", VALID, mutate=_lse_at(lambda c: ctypes.cast(c.args.lse, ctypes.c_void_p).value + 4)),
        Row("valid: all-zero strides, HND", VALID, mutate=_zero_strides),
        Row("valid: all-zero strides, NHD", VALID, mutate=_zero_strides, dims={"layout": "NHD"}),
        Row("valid: k seq stride 0 (one key row repeated)", VALID, mutate=_stride("k", "seq", 0)),
        Row("valid: o batch stride 0 with batch 1 (never stepped)", VALID, mutate=_stride("o", "batch", 0)),
        Row("valid: GQA 4/2, qo 17, kv 130", VALID, dims={"hq": 4, "hkv": 2, "qo": 17, "kv": 130}),
        # --- args and ABI
        Row("args NULL", S.NULL_POINTER, "args = NULL", null_args=True),
        Row("struct_size - 8", S.ABI_MISMATCH, "struct_size = ", _shift("struct_size", -8)),
        Row("struct_size + 8", S.ABI_MISMATCH, "struct_size = ", _shift("struct_size", 8)),
        Row("abi_version + 1", S.ABI_MISMATCH, f"abi_version = {abi.ABI_VERSION + 1}", _shift("abi_version", 1)),
        Row("abi_version 0", S.ABI_MISMATCH, "abi_version = 0", _set("abi_version", 0)),
        # --- pointers
        *[Row(f"{t} NULL", S.NULL_POINTER, f"{t} = NULL", _set(t, None)) for t in ("q", "k", "v", "o", "workspace")],
        Row("q misaligned (+2 bytes)", S.MISALIGNED_POINTER, "q = 0x", _shift("q", 2)),
        Row("k misaligned (+8 bytes)", S.MISALIGNED_POINTER, "k = 0x", _shift("k", 8)),
        Row("v misaligned (+2 bytes)", S.MISALIGNED_POINTER, "v = 0x", _shift("v", 2)),
        Row("o misaligned (+8 bytes)", S.MISALIGNED_POINTER, "o = 0x", _shift("o", 8)),
        Row("lse misaligned (+2 bytes)", S.MISALIGNED_POINTER, "lse = 0x",
            _lse_at(lambda c: ctypes.cast(c.args.lse, ctypes.c_void_p).value + 2)),
        Row("workspace misaligned (+16 bytes)", S.MISALIGNED_POINTER, "workspace = 0x", _shift("workspace", 16)),
        # --- dtype, layout
        Row("dtype 2", S.UNSUPPORTED_DTYPE, "dtype = 2", _set("dtype", 2)),
        Row("dtype -1", S.UNSUPPORTED_DTYPE, "dtype = -1", _set("dtype", -1)),
        Row("layout 2", S.UNSUPPORTED_LAYOUT, "layout = 2", _all(_zero_strides, _set("layout", 2))),
        Row("layout -1 (explicit strides)", S.UNSUPPORTED_LAYOUT, "layout = -1", _set("layout", -1)),
        # --- sizes
        *[Row(f"{f} {v}", S.BAD_LENGTH, f"{f} = {v}", _set(f, v))
          for f, v in (("batch", 0), ("batch", -1), ("num_q_heads", 0), ("num_kv_heads", 0), ("num_kv_heads", -2),
                       ("qo_len", 0), ("kv_len", 0), ("kv_len", -1))],
        Row("batch 65536", S.SIZE_OVERFLOW, "batch = 65536", _set("batch", 65536)),
        Row("num_q_heads 65536", S.SIZE_OVERFLOW, "num_q_heads = 65536", _all(_set("num_q_heads", 65536), _set("num_kv_heads", 1))),
        Row("qo_len 2^31", S.SIZE_OVERFLOW, "qo_len = 2147483648", _set("qo_len", 1 << 31)),
        Row("kv_len 2^31", S.SIZE_OVERFLOW, "kv_len = 2147483648", _set("kv_len", 1 << 31)),
        Row("heads 3/2 not divisible", S.HEADS_NOT_DIVISIBLE, "num_q_heads = 3, num_kv_heads = 2", dims={"hq": 3, "hkv": 2}),
        Row("heads 2/4 (more kv heads than q heads)", S.HEADS_NOT_DIVISIBLE, "num_q_heads = 2, num_kv_heads = 4",
            _set("num_kv_heads", 4)),
        *[Row(f"head_dim {h}", S.UNSUPPORTED_HEAD_DIM, f"head_dim = {h}", _set("head_dim", h)) for h in (96, 0, 256)],
        # --- scale
        *[Row(f"softmax_scale {label}", S.BAD_SCALE, "softmax_scale = ", _set("softmax_scale", v))
          for label, v in (("NaN", float("nan")), ("+Inf", float("inf")), ("-Inf", float("-inf")), ("0", 0.0), ("-1", -1.0))],
        # --- strides
        Row("q seq stride d+4 (not a multiple of 8)", S.BAD_STRIDE, "q_strides.seq = ",
            lambda c: setattr(c.args.q_strides, "seq", c.dims["d"] + 4)),
        Row("k seq stride negative", S.BAD_STRIDE, "k_strides.seq = -", lambda c: setattr(c.args.k_strides, "seq", -c.dims["d"])),
        Row("v batch stride 4", S.BAD_STRIDE, "v_strides.batch = 4", _stride("v", "batch", 4)),
        Row("o head stride -8", S.BAD_STRIDE, "o_strides.head = -8", _stride("o", "head", -8)),
        # --- 64-bit spans
        Row("q batch stride 2^61 (spans 2^62+ bytes)", S.SIZE_OVERFLOW, "q_strides = {2305843009213693952", _stride("q", "batch", 1 << 61),
            dims={"batch": 2}),
        Row("v seq stride 2^62 (offset product overflows)", S.SIZE_OVERFLOW, "v_strides = ", _stride("v", "seq", 1 << 62)),
        Row("o head stride 2^61", S.SIZE_OVERFLOW, "o_strides = ", _stride("o", "head", 1 << 61)),
        # --- workspace size (checked after the spans, before overlap)
        Row("workspace_bytes need - 1", S.WORKSPACE_TOO_SMALL, "workspace_bytes = ", lambda c: setattr(c.args, "workspace_bytes", c.ws_need - 1)),
        Row("workspace_bytes 0", S.WORKSPACE_TOO_SMALL, "workspace_bytes = 0", _set("workspace_bytes", 0)),
        # --- overlap
        Row("o head stride 0 (heads overlap)", S.OVERLAP, "o_strides.head = 0", _stride("o", "head", 0)),
        Row("o seq stride 8 < head_dim (rows overlap)", S.OVERLAP, "o_strides.seq = 8", _stride("o", "seq", 8)),
        Row("o batch stride = head stride (batches overlap)", S.OVERLAP, "o_strides.batch = ",
            lambda c: setattr(c.args.o_strides, "batch", c.args.o_strides.head), dims={"batch": 2}),
        Row("o == q", S.OVERLAP, "overlaps q", lambda c: setattr(c.args, "o", c.q)),
        # Shapes where the moved buffer stays inside the other one's 3x allocation: only that pair overlaps.
        Row("o starts 64 bytes into v", S.OVERLAP, "overlaps v", lambda c: setattr(c.args, "o", c.v + 64), dims={"qo": 16}),
        Row("lse inside o", S.OVERLAP, "overlaps lse", _lse_at(lambda c: c.o + 256)),
        Row("workspace inside k", S.OVERLAP, "overlaps k",
            lambda c: setattr(c.args, "workspace", -(-c.k // 256) * 256), dims={"hq": 1, "qo": 1, "kv": 1024}),
        Row("lse == workspace", S.OVERLAP, "overlaps workspace", _lse_at(lambda c: c.ws)),
        # --- first failing check wins, in the order sagegen.h documents
        Row("order: q NULL and dtype 2 -> NULL_POINTER", S.NULL_POINTER, "q = NULL", _all(_set("q", None), _set("dtype", 2))),
        Row("order: batch 0 and scale NaN -> BAD_LENGTH", S.BAD_LENGTH, "batch = 0",
            _all(_set("batch", 0), _set("softmax_scale", float("nan")))),
        Row("order: bad stride and small workspace -> BAD_STRIDE", S.BAD_STRIDE, "k_strides.seq = 12",
            _all(_stride("k", "seq", 12), _set("workspace_bytes", 0))),
        # --- other entry points of the forward
        Row("forward_phases phases 0", S.BAD_PHASES, "phases = 0", entry="phases", phases=0),
        Row("forward_phases phases 4", S.BAD_PHASES, "phases = 4", entry="phases", phases=4),
        Row("forward_phases phases 7", S.BAD_PHASES, "phases = 7", entry="phases", phases=7),
        Row("forward_phases QUANTIZE valid", VALID, entry="phases", phases=abi.Phase.QUANTIZE),
        Row("forward_variant index -1", S.NO_VARIANT, "variant_index = -1", entry="variant", variant=-1),
        Row("forward_variant index = count", S.NO_VARIANT, "variant_index = ", entry="variant", variant="count"),
        Row("forward_variant, variant of the other causal flag", S.NO_VARIANT, "does not serve this call", entry="variant",
            variant="other_causal", device_only=True),
    ]
    # Head dims and dtypes this library lacks: rows only where the library has such a gap.
    for h in sorted({64, 128} - heads):
        rows.append(Row(f"head_dim {h} (supported, not built)", S.UNSUPPORTED_HEAD_DIM, f"rebuild with --headdim {h}",
                        _set("head_dim", h)))
    for h in sorted(heads):
        for dt in sorted({"fp16", "bf16"} - dtypes_at(h)):
            rows.append(Row(f"dtype {dt} not built at head_dim {h}", S.UNSUPPORTED_DTYPE, f"dtype = {dt}: this library has no variant",
                            _set("dtype", abi.DType.FP16 if dt == "fp16" else abi.DType.BF16), needs=("head_dim", h)))
    return rows


def built_variants(lib):
    out = []
    for i in range(lib.sagegen_variant_count()):
        info = abi.SagegenVariantInfo()
        if lib.sagegen_variant_get_info(i, ctypes.byref(info)) == S.OK:
            out.append((info.head_dim, "fp16" if info.dtype == abi.DType.FP16 else "bf16", int(info.causal), i))
    return out


def run_forward_row(lib, mem, row, variants):
    """-> (result dict, failures)."""
    if row.device_only and not mem.has_device:
        return {"skip_reason": "needs a CUDA device (the check follows the device query)"}, None
    built = [(h, dt, c) for h, dt, c, _ in variants]
    if row.needs:
        d = row.needs[1]
        base = next(((h, dt) for h, dt, c in built if h == d), None)
    else:
        base = next(((h, dt) for h, dt, c in built if c == 0 and dt == "fp16"), None) or \
            next(((h, dt) for h, dt, c in built), None)
    if base is None:
        return {"skip_reason": "the library holds no variant"}, None
    dims = dict(row.dims)
    causal = 0 if any(h == base[0] and dt == base[1] and c == 0 for h, dt, c in built) else 1
    call = Call(lib, mem, base[0], base[1], causal=causal, **dims)
    if row.mutate:
        row.mutate(call)
    variant = row.variant
    if variant == "count":
        variant = lib.sagegen_variant_count()
    elif variant == "other_causal":
        variant = next((i for h, dt, c, i in variants if h == base[0] and dt == base[1] and c != causal), None)
        if variant is None:
            return {"skip_reason": "no variant of the other causal flag at this head dim and dtype"}, None
    before = call.snapshot()
    got, detail = call.forward(row.entry, row.phases, variant, row.null_args)
    after = call.snapshot()
    expect = row.expect
    if expect == VALID:
        expect = S.OK if mem.has_device else S.CUDA_ERROR
    res = {"entry": row.entry, "base": {"head_dim": base[0], "dtype": base[1], "causal": causal, **dims},
           "expected": STATUS_NAMES[expect], "got": STATUS_NAMES.get(got, got), "detail": detail}
    fails = [] if got == expect else [f"status {STATUS_NAMES.get(got, got)}, expected {STATUS_NAMES[expect]}"]
    if expect == S.OK:
        if detail:
            fails.append(f"detail not cleared after success: {detail!r}")
        if row.entry != "phases" or row.phases & abi.Phase.ATTENTION:
            fails += call.written_rows(after)
        else:
            fails += [f"{n} written by QUANTIZE alone" for n in ("o", "lse") if after[n] != before[n]]
    else:
        if expect == S.CUDA_ERROR:
            want = "querying the current device"
            fails += [] if want in detail else [f"detail {detail!r} lacks {want!r} (a CUDA call came before the argument checks?)"]
        elif row.detail not in detail:
            fails.append(f"detail {detail!r} lacks {row.detail!r}")
        changed = [n for n in before if after[n] != before[n]]
        fails += [f"{', '.join(changed)} changed by a rejected call"] if changed else []
    return res, fails


def api_rows(lib):
    """Entry points other than the forward: (name, ok, value)."""
    count = lib.sagegen_variant_count()
    info = abi.SagegenVariantInfo()
    null_info = int(lib.sagegen_variant_get_info(0, None))
    null_detail = (lib.sagegen_last_error_detail() or b"").decode()
    out_of_range = int(lib.sagegen_variant_get_info(count, ctypes.byref(info)))
    oor_detail = (lib.sagegen_last_error_detail() or b"").decode()
    codes = sorted(STATUS_NAMES)
    texts = [(lib.sagegen_status_string(c) or b"").decode() for c in codes]
    lib.sagegen_forward_args_init(None)  # must not crash
    args = abi.SagegenForwardArgs()
    lib.sagegen_forward_args_init(ctypes.byref(args))
    built_d = next((h for h, _, _, _ in built_variants(lib)), 128)
    ws = lib.sagegen_workspace_size
    return [
        ("variant_get_info(0, NULL) -> NULL_POINTER, 'info = NULL'", null_info == S.NULL_POINTER and "info = NULL" in null_detail,
         [null_info, null_detail]),
        ("variant_get_info(count) -> NO_VARIANT", out_of_range == S.NO_VARIANT and f"index = {count}" in oor_detail,
         [out_of_range, oor_detail]),
        ("status_string: one distinct non-empty text per code", all(texts) and len(set(texts)) == len(texts), texts),
        ("status_string(999) == 'unknown status'", lib.sagegen_status_string(999) == b"unknown status",
         (lib.sagegen_status_string(999) or b"").decode()),
        ("args_init(NULL) returns; args_init fills size, ABI, HND, scale 0, NULL pointers",
         args.struct_size == ctypes.sizeof(args) and args.abi_version == abi.ABI_VERSION and args.layout == abi.Layout.HND
         and args.softmax_scale == 0 and not args.q and not args.workspace, [args.struct_size, args.abi_version]),
        ("workspace_size > 0 for a built head dim", ws(1, 2, 1, 64, 64, built_d) > 0, ws(1, 2, 1, 64, 64, built_d)),
        ("workspace_size == 0 for a zero / negative / too large size or head_dim 96",
         [ws(0, 2, 1, 64, 64, built_d), ws(1, 2, 1, 64, -1, built_d), ws(1, 2, 1, 1 << 31, 64, built_d), ws(1, 2, 1, 64, 64, 96)] == [0, 0, 0, 0],
         [ws(0, 2, 1, 64, 64, built_d), ws(1, 2, 1, 64, -1, built_d), ws(1, 2, 1, 1 << 31, 64, built_d), ws(1, 2, 1, 64, 64, 96)]),
        ("default_scale(128) == 1/sqrt(128), default_scale(0) == 0",
         lib.sagegen_default_scale(128) == ctypes.c_float(128 ** -0.5).value and lib.sagegen_default_scale(0) == 0.0,
         [lib.sagegen_default_scale(128), lib.sagegen_default_scale(0)]),
        ("abi_version() == ABI_VERSION", lib.sagegen_abi_version() == abi.ABI_VERSION, lib.sagegen_abi_version()),
        ("archs() lists the archs of the variants", sorted((lib.sagegen_archs() or b"").decode().split(",")) == variant_archs(lib),
         (lib.sagegen_archs() or b"").decode()),
    ]


def variant_archs(lib):
    """sm_XY[a] of every variant, as sagegen_variant_get_info reports them, sorted and unique."""
    archs = set()
    for i in range(lib.sagegen_variant_count()):
        info = abi.SagegenVariantInfo()
        if lib.sagegen_variant_get_info(i, ctypes.byref(info)) == S.OK:
            archs.add(f"sm_{info.compute_capability}{'a' if info.arch_specific else ''}")
    return sorted(archs)


def run_c_table(lib, mem):
    variants = built_variants(lib)
    rows = []
    for name, ok, value in api_rows(lib):
        rows.append({"name": name, "kind": "api", "status": "pass" if ok else "fail", "got": value,
                     "failures": [] if ok else ["unexpected value"]})
    for row in forward_rows([(h, dt, c) for h, dt, c, _ in variants]):
        try:
            res, fails = run_forward_row(lib, mem, row, variants)
        except Exception as e:  # a row must report, not abort the table
            res, fails = {}, [f"exception: {type(e).__name__}: {e}"]
        status = "skip" if fails is None else ("fail" if fails else "pass")
        rows.append(dict(res, name=row.name, kind="c", status=status, failures=fails or []))
    # Coverage: every status code is produced by a passing row (OK needs a GPU, CUDA_ERROR needs none).
    produced = {r["got"] for r in rows if r.get("kind") == "c" and r["status"] == "pass"}
    unreachable = {"OK"} if not mem.has_device else {"CUDA_ERROR"}
    missing = sorted(set(STATUS_NAMES.values()) - produced - unreachable)
    rows.append({"name": "every status code is produced by some row", "kind": "coverage",
                 "status": "fail" if missing else "pass", "got": sorted(produced),
                 "failures": [f"no passing row produced {', '.join(missing)}"] if missing else []})
    return rows


# ------------------------------------------------------------------------------------------------
# The Python binding (torch, CUDA): Python-side checks raise before any call into the library;
# checks only the library makes surface as SagegenError carrying the status code and text.


def run_binding_table():
    import torch

    sys.path.insert(0, os.path.join(REPO, "runtime", "python"))
    import sagegen

    dev = torch.device("cuda")

    def t(*shape, dtype=torch.float16, device=dev):
        return torch.randn(*shape, device="cpu").to(dtype).to(device)

    q, k, v = t(1, 2, 64, 128), t(1, 1, 64, 128), t(1, 1, 64, 128)

    def poisoned(like):
        return torch.full(like.shape, float("nan"), dtype=like.dtype, device=like.device)

    def misaligned(x):
        flat = torch.empty(x.numel() + 8, dtype=x.dtype, device=x.device)
        view = flat[1:1 + x.numel()].view(x.shape)
        view.copy_(x)
        return view

    def padded_rows(x, extra):
        big = torch.zeros(*x.shape[:-1], x.shape[-1] + extra, dtype=x.dtype, device=x.device)
        view = big[..., :x.shape[-1]]
        view.copy_(x)
        return view

    def same_bits(a, b):
        """Bit-for-bit equality (NaN poison compares equal to itself)."""
        return torch.equal(a.contiguous().view(torch.uint8), b.contiguous().view(torch.uint8))

    S_ = sagegen.Status
    text = lambda code: sagegen.status_string(code)  # noqa: E731
    rows = [
        # (name, kwargs for sageattn, expected exception type, substring, expected C status or None)
        ("q on the CPU", dict(q=q.cpu(), k=k, v=v), ValueError, "q must be a CUDA tensor", None),
        ("k on the CPU", dict(q=q, k=k.cpu(), v=v), ValueError, "k must be a CUDA tensor", None),
        ("v on the CPU", dict(q=q, k=k, v=v.cpu()), ValueError, "v must be a CUDA tensor", None),
        ("q a list", dict(q=[1.0], k=k, v=v), TypeError, "q must be a torch.Tensor", None),
        ("q float32", dict(q=q.float(), k=k, v=v), TypeError, "q.dtype must be torch.float16 or torch.bfloat16", None),
        ("k int8", dict(q=q, k=k.to(torch.int8), v=v), TypeError, "k.dtype must be", None),
        ("v bf16 with q, k fp16", dict(q=q, k=k, v=v.bfloat16()), TypeError, "same dtype", None),
        ("q 3-D", dict(q=q[0], k=k, v=v), ValueError, "q must be 4-D", None),
        ("head_dim 128 vs 64", dict(q=q, k=k[..., :64].contiguous(), v=v), ValueError, "head_dim mismatch", None),
        ("batch 2 vs 1", dict(q=torch.cat([q, q]), k=k, v=v), ValueError, "batch size mismatch", None),
        ("k, v lengths 64 vs 32", dict(q=q, k=k, v=v[:, :, :32]), ValueError, "kv sequence length mismatch", None),
        ("heads 3/2", dict(q=t(1, 3, 64, 128), k=t(1, 2, 64, 128), v=t(1, 2, 64, 128)), ValueError, "multiple of the number of kv heads", None),
        ("head_dim stride 2", dict(q=q.transpose(2, 3).contiguous().transpose(2, 3)[..., :64, :], k=k, v=v), ValueError,
         "stride 1 along head_dim", None),
        ("tensor_layout 'BHSD'", dict(q=q, k=k, v=v, tensor_layout="BHSD"), ValueError, "tensor_layout must be", None),
        ("sm_scale 0", dict(q=q, k=k, v=v, sm_scale=0.0), ValueError, "sm_scale must be a finite number > 0", None),
        ("sm_scale NaN", dict(q=q, k=k, v=v, sm_scale=float("nan")), ValueError, "sm_scale", None),
        ("out of another dtype", dict(q=q, k=k, v=v, out=torch.empty_like(q, dtype=torch.bfloat16)), ValueError, "out must match q", None),
        ("out on the CPU", dict(q=q, k=k, v=v, out=torch.empty(q.shape, dtype=q.dtype)), ValueError, "out must be a CUDA tensor", None),
        ("out broadcast (stride 0)", dict(q=q, k=k, v=v, out=poisoned(q[:, :1]).expand(q.shape)), ValueError, "zero strides", None),
        ("lse_out float16", dict(q=q, k=k, v=v, lse_out=torch.empty(1, 2, 64, dtype=torch.float16, device=dev)), ValueError,
         "lse_out must be float32", None),
        ("lse_out not contiguous", dict(q=q, k=k, v=v, lse_out=torch.empty(1, 64, 2, device=dev).transpose(1, 2)), ValueError,
         "lse_out must be contiguous", None),
        # Checks only the library makes: SagegenError with the C status and its text.
        ("head_dim 96 (C)", dict(q=t(1, 2, 64, 96), k=t(1, 1, 64, 96), v=t(1, 1, 64, 96)), sagegen.SagegenError, "head_dim = 96",
         S_.UNSUPPORTED_HEAD_DIM),
        ("q misaligned by 2 bytes (C)", dict(q=misaligned(q), k=k, v=v), sagegen.SagegenError, "q = 0x", S_.MISALIGNED_POINTER),
        ("k rows 132 elements apart (C)", dict(q=q, k=padded_rows(k, 4), v=v), sagegen.SagegenError, "k_strides.seq = 132", S_.BAD_STRIDE),
        ("kv_len 0", dict(q=q, k=k[:, :, :0], v=v[:, :, :0]), ValueError, "kv sequence length is 0", None),
        ("out = q (C)", dict(q=q.clone(), k=k, v=v, out="q"), sagegen.SagegenError, "overlaps q", S_.OVERLAP),
    ]
    if torch.cuda.device_count() >= 2:
        rows.append(("k on cuda:1, q and v on cuda:0", dict(q=q, k=k.to("cuda:1"), v=v), ValueError, "must be on the same device", None))
        rows.append(("out on cuda:1", dict(q=q, k=k, v=v, out=torch.empty(q.shape, dtype=q.dtype, device="cuda:1")), ValueError,
                     "out must match q", None))
    out_rows = []
    for name, kw, exc, substring, code in rows:
        kw = dict(kw)
        if kw.get("out") == "q":
            kw["out"] = kw["q"]
        guard = kw.get("out") if isinstance(kw.get("out"), torch.Tensor) else None
        if guard is None and isinstance(kw.get("q"), torch.Tensor) and kw["q"].dim() == 4 and kw["q"].is_cuda:
            kw["out"] = guard = poisoned(kw["q"])
        before = guard.clone() if guard is not None else None
        q_before = kw["q"].clone() if isinstance(kw.get("q"), torch.Tensor) else None
        fails, got = [], None
        try:
            sagegen.sageattn(kw.pop("q"), kw.pop("k"), kw.pop("v"), **kw)
            torch.cuda.synchronize()
            fails.append(f"no exception (expected {exc.__name__})")
        except Exception as e:  # noqa: BLE001 - the row checks the type
            got = f"{type(e).__name__}: {e}"
            if not isinstance(e, exc):
                fails.append(f"raised {type(e).__name__}, expected {exc.__name__}")
            if substring not in str(e):
                fails.append(f"message lacks {substring!r}")
            if code is not None:
                if getattr(e, "status", None) != code:
                    fails.append(f"status {getattr(e, 'status', None)}, expected {code} ({STATUS_NAMES[code]})")
                if text(code) not in str(e):
                    fails.append(f"message lacks the C status text {text(code)!r}")
        torch.cuda.synchronize()
        if guard is not None and not same_bits(before, guard):
            fails.append("out was written by a rejected call")
        if name.startswith("out = q") and q_before is not None and not same_bits(q_before, guard):
            fails.append("q (= out) was written by a rejected call")
        out_rows.append({"name": name, "kind": "python", "status": "fail" if fails else "pass", "got": got, "failures": fails})
    if torch.cuda.device_count() < 2:
        out_rows.append({"name": "tensors on different CUDA devices", "kind": "python", "status": "skip",
                         "skip_reason": f"needs 2 GPUs, this host has {torch.cuda.device_count()} (CPU vs CUDA is checked above)"})
    return out_rows


# ------------------------------------------------------------------------------------------------


def commit():
    if os.environ.get("SAGEGEN_COMMIT"):
        return os.environ["SAGEGEN_COMMIT"]
    try:
        r = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=30)
        return r.stdout.strip() or "unknown"
    except Exception:
        return "unknown"


def device_name(mem):
    if not mem.has_device:
        return f"none (host memory, CUDA_VISIBLE_DEVICES='', {platform.machine()})"
    return mem.torch.cuda.get_device_name()


def load_lib(path):
    lib = ctypes.CDLL(path)
    abi.declare_prototypes(lib)
    return lib


def main(argv):
    ap = argparse.ArgumentParser(description="Table of every argument check of libsagegen's C ABI.")
    ap.add_argument("--lib", required=True, help="path of libsagegen.so")
    ap.add_argument("--memory", choices=("host", "cuda"), default="host")
    ap.add_argument("--binding", action="store_true", help="also the Python binding's checks (torch, CUDA)")
    ap.add_argument("--out", help="JSON report")
    opts = ap.parse_args(argv)
    if opts.memory == "host":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before the library's cudart first looks
    mem = HostMemory() if opts.memory == "host" else CudaMemory()
    lib = load_lib(os.path.abspath(opts.lib))
    if opts.binding:
        os.environ["SAGEGEN_LIB"] = os.path.abspath(opts.lib)
    rows = run_c_table(lib, mem) + (run_binding_table() if opts.binding else [])
    count = {s: sum(r["status"] == s for r in rows) for s in ("pass", "fail", "skip")}
    for r in rows:
        extra = r.get("skip_reason") or "; ".join(r.get("failures", []))
        got = f"-> {r['got']}" if r.get("kind") == "c" and "got" in r else ""
        print(f"{r['status'].upper():4} {r['name']:<58} {got} {extra}".rstrip())
    print(f"{count['pass']} passed, {count['fail']} failed, {count['skip']} skipped")
    if opts.out:
        report = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "commit": commit(),
                  "command": [sys.executable] + sys.argv, "device": device_name(mem), "memory": mem.name,
                  "library": os.path.abspath(opts.lib), "fingerprint": manifest_fingerprint(os.path.abspath(opts.lib)),
                  "variants": [list(v) for v in built_variants(lib)],
                  "summary": {"passed": count["pass"], "failed": count["fail"], "skipped": count["skip"]}, "rows": rows}
        os.makedirs(os.path.dirname(os.path.abspath(opts.out)), exist_ok=True)
        with open(opts.out, "w") as f:
            json.dump(report, f, indent=1, default=str)
            f.write("\n")
    return 1 if count["fail"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
