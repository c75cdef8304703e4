#!/usr/bin/env python3
"""GPU correctness check of one libsagegen build, through the Python binding.

    python3 runtime/test/gpu_check.py --lib generated/sm_90a_d128/lib/libsagegen.so \
        --label sm90a --out results/gpu/sm90a.json [--quick]

Runs on a CUDA machine with PyTorch (no Node needed). For each case: fresh seeded inputs, the
output poisoned with NaN inside a larger NaN buffer, sagegen's forward, a float64 reference on the
GPU, metrics and pass/fail against fixed thresholds; then the table of C-ABI argument checks
(runtime/test/abi_table.py) on CUDA memory. Writes a JSON report, prints one line per case and a final `N passed, M failed`.
Exit status 1 when anything failed (or nothing ran), 0 otherwise.
"""
import argparse
import contextlib
import ctypes
import dataclasses
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "runtime", "python"))
sys.path.append(os.path.join(REPO, "runtime", "bench"))  # libraries.py: the manifest fingerprint a record carries
from libraries import manifest_fingerprint  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import sagegen  # noqa: E402
from sagegen import _lib  # noqa: E402

# ------------------------------------------------------------------------------------------------
# Pass criteria.
#
# Floors measured by the emulation at D=128, N=2048: cos 0.99925, rel L1 0.0387. Limits are the
# floor with 10% slack (rel L1 0.0387 * 1.1 = 0.043; cos: 1 - 0.00075 * ~1.3 = 0.9990).
# q_outlier (large per-channel q outliers, k bias, v x3) is harder for INT quantization of Q/K.
#
# Tiny N (1, 17) keeps the same limits. With one key (N=1) softmax is exactly 1, so o = v up to the
# kernel's quantization of P (1.0 is exact in FP8 after scaling by 448) and of V (FP8 e4m3 per
# channel: 3 mantissa bits, round to nearest: rel L1 = E|err| / E|v| ~ 2^-5 / 1.5 ~ 0.021, relative
# RMS ~ 0.024, so cos ~ 1 - 0.024^2 / 2 ~ 0.9997). That sits inside cos >= 0.999 / rel L1 <= 0.043
# even though nothing averages the V error out, so the limits stay justified there and a failure at
# N=1 or 17 points at a real bug (partial tiles, masking), not at statistics.
THRESHOLDS = {
    "gaussian": {"cos": 0.9990, "rel_l1": 0.043},
    "k_bias": {"cos": 0.9990, "rel_l1": 0.043},
    "q_outlier": {"cos": 0.9980, "rel_l1": 0.064},
}
# One Q scale per 128-row block is coarser than per-warp: on Q outlier channels the emulated floor
# (shared/accuracy, perblock128_noSmooth) is cos 0.995907 / rel L1 0.08898; +10% as above. Only the
# q_outlier limits move: Gaussian and K-bias inputs must still meet the per-warp limits (smoothing).
PER_BLOCK_THRESHOLDS = dict(THRESHOLDS, q_outlier={"cos": 0.9955, "rel_l1": 0.098})
# (head_dim, dtype, causal) -> qk granularity of the library's variant, read from its manifest.json.
GRANULARITY = {}


def load_granularities(lib_path):
    """Fills GRANULARITY from generated/<target>/manifest.json beside lib/libsagegen.so, if present."""
    manifest = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(lib_path))), "manifest.json")
    if not os.path.exists(manifest):
        return
    with open(manifest) as f:
        for v in json.load(f)["variants"]:
            spec = v["spec"]
            GRANULARITY[(spec["headDim"], spec["dtype"], spec["causal"])] = spec["qk"]["granularity"]


def thresholds_for(case):
    table = PER_BLOCK_THRESHOLDS if GRANULARITY.get((case.d, case.dtype, case.causal)) == "per-block" else THRESHOLDS
    return table[case.dist]
# The LSE carries the quantization error of the scores (Q·Kᵀ from INT8 Q and smoothed K); its
# tolerance is derived per case from the inputs by lse_tolerance() below, not fixed.
LSE_SIGMAS = 6.0
# fp32 evaluation of m + log2(l) and the exp2 approximation: |lse| is at most a few tens.
LSE_FP32_FLOOR = 1e-4
# Statuses meaning "this (head_dim, dtype, causal) variant was not built": the case is skipped.
NOT_BUILT = {3: "UNSUPPORTED_HEAD_DIM", 7: "UNSUPPORTED_DTYPE", 10: "NO_VARIANT"}

DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}
GUARD = 1024  # NaN elements before and after every output buffer, to catch writes out of bounds
REF_CHUNK_BYTES = 512 << 20  # float64 score rows per reference chunk, to bound memory

DEVICE = "cuda"  # "cpu" only for testing this script against a host-memory mock library
VIA_OP = False  # --via-op: every case runs through torch.ops.sagegen.sageattn (the torch.library op)


def sync():
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def stream_handle():
    return torch.cuda.current_stream().cuda_stream if DEVICE == "cuda" else 0


# ------------------------------------------------------------------------------------------------
# Cases.


@dataclasses.dataclass
class Case:
    dist: str  # gaussian | k_bias | q_outlier
    batch: int
    hq: int
    hkv: int
    qo: int
    kv: int
    d: int
    dtype: str = "fp16"
    layout: str = "HND"
    causal: bool = False
    lse: bool = True
    strided: str = ""  # "" | "slice" (views of larger tensors) | "slice_nan" (slack is NaN) | "packed_qkv"
    scale_mul: float = 1.0  # sm_scale = scale_mul / sqrt(d); 1.0 passes sm_scale=None (the default)
    alloc_path: bool = False  # also call without out= and check the output sageattn allocates
    split_phases: bool = False  # also run the quantization and the attention phase as two calls (see phase_split)
    graph_replay: bool = False  # also capture the whole call in a CUDA graph and replay it (see graph_replay)
    seed: int = 0
    name: str = ""

    def label(self):
        heads = f"h{self.hq}" if self.hq == self.hkv else f"h{self.hq}kv{self.hkv}"
        parts = [self.dist, f"d{self.d}", self.dtype, self.layout, f"b{self.batch}{heads}", f"q{self.qo}k{self.kv}"]
        parts += ["causal"] if self.causal else []
        parts += [self.strided] if self.strided else []
        parts += [f"scale{self.scale_mul:g}x"] if self.scale_mul != 1.0 else []
        parts += ["alloc"] if self.alloc_path else []
        parts += ["phases"] if self.split_phases else []
        parts += ["graph"] if self.graph_replay else []
        return "-".join(parts)


