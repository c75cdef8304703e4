#!/usr/bin/env python3
"""Session 25: host microseconds a call of sagegen.sageattn(q, k, v) takes on this machine, for the
binding under SAGEGEN_PYTHON_ROOT (another checkout's runtime/python) or this checkout's, beside the
prepared call and torch SDPA's cuDNN backend. 200 calls each without synchronisation, queued behind a
spin kernel, so only the host's time is counted.

sagegen is imported before bench.py, which puts this checkout's runtime/python first on the path:
session 24's user_path.py imported bench first, so both of its "before" and "after" runs timed this
checkout's binding. The JSON records which binding ran (`binding`), and this script stops if it is not
the one asked for.

    [SAGEGEN_PYTHON_ROOT=DIR] python3 results/wgmma/session25/host_us.py --lib LIBDIR --out OUT.json
"""
import argparse
import datetime
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
ROOT = os.path.abspath(os.environ.get("SAGEGEN_PYTHON_ROOT") or os.path.join(REPO, "runtime", "python"))
sys.path.insert(0, ROOT)

import sagegen  # noqa: E402  (first: see above)
from sagegen import _lib  # noqa: E402

if not os.path.abspath(sagegen.__file__).startswith(ROOT + os.sep):
    sys.exit(f"imported {sagegen.__file__}, not the binding under {ROOT}")

sys.path.insert(1, os.path.join(REPO, "runtime", "bench"))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402

import bench  # noqa: E402

sys.path.insert(1, os.path.join(REPO, "results", "wgmma", "session24", "host"))
from user_path import host_us  # noqa: E402  (its timing loop: 5 warm-up calls, then 200 behind a spin kernel)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--out", required=True)
    o = ap.parse_args()
    info = bench.library_info(o.lib)[1]
    _lib.load_library(info["path"])
    rows = []
    for d, causal, n in [(128, False, 1024), (64, True, 1024)]:
        q, k, v = (torch.randn(4, 32, n, d, device="cuda", dtype=torch.float16) for _ in range(3))
        run, _, _ = sagegen.prepare(q, k, v, "HND", causal)
        with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
            cudnn = host_us(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal))
        row = dict(head_dim=d, causal=causal, seq=n,
                   sageattn=host_us(lambda: sagegen.sageattn(q, k, v, "HND", causal)),
                   sageattn_lse=host_us(lambda: sagegen.sageattn(q, k, v, "HND", causal, return_lse=True)),
                   prepared_run=host_us(run),
                   empty_o=host_us(lambda: torch.empty(q.shape, dtype=q.dtype, device=q.device)),
                   cudnn=cudnn)
        rows.append(row)
        print(json.dumps({k: (round(x, 2) if isinstance(x, float) else x) for k, x in row.items()}), flush=True)
    with open(o.out, "w") as f:
        json.dump(dict(device=torch.cuda.get_device_name(0), torch=torch.__version__, binding=os.path.dirname(os.path.abspath(sagegen.__file__)),
                       date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                       commit=os.environ.get("SAGEGEN_COMMIT", "unknown"), lib=info["path"], command=" ".join(sys.argv), rows=rows), f, indent=1)


if __name__ == "__main__":
    main()
