#!/usr/bin/env python3
"""Session 23 probe: where the short-sequence whole call loses to cuDNN, host or GPU, and whether
running the quantization of one chunk of heads beside the attention of the previous one pays.

    python3 results/wgmma/session23/overlap.py --lib LIBDIR --out OUT.json

For each shape (B=4, H=32), timed as bench.py does (CUDA events around one call, median), on inputs
rotated over sets larger than 4x the L2:
  eager       sagegen's whole call and torch cuDNN's, launched from Python as bench.py launches them
              (the host's launch path is inside the events: the GPU idles until the first kernel lands);
  gpu         the same calls with the GPU kept busy by a spin kernel queued before the start event, so
              the events see GPU time only (the host's launches hide behind the spin);
  graph       sagegen whole call and cuDNN captured in a CUDA graph and replayed;
  chunks-C    sagegen split into C chunks of heads, captured in one graph: the quantization of every
              chunk on a high-priority side stream, the attention of chunk i on one of two attention
              streams after chunk i's quantization event, all joined back.
Host microseconds per call (no synchronisation, 200 calls) are recorded too.
"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "runtime", "python"))
sys.path.insert(0, os.path.join(REPO, "runtime", "bench"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402

import sagegen  # noqa: E402
from sagegen import Phase, _lib  # noqa: E402
import bench  # noqa: E402
import shapes  # noqa: E402

SPIN_CYCLES = 2_000_000  # ~1 ms at 1.7-2 GHz: longer than any host launch path measured here


def timed(launches, spin):
    """Median and min ms of one launch (rotated), with or without a spin queued before the start event."""
    for i in range(20):
        launches[i % len(launches)]()
    torch.cuda.synchronize()
    times = []
    for i in range(60):
        if spin:
            torch.cuda._sleep(SPIN_CYCLES)
        b, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        b.record()
        launches[i % len(launches)]()
        e.record()
        e.synchronize()
        times.append(b.elapsed_time(e))
    return statistics.median(times), min(times)


def host_us(launch):
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(200):
        launch()
    dt = (time.perf_counter() - t) / 200 * 1e6
    torch.cuda.synchronize()
    return dt


def graphed(fn):
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(s)
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        fn()
    torch.cuda.synchronize()
    return g.replay


def chunked(q, k, v, causal, chunks, side_streams):
    """A launcher of the chunked whole call: the heads cut into `chunks` slices."""
    h = q.shape[1]
    step = h // chunks
    parts = []
    for c in range(chunks):
        sl = slice(c * step, (c + 1) * step)
        run, o, _ = sagegen.prepare(q[:, sl], k[:, sl], v[:, sl], "HND", causal)
        parts.append((run, o))
    quant_stream, attn_streams = side_streams

    def launch():
        main = torch.cuda.current_stream()
        quant_stream.wait_stream(main)
        for s in attn_streams:
            s.wait_stream(main)
        events = []
        with torch.cuda.stream(quant_stream):
            for run, _ in parts:
                run(Phase.QUANTIZE)
                ev = torch.cuda.Event()
                ev.record(quant_stream)
                events.append(ev)
        for i, (run, _) in enumerate(parts):
            s = attn_streams[i % len(attn_streams)]
            s.wait_event(events[i])
            with torch.cuda.stream(s):
                run(Phase.ATTENTION)
        main.wait_stream(quant_stream)
        for s in attn_streams:
            main.wait_stream(s)

    return launch, [o for _, o in parts]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--head-dims", default="128,64")
    ap.add_argument("--seqs", default="1024,2048,4096")
    ap.add_argument("--chunks", default="2,4,8")
    args = ap.parse_args()
    lib = os.path.join(args.lib, "lib", "libsagegen.so") if os.path.isdir(args.lib) else args.lib
    _lib.load_library(lib)
    side = (torch.cuda.Stream(priority=-1), [torch.cuda.Stream(), torch.cuda.Stream()])
    rows = []
    for d in [int(x) for x in args.head_dims.split(",")]:
        for n in [int(x) for x in args.seqs.split(",")]:
            for causal in (False, True):
                shape = dict(batch=4, heads=32, seq=n, head_dim=d, dtype="fp16", causal=causal)
                sets = bench.input_sets(shape)
                row = dict(shape)
                prepared = [sagegen.prepare(q, kk, vv, "HND", causal) for q, kk, vv in sets]
                whole = [lambda r=r: r(Phase.ALL) for r, _, _ in prepared]
                for r, _, _ in prepared:
                    r(Phase.QUANTIZE)
                kern = [lambda r=r: r(Phase.ATTENTION) for r, _, _ in prepared]
                cudnn = []
                for q, kk, vv in sets:
                    def c(q=q, kk=kk, vv=vv):
                        with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
                            return F.scaled_dot_product_attention(q, kk, vv, is_causal=causal)
                    cudnn.append(c)
                row["sagegen_kernel_eager"] = timed(kern, False)
                row["sagegen_kernel_gpu"] = timed(kern, True)
                row["sagegen_whole_eager"] = timed(whole, False)
                row["sagegen_whole_gpu"] = timed(whole, True)
                row["cudnn_eager"] = timed(cudnn, False)
                row["cudnn_gpu"] = timed(cudnn, True)
                row["host_us_sagegen_whole"] = host_us(whole[0])
                row["host_us_cudnn"] = host_us(cudnn[0])
                row["sagegen_whole_graph"] = timed([graphed(f) for f in whole], False)
                row["cudnn_graph"] = timed([graphed(f) for f in cudnn], False)
                ref = prepared[0][1].clone()
                for chunks in [int(x) for x in args.chunks.split(",")]:
                    launchers = [chunked(q, kk, vv, causal, chunks, side) for q, kk, vv in sets]
                    graphs = [graphed(f) for f, _ in launchers]
                    row[f"chunks{chunks}_graph"] = timed(graphs, False)
                    graphs[0]()
                    torch.cuda.synchronize()
                    got = torch.cat(launchers[0][1], dim=1)
                    row[f"chunks{chunks}_maxdiff"] = (got.float() - ref.float()).abs().max().item()
                for key in list(row):
                    if isinstance(row[key], tuple):
                        row[key + "_tops"] = shapes.tops(4, 32, n, d, causal, row[key][0] / 1e3)
                print(json.dumps({k: (round(v[0] * 1e3, 1) if isinstance(v, tuple) else v) for k, v in row.items()}), flush=True)
                rows.append(row)
                del sets, prepared
    with open(args.out, "w") as f:
        json.dump(dict(device=torch.cuda.get_device_name(), date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       commit=os.environ.get("SAGEGEN_COMMIT", "unknown"), lib=args.lib,
                       command=" ".join([os.path.basename(sys.executable)] + sys.argv), rows=rows), f, indent=1)


if __name__ == "__main__":
    main()