def core_cases():
    """Sequence lengths x causal x head dim; Gaussian fp16 HND. LSE on causal ones, so both the
    lse == NULL and the lse path are covered at every length."""
    return [
        Case("gaussian", 2, 8, 8, n, n, d, causal=c, lse=c, split_phases=n in (17, 1000))
        for d in (64, 128)
        for c in (False, True)
        for n in (1, 17, 100, 1000, 4096)
    ]


def dtype_layout_cases():
    return [
        Case("gaussian", 2, 8, 8, 1000, 1000, d, dtype=dt, layout=lay, causal=c)
        for d in (64, 128)
        for dt, lay in (("bf16", "HND"), ("fp16", "NHD"), ("bf16", "NHD"))
        for c in (False, True)
    ]


def distribution_cases():
    """K with a large per-channel bias (smoothing must absorb it) and q outliers."""
    return [
        Case(dist, 2, 8, 8, n, n, d, dtype=dt, causal=c, layout="NHD" if dt == "bf16" and c else "HND")
        for dist in ("k_bias", "q_outlier")
        for d, n in ((64, 1000), (128, 4096))
        for dt in ("fp16", "bf16")
        for c in (False, True)
    ]


def length_pair_cases():
    """qo_len != kv_len; with causal, 1000x100 leaves 900 query rows without any visible key, and
    4000x3000 leaves 1000 at a kv_len where tuned H100 libraries run blocks of several consumers
    (a consumer whose rows see no key skips every tile but must still count the stages done)."""
    return [
        Case("gaussian", 2, 8, 8, nq, nk, d, layout="NHD" if d == 64 else "HND", causal=c)
        for nq, nk in ((1, 4096), (100, 1000), (1000, 100), (777, 3000), (4000, 3000))
        for d in (64, 128)
        for c in (False, True)
    ]


def gqa_cases():
    cases = [
        Case("gaussian", 1, 32, 8, nq, nk, d, causal=c)
        for d in (64, 128)
        for c in (False, True)
        for nq, nk in ((1000, 1000), (4096, 4096), (777, 3000))
    ]
    cases.append(Case("k_bias", 1, 32, 8, 1000, 1000, 128, dtype="bf16", layout="NHD", causal=True))
    cases.append(Case("gaussian", 2, 8, 1, 1000, 1000, 64, causal=True))  # MQA
    return cases


def stride_cases():
    """Views of larger tensors: real strides reach the library. slice_nan fills the slack of every
    input buffer with NaN, so reading outside a view turns the output to NaN."""
    return [
        Case("gaussian", 2, 8, 8, 1000, 1000, 128, causal=True, strided="slice", alloc_path=True),
        Case("gaussian", 2, 8, 8, 1000, 1000, 64, dtype="bf16", layout="NHD", strided="slice"),
        Case("gaussian", 2, 8, 8, 777, 3000, 128, layout="NHD", causal=True, strided="slice_nan"),
        Case("gaussian", 2, 8, 8, 100, 100, 64, causal=True, strided="slice_nan"),
        Case("gaussian", 1, 32, 8, 1000, 1000, 128, dtype="bf16", causal=True, strided="slice_nan"),
        Case("gaussian", 2, 8, 8, 1000, 1000, 128, layout="NHD", causal=True, strided="packed_qkv", alloc_path=True),
        Case("k_bias", 2, 8, 8, 17, 17, 64, layout="NHD", strided="packed_qkv"),
    ]


def misc_cases():
    """sm_scale must be honoured (a kernel ignoring it would pass every default-scale case), and the
    allocating path of sageattn (out=None) gets its own checks."""
    return [
        Case("gaussian", 2, 8, 8, 1000, 1000, 128, scale_mul=0.5, alloc_path=True),
        Case("gaussian", 2, 8, 8, 1000, 1000, 64, layout="NHD", causal=True, scale_mul=0.5),
        Case("gaussian", 2, 8, 8, 1, 1, 128, alloc_path=True),
        Case("gaussian", 1, 32, 8, 777, 3000, 64, dtype="bf16", layout="NHD", causal=True, alloc_path=True),
    ]


def schedule_cases():
    """Causal grids large enough for several head groups of the heaviest-first block order (blockWork):
    4·13 heads × 32 query tiles = 1664 blocks, 3 groups of 18/17/17 heads on a 132-SM H100 at 2 blocks
    per SM, so the uneven-group arithmetic runs; a block mapped twice or never leaves poisoned rows."""
    return [
        Case("gaussian", 4, 13, 13, 4000, 4000, 128, causal=True),
        Case("gaussian", 4, 13, 13, 4000, 4000, 64, dtype="bf16", layout="NHD", causal=True),
    ]


