#!/usr/bin/env python3
"""Numerics at the edges, on a CUDA machine with PyTorch: one libsagegen build, through the binding.

    python3 runtime/test/edge_check.py --lib generated/sm_90a_d64-128/lib/libsagegen.so --out edge.json [--skip-large]

Cases (each causal and not, fresh seeded inputs, outputs NaN-poisoned inside guard elements):
  - sequence lengths 1, 2, 63, 64, 65, 127, 129 (around the 64-key and 128-query tiles), D 64/128,
    fp16 (and bf16 at D=128), and qo_len != kv_len pairs (decode qo_len 1 against kv_len 4096, more
    queries than keys so causal rows see no key);
  - all-equal inputs, all-zero inputs, every key row identical (smoothing leaves K = 0: a zero INT8
    scale must not turn into 0/0);
  - rows whose scores are all very negative (K channel 0 = -30000, q channel 0 >= 1: every score of
    every row is below -2000 before smoothing; the LSE must carry it);
  - magnitudes near fp16's limit (q, k, v ~ 20000·N(0,1) clamped to ±65000, sm_scale shrunk so the
    scores stay O(1)) and K channels with a huge bias (1000·N(0,1) per channel; 100 for bf16, whose
    ulp at 1000 would erase the per-token part);
  - a long sequence (B=1, H=1, N=262144, D=128) against a float64 reference streamed over key blocks
    (online softmax in float64; no N×N matrix);
  - 64-bit offsets: a contiguous problem of more than 2^31 elements per tensor (B=512, H=512, N=65,
    D=128: 4.4 GB, so byte offsets pass 2^32 and the INT8 workspace passes 2^31) checked on the
    heads around element offset 2^31 and at the tail; and strided inputs/outputs whose second batch
    starts 2^32 + 4096 elements after the first (the slack NaN-filled). 32-bit offsets would read
    the wrong rows or fault there.
Pass criteria: no NaN/Inf anywhere, nothing written outside the output views, rows with no visible
key exactly 0 with LSE -inf, and the accuracy limits of runtime/test/gpu_check.py (the emulated floor
of shared/accuracy + 10%), unchanged; LSE within gpu_check's derived tolerance (plus fp32 rounding of
the LSE's own magnitude where it is in the thousands).
Writes JSON (device, date, commit, command, every case's metrics); exit 1 when a case failed.
"""
import argparse
import ctypes
import datetime
import math
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402

import gpu_check as gc  # noqa: E402  (reference, metrics, thresholds, poisoning, report helpers)
import sagegen  # noqa: E402  (gpu_check put runtime/python on sys.path)

DT = {"fp16": torch.float16, "bf16": torch.bfloat16}
DEVICE = "cuda"
OFFSET_BOUNDARY = 1 << 31  # element offset past which 32-bit (signed) indexing breaks
FAR_BATCH_STRIDE = (1 << 32) + 4096  # elements between the two batches of the strided 64-bit case


class Edge:
    """One edge case: inputs made by `make(gen)` as logical HND float32 tensors, then cast."""

    def __init__(self, name, kind, batch, hq, hkv, qo, kv, d, dtype="fp16", causal=False, dist="gaussian", scale_mul=1.0,
                 layout="HND"):
        self.name, self.kind = name, kind
        self.batch, self.hq, self.hkv, self.qo, self.kv, self.d = batch, hq, hkv, qo, kv, d
        self.dtype, self.causal, self.dist, self.scale_mul, self.layout = dtype, causal, dist, scale_mul, layout
        self.seed = 0

    def gc_case(self):
        """The gpu_check.Case whose thresholds apply (by distribution family, head dim, dtype, causal)."""
        family = "k_bias" if self.dist in ("k_huge_bias", "neg_rows") else "gaussian"
        return gc.Case(family, self.batch, self.hq, self.hkv, self.qo, self.kv, self.d, dtype=self.dtype, causal=self.causal)

    def params(self):
        return {k: v for k, v in vars(self).items()}


