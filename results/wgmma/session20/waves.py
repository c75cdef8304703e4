#!/usr/bin/env python3
"""Do the blocks of a short-sequence kernel run in waves that stay in step? (session 20)

At N = 1024 the D=128 non-causal winner runs B·H·N/64 equal blocks, 3 per SM. If the waves stay in
step, the attention time grows with ceil(blocks / slots); if blocks drift apart, with blocks / slots.
This times the attention phase (kernel only, interleaved rounds) at several head counts, so the two
models can be told apart, and writes one JSON.

    python3 results/wgmma/session20/waves.py --lib .carry/s/tuned --out waves.json
"""
import argparse
import datetime
import json
import math
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "runtime", "bench"))

import torch  # noqa: E402

import bench  # noqa: E402
from ab import median_ms  # noqa: E402  (runtime/bench/ab.py)
import sagegen  # noqa: E402
from sagegen import Phase, _lib  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--head-dim", type=int, default=128)
    ap.add_argument("--heads", default="32,31,30,28,26,25,24,20,16")
    ap.add_argument("--cta-q", type=int, default=64, help="query rows per block of the bucket's winner")
    ap.add_argument("--blocks-per-sm", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=20)
    opts = ap.parse_args()
    info = bench.library_info(opts.lib)[1]
    _lib.load_library(info["path"])
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    slots = sms * opts.blocks_per_sm
    heads = [int(h) for h in opts.heads.split(",")]
    runs = {}
    for h in heads:
        q, k, v = (torch.randn(4, h, opts.seq, opts.head_dim, device="cuda", dtype=torch.float16) for _ in range(3))
        run, _, _ = sagegen.prepare(q, k, v, "HND", False)
        run(Phase.ALL)
        runs[h] = (run, (q, k, v))
    torch.cuda.synchronize()
    samples = {h: [] for h in heads}
    for r in range(opts.rounds + 1):
        for i in range(len(heads)):
            h = heads[(i + r) % len(heads)]
            ms = median_ms(lambda: runs[h][0](Phase.ATTENTION), opts.reps)
            if r > 0:
                samples[h].append(ms)
    rows = []
    for h in heads:
        us = statistics.median(samples[h]) * 1e3
        blocks = 4 * h * math.ceil(opts.seq / opts.cta_q)
        waves = blocks / slots
        rows.append(dict(heads=h, blocks=blocks, waves=waves, us=us, spread=max(samples[h]) / min(samples[h]) - 1,
                         us_per_wave=us / waves, us_per_whole_wave=us / math.ceil(waves),
                         tops=4 * 4 * h * opts.seq ** 2 * opts.head_dim / (us * 1e-6) / 1e12))
        print(f"H={h:3d} blocks={blocks:5d} waves={waves:5.2f} {us:8.1f} us  per wave {us / waves:6.1f}  "
              f"per whole wave {us / math.ceil(waves):6.1f}  {rows[-1]['tops']:6.1f} TOP/s", flush=True)
    report = dict(device=torch.cuda.get_device_name(0), date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                  commit=bench.commit(), command=" ".join(["results/wgmma/session20/waves.py"] + sys.argv[1:]),
                  library=info, sms=sms, slots=slots, gpu=bench.gpu_state(), rows=rows)
    with open(opts.out, "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
