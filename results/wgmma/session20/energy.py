#!/usr/bin/env python3
"""Energy per call and the clocks a kernel runs at, beside cuDNN (session 20).

At N >= 8K the H100 runs these kernels at its power cap (bench.py's nvidia-smi snapshots read
~690 W and 1.6-1.8 GHz against 1.98 GHz at 4K). This measures, for sagegen's attention kernel,
sagegen's whole call and torch's cuDNN SDPA, each over a back-to-back stretch of launches: the
time per call, the board energy per call (NVML's total-energy counter), the average power and the
SM clock sampled during the stretch. TOP/s per GHz and TOP per joule say how much of the distance
to a target is clock (power) and how much is work per cycle.

    python3 results/wgmma/session20/energy.py --lib .carry/s/tuned --out energy.json
"""
import argparse
import ctypes
import datetime
import json
import os
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "runtime", "bench"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402

import bench  # noqa: E402
import sagegen  # noqa: E402
from sagegen import Phase, _lib  # noqa: E402


class Nvml:
    def __init__(self):
        self.lib = ctypes.CDLL("libnvidia-ml.so.1")
        assert self.lib.nvmlInit_v2() == 0
        self.dev = ctypes.c_void_p()
        assert self.lib.nvmlDeviceGetHandleByIndex_v2(0, ctypes.byref(self.dev)) == 0

    def energy_mj(self):
        v = ctypes.c_ulonglong()
        assert self.lib.nvmlDeviceGetTotalEnergyConsumption(self.dev, ctypes.byref(v)) == 0
        return v.value

    def sm_mhz(self):
        v = ctypes.c_uint()
        assert self.lib.nvmlDeviceGetClockInfo(self.dev, 1, ctypes.byref(v)) == 0  # NVML_CLOCK_SM
        return v.value

    def power_w(self):
        v = ctypes.c_uint()
        assert self.lib.nvmlDeviceGetPowerUsage(self.dev, ctypes.byref(v)) == 0
        return v.value / 1e3


def stretch(nvml, launch, seconds):
    """Launch back to back for about `seconds`; energy, time and sampled clocks of the whole stretch."""
    for _ in range(3):
        launch()
    torch.cuda.synchronize()
    # Warm up so the clocks settle under this kernel.
    t_end = time.time() + 0.5
    while time.time() < t_end:
        launch()
    torch.cuda.synchronize()
    samples, stop = [], threading.Event()

    def sample():
        while not stop.is_set():
            samples.append((nvml.sm_mhz(), nvml.power_w()))
            time.sleep(0.01)
    th = threading.Thread(target=sample)
    begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    e0 = nvml.energy_mj()
    th.start()
    begin.record()
    calls = 0
    t_end = time.time() + seconds
    while time.time() < t_end:
        launch()
        calls += 1
    end.record()
    end.synchronize()
    e1 = nvml.energy_mj()
    stop.set()
    th.join()
    ms = begin.elapsed_time(end)
    return dict(calls=calls, ms_per_call=ms / calls, joules_per_call=(e1 - e0) / 1e3 / calls,
                avg_power_w=(e1 - e0) / ms, sm_mhz_median=statistics.median(s[0] for s in samples),
                sm_mhz_min=min(s[0] for s in samples), sm_mhz_max=max(s[0] for s in samples), samples=len(samples))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--shapes", default="128:4096,128:8192,128:16384,64:8192,64:16384", help="headdim:seq, non-causal, fp16")
    ap.add_argument("--seconds", type=float, default=2.0)
    opts = ap.parse_args()
    info = bench.library_info(opts.lib)[1]
    _lib.load_library(info["path"])
    nvml = Nvml()
    rows = []
    for item in opts.shapes.split(","):
        d, n = (int(x) for x in item.split(":"))
        q, k, v = (torch.randn(4, 32, n, d, device="cuda", dtype=torch.float16) for _ in range(3))
        run, _, _ = sagegen.prepare(q, k, v, "HND", False)
        # The attention phase alone reads the workspace the quantization phase writes: fill it first
        # (session 20's first run timed the kernel on a workspace nothing had written, which reads
        # as 444 W at 1980 MHz: zeros draw little power).
        run(Phase.ALL)
        torch.cuda.synchronize()
        ops = 4 * 4 * 32 * n * n * d
        sides = {
            "sagegen kernel": lambda: run(Phase.ATTENTION),
            "sagegen whole": lambda: run(Phase.ALL),
        }

        def cudnn(q=q, k=k, v=v):
            with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
                F.scaled_dot_product_attention(q, k, v)
        sides["torch-cudnn whole"] = cudnn
        for name, launch in sides.items():
            r = stretch(nvml, launch, opts.seconds)
            r.update(head_dim=d, seq=n, side=name, tops=ops / (r["ms_per_call"] * 1e-3) / 1e12)
            r["tops_per_ghz"] = r["tops"] / (r["sm_mhz_median"] / 1e3)
            r["tera_ops_per_joule"] = ops / r["joules_per_call"] / 1e12
            rows.append(r)
            print(f"D={d} N={n} {name:18s} {r['tops']:7.1f} TOP/s  {r['sm_mhz_median']:5.0f} MHz ({r['sm_mhz_min']}-{r['sm_mhz_max']})  "
                  f"{r['avg_power_w']:5.0f} W  {r['tops_per_ghz']:6.1f} TOP/s/GHz  {r['tera_ops_per_joule']:5.2f} TOP/J", flush=True)
        del q, k, v, run
        torch.cuda.empty_cache()
    report = dict(device=torch.cuda.get_device_name(0), date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                  commit=bench.commit(), command=" ".join(["results/wgmma/session20/energy.py"] + sys.argv[1:]),
                  library=info, rows=rows)
    with open(opts.out, "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