# ------------------------------------------------------------------------------------------------
# Inputs.


def make_inputs(e):
    g = torch.Generator(device=DEVICE)
    g.manual_seed(e.seed)

    def randn(*shape):
        return torch.randn(*shape, generator=g, device=DEVICE, dtype=torch.float32)

    qs, ks = (e.batch, e.hq, e.qo, e.d), (e.batch, e.hkv, e.kv, e.d)
    if e.dist == "all_equal":
        q, k, v = torch.full(qs, 0.5, device=DEVICE), torch.full(ks, 0.5, device=DEVICE), torch.full(ks, 0.5, device=DEVICE)
    elif e.dist == "all_zero":
        q, k, v = torch.zeros(qs, device=DEVICE), torch.zeros(ks, device=DEVICE), torch.zeros(ks, device=DEVICE)
    elif e.dist == "keys_identical":
        q, v = randn(*qs), randn(*ks)
        k = randn(e.batch, e.hkv, 1, e.d).expand(ks).contiguous()
    elif e.dist == "neg_rows":
        q, k, v = randn(*qs), randn(*ks), randn(*ks)
        q[..., 0] = q[..., 0].abs() + 1.0
        k[..., 0] = -30000.0  # exact in fp16 and bf16
    elif e.dist == "k_huge_bias":
        q, k, v = randn(*qs), randn(*ks), randn(*ks)
        k = k + (1000.0 if e.dtype == "fp16" else 100.0) * randn(1, 1, 1, e.d)
    elif e.dist == "huge":
        q, k, v = (torch.clamp(20000.0 * randn(*s), -65000.0, 65000.0) for s in (qs, ks, ks))
    else:
        q, k, v = randn(*qs), randn(*ks), randn(*ks)
    return tuple(t.to(DT[e.dtype]) for t in (q, k, v))


def scale_of(e):
    base = e.scale_mul / math.sqrt(e.d)
    if e.dist == "huge":
        base /= 20000.0 ** 2  # scores stay O(1): the test is about the input magnitudes
    return ctypes.c_float(base).value  # the float32 the kernel gets


# ------------------------------------------------------------------------------------------------
# References.


def streamed_reference(q, k, v, causal, scale, q_chunk=8192, k_block=32768):
    """float64 attention of HND q [B,H,Nq,D], k/v [B,H,Nk,D] (same heads), streamed over key blocks
    with an online softmax in float64: memory O(q_chunk·k_block), never Nq×Nk. Returns (o, lse)."""
    b, h, nq, d = q.shape
    nk = k.shape[2]
    o = torch.empty(b, h, nq, d, dtype=torch.float64, device=q.device)
    lse = torch.empty(b, h, nq, dtype=torch.float64, device=q.device)
    for lo in range(0, nq, q_chunk):
        hi = min(nq, lo + q_chunk)
        qc = q[:, :, lo:hi].double()
        m = torch.full((b, h, hi - lo), float("-inf"), dtype=torch.float64, device=q.device)
        l = torch.zeros_like(m)
        acc = torch.zeros(b, h, hi - lo, d, dtype=torch.float64, device=q.device)
        last_visible = hi - 1 + nk - nq  # causal: the last key any row of the chunk sees
        for klo in range(0, nk, k_block):
            if causal and klo > last_visible:
                break
            khi = min(nk, klo + k_block)
            s = torch.matmul(qc, k[:, :, klo:khi].double().transpose(-1, -2)) * scale
            if causal:
                i = torch.arange(lo, hi, device=q.device).unsqueeze(1)
                j = torch.arange(klo, khi, device=q.device).unsqueeze(0)
                s.masked_fill_(~(j <= i + (nk - nq)), float("-inf"))
            m_new = torch.maximum(m, s.amax(-1))
            finite = torch.isfinite(m_new)
            shift = torch.where(finite, m_new, torch.zeros_like(m_new))
            keep = torch.where(finite, torch.exp(m - shift), torch.zeros_like(m))  # exp(-inf) = 0 for the first block
            p = torch.exp(s - shift.unsqueeze(-1))
            l = l * keep + p.sum(-1)
            acc = acc * keep.unsqueeze(-1) + torch.matmul(p, v[:, :, klo:khi].double())
            m = m_new
            del s, p
        seen = l > 0
        o[:, :, lo:hi] = torch.where(seen.unsqueeze(-1), acc / torch.where(seen, l, torch.ones_like(l)).unsqueeze(-1), torch.zeros_like(acc))
        lse[:, :, lo:hi] = torch.where(seen, m + torch.log(torch.where(seen, l, torch.ones_like(l))), torch.full_like(l, float("-inf")))
    return o, lse


