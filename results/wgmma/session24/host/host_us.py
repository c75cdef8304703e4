#!/usr/bin/env python3
"""Session 24: host microseconds per sagegen call, split by layer: the Python run() closure (device
guard, stream handle, ctypes), the C entry point called straight through ctypes, and each phase alone.
200 calls each without synchronisation, behind a spin kernel so the launch queue never drains into
the timing.

    python3 results/wgmma/session24/host/host_us.py --lib LIBDIR --out OUT.json
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
sys.path.insert(0, os.path.join(REPO, "runtime", "python"))
sys.path.insert(0, os.path.join(REPO, "runtime", "bench"))

import torch  # noqa: E402

import bench  # noqa: E402
import sagegen  # noqa: E402
from sagegen import Phase, _lib  # noqa: E402


def host_us(call, n=200):
    torch.cuda._sleep(2_000_000_000)  # ~1 s of GPU work ahead of the calls
    t = time.perf_counter()
    for _ in range(n):
        call()
    dt = (time.perf_counter() - t) / n * 1e6
    torch.cuda.synchronize()
    return dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--out", required=True)
    o = ap.parse_args()
    info = bench.library_info(o.lib)[1]
    lib = _lib.load_library(info["path"])
    rows = []
    for d, causal, n in [(128, False, 1024), (128, True, 1024), (128, False, 4096), (64, False, 1024), (64, True, 1024)]:
        q, k, v = (torch.randn(4, 32, n, d, device="cuda", dtype=torch.float16) for _ in range(3))
        run, _, _ = sagegen.prepare(q, k, v, "HND", causal)
        run()
        torch.cuda.synchronize()
        # the same call straight through ctypes: the closure's args and stream, no Python layer above
        args = next(c.cell_contents for c in run.__closure__ if hasattr(c.cell_contents, "_fields_"))
        stream = torch.cuda.current_stream().cuda_stream
        direct = lambda: lib.sagegen_forward_phases(ctypes.byref(args), ctypes.c_void_p(stream), 3)  # noqa: E731
        row = dict(head_dim=d, causal=causal, seq=n,
                   run_all=host_us(run), run_quantize=host_us(lambda: run(Phase.QUANTIZE)),
                   run_attention=host_us(lambda: run(Phase.ATTENTION)), ctypes_all=host_us(direct),
                   current_stream=host_us(lambda: torch.cuda.current_stream().cuda_stream))
        rows.append(row)
        print(json.dumps({k: (round(x, 2) if isinstance(x, float) else x) for k, x in row.items()}), flush=True)
    with open(o.out, "w") as f:
        json.dump(dict(device=torch.cuda.get_device_name(0), date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                       commit=os.environ.get("SAGEGEN_COMMIT", "unknown"), lib=info["path"], command=" ".join(sys.argv), rows=rows), f, indent=1)


if __name__ == "__main__":
    main()
