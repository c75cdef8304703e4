#!/usr/bin/env python3
"""Per-block timeline of one attention launch (session 20), from a library built with trace.patch.

The patched kernel's thread 0 writes %globaltimer at its start, before its first key tile, after its
last, and after the epilogue, with its SM id. This runs the attention phase back to back (so the
clocks settle), then reads the last launch's timestamps and reports:
- the kernel's span and the mean prologue / loop / epilogue of a block;
- slot utilization: the blocks' summed time over (SMs × blocks per SM × span);
- whether waves stay in step: per SM the k-th group of `blocks per SM` starts, and across SMs the
  spread (10th to 90th percentile) of that group's start;
- the tail: time from the first moment fewer than 90% of the slots are busy to the end.

    python3 results/wgmma/session20/trace/trace.py --lib DIR --label b3 --seq 1024 --head-dim 128 --out t.json
"""
import argparse
import ctypes
import datetime
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "runtime", "bench"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import bench  # noqa: E402
import sagegen  # noqa: E402
from sagegen import Phase, _lib  # noqa: E402

SLOTS_PER_BLOCK = 8
MAX_BLOCKS = 1 << 17


def pct(xs, q):
    return float(np.percentile(xs, q)) if len(xs) else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("--seq", type=int, required=True)
    ap.add_argument("--head-dim", type=int, required=True)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--out", required=True)
    ap.add_argument("--phase", default="attention", choices=["attention", "all"], help="kernel only, or whole calls (queries quantized in the kernel where the variant does)")
    ap.add_argument("--causal", action="store_true", help="causal calls (session 31; the library must hold a causal variant)")
    opts = ap.parse_args()
    info = bench.library_info(opts.lib)[1]
    _lib.load_library(info["path"])
    so = ctypes.CDLL(info["path"])
    q, k, v = (torch.randn(4, opts.heads, opts.seq, opts.head_dim, device="cuda", dtype=torch.float16) for _ in range(3))
    run, _, _ = sagegen.prepare(q, k, v, "HND", opts.causal)
    run(Phase.ALL)
    torch.cuda.synchronize()
    phase = Phase.ATTENTION if opts.phase == "attention" else Phase.ALL
    t_end = time.time() + 0.5
    while time.time() < t_end:
        run(phase)
    torch.cuda.synchronize()
    buf = np.zeros((MAX_BLOCKS, SLOTS_PER_BLOCK), dtype=np.uint64)
    assert so.sagegen_trace_copy(buf.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(buf.nbytes)) == 0
    used = buf[:, 4] != 0
    n = int(used.sum())
    b = buf[:n].astype(np.int64)
    assert used[:n].all(), "blocks of the last launch are not contiguous"
    t0 = b[:, 0].min()
    start, sm, before_loop, after_loop, end = b[:, 0] - t0, b[:, 1], b[:, 2] - t0, b[:, 3] - t0, b[:, 4] - t0
    span = int(end.max())
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    # concurrency per SM over time: the most blocks it ever held is its slot count
    slots = 0
    waves = []  # per SM, the sorted starts
    for s in range(sms):
        idx = np.where(sm == s)[0]
        ev = sorted([(int(start[i]), 1) for i in idx] + [(int(end[i]), -1) for i in idx], key=lambda e: (e[0], e[1]))
        c = m = 0
        for _, d in ev:
            c += d
            m = max(m, c)
        slots = max(slots, m)
        waves.append(np.sort(start[idx]))
    busy = float((end - start).sum()) / (sms * slots * span)
    # in step? the k-th group of `slots` starts on each SM
    groups = []
    for g in range(0, max(len(w) for w in waves), slots):
        firsts = [int(w[g]) for w in waves if len(w) > g]
        groups.append(dict(group=g // slots, sms=len(firsts), start_p10_us=pct(firsts, 10) / 1e3, start_p50_us=pct(firsts, 50) / 1e3,
                           start_p90_us=pct(firsts, 90) / 1e3))
    # busy slots over time (1 us bins) and the tail
    bins = np.zeros(span // 1000 + 2)
    for s0, e0 in zip(start, end):
        bins[s0 // 1000:e0 // 1000 + 1] += 1
    full = sms * slots
    below = np.where(bins[: len(bins) - 1] < 0.9 * full)[0]
    below = below[below > 5]  # skip the ramp at the start
    tail_us = float(span / 1e3 - below[0]) if len(below) else 0.0
    dur = end - start
    report = dict(
        device=torch.cuda.get_device_name(0), date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        commit=bench.commit(), command=" ".join(["results/wgmma/session20/trace/trace.py"] + sys.argv[1:]), library=info,
        label=opts.label, phase=opts.phase, causal=opts.causal, seq=opts.seq, head_dim=opts.head_dim, heads=opts.heads, blocks=n, sms=sms, blocks_per_sm=slots,
        span_us=span / 1e3, slot_utilization=busy, tail_us=tail_us,
        block_us=dict(mean=float(dur.mean()) / 1e3, p10=pct(dur, 10) / 1e3, p90=pct(dur, 90) / 1e3),
        prologue_us=float((before_loop - start).mean()) / 1e3, loop_us=float((after_loop - before_loop).mean()) / 1e3,
        epilogue_us=float((end - after_loop).mean()) / 1e3,
        first_group_prologue_us=float((before_loop - start)[start < 2000].mean()) / 1e3,
        later_prologue_us=float((before_loop - start)[start >= 2000].mean()) / 1e3 if (start >= 2000).any() else None,
        groups=groups, busy_slots_per_us=bins.astype(int).tolist(),
        raw_us=dict(sm=sm.tolist(), start=(start / 1e3).round(2).tolist(), before_loop=(before_loop / 1e3).round(2).tolist(),
                    after_loop=(after_loop / 1e3).round(2).tolist(), end=(end / 1e3).round(2).tolist()))
    print(f"{opts.label} {opts.phase}{' causal' if opts.causal else ''} D={opts.head_dim} N={opts.seq}: {n} blocks, {slots}/SM, span {span / 1e3:.1f} us, slots busy {100 * busy:.1f}%, "
          f"tail {tail_us:.1f} us; block {report['block_us']['mean']:.2f} us = prologue {report['prologue_us']:.2f} "
          f"(first group {report['first_group_prologue_us']:.2f}, later {report['later_prologue_us']}) + loop {report['loop_us']:.2f} + epilogue {report['epilogue_us']:.2f}")
    for g in groups[:8] + groups[-2:]:
        print(f"  group {g['group']:3d} on {g['sms']:3d} SMs: starts p10 {g['start_p10_us']:8.2f}  p50 {g['start_p50_us']:8.2f}  p90 {g['start_p90_us']:8.2f} us")
    with open(opts.out, "w") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main()