def lse_tolerance(q, k, scale, ref_lse):
    """gpu_check's derived LSE tolerance, plus fp32 rounding of the LSE itself: where |LSE| reaches
    the thousands (rows with all-negative scores) 2^-20·|LSE| (8 fp32 ulps) exceeds gpu_check's
    1e-4 floor, which assumes |LSE| of a few tens."""
    finite = ref_lse[torch.isfinite(ref_lse)]
    big = float(finite.abs().max()) if finite.numel() else 0.0
    return max(gc.lse_tolerance(q, k, scale), big * 2.0 ** -20)


# ------------------------------------------------------------------------------------------------
# Running.


def check(e, ours_hnd, ref_o, empty_rows, thr):
    m = gc.output_metrics(ours_hnd, ref_o)
    m["empty_rows_max_abs"] = float(ours_hnd[:, :, :empty_rows].double().abs().max()) if empty_rows else 0.0
    return m, gc.check_output(e, m, thr)


def lse_check(lse, ref_lse, tol):
    lm = gc.lse_metrics(lse, ref_lse)
    lm["tolerance"] = tol
    return lm, gc.check_lse(lm)


def run_small(e):
    """Cases whose float64 reference fits at once (gpu_check.reference)."""
    thr = gc.thresholds_for(e.gc_case())
    q, k, v = make_inputs(e)
    scale = scale_of(e)
    qi, ki, vi = (gc.to_layout(t, e.layout).contiguous() for t in (q, k, v))
    o_flat, o = gc.poisoned_view(tuple(qi.shape), {}, DT[e.dtype])
    l_flat, lse = gc.poisoned_view((e.batch, e.hq, e.qo), {}, torch.float32)
    sagegen.sageattn(qi, ki, vi, tensor_layout=e.layout, is_causal=e.causal, sm_scale=scale, return_lse=True, out=o, lse_out=lse)
    gc.sync()
    ref_o, ref_lse = gc.reference(q, k, v, e.causal, scale)
    empty = max(0, e.qo - e.kv) if e.causal else 0
    m, fails = check(e, gc.to_layout(o, e.layout), ref_o, empty, thr)
    m["written_outside"] = gc.written_outside(o_flat, o)
    fails += [f"{m['written_outside']} elements written outside the output view"] if m["written_outside"] else []
    lm, lfails = lse_check(lse, ref_lse, lse_tolerance(q, k, scale, ref_lse))
    lm["written_outside"] = gc.written_outside(l_flat, lse)
    lfails += [f"{lm['written_outside']} LSE elements written outside"] if lm["written_outside"] else []
    return {"thresholds": thr, "metrics": m, "lse": lm}, fails + lfails