def quantization_path_cases():
    """Both K/V quantization paths where clusters exist. The fused cluster kernel stages at most 64
    KiB of 128-key tiles per block (D=128: 2 tiles, D=64: 4) in clusters of 8 blocks, or of 9-16 on
    Hopper when 8 cannot hold the head. So at D=128, kv_len 2048 is the last length of 8 blocks,
    2049 takes 9, 4096 takes 16, and 4097 goes through the split kernels; likewise 4096, 4097, 8192
    and 8193 at D=64. On other archs every case runs the split kernels. The many-head cases launch
    more clusters than the device holds at once (several waves), on both paths."""
    return [
        Case(dist, 1, 4, 2, nq, nk, d, causal=c, lse=True, split_phases=True)
        for dist, d, nks in (("k_bias", 128, (2048, 2049, 4096, 4097)), ("gaussian", 64, (4096, 4097, 8192, 8193)))
        for nk in nks
        for nq, c in ((1000, False), (nk, True))
    ] + [
        # GQA without an LSE, through the cluster kernel (query heads map to a K/V head)
        Case("k_bias", 1, 32, 8, 1000, 1000, 128, lse=False),
        Case("q_outlier", 2, 4, 4, 777, 2000, 64, layout="NHD", causal=True, lse=False),
        # Many heads: 2·Hkv·B clusters, several waves of them, at each cluster shape and split.
        Case("k_bias", 4, 32, 32, 300, 1000, 128, split_phases=True),
        Case("k_bias", 4, 32, 32, 300, 2049, 128, layout="NHD"),
        Case("gaussian", 3, 32, 16, 300, 8192, 128, causal=True),
        Case("k_bias", 4, 32, 32, 300, 4097, 64, dtype="bf16"),
        Case("q_outlier", 2, 48, 48, 300, 16384, 64),
    ]


def graph_cases():
    """The whole call captured in a CUDA graph (torch.cuda.graph, as torch.compile's reduce-overhead
    mode does) and replayed: through the K/V cluster kernel (kv_len 1000, 2049 with a cluster of 9)
    and the split kernels (4097 at D=128), with GQA, causal and an LSE."""
    return [
        Case("gaussian", 2, 8, 8, 1000, 1000, 128, graph_replay=True),
        Case("k_bias", 1, 32, 8, 777, 2049, 128, dtype="bf16", layout="NHD", causal=True, graph_replay=True),
        Case("gaussian", 1, 4, 2, 1000, 4097, 64, causal=True, graph_replay=True),
    ]


def quick_cases():
    return [
        Case("gaussian", 2, 8, 8, 1000, 1000, 128, alloc_path=True, split_phases=True),
        Case("gaussian", 2, 8, 8, 1000, 1000, 64, dtype="bf16", layout="NHD", causal=True, split_phases=True),
        Case("k_bias", 2, 8, 8, 4096, 4096, 128, causal=True, split_phases=True),
        Case("q_outlier", 2, 8, 8, 1000, 1000, 128, dtype="bf16"),
        Case("gaussian", 1, 32, 8, 777, 3000, 128, causal=True, split_phases=True),
        Case("gaussian", 2, 8, 8, 1000, 100, 64, causal=True),
        Case("gaussian", 2, 8, 8, 1, 1, 128),
        Case("gaussian", 2, 8, 8, 17, 17, 64, causal=True),
        Case("gaussian", 2, 8, 8, 777, 3000, 128, layout="NHD", causal=True, strided="slice_nan"),
        Case("k_bias", 1, 4, 2, 1000, 2049, 128),  # a cluster of 9 blocks (non-portable on Hopper)
    ]


def build_cases(quick, base_seed):
    groups = [quick_cases] if quick else [
        core_cases, dtype_layout_cases, distribution_cases, length_pair_cases, gqa_cases, stride_cases, misc_cases,
        schedule_cases, quantization_path_cases, graph_cases,
    ]
    cases = [c for g in groups for c in g()]
    seen = {}
    for i, c in enumerate(cases):
        c.seed = base_seed + i
        name = c.label()
        seen[name] = seen.get(name, 0) + 1
        c.name = name if seen[name] == 1 else f"{name}#{seen[name]}"
    return cases


# ------------------------------------------------------------------------------------------------
# Inputs and poisoned outputs.


def dims_of(layout):
    """Tensor dims of (heads, seq) in a layout."""
    return (1, 2) if layout == "HND" else (2, 1)


def to_layout(x, layout):
    """HND <-> NHD view (a transpose of dims 1 and 2 is its own inverse)."""
    return x if layout == "HND" else x.transpose(1, 2)


def make_inputs(case):
    """q, k, v as logical HND tensors in the case's dtype, drawn from the case's distribution."""
    g = torch.Generator(device=DEVICE)
    g.manual_seed(case.seed)

    def randn(*shape):
        return torch.randn(*shape, generator=g, device=DEVICE, dtype=torch.float32)

    q = randn(case.batch, case.hq, case.qo, case.d)
    k = randn(case.batch, case.hkv, case.kv, case.d)
    v = randn(case.batch, case.hkv, case.kv, case.d)
    if case.dist == "k_bias":
        k = k + 6 * randn(1, 1, 1, case.d)  # one bias per channel, shared by every token
    elif case.dist == "q_outlier":
        n = max(1, round(0.05 * case.d))
        channels = torch.randperm(case.d, generator=torch.Generator().manual_seed(case.seed))[:n].to(DEVICE)
        q[..., channels] *= 10
        k = k + 4 * randn(1, 1, 1, case.d)
        v = v * 3
    dt = DTYPES[case.dtype]
    return q.to(dt), k.to(dt), v.to(dt)


def embed(x, pads, fill):
    """A view holding x inside a larger tensor padded by pads {dim: (before, after)}; the slack is
    random (fill='randn') or NaN (fill='nan')."""
    shape, index = list(x.shape), [slice(None)] * x.dim()
    for dim, (before, after) in pads.items():
        shape[dim] += before + after
        index[dim] = slice(before, before + x.shape[dim])
    if fill == "nan":
        big = torch.full(shape, float("nan"), dtype=x.dtype, device=x.device)
    else:
        big = torch.randn(shape, device=x.device, dtype=torch.float32).to(x.dtype)
    view = big[tuple(index)]
    view.copy_(x)
    return view


