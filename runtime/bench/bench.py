#!/usr/bin/env python3
"""Benchmark of sagegen's kernels beside torch's attention, in one run, on a CUDA machine.

    python3 runtime/bench/bench.py --lib generated/sm_90a_d64-128 [--lib generated/sm_89_d64-128 ...] \\
        --out results/bench/h100.json [--quick] [--head-dims 128] [--dtypes fp16] [--seqs 4096,16384]

Times, for every shape of shapes.py (B=4, H=32, D 64/128, N 1K..32K, causal or not, fp16/bf16):
  - sagegen, kernel only: the attention kernel on inputs quantized beforehand (sagegen_forward_phases
    with SAGEGEN_PHASE_ATTENTION after one SAGEGEN_PHASE_QUANTIZE);
  - sagegen, whole: quantization kernels + attention through a prepared call (sagegen.prepare: output
    and workspace allocated once), the GPU work of a call and the library's own host path;
  - sagegen, api: sagegen.sageattn(q, k, v) as a program calls it, with the binding's checks and
    per-call allocations: what a user's call costs, timed the way torch's backends are;
  - torch.nn.functional.scaled_dot_product_attention with the FlashAttention-2 backend and with cuDNN.
TOP/s = 4·B·H·N²·D / time (half for causal). Each timing: warm-up (500 ms of back-to-back launches, so
the clocks settle under that kernel's own power draw), then every launch timed with its own CUDA
events, median reported, and the SM clock and power read right after; inputs rotate over enough sets that together exceed 4× the L2, so no
launch runs from cache. Writes the raw JSON (streamed after every shape), then the Markdown table and
SVG chart through report.py.
"""
import argparse
import datetime
import json
import math
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "runtime", "python"))
sys.path.insert(0, HERE)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402

import sagegen  # noqa: E402
from sagegen import Phase, _lib  # noqa: E402
import shapes as shape_list  # noqa: E402
from libraries import library_info, library_infos  # noqa: E402,F401  (ab.py and the session scripts use them from here)

DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}
SAGEGEN_MODES = ("kernel", "whole", "api")  # what bench_sagegen times, in report order
# Warm-up: each kernel runs back to back for WARMUP_MS before it is timed. On the lent H100 both
# sagegen's and torch's kernels run at the card's 700 W power cap, where the SM clock a kernel gets
# depends on its own power draw (1830 MHz for sagegen's D=128 kernel, 1620 MHz for FlashAttention-2:
# results/bench/experiments/clocks-*.json). A 25 ms warm-up left each kernel at the clock of the one
# measured before it, so long launches read up to 8% low or high by their place in the order
# (NOTES.md, item 29).
WARMUP_MS = 500.0
REP_MS = 300.0
MIN_REPS = 10
MAX_REPS = 200
L2_MULTIPLE = 4