def run_long(e):
    """B=1, H=1, N >= 262144: streamed float64 reference over every row; the tail rows again alone."""
    thr = gc.thresholds_for(e.gc_case())
    q, k, v = make_inputs(e)
    scale = scale_of(e)
    o_flat, o = gc.poisoned_view(tuple(q.shape), {}, DT[e.dtype])
    l_flat, lse = gc.poisoned_view((e.batch, e.hq, e.qo), {}, torch.float32)
    t0 = time.time()
    sagegen.sageattn(q, k, v, is_causal=e.causal, sm_scale=scale, return_lse=True, out=o, lse_out=lse)
    gc.sync()
    kernel_s = time.time() - t0
    ref_o, ref_lse = streamed_reference(q, k, v, e.causal, scale)
    m, fails = check(e, o, ref_o, 0, thr)
    m["written_outside"] = gc.written_outside(o_flat, o)
    fails += [f"{m['written_outside']} elements written outside the output view"] if m["written_outside"] else []
    tail = 4096
    mt, tfails = check(e, o[:, :, -tail:], ref_o[:, :, -tail:], 0, thr)
    lm, lfails = lse_check(lse, ref_lse, lse_tolerance(q, k, scale, ref_lse))
    return ({"thresholds": thr, "metrics": m, f"tail_{tail}_rows": mt, "lse": lm, "call_seconds": round(kernel_s, 3)},
            fails + [f"tail rows: {f}" for f in tfails] + lfails)


def run_offsets_contiguous(e):
    """More than 2^31 elements per tensor, contiguous HND: the heads around element offset 2^31 and
    the last heads are checked against float64 (only they: the rest has the same code path)."""
    thr = gc.thresholds_for(e.gc_case())
    torch.cuda.empty_cache()
    g = torch.Generator(device=DEVICE)
    g.manual_seed(e.seed)
    shape = (e.batch, e.hq, e.qo, e.d)
    q, k, v = (torch.randn(shape, generator=g, device=DEVICE, dtype=DT[e.dtype]) for _ in range(3))
    o = torch.full(shape, float("nan"), dtype=DT[e.dtype], device=DEVICE)
    lse = torch.full((e.batch, e.hq, e.qo), float("nan"), dtype=torch.float32, device=DEVICE)
    scale = scale_of(e)
    sagegen.sageattn(q, k, v, is_causal=e.causal, sm_scale=scale, return_lse=True, out=o, lse_out=lse)
    gc.sync()
    bh = e.batch * e.hq
    per_head = e.qo * e.d
    boundary = OFFSET_BOUNDARY // per_head  # the head holding element offset 2^31
    picks = sorted({0, *range(boundary - 2, boundary + 3), *range(bh - 4, bh)})
    flat = lambda t: t.reshape(bh, *t.shape[2:])  # noqa: E731
    idx = torch.tensor(picks, device=DEVICE)
    qs, ks, vs = (flat(t).index_select(0, idx).unsqueeze(0) for t in (q, k, v))
    ref_o, ref_lse = gc.reference(qs, ks, vs, e.causal, scale)
    ours = flat(o).index_select(0, idx).unsqueeze(0)
    m, fails = check(e, ours, ref_o, 0, thr)
    # Whole-output scans (cheap): every element written and finite, every LSE entry finite.
    m["nonfinite_anywhere"] = int((~torch.isfinite(o)).sum())
    fails += [f"{m['nonfinite_anywhere']} NaN/Inf (or unwritten) elements in the whole output"] if m["nonfinite_anywhere"] else []
    lm, lfails = lse_check(flat(lse).index_select(0, idx).unsqueeze(0), ref_lse, lse_tolerance(qs, ks, scale, ref_lse))
    lm["nonfinite_anywhere"] = int((~torch.isfinite(lse)).sum())
    lfails += [f"{lm['nonfinite_anywhere']} NaN/Inf LSE entries"] if lm["nonfinite_anywhere"] else []
    info = {"thresholds": thr, "metrics": m, "lse": lm, "elements_per_tensor": q.numel(), "heads_checked": picks,
            "max_element_offset_checked": (picks[-1] + 1) * per_head - 1}
    del q, k, v, o, lse
    torch.cuda.empty_cache()
    return info, fails + lfails


