#!/usr/bin/env python3
"""A library holding no variant for this GPU answers with a status, not a launch failure.

    python3 runtime/test/check_foreign_arch.py LIB.so [--out result.json]

LIB.so is built for archs this device cannot run (e.g. `sagegen build --arch sm_120 --headdim 64` on
an H100). The call must raise SagegenError with SAGEGEN_STATUS_NO_VARIANT, a message naming the
device's arch and the archs built, leave the poisoned output untouched, and leave the CUDA context
usable (a torch op after it still runs). Exit 0 when all hold.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "runtime", "python"))

import torch  # noqa: E402

import sagegen  # noqa: E402
from sagegen import _lib  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lib")
    ap.add_argument("--out")
    opts = ap.parse_args()
    _lib.load_library(opts.lib)
    major, minor = torch.cuda.get_device_capability()
    device_arch = f"sm_{major}{minor}"
    built = _lib.decode(_lib.get_library().sagegen_archs())
    q, k, v = (torch.randn(1, 2, 128, 64, device="cuda", dtype=torch.float16) for _ in range(3))
    o = torch.full_like(q, float("nan"))
    checks = {}
    try:
        sagegen.sageattn(q, k, v, out=o)
        checks["raised SagegenError"] = (False, "no error")
    except sagegen.SagegenError as e:
        msg = str(e)
        checks["raised SagegenError"] = (True, msg)
        checks["status NO_VARIANT"] = (e.status == sagegen.Status.NO_VARIANT, int(e.status))
        checks["message names the device arch"] = (device_arch in msg, device_arch)
        checks["message names the archs built"] = (all(a in msg for a in built.split(",")), built)
    torch.cuda.synchronize()
    checks["output untouched (still NaN)"] = (bool(torch.isnan(o).all()), "")
    checks["CUDA context usable afterwards"] = (float((q @ q.transpose(-1, -2)).float().sum().isfinite()) == 1.0, "")
    passed = all(ok for ok, _ in checks.values())
    for name, (ok, detail) in checks.items():
        print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}")
    commit = os.environ.get("SAGEGEN_COMMIT") or subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    report = {"device": torch.cuda.get_device_name(), "capability": f"{major}.{minor}", "library_archs": built,
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "commit": commit or "unknown",
              "command": " ".join([os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:]),
              "checks": {n: {"ok": ok, "detail": d} for n, (ok, d) in checks.items()}, "passed": passed}
    if opts.out:
        with open(opts.out, "w") as f:
            json.dump(report, f, indent=1)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
