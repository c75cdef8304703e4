#!/usr/bin/env python3
"""Session 24: host microseconds of sagegen's user-facing call, layer by layer, against torch SDPA's
cuDNN backend. 200 calls each without synchronisation, behind a spin kernel.

    python3 results/wgmma/session24/host/user_path.py --lib LIBDIR --out OUT.json
"""
import argparse
import datetime
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
# SAGEGEN_PYTHON_ROOT: another checkout's runtime/python, to time an older binding on the same machine
sys.path.insert(0, os.path.join(REPO, "runtime", "bench"))
sys.path.insert(0, os.environ.get("SAGEGEN_PYTHON_ROOT") or os.path.join(REPO, "runtime", "python"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402

import bench  # noqa: E402
import sagegen  # noqa: E402
from sagegen import _lib  # noqa: E402


def host_us(call, n=200):
    for _ in range(5):
        call()
    torch.cuda.synchronize()
    torch.cuda._sleep(3_000_000_000)
    t = time.perf_counter()
    for _ in range(n):
        call()
    dt = (time.perf_counter() - t) / n * 1e6
    torch.cuda.synchronize()
    return dt


def guarded(dev):
    with sagegen._device_guard(dev):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--out", required=True)
    o = ap.parse_args()
    info = bench.library_info(o.lib)[1]
    _lib.load_library(info["path"])
    rows = []
    dev = torch.device("cuda", 0)
    for d, causal, n in [(128, False, 1024), (64, True, 1024)]:
        q, k, v = (torch.randn(4, 32, n, d, device="cuda", dtype=torch.float16) for _ in range(3))
        run, _, _ = sagegen.prepare(q, k, v, "HND", causal)
        with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
            cudnn = host_us(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal))
        row = dict(head_dim=d, causal=causal, seq=n,
                   sageattn=host_us(lambda: sagegen.sageattn(q, k, v, "HND", causal)),
                   sageattn_eager=host_us(lambda: sagegen._sageattn_eager(q, k, v, "HND", causal, None, False)),
                   prepared_run=host_us(run),
                   problem_checks=host_us(lambda: sagegen._problem(q, k, v, "HND", None)),
                   device_guard=host_us(lambda: guarded(dev)),
                   current_stream=host_us(lambda: torch.cuda.current_stream(dev).cuda_stream),
                   raw_stream=host_us(lambda: torch._C._cuda_getCurrentRawStream(0)),
                   empty_o=host_us(lambda: torch.empty(q.shape, dtype=q.dtype, device=q.device)),
                   new_args=host_us(lambda: _lib.new_args(_lib.get_library())),
                   cudnn=cudnn)
        rows.append(row)
        print(json.dumps({k: (round(x, 2) if isinstance(x, float) else x) for k, x in row.items()}), flush=True)
    with open(o.out, "w") as f:
        json.dump(dict(device=torch.cuda.get_device_name(0), torch=torch.__version__, binding=os.path.dirname(sagegen.__file__),
                       date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                       commit=os.environ.get("SAGEGEN_COMMIT", "unknown"), lib=info["path"], command=" ".join(sys.argv), rows=rows), f, indent=1)


if __name__ == "__main__":
    main()
