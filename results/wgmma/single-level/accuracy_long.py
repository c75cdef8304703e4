#!/usr/bin/env python3
"""Accuracy of one sagegen library at long N against an fp32 SDPA reference (gpu_check's metrics:
cos, rel L1, RMSE, NaN/Inf counts), Gaussian inputs and Gaussian with a K bias (the case smoothing exists for).

    python3 results/wgmma/single-level/accuracy_long.py --lib .carry/s/cur/lib/libsagegen.so --out acc-cur.json
"""
import argparse
import datetime
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "runtime", "test"))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from gpu_check import output_metrics, sagegen, _lib  # noqa: E402  (the checks' metrics: nan/inf counted, cos, rel L1, RMSE)

ap = argparse.ArgumentParser()
ap.add_argument("--lib", required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--seqs", default="8192,32768")
args = ap.parse_args()
_lib.load_library(args.lib)
rows = []
for n in [int(x) for x in args.seqs.split(",")]:
    for dist in ("gaussian", "k_bias"):
        g = torch.Generator(device="cuda").manual_seed(n)
        q, k, v = (torch.randn(1, 8, n, 128, device="cuda", generator=g) for _ in range(3))
        if dist == "k_bias":
            k = k + 4.0 * torch.randn(1, 8, 1, 128, device="cuda", generator=g)
        ref = F.scaled_dot_product_attention(q, k, v).double()
        o = torch.full_like(q, float("nan"), dtype=torch.float16)
        sagegen.sageattn(q.half(), k.half(), v.half(), tensor_layout="HND", out=o)
        torch.cuda.synchronize()
        m = output_metrics(o, ref)
        rows.append({"seq": n, "dist": dist, **m})
        print(f"{args.lib} N={n} {dist}: cos {m['cos']:.6f} rel_l1 {m['rel_l1']:.5f} rmse {m['rmse']:.5f} nan {m['nan']} inf {m['inf']}")
json.dump({"device": torch.cuda.get_device_name(), "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
           "commit": os.environ.get("SAGEGEN_COMMIT", "unknown"), "command": " ".join(sys.argv), "lib": args.lib,
           "shape": "B=1 H=8 D=128 fp16 HND non-causal", "rows": rows}, open(args.out, "w"), indent=1)
