#!/usr/bin/env python3
"""Same-run A/B timing of sagegen libraries, interleaved so clock and power drift hit every side.

    python3 runtime/bench/ab.py --lib generated/base --lib generated/candidate \\
        --head-dims 128 --seqs 4096,16384 --causal false --out ab.json

bench.py times each library once per shape, one after the other; on the H100 a 700 W card drifts by
several percent over the seconds that takes (power and temperature move its clocks), which is as
large as the differences these comparisons look for. Here every library is timed `--rounds` times per
shape, the order rotated each round, each round a median of `--reps` launches, kernel only and whole
call; the report gives the median over rounds and the spread (min/max of the round medians), and each
library's ratio to the first. Not a benchmark of record: bench.py, beside torch, is that.
"""
import argparse
import datetime
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402

import bench  # noqa: E402  (input_sets, gpu_state, commit, library_infos; puts runtime/python on the path)
import sagegen  # noqa: E402
from sagegen import Phase, _lib  # noqa: E402
import shapes as shape_list  # noqa: E402


def median_ms(launch, reps):
    times = []
    for _ in range(reps):
        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        begin.record()
        launch()
        end.record()
        end.synchronize()
        times.append(begin.elapsed_time(end))
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lib", action="append", required=True, help="generated/<target> dir or libsagegen.so (repeatable; the first is the reference)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--head-dims", default="128")
    ap.add_argument("--seqs", default="4096,16384")
    ap.add_argument("--causal", default="false", choices=["both", "true", "false"])
    ap.add_argument("--dtype", default="fp16", choices=["fp16", "bf16"])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--reps", type=int, default=25)
    args = ap.parse_args()

    libs = bench.library_infos(args.lib)
    causals = {"both": [False, True], "true": [True], "false": [False]}[args.causal]
    report = {"device": torch.cuda.get_device_name(0), "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "commit": bench.commit(), "command": " ".join([os.path.relpath(sys.argv[0], bench.REPO)] + sys.argv[1:]),
              "gpu_before": bench.gpu_state(), "rounds": args.rounds, "reps": args.reps,
              "libraries": {label: info for label, info in libs}, "rows": []}
    for d in [int(x) for x in args.head_dims.split(",")]:
        for causal in causals:
            for n in [int(x) for x in args.seqs.split(",")]:
                shape = dict(batch=4, heads=32, seq=n, head_dim=d, causal=causal, dtype=args.dtype)
                sets = bench.input_sets(shape)
                runs = {}
                for label, info in libs:
                    _lib.load_library(info["path"])
                    prepared = [sagegen.prepare(q, k, v, "HND", causal) for q, k, v in sets]
                    for run, _, _ in prepared:
                        run(Phase.ALL)
                    runs[label] = [run for run, _, _ in prepared]
                torch.cuda.synchronize()
                samples = {label: {"kernel": [], "whole": []} for label, _ in libs}
                for r in range(args.rounds + 1):  # round 0 warms every library up and is dropped
                    order = [libs[(i + r) % len(libs)][0] for i in range(len(libs))]
                    for label in order:
                        rs = runs[label]
                        for mode, phase in (("kernel", Phase.ATTENTION), ("whole", Phase.ALL)):
                            i = [0]

                            def launch(rs=rs, phase=phase, i=i):
                                rs[i[0] % len(rs)](phase)
                                i[0] += 1
                            ms = median_ms(launch, args.reps)
                            if r > 0:
                                samples[label][mode].append(ms)
                row = dict(shape=shape, libraries={})
                ref = None
                line = []
                for label, _ in libs:
                    entry = {}
                    for mode in ("kernel", "whole"):
                        xs = samples[label][mode]
                        med = statistics.median(xs)
                        entry[mode] = dict(median_ms=med, min_ms=min(xs), max_ms=max(xs), rounds_ms=xs,
                                           tops=shape_list.tops(4, 32, n, d, causal, med / 1e3))
                    ref = ref or entry
                    entry["kernel_vs_first"] = ref["kernel"]["median_ms"] / entry["kernel"]["median_ms"]
                    entry["whole_vs_first"] = ref["whole"]["median_ms"] / entry["whole"]["median_ms"]
                    row["libraries"][label] = entry
                    line.append(f"{label}: kernel {entry['kernel']['tops']:.1f} ({entry['kernel_vs_first']:.3f}x, "
                                f"spread {100 * (entry['kernel']['max_ms'] / entry['kernel']['min_ms'] - 1):.1f}%) "
                                f"whole {entry['whole']['tops']:.1f} ({entry['whole_vs_first']:.3f}x)")
                report["rows"].append(row)
                print(f"D={d} N={n} causal={causal} {args.dtype}:\n  " + "\n  ".join(line), flush=True)
                del runs, sets
                torch.cuda.empty_cache()
    report["gpu_after"] = bench.gpu_state()
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