def place_inputs(case, q, k, v):
    """The tensors handed to sageattn: contiguous in the case's layout, or views with real strides."""
    lay = case.layout
    if case.strided == "packed_qkv":
        # [B, N, 3, H, D], the usual fused QKV projection output; needs Hq == Hkv and qo == kv.
        packed = torch.stack([to_layout(t, "NHD") for t in (q, k, v)], dim=2)
        views = (packed[:, :, 0], packed[:, :, 1], packed[:, :, 2])
        return tuple(to_layout(t, "NHD") if lay == "HND" else t for t in views)
    if case.strided in ("slice", "slice_nan"):
        fill = "nan" if case.strided == "slice_nan" else "randn"
        hd, sd = dims_of(lay)
        return (
            embed(to_layout(q, lay), {hd: (1, 2)}, fill),  # q sliced along heads
            embed(to_layout(k, lay), {sd: (8, 24), hd: (0, 1)}, fill),
            embed(to_layout(v, lay), {sd: (16, 8)}, fill),
        )
    return tuple(to_layout(t, lay).contiguous() for t in (q, k, v))


def poisoned_view(shape, pads, dtype):
    """(flat, view): a NaN-filled flat buffer with GUARD elements each side, and a view of `shape`
    inside it, optionally padded (pads {dim: (before, after)}) so it is not contiguous."""
    big, index = list(shape), [slice(None)] * len(shape)
    for dim, (before, after) in pads.items():
        big[dim] += before + after
        index[dim] = slice(before, before + shape[dim])
    n = math.prod(big)
    flat = torch.full((GUARD + n + GUARD,), float("nan"), dtype=dtype, device=DEVICE)
    return flat, flat[GUARD:GUARD + n].view(big)[tuple(index)]


def written_outside(flat, view):
    """Elements of `flat` outside `view` that lost their NaN poison: writes out of bounds."""
    inside = torch.zeros(flat.numel(), dtype=torch.bool, device=flat.device)
    inside.as_strided(view.shape, view.stride(), view.storage_offset()).fill_(True)
    return int((~torch.isnan(flat[~inside])).sum())


# ------------------------------------------------------------------------------------------------
# Reference and metrics.


def visible(q_lo, q_hi, qo, kv, device):
    """Bottom-right aligned causal mask rows [q_lo, q_hi): query i sees key j iff j <= i + kv - qo."""
    i = torch.arange(q_lo, q_hi, device=device).unsqueeze(1)
    j = torch.arange(kv, device=device).unsqueeze(0)
    return j <= i + (kv - qo)


def reference(q, k, v, causal, scale):
    """float64 attention of HND q [B,Hq,Nq,D], k/v [B,Hkv,Nk,D] (GQA: kv head = q head // group).

    Returns (o, lse); rows with no visible key get o = 0 and lse = -inf. Computed in chunks of
    query rows so that the float64 scores stay within REF_CHUNK_BYTES."""
    b, hq, nq, d = q.shape
    group = hq // k.shape[1]
    nk = k.shape[2]
    q64 = q.double()
    k64 = k.double().repeat_interleave(group, dim=1)
    v64 = v.double().repeat_interleave(group, dim=1)
    o = torch.empty(b, hq, nq, d, dtype=torch.float64, device=q.device)
    lse = torch.empty(b, hq, nq, dtype=torch.float64, device=q.device)
    rows = max(1, REF_CHUNK_BYTES // (b * hq * nk * 8))
    for lo in range(0, nq, rows):
        hi = min(nq, lo + rows)
        s = torch.matmul(q64[:, :, lo:hi], k64.transpose(-1, -2)) * scale
        if causal:
            s.masked_fill_(~visible(lo, hi, nq, nk, q.device), float("-inf"))
        l = torch.logsumexp(s, dim=-1)
        # exp(s - l) with l = -inf would be NaN; with l replaced by 0 an empty row gives exp(-inf) = 0.
        p = torch.exp(s - torch.where(torch.isfinite(l), l, torch.zeros_like(l)).unsqueeze(-1))
        o[:, :, lo:hi] = torch.matmul(p, v64)
        lse[:, :, lo:hi] = l
        del s, p
    return o, lse


def empty_rows(case):
    """Query rows that see no key (causal with qo_len > kv_len)."""
    return max(0, case.qo - case.kv) if case.causal else 0


def output_metrics(out, ref):
    """Metrics of out vs ref over all elements. Non-finite outputs are counted, then taken as 0."""
    o = out.double().flatten()
    r = ref.flatten()
    m = {"nan": int(torch.isnan(o).sum()), "inf": int(torch.isinf(o).sum())}
    o = torch.where(torch.isfinite(o), o, torch.zeros_like(o))
    diff = o - r
    norms = float(o.norm()) * float(r.norm())
    m["cos"] = float(torch.dot(o, r)) / norms if norms > 0 else float(float(o.norm()) == float(r.norm()))
    sum_r, sum_d = float(r.abs().sum()), float(diff.abs().sum())
    m["rel_l1"] = sum_d / sum_r if sum_r > 0 else (0.0 if sum_d == 0 else float("inf"))
    m["rmse"] = float(diff.pow(2).mean().sqrt())
    m["max_abs"] = float(diff.abs().max())
    return m


def lse_tolerance(q, k, scale, q_rows=16, k_rows=64):
    """Bound on |LSE - ref| from INT8 rounding of Q (groups of q_rows rows, the finest default) and of
    mean-subtracted K (groups of k_rows). A rounding error is uniform in ±step/2 (std step/√12), so a
    score's error has std ≈ scale·√D·(rms(step_q)·rms(k) + rms(step_k)·rms(q))/√12; the LSE error is a
    softmax-weighted mean of score errors, so it is no larger. LSE_SIGMAS of it bounds the maximum
    over ~1e5 rows. It still catches real LSE bugs: a missing K-mean term (units, with k_bias), a
    natural-log/log2 slip (×0.69) or a missing log2(pRange) (6.8) are far larger."""
    d = q.shape[-1]
    qf = q.float()
    kf = k.float()
    kf = kf - kf.mean(dim=2, keepdim=True)

    def step_rms(x, rows):
        b, h, n, _ = x.shape
        blocks = F.pad(x, (0, 0, 0, (-n) % rows)).reshape(b, h, -1, rows * d)
        return float((blocks.abs().amax(-1) / 127).pow(2).mean().sqrt())

    rms = lambda x: float(x.pow(2).mean().sqrt())  # noqa: E731
    score_std = scale * math.sqrt(d) * (step_rms(qf, q_rows) * rms(kf) + step_rms(kf, k_rows) * rms(qf)) / math.sqrt(12)
    return max(LSE_SIGMAS * score_std, LSE_FP32_FLOOR)


def lse_metrics(lse, ref):
    ours = lse.double()
    finite = torch.isfinite(ref)
    err = (ours[finite] - ref[finite]).abs()
    err = torch.where(torch.isnan(err), torch.full_like(err, float("inf")), err)
    return {
        "nan": int(torch.isnan(ours).sum()),
        "max_abs_err": float(err.max()) if err.numel() else 0.0,
        # rows with no visible key must read -inf (NaN poison left there counts too)
        "empty_rows_not_neg_inf": int((ours[~finite] != float("-inf")).sum()),
    }


def sdpa_metrics(q, k, v, case, scale, ref):
    """torch's own SDPA in the input dtype on the same inputs: the sanity line beside ours."""
    try:
        group = case.hq // case.hkv
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        mask = visible(0, case.qo, case.qo, case.kv, q.device) if case.causal else None
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)
        if mask is not None:  # SDPA returns NaN for rows with no visible key; the reference has 0
            o = o.masked_fill(~mask.any(dim=-1).unsqueeze(-1), 0)
        m = output_metrics(o, ref)
        return {key: m[key] for key in ("cos", "rel_l1", "rmse", "max_abs", "nan")}
    except Exception as e:  # a sanity line must not fail the case
        return {"error": f"{type(e).__name__}: {e}"}