def run_offsets_strided(e):
    """Batch stride 2^32 + 4096 elements: q, k, v share one NaN-filled buffer, o has its own; batch 1
    lives past element 2^32. Every row is checked, batch 1 (the far one) also alone."""
    thr = gc.thresholds_for(e.gc_case())
    torch.cuda.empty_cache()
    stride_b = FAR_BATCH_STRIDE
    n, d, h = e.qo, e.d, e.hq
    head_elems = n * d
    x = torch.full((stride_b * (e.batch - 1) + 3 * h * head_elems,), float("nan"), dtype=DT[e.dtype], device=DEVICE)
    strides = (stride_b, head_elems, d, 1)
    shape = (e.batch, h, n, d)
    q, k, v = (x.as_strided(shape, strides, i * h * head_elems) for i in range(3))
    src = make_inputs(e)
    for view, val in zip((q, k, v), src):
        view.copy_(val)
    o_buf = torch.full((stride_b * (e.batch - 1) + h * head_elems,), float("nan"), dtype=DT[e.dtype], device=DEVICE)
    o = o_buf.as_strided(shape, strides, 0)
    lse = torch.full((e.batch, h, n), float("nan"), dtype=torch.float32, device=DEVICE)
    scale = scale_of(e)
    sagegen.sageattn(q, k, v, is_causal=e.causal, sm_scale=scale, return_lse=True, out=o, lse_out=lse)
    gc.sync()
    ref_o, ref_lse = gc.reference(*src, e.causal, scale)
    m, fails = check(e, o, ref_o, 0, thr)
    mf, ffails = check(e, o[-1:], ref_o[-1:], 0, thr)
    written = int((~torch.isnan(o_buf)).sum())
    m["written_outside"] = written - (o.numel() - int(torch.isnan(o).sum()))  # non-NaN elements beyond those inside the view
    fails += [f"{m['written_outside']} elements written outside the output view"] if m["written_outside"] else []
    lm, lfails = lse_check(lse, ref_lse, lse_tolerance(*src[:2], scale, ref_lse))
    info = {"thresholds": thr, "metrics": m, "far_batch": mf, "lse": lm, "batch_stride_elements": stride_b,
            "last_row_element_offset": stride_b * (e.batch - 1) + (h - 1) * head_elems + (n - 1) * d}
    del x, o_buf, q, k, v, o
    torch.cuda.empty_cache()
    return info, fails + [f"far batch: {f}" for f in ffails] + lfails


RUNNERS = {"small": run_small, "long": run_long, "offsets_contiguous": run_offsets_contiguous, "offsets_strided": run_offsets_strided}


def cases(skip_large):
    out = []
    for c in (False, True):
        for d in (64, 128):
            for n in (1, 2, 63, 64, 65, 127, 129):
                out.append(Edge(f"len{n}-d{d}", "small", 2, 4, 2, n, n, d, causal=c))
        for n in (1, 2, 63, 64, 65, 127, 129):
            out.append(Edge(f"len{n}-d128-bf16-NHD", "small", 2, 4, 2, n, n, 128, dtype="bf16", causal=c, layout="NHD"))
        for d in (64, 128):
            for dt in ("fp16", "bf16"):
                out.append(Edge(f"decode-q1k4096-d{d}-{dt}", "small", 4, 8, 2, 1, 4096, d, dtype=dt, causal=c))
        for nq, nk in ((2, 1), (65, 129), (129, 65), (1, 63)):
            out.append(Edge(f"q{nq}k{nk}-d128", "small", 2, 4, 4, nq, nk, 128, causal=c))
        for d in (64, 128):
            for dist in ("all_equal", "all_zero", "keys_identical", "neg_rows", "k_huge_bias", "huge"):
                out.append(Edge(f"{dist}-d{d}", "small", 2, 4, 2, 1000, 1000, d, causal=c, dist=dist))
        for dist in ("all_equal", "keys_identical", "neg_rows", "k_huge_bias"):
            out.append(Edge(f"{dist}-d128-bf16", "small", 2, 4, 2, 1000, 1000, 128, dtype="bf16", causal=c, dist=dist))
        out.append(Edge("neg_rows-d128-q1k4096", "small", 2, 4, 2, 1, 4096, 128, causal=c, dist="neg_rows"))
        if not skip_large:
            out.append(Edge("long-n262144-d128", "long", 1, 1, 1, 262144, 262144, 128, causal=c))
            out.append(Edge("offsets64-contiguous-b512h512n65-d128", "offsets_contiguous", 512, 512, 512, 65, 65, 128, causal=c))
            out.append(Edge("offsets64-strided-b2h2n1000-d128", "offsets_strided", 2, 2, 2, 1000, 1000, 128, causal=c))
    for i, e in enumerate(out):
        e.seed = 5000 + i
        e.name = f"{e.name}-{'causal' if e.causal else 'full'}"
    return out


