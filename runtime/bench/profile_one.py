#!/usr/bin/env python3
"""One sagegen forward on fresh inputs, for a profiler to attach to (ncu, nsys).

    ncu --kernel-name regex:attentionKernel --launch-skip 1 --launch-count 1 --section SpeedOfLight \\
        python3 runtime/bench/profile_one.py --lib generated/sm_90a_d64-128 --seq 8192 --head-dim 128

Runs the whole forward twice (the first launch of each kernel pays for module loading), then syncs.
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))

import torch  # noqa: E402

import sagegen  # noqa: E402
from sagegen import _lib  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--seq", type=int, default=8192)
    ap.add_argument("--head-dim", type=int, default=128)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--causal", action="store_true")
    ap.add_argument("--dtype", default="fp16", choices=["fp16", "bf16"])
    opts = ap.parse_args()
    lib = opts.lib if opts.lib.endswith(".so") else os.path.join(opts.lib, "lib", "libsagegen.so")
    _lib.load_library(lib)
    dt = torch.float16 if opts.dtype == "fp16" else torch.bfloat16
    q, k, v = (torch.randn(opts.batch, opts.heads, opts.seq, opts.head_dim, device="cuda", dtype=dt) for _ in range(3))
    run, o, _ = sagegen.prepare(q, k, v, "HND", opts.causal)
    run()
    run()
    torch.cuda.synchronize()
    assert torch.isfinite(o).all(), "non-finite output"
    print("ok", tuple(o.shape))


if __name__ == "__main__":
    main()