# ------------------------------------------------------------------------------------------------
# Running a case.


class VariantProbe:
    """Which (head_dim, dtype, causal) variants the library has, asked of the library itself with
    a tiny forward; cached."""

    def __init__(self):
        self.cache = {}

    def check(self, d, dtype, causal):
        """None when built; else ('skip', reason) or ('error', message)."""
        key = (d, dtype, causal)
        if key not in self.cache:
            self.cache[key] = self._probe(*key)
        return self.cache[key]

    def _probe(self, d, dtype, causal):
        x = torch.zeros(1, 1, 16, d, dtype=DTYPES[dtype], device=DEVICE)
        try:
            sagegen.sageattn(x, x, x, is_causal=causal)
            sync()
            return None
        except sagegen.SagegenError as e:
            if e.status in NOT_BUILT:
                return ("skip", f"not built: {NOT_BUILT[e.status]} for head_dim={d} dtype={dtype} causal={causal} ({e.detail})")
            return ("error", f"probe of head_dim={d} dtype={dtype} causal={causal} failed: {e}")


def check_output(case, m, thr):
    fails = []
    if m["nan"]:
        fails.append(f"{m['nan']} NaN in output (NaN poison left = unwritten elements, or computed NaN)")
    if m["inf"]:
        fails.append(f"{m['inf']} Inf in output")
    if m.get("written_outside"):
        fails.append(f"{m['written_outside']} elements written outside the output view")
    if m.get("empty_rows_max_abs", 0) != 0:
        fails.append(f"rows with no visible key must be 0, max |o| there = {m['empty_rows_max_abs']:.3g}")
    if not m["cos"] >= thr["cos"]:
        fails.append(f"cos {m['cos']:.5f} < {thr['cos']}")
    if not m["rel_l1"] <= thr["rel_l1"]:
        fails.append(f"rel L1 {m['rel_l1']:.4f} > {thr['rel_l1']}")
    return fails


def check_lse(lm):
    fails = []
    if lm["nan"]:
        fails.append(f"{lm['nan']} NaN in LSE (unwritten or computed)")
    if not lm["max_abs_err"] <= lm["tolerance"]:
        fails.append(f"LSE max abs err {lm['max_abs_err']:.4g} > {lm['tolerance']:.4g}")
    if lm["empty_rows_not_neg_inf"]:
        fails.append(f"{lm['empty_rows_not_neg_inf']} LSE entries of rows with no visible key are not -inf")
    if lm.get("written_outside"):
        fails.append(f"{lm['written_outside']} LSE elements written outside [B, Hq, qo_len]")
    return fails


def our_output(case, qi, ki, vi, sm_scale):
    """Runs sageattn into poisoned buffers; returns (o view, o flat, lse view, lse flat)."""
    pads = {dims_of(case.layout)[0]: (2, 1)} if case.strided else {}
    shape = tuple(qi.shape)
    o_flat, o = poisoned_view(shape, pads, DTYPES[case.dtype])
    l_flat, lse = poisoned_view((case.batch, case.hq, case.qo), {}, torch.float32) if case.lse else (None, None)
    if VIA_OP:
        # The custom op allocates its results; they are copied into the poisoned views so that every
        # check below stays the same (writes outside the output are then not observable).
        got = torch.ops.sagegen.sageattn(qi, ki, vi, case.layout, case.causal, sm_scale, case.lse)
        o.copy_(got[0])
        if case.lse:
            lse.copy_(got[1])
    else:
        sagegen.sageattn(qi, ki, vi, tensor_layout=case.layout, is_causal=case.causal, sm_scale=sm_scale,
                         return_lse=case.lse, out=o, lse_out=lse)
    sync()
    return o, o_flat, lse, l_flat