def main(argv):
    ap = argparse.ArgumentParser(description="Numerics at the edges of one libsagegen build.")
    ap.add_argument("--lib", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="", help="run only cases whose name contains this text")
    ap.add_argument("--skip-large", action="store_true", help="leave out the long-sequence and 64-bit-offset cases")
    opts = ap.parse_args(argv)
    if not torch.cuda.is_available():
        print("error: torch sees no CUDA device", file=sys.stderr)
        return 1
    started = datetime.datetime.now(datetime.timezone.utc)
    lib = os.path.abspath(opts.lib)
    os.environ["SAGEGEN_LIB"] = lib
    sagegen.load_library(lib)
    gc.load_granularities(lib)
    report = {"date": started.isoformat(timespec="seconds"), "commit": gc.commit(), "command": [sys.executable] + sys.argv,
              "library": {"path": lib, "version": sagegen.version(), "fingerprint": gc.manifest_fingerprint(lib)}}
    report.update(gc.environment(opts))
    print(f"edge checks of {lib} on {report['device']}, commit {report['commit']}")
    results = []
    selected = [e for e in cases(opts.skip_large) if opts.only in e.name]
    # A (head_dim, dtype, causal) the library was not built for is skipped, as in gpu_check.py (a
    # library of D=128 wgmma variants has no D=64 to check); a probe that fails otherwise is a failure.
    probe = gc.VariantProbe()
    for i, e in enumerate(selected):
        t0 = time.time()
        res = {"name": e.name, "seed": e.seed, "params": e.params()}
        built = probe.check(e.d, e.dtype, e.causal)
        if built is not None and built[0] == "skip":
            res.update(status="skip", skip_reason=built[1], failures=[], seconds=0.0)
            results.append(res)
            print(f"[{i + 1}/{len(selected)}] SKIP {e.name:<52} {built[1]}")
            continue
        try:
            if built is not None:
                raise RuntimeError(built[1])
            info, fails = RUNNERS[e.kind](e)
            res.update(info, status="fail" if fails else "pass", failures=fails)
        except Exception as ex:
            res.update(status="fail", failures=[f"exception: {type(ex).__name__}: {ex}"], traceback=traceback.format_exc())
        res["seconds"] = round(time.time() - t0, 2)
        results.append(res)
        m = res.get("metrics", {})
        print(f"[{i + 1}/{len(selected)}] {res['status'].upper():4} {e.name:<52} cos={gc.fmt(m.get('cos'), '.5f')} "
              f"relL1={gc.fmt(m.get('rel_l1'), '.4f')} lse_err={gc.fmt(res.get('lse', {}).get('max_abs_err'), '.2e')} "
              f"({res['seconds']:.1f}s)" + "".join(f"\n      {f}" for f in res["failures"]))
        if res["status"] == "fail" and not gc.context_alive():
            for rest in selected[i + 1:]:
                results.append({"name": rest.name, "status": "fail", "failures": [f"not run: CUDA context lost after {e.name}"]})
            break
        torch.cuda.empty_cache()
    passed = sum(r["status"] == "pass" for r in results)
    skipped = sum(r["status"] == "skip" for r in results)
    failed = len(results) - passed - skipped
    report.update(cases=results, summary={"passed": passed, "failed": failed, "skipped": skipped},
                  seconds=round((datetime.datetime.now(datetime.timezone.utc) - started).total_seconds(), 1))
    gc.write_report(opts.out, report)
    print(f"report: {opts.out}\n{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or not passed else 0  # nothing passed (all skipped) is a failure too


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