def gpu_state():
    """Clocks, temperature and power as nvidia-smi reads them now (the card's state is left alone)."""
    fields = "clocks.sm,clocks.mem,temperature.gpu,power.draw"
    try:
        out = subprocess.run(["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20).stdout.strip().splitlines()[0]
        sm, mem, temp, power = [x.strip() for x in out.split(",")]
        return {"sm_mhz": float(sm), "mem_mhz": float(mem), "temp_c": float(temp), "power_w": float(power)}
    except Exception as e:  # noqa: BLE001 - reported, never fatal
        return {"error": str(e)}


def driver_version():
    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=20).stdout.strip().splitlines()[0]
    except Exception:  # noqa: BLE001
        return "unknown"


def commit():
    if os.environ.get("SAGEGEN_COMMIT"):
        return os.environ["SAGEGEN_COMMIT"]
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip() or "unknown"
    except Exception:  # noqa: BLE001
        return "unknown"


TIMING = {"warmup_ms": WARMUP_MS, "rep_ms": REP_MS, "min_reps": MIN_REPS}


def time_launches(launches):
    """Median and min milliseconds of one launch, and the card's state right after the timed launches;
    `launches` are callables rotated in turn."""
    i = 0
    start = time.perf_counter()
    while True:  # warm-up: module load, JIT, allocator, and the clocks settling under this kernel
        launches[i % len(launches)]()
        i += 1
        torch.cuda.synchronize()
        if i >= 3 and (time.perf_counter() - start) * 1e3 >= TIMING["warmup_ms"]:
            break
    events = []
    spent = 0.0
    while len(events) < MAX_REPS and (len(events) < TIMING["min_reps"] or spent < TIMING["rep_ms"]):
        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        begin.record()
        launches[len(events) % len(launches)]()
        end.record()
        end.synchronize()
        ms = begin.elapsed_time(end)
        events.append(ms)
        spent += ms
    return statistics.median(events), min(events), len(events), gpu_state()


def input_sets(shape):
    """Enough independent (q, k, v) sets that together they exceed L2_MULTIPLE × the L2 cache."""
    b, h, n, d = shape["batch"], shape["heads"], shape["seq"], shape["head_dim"]
    dt = DTYPES[shape["dtype"]]
    set_bytes = 3 * b * h * n * d * torch.finfo(dt).bits // 8
    l2 = torch.cuda.get_device_properties(0).L2_cache_size
    count = max(1, min(8, math.ceil(L2_MULTIPLE * l2 / set_bytes)))
    return [[torch.randn(b, h, n, d, device="cuda", dtype=dt) for _ in range(3)] for _ in range(count)]


def result(kernel, library, mode, shape, timing=None, error=None):
    median, low, reps, state = timing if timing else (None, None, 0, None)
    seconds = median / 1e3 if median else None
    return dict(kernel=kernel, library=library, mode=mode, **shape, median_ms=median, min_ms=low, reps=reps,
                tops=shape_list.tops(shape["batch"], shape["heads"], shape["seq"], shape["head_dim"], shape["causal"], seconds),
                error=error, gpu_after=state)


def bench_sagegen(label, lib_path, shape, sets):
    """Timings of one library; errors are recorded, not raised. Modes: "kernel", the attention kernel
    alone on the quantized workspace; "whole", quantization and attention through a prepared call
    (buffers allocated once); "api", sagegen.sageattn(q, k, v) as a program calls it, its checks,
    output and workspace allocations and host path included (what torch's backends are timed as)."""
    try:
        _lib.load_library(lib_path)
        prepared = [sagegen.prepare(q, k, v, "HND", shape["causal"]) for q, k, v in sets]
        for run, _, _ in prepared:
            run(Phase.QUANTIZE)
        torch.cuda.synchronize()
        kernel = time_launches([lambda r=run: r(Phase.ATTENTION) for run, _, _ in prepared])
        whole = time_launches([lambda r=run: r(Phase.ALL) for run, _, _ in prepared])
        # A kernel that wrote NaN is not a kernel worth timing: say so in the results.
        bad = any(not torch.isfinite(o).all() for _, o, _ in prepared)
        err = "output has NaN/Inf" if bad else None
        del prepared
        rows = [result("sagegen", label, "kernel", shape, kernel, err), result("sagegen", label, "whole", shape, whole, err)]
    except Exception as e:  # noqa: BLE001
        msg = f"{type(e).__name__}: {e}"
        return [result("sagegen", label, mode, shape, error=msg) for mode in SAGEGEN_MODES]
    try:  # (its own failure leaves the two figures above standing)
        api = time_launches([lambda q=q, k=k, v=v: sagegen.sageattn(q, k, v, "HND", shape["causal"]) for q, k, v in sets])
        api_err = "output has NaN/Inf" if not torch.isfinite(sagegen.sageattn(*sets[0], "HND", shape["causal"])).all() else None
        return rows + [result("sagegen", label, "api", shape, api, api_err)]
    except Exception as e:  # noqa: BLE001
        return rows + [result("sagegen", label, "api", shape, error=f"{type(e).__name__}: {e}")]


def bench_torch(backend, name, shape, sets):
    try:
        with sdpa_kernel(backend):
            timing = time_launches([lambda q=q, k=k, v=v: F.scaled_dot_product_attention(q, k, v, is_causal=shape["causal"])
                                    for q, k, v in sets])
        return result(name, None, "whole", shape, timing)
    except Exception as e:  # noqa: BLE001
        return result(name, None, "whole", shape, error=f"{type(e).__name__}: {str(e).splitlines()[0][:200]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lib", action="append", required=True, help="generated/<target> dir or libsagegen.so (repeatable)")
    ap.add_argument("--out", required=True, help="raw JSON path; .md and .svg are written beside it")
    ap.add_argument("--quick", action="store_true", help="N in {1K, 4K, 16K}, fp16 only")
    ap.add_argument("--head-dims", default="64,128")
    ap.add_argument("--dtypes", default="fp16,bf16")
    ap.add_argument("--seqs", default=None, help="override the sequence lengths, comma-separated")
    ap.add_argument("--causal", default="both", choices=["both", "true", "false"])
    ap.add_argument("--no-torch", action="store_true", help="skip torch's backends (never for reported results)")
    ap.add_argument("--warmup-ms", type=float, default=WARMUP_MS, help="back-to-back launches before each timing (clocks settle)")
    ap.add_argument("--rep-ms", type=float, default=REP_MS, help="time budget of the timed launches")
    ap.add_argument("--min-reps", type=int, default=MIN_REPS, help="timed launches at least")
    opts = ap.parse_args()
    TIMING.update(warmup_ms=opts.warmup_ms, rep_ms=opts.rep_ms, min_reps=opts.min_reps)

    libs = dict(library_infos(opts.lib))
    todo = shape_list.shapes(quick=opts.quick, head_dims=tuple(int(x) for x in opts.head_dims.split(",")),
                             dtypes=tuple(opts.dtypes.split(",")))
    if opts.seqs:
        keep = {int(x) for x in opts.seqs.split(",")}
        todo = [s for s in todo if s["seq"] in keep]
    if opts.causal != "both":
        todo = [s for s in todo if s["causal"] == (opts.causal == "true")]

    raw = {
        "device": torch.cuda.get_device_name(0),
        "capability": "%d.%d" % torch.cuda.get_device_capability(0),
        "driver": driver_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "date": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
        "commit": commit(),
        "command": [os.path.basename(sys.executable)] + sys.argv,
        "clocks_before": gpu_state(),
        "timing": {"method": "CUDA events around each launch, median; warm-up first (back to back, so the clocks settle "
                             "under the kernel timed); inputs rotated over sets > 4x L2; gpu_after: nvidia-smi right after "
                             "each timing",
                   **TIMING},
        "libraries": libs,
        "results": [],
    }
    os.makedirs(os.path.dirname(os.path.abspath(opts.out)), exist_ok=True)
    for i, shape in enumerate(todo):
        torch.manual_seed(1234 + i)
        sets = input_sets(shape)
        rows = []
        for label, info in libs.items():
            rows += bench_sagegen(label, info["path"], shape, sets)
        if not opts.no_torch:
            rows.append(bench_torch(SDPBackend.FLASH_ATTENTION, "torch-flash", shape, sets))
            rows.append(bench_torch(SDPBackend.CUDNN_ATTENTION, "torch-cudnn", shape, sets))
        raw["results"] += rows
        del sets
        torch.cuda.empty_cache()
        line = "  ".join(f"{r['kernel'].replace('torch-', '')}{'/' + r['mode'] if r['kernel'] == 'sagegen' else ''}"
                         f"{'@' + r['library'] if r['library'] and len(libs) > 1 else ''}="
                         f"{'%.1f' % r['tops'] if r['tops'] else 'ERR'}" for r in rows)
        print(f"[{i + 1}/{len(todo)}] D={shape['head_dim']} N={shape['seq']} causal={shape['causal']} {shape['dtype']}: {line}", flush=True)
        with open(opts.out, "w") as f:
            json.dump(raw, f, indent=1)
    raw["clocks_after"] = gpu_state()
    with open(opts.out, "w") as f:
        json.dump(raw, f, indent=1)
    try:
        import report
        stem = os.path.splitext(os.path.basename(opts.out))[0]
        for p in report.write_reports(raw, os.path.dirname(os.path.abspath(opts.out)), stem):
            print("wrote", p)
    except ImportError as e:
        print(f"report.py unavailable ({e}); raw JSON only", file=sys.stderr)


if __name__ == "__main__":
    main()