def evaluate(case, o, o_flat, ref_o, thr):
    ours = to_layout(o, case.layout)
    m = output_metrics(ours, ref_o)
    m["written_outside"] = written_outside(o_flat, o) if o_flat is not None else 0
    e = empty_rows(case)
    m["empty_rows_max_abs"] = float(ours[:, :, :e].double().abs().max()) if e else 0.0
    return m, check_output(case, m, thr)


def run_case(probe, case, opts):
    res = {"name": case.name, "seed": case.seed, "params": dataclasses.asdict(case)}
    if max(case.qo, case.kv) > opts.max_seq:
        return dict(res, status="skip", skip_reason=f"sequence longer than --max-seq {opts.max_seq}")
    built = probe.check(case.d, case.dtype, case.causal)
    if built and built[0] == "skip":
        return dict(res, status="skip", skip_reason=built[1])
    if built:
        return dict(res, status="fail", failures=[built[1]])
    thr = thresholds_for(case)
    q, k, v = make_inputs(case)
    qi, ki, vi = place_inputs(case, q, k, v)
    scale = ctypes.c_float(case.scale_mul / math.sqrt(case.d)).value  # the float32 the kernel gets
    sm_scale = None if case.scale_mul == 1.0 else scale
    o, o_flat, lse, l_flat = our_output(case, qi, ki, vi, sm_scale)
    ref_o, ref_lse = reference(q, k, v, case.causal, scale)
    m, fails = evaluate(case, o, o_flat, ref_o, thr)
    res.update(thresholds=thr, metrics=m)
    if case.lse:
        lm = lse_metrics(lse, ref_lse)
        lm["written_outside"] = written_outside(l_flat, lse)
        lm["tolerance"] = lse_tolerance(q, k, scale)
        res["lse"] = lm
        fails += check_lse(lm)
    if case.split_phases:
        res["split_phases"], more = phase_split(case, qi, ki, vi, sm_scale, o, lse, ref_o, ref_lse, thr, lse_tolerance(q, k, scale))
        fails += more
    if case.graph_replay:
        res["graph_replay"], more = graph_replay(case, qi, ki, vi, sm_scale, o)
        fails += more
    if case.alloc_path:
        res["alloc_path"], more = alloc_path(case, qi, ki, vi, sm_scale, o, ref_o, ref_lse, thr, lse_tolerance(q, k, scale))
        fails += more
    res["sdpa"] = sdpa_metrics(q, k, v, case, scale, ref_o)
    return dict(res, status="fail" if fails else "pass", failures=fails)


def alloc_path(case, qi, ki, vi, sm_scale, o_first, ref_o, ref_lse, thr, lse_tol):
    """sageattn allocating o (and lse) itself; must pass like the out= call."""
    got = sagegen.sageattn(qi, ki, vi, tensor_layout=case.layout, is_causal=case.causal, sm_scale=sm_scale,
                           return_lse=case.lse)
    o2, lse2 = got if case.lse else (got, None)
    sync()
    fails = []
    if tuple(o2.shape) != tuple(qi.shape) or o2.dtype != qi.dtype or not o2.is_contiguous():
        fails.append(f"allocated o is {tuple(o2.shape)} {o2.dtype} contiguous={o2.is_contiguous()}, want q's shape/dtype, contiguous")
    m, more = evaluate(case, o2, None, ref_o, thr)
    fails += [f"alloc path: {f}" for f in more]
    info = {"metrics": m, "bitwise_equal_to_out_call": bool(torch.equal(o2, o_first))}
    if case.lse:
        if tuple(lse2.shape) != (case.batch, case.hq, case.qo) or lse2.dtype != torch.float32:
            fails.append(f"allocated lse is {tuple(lse2.shape)} {lse2.dtype}, want ({case.batch}, {case.hq}, {case.qo}) float32")
        else:
            info["lse"] = lse_metrics(lse2, ref_lse)
            info["lse"]["tolerance"] = lse_tol
            fails += [f"alloc path: {f}" for f in check_lse(info["lse"])]
    return info, fails


def phase_split(case, qi, ki, vi, sm_scale, o_first, lse_first, ref_o, ref_lse, thr, lse_tol):
    """The quantization phase and the attention phase as two calls (sagegen_forward_phases, as the
    benchmarks' kernel-only timing runs them), into NaN-poisoned buffers. A whole call may quantize
    the queries inside the attention kernel (wgmma variants); the split call reads the query kernel's
    INT8 copy from the workspace instead. Both quantize alike, so the outputs must be bitwise equal,
    and the split output must pass on its own."""
    run, o2, lse2 = sagegen.prepare(qi, ki, vi, tensor_layout=case.layout, is_causal=case.causal, sm_scale=sm_scale,
                                    return_lse=case.lse)
    o2.fill_(float("nan"))
    if lse2 is not None:
        lse2.fill_(float("nan"))
    run(sagegen.Phase.QUANTIZE)
    run(sagegen.Phase.ATTENTION)
    sync()
    m, more = evaluate(case, o2, None, ref_o, thr)
    fails = [f"split phases: {f}" for f in more]
    equal = bool(torch.equal(o2, o_first))
    if not equal:
        fails.append("split phases: output differs from the whole call's (max |diff| "
                     f"{float((o2.double() - o_first.double()).abs().max()):.3g})")
    info = {"metrics": m, "bitwise_equal_to_whole_call": equal}
    if case.lse:
        info["lse"] = lse_metrics(lse2, ref_lse)
        info["lse"]["tolerance"] = lse_tol
        info["lse_max_abs_diff_to_whole_call"] = float((lse2.double() - lse_first.double()).abs().max())
        fails += [f"split phases: {f}" for f in check_lse(info["lse"])]
    return info, fails


def graph_replay(case, qi, ki, vi, sm_scale, o_first):
    """The whole call (sagegen.prepare's run, every kernel of it) captured in a CUDA graph, then
    replayed into a NaN-poisoned output: it must equal the eager call bitwise. Then the inputs are
    negated in place and the graph replayed again: it must equal an eager call on the negated inputs
    bitwise (a replay reads the inputs' current values, and the workspace it wrote before is rewritten,
    not reused). The inputs are restored (negation is exact)."""
    run, o2, _ = sagegen.prepare(qi, ki, vi, tensor_layout=case.layout, is_causal=case.causal, sm_scale=sm_scale)
    run()  # warm-up outside the capture (module load, function attributes)
    sync()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        run()
    fails = []
    o2.fill_(float("nan"))
    graph.replay()
    sync()
    info = {"bitwise_equal_to_eager": bool(torch.equal(o2, o_first))}
    if not info["bitwise_equal_to_eager"]:
        diff = (o2.double() - o_first.double()).abs()
        fails.append(f"graph replay: output differs from the eager call's (max |diff| {float(diff.nan_to_num(float('inf')).max()):.3g}, "
                     f"NaN {int(torch.isnan(o2).sum())})")
    for t in (qi, ki, vi):
        t.neg_()
    try:
        eager = sagegen.sageattn(qi, ki, vi, tensor_layout=case.layout, is_causal=case.causal, sm_scale=sm_scale)
        o2.fill_(float("nan"))
        graph.replay()
        sync()
        info["bitwise_equal_to_eager_after_new_inputs"] = bool(torch.equal(o2, eager))
        info["new_inputs_change_output"] = not bool(torch.equal(o2, o_first))
        if not info["bitwise_equal_to_eager_after_new_inputs"]:
            fails.append("graph replay on new inputs: output differs from the eager call's")
        if not info["new_inputs_change_output"]:
            fails.append("graph replay on new inputs: output unchanged (the replay did not read the new inputs)")
    finally:
        for t in (qi, ki, vi):
            t.neg_()
        sync()
    return info, fails


def context_alive():
    """False when the CUDA context is gone (e.g. after an illegal address): nothing more can run."""
    try:
        sync()
        return True
    except Exception:
        return False


def run_cases(probe, cases, opts):
    results = []
    for i, case in enumerate(cases):
        t0 = time.time()
        try:
            res = run_case(probe, case, opts)
        except Exception as e:
            res = {"name": case.name, "seed": case.seed, "params": dataclasses.asdict(case), "status": "fail",
                   "failures": [f"exception: {type(e).__name__}: {e}"], "traceback": traceback.format_exc()}
        res["seconds"] = round(time.time() - t0, 3)
        results.append(res)
        print(f"[{i + 1}/{len(cases)}] {res['status'].upper():4} {case.name} (seed {case.seed}, {res['seconds']:.2f}s)"
              + "".join(f"\n      {f}" for f in res.get("failures", [])))
        if res["status"] == "fail" and not context_alive():
            for rest in cases[i + 1:]:
                results.append({"name": rest.name, "seed": rest.seed, "params": dataclasses.asdict(rest), "status": "fail",
                                "failures": [f"not run: CUDA context lost after {case.name}"]})
            break
        if DEVICE == "cuda":
            torch.cuda.empty_cache()  # the next case's reference may need the memory this one cached
    return results


# ------------------------------------------------------------------------------------------------
# C-ABI argument checks: the table in runtime/test/abi_table.py (one table for CI and the GPU).


def run_arg_checks():
    import abi_table  # beside this file; torch-free, so CI runs the same table on host memory

    mem = abi_table.CudaMemory() if DEVICE == "cuda" else abi_table.HostMemory()
    # The table's own ctypes prototypes (its ABI module is loaded by path, so its struct classes are not
    # the sagegen package's): the same shared library, opened again through the table's loader.
    return abi_table.run_c_table(abi_table.load_lib(_lib.get_library()._name), mem)


# ------------------------------------------------------------------------------------------------
# Report.


def environment(opts):
    info = {"python": platform.python_version(), "torch": torch.__version__, "torch_cuda": torch.version.cuda}
    if DEVICE == "cuda":
        cap = torch.cuda.get_device_capability()
        info.update(device=torch.cuda.get_device_name(), capability=f"{cap[0]}.{cap[1]}")
    else:
        info.update(device=f"cpu ({platform.machine()}), self-test against a host mock: not a GPU result",
                    capability=None)
    info.update(driver=nvidia_smi_driver(), cuda_driver_api=cuda_driver_api())
    return info


def nvidia_smi_driver():
    try:
        r = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                           capture_output=True, text=True, timeout=30)
        return r.stdout.strip().splitlines()[0] if r.returncode == 0 and r.stdout.strip() else "unknown"
    except Exception:
        return "unknown"


def cuda_driver_api():
    """cuDriverGetVersion, e.g. '12.4'."""
    try:
        v = ctypes.c_int()
        if ctypes.CDLL("libcuda.so.1").cuDriverGetVersion(ctypes.byref(v)) == 0:
            return f"{v.value // 1000}.{v.value % 1000 // 10}"
    except OSError:
        pass
    return "unknown"


def commit():
    if os.environ.get("SAGEGEN_COMMIT"):
        return os.environ["SAGEGEN_COMMIT"]
    try:
        r = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=30)
        return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else "unknown"
    except Exception:
        return "unknown"


def jsonable(x):
    """JSON without NaN/Infinity literals (JSON.parse rejects them): non-finite floats as strings."""
    if isinstance(x, float) and not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if isinstance(x, dict):
        return {k: jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    return x


def fmt(x, spec):
    return format(x, spec) if isinstance(x, (int, float)) else "-"


def case_line(r):
    m, s, lse = r.get("metrics", {}), r.get("sdpa", {}), r.get("lse", {})
    cols = [f"{r['status'].upper():4}", f"{r['name']:<58}", f"seed={r['seed']:<5}",
            f"cos={fmt(m.get('cos'), '.5f')}", f"relL1={fmt(m.get('rel_l1'), '.4f')}",
            f"rmse={fmt(m.get('rmse'), '.2e')}", f"max={fmt(m.get('max_abs'), '.2e')}",
            f"lse={fmt(lse.get('max_abs_err'), '.3f')}",
            f"| sdpa cos={fmt(s.get('cos'), '.6f')} relL1={fmt(s.get('rel_l1'), '.4f')}"]
    if r["status"] == "skip":
        cols = cols[:3] + [r.get("skip_reason", "")]
    return " ".join(cols)


def print_table(cases, checks):
    print("\n=== cases ===")
    for r in cases:
        print(case_line(r))
    print("\n=== C ABI checks ===")
    for r in checks:
        extra = r.get("skip_reason") or "; ".join(r.get("failures", []))
        got = f"got {r['got']}" if "expected" in r else ""
        print(f"{r['status'].upper():4} {r['name']:<52} {got} {extra}".rstrip())


def summarize(cases, checks):
    rows = cases + checks
    count = {s: sum(r["status"] == s for r in rows) for s in ("pass", "fail", "skip")}
    ran = sum(r["status"] != "skip" for r in cases)
    return {"passed": count["pass"], "failed": count["fail"], "skipped": count["skip"], "cases_run": ran,
            "nothing_ran": ran == 0}


def write_report(path, report):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(jsonable(report), f, indent=1, allow_nan=False)
        f.write("\n")


# ------------------------------------------------------------------------------------------------
# Main.


def parse_args(argv):
    ap = argparse.ArgumentParser(description="GPU correctness check of one libsagegen build.")
    ap.add_argument("--lib", help="path of libsagegen.so (default: $SAGEGEN_LIB, else the newest generated/*/lib/libsagegen.so)")
    ap.add_argument("--label", help="name of this build in the report (default: the generated/<target> dir name)")
    ap.add_argument("--out", help="JSON report path (default: results/gpu/<label>.json)")
    ap.add_argument("--quick", action="store_true", help="a handful of cases instead of the full set")
    ap.add_argument("--seed", type=int, default=1000, help="seed of the first case; case i uses seed+i (default 1000)")
    ap.add_argument("--only", default="", help="run only cases whose name contains this text")
    ap.add_argument("--max-seq", type=int, default=1 << 30, help="skip cases with qo_len or kv_len above this")
    ap.add_argument("--via-op", action="store_true",
                    help="run every case through torch.ops.sagegen.sageattn (the custom op) instead of sageattn(out=...)")
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                    help="cpu: only to test this script against a host-memory mock library")
    return ap.parse_args(argv)


def use_host_device():
    """--device cpu: point the binding's device seams at host memory (mock library only)."""
    global DEVICE
    DEVICE = "cpu"
    sagegen._on_cuda = lambda t: True
    sagegen._device_guard = lambda device: contextlib.nullcontext()
    sagegen._stream_handle = lambda device: 0


def load(opts):
    """Loads the library; returns (path, label, version) or raises with a clear message."""
    path = os.path.abspath(opts.lib) if opts.lib else _lib.find_library()
    os.environ["SAGEGEN_LIB"] = path
    sagegen.load_library(path)
    label = opts.label or os.path.basename(os.path.dirname(os.path.dirname(path)))
    return path, label, sagegen.version()


def main(argv):
    opts = parse_args(argv)
    global VIA_OP
    VIA_OP = opts.via_op
    if opts.device == "cpu":
        use_host_device()
    elif not torch.cuda.is_available():
        print("error: torch sees no CUDA device", file=sys.stderr)
        return 1
    started = datetime.datetime.now(datetime.timezone.utc)
    report = {"date": started.isoformat(timespec="seconds"), "commit": commit(), "command": [sys.executable] + sys.argv}
    report.update(environment(opts))
    try:
        path, label, version = load(opts)
    except Exception as e:
        label = opts.label or "unknown"
        report.update(label=label, error=f"library not loaded: {e}",
                      summary={"passed": 0, "failed": 1, "skipped": 0, "cases_run": 0, "nothing_ran": True})
        write_report(opts.out or os.path.join(REPO, "results", "gpu", f"{label}.json"), report)
        print(f"error: {e}\n0 passed, 1 failed", file=sys.stderr)
        return 1
    out = opts.out or os.path.join(REPO, "results", "gpu", f"{label}.json")
    load_granularities(path)
    report.update(label=label, library={"path": path, "version": version, "abi": sagegen.abi_version(),
                                         "fingerprint": manifest_fingerprint(path)},
                  quick=opts.quick, base_seed=opts.seed, via_op=opts.via_op)
    print(f"sagegen {version} from {path}\nlabel {label} on {report['device']} (capability {report['capability']}), "
          f"torch {torch.__version__}, driver {report['driver']}, commit {report['commit']}")
    probe = VariantProbe()
    cases = [c for c in build_cases(opts.quick, opts.seed) if opts.only in c.name]
    results = run_cases(probe, cases, opts)
    checks = run_arg_checks() if context_alive() else [
        {"name": "C ABI checks", "status": "fail", "failures": ["not run: CUDA context lost"]}]
    summary = summarize(results, checks)
    report.update(cases=results, arg_checks=checks, summary=summary,
                  variants={f"d{d}-{dt}-{'causal' if c else 'full'}": (v[1] if v else "built")
                            for (d, dt, c), v in sorted(probe.cache.items())},
                  seconds=round((datetime.datetime.now(datetime.timezone.utc) - started).total_seconds(), 1))
    write_report(out, report)
    print_table(results, checks)
    print(f"\nreport: {out}")
    if summary["nothing_ran"]:
        print("FAIL: no case ran (every variant skipped?), so nothing was verified")
    print(f"{summary['skipped']} skipped")
    failed = summary["failed"] + (1 if summary["nothing_ran"] else 0)
    print(f"{summary['passed']} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
