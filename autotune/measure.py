#!/usr/bin/env python3
"""Measures every candidate of an autotuning bundle on this GPU: accuracy gate first, then timing.

    python3 autotune/measure.py BUNDLE_DIR --out results.jsonl [--seqs 1024,4096,16384] [--device 0] [--warmup-ms 25]

BUNDLE_DIR is what `sagegen autotune --compile-only` writes: lib/libsagegen.so holding every
candidate variant and manifest.json with their specs. For each candidate (in the order of the
manifest) and each sequence-length bucket:

1. accuracy gate, on fresh inputs with a large per-channel K bias (B=1, H=8, N=min(seq, 2048)),
   against a float64 reference: cosine and relative L1 must meet the floor of shared/accuracy plus
   10% (cos >= 0.9990, rel L1 <= 0.043). A candidate that fails is recorded as rejected with its
   metrics and is never timed;
2. timing of the attention kernel alone and of the whole call (B=4, H=32), CUDA events, median;
3. with --refine-rounds R: each bucket's candidates within --refine-margin of the fastest whole call
   (at most --refine-max) timed again in R interleaved rounds, recorded with a "refined" member that
   the selection prefers (sweep.refine_sweep; the native runner's --refine-rounds).

Every record is appended to --out as one JSON line as soon as it exists, so a killed run resumes
where it stopped: records already in the file are skipped. Several GPUs: run one process per device
(--device i --shard i/n), each with its own --out; `sagegen autotune --select` reads them all.
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
REPO = os.path.abspath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(REPO, "runtime", "python"))
sys.path.insert(0, os.path.join(REPO, "runtime", "bench"))
sys.path.insert(0, HERE)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import sagegen  # noqa: E402
from sagegen import Phase, _lib  # noqa: E402
import shapes as shape_list  # noqa: E402
from sweep import previous_records, refine_sweep, run_sweep  # noqa: E402

GATE = {"cos": 0.9990, "rel_l1": 0.043}
GATE_SEQ = 2048
# Every candidate is gated on the same inputs, so a borderline candidate is judged like its rivals.
GATE_SEED = 1000
DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}
WARMUP_MS, REP_MS, MIN_REPS = 25.0, 100.0, 5  # WARMUP_MS: the default of --warmup-ms, as the native runner's


def reference(q, k, v, causal, scale):
    """float64 attention, bottom-right causal; q/k/v [B, H, N, D] (no GQA in the gate)."""
    s = (q.double() @ k.double().transpose(-1, -2)) * scale
    if causal:
        nq, nk = s.shape[-2], s.shape[-1]
        i = torch.arange(nq, device=s.device)[:, None]
        j = torch.arange(nk, device=s.device)[None, :]
        s = s.masked_fill(j > i + (nk - nq), float("-inf"))
    return torch.softmax(s, dim=-1) @ v.double()


def gate(index, spec, seed):
    """Accuracy of one candidate on K-bias inputs; returns (passed, metrics)."""
    g = torch.Generator(device="cuda").manual_seed(seed)
    d, dt = spec["headDim"], DTYPES[spec["dtype"]]
    shape = (1, 8, GATE_SEQ, d)
    q = torch.randn(*shape, generator=g, device="cuda")
    k = torch.randn(*shape, generator=g, device="cuda") + 6 * torch.randn(1, 1, 1, d, generator=g, device="cuda")
    v = torch.randn(*shape, generator=g, device="cuda")
    q, k, v = q.to(dt), k.to(dt), v.to(dt)
    run, o, _ = sagegen.prepare(q, k, v, "HND", spec["causal"], variant=index)
    o.fill_(float("nan"))
    run()
    torch.cuda.synchronize()
    ref = reference(q, k, v, spec["causal"], d ** -0.5).flatten()
    out = o.double().flatten()
    bad = int((~torch.isfinite(out)).sum())
    cos = float(F.cosine_similarity(torch.nan_to_num(out), ref, dim=0))
    rel = float((torch.nan_to_num(out, nan=1e9) - ref).abs().sum() / ref.abs().sum())
    m = {"cos": round(cos, 6), "rel_l1": round(rel, 5), "nonfinite": bad}
    return bad == 0 and cos >= GATE["cos"] and rel <= GATE["rel_l1"], m


def time_ms(fn, warmup_ms):
    start = time.perf_counter()
    n = 0
    while n < 3 or (time.perf_counter() - start) * 1e3 < warmup_ms:
        fn()
        torch.cuda.synchronize()
        n += 1
    times, spent = [], 0.0
    while len(times) < MIN_REPS or spent < REP_MS:
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
        spent += times[-1]
    return statistics.median(times)


def timing(index, spec, seq, warmup_ms):
    b, h, d = shape_list.BATCH, shape_list.HEADS, spec["headDim"]
    dt = DTYPES[spec["dtype"]]
    # Rotate over enough input sets that together they exceed 4x the L2, so no launch runs from cache.
    set_bytes = 3 * b * h * seq * d * torch.finfo(dt).bits // 8
    sets = max(1, min(8, math.ceil(4 * torch.cuda.get_device_properties(torch.cuda.current_device()).L2_cache_size / set_bytes)))
    runs = []
    for _ in range(sets):
        q, k, v = (torch.randn(b, h, seq, d, device="cuda", dtype=dt) for _ in range(3))
        run, _, _ = sagegen.prepare(q, k, v, "HND", spec["causal"], variant=index)
        run(Phase.QUANTIZE)
        runs.append(run)
    turn = iter(range(1 << 62))
    kernel = time_ms(lambda: runs[next(turn) % sets](Phase.ATTENTION), warmup_ms)
    whole = time_ms(lambda: runs[next(turn) % sets](Phase.ALL), warmup_ms)
    ops = lambda ms: shape_list.tops(b, h, seq, d, spec["causal"], ms / 1e3)  # noqa: E731
    return {"kernel_ms": kernel, "whole_ms": whole, "kernel_tops": ops(kernel), "whole_tops": ops(whole), "warmup_ms": warmup_ms}


def measure_on_gpus(opts, gpus):
    """One worker per GPU, each on its share of the candidates with its own results file (so each
    resumes on its own), then every worker's records appended to --out once."""
    workers = []
    for i in range(gpus):
        part = f"{opts.out}.gpu{i}"
        cmd = [sys.executable, os.path.abspath(__file__), opts.bundle, "--out", part, "--seqs", opts.seqs,
               "--device", str(i), "--shard", f"{i}/{gpus}", "--gpus", "1", "--warmup-ms", str(opts.warmup_ms), "--refine-rounds", "0"]
        workers.append((part, subprocess.Popen(cmd)))
    failed = [part for part, w in workers if w.wait() != 0]
    if failed:
        print(f"workers failed: {', '.join(failed)} (rerun to resume them)", file=sys.stderr)
        return 1
    have = previous_records(opts.out)
    with open(opts.out, "a") as out:
        for part, _ in workers:
            for key, record in previous_records(part).items():
                if key not in have:
                    out.write(json.dumps(record) + "\n")
                    have[key] = record
    print(f"merged {len(workers)} workers into {opts.out}")
    if opts.refine_rounds:
        # the refinement compares every candidate of a bucket: once, on GPU 0, on the merged file
        # (its sweep finds everything measured and goes straight to the refinement)
        return subprocess.call([sys.executable, os.path.abspath(__file__), opts.bundle, "--out", opts.out, "--seqs", opts.seqs, "--device", "0",
                                "--gpus", "1", "--warmup-ms", str(opts.warmup_ms), "--refine-rounds", str(opts.refine_rounds),
                                "--refine-margin", str(opts.refine_margin), "--refine-max", str(opts.refine_max)])
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bundle")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seqs", default="1024,4096,16384", help="sequence-length buckets (their representative N)")
    ap.add_argument("--device", type=int, default=0)
    ap.add_argument("--shard", default="0/1", help="i/n: measure every n-th candidate starting at i (one process per GPU)")
    ap.add_argument("--gpus", default="1", help="'all' or a count: one worker process per GPU, results merged into --out")
    ap.add_argument("--warmup-ms", type=float, default=WARMUP_MS, help="back-to-back calls before each timing, in ms (bench.py uses 500)")
    ap.add_argument("--refine-rounds", type=int, default=0,
                    help="after the sweep, time each bucket's close candidates again in this many interleaved rounds (default 0: none)")
    ap.add_argument("--refine-margin", type=float, default=0.05, help="close: within this fraction of the bucket's fastest whole call (default 0.05)")
    ap.add_argument("--refine-max", type=int, default=4, help="at most this many close candidates per bucket (default 4)")
    opts = ap.parse_args()
    if not 0.0 <= opts.warmup_ms <= 60000.0:  # the native runner's rule
        ap.error(f'--warmup-ms = "{opts.warmup_ms:g}": must be milliseconds from 0 to 60000')
    # the native runner's rules for the refinement
    if not 0 <= opts.refine_rounds <= 100:
        ap.error(f'--refine-rounds = "{opts.refine_rounds}": must be a whole number of rounds from 0 (no refinement) to 100')
    if not 0.0 < opts.refine_margin <= 0.5:
        ap.error(f'--refine-margin = "{opts.refine_margin:g}": must be a fraction above 0 and at most 0.5 (0.05: within 5% of the fastest)')
    if not 2 <= opts.refine_max <= 16:
        ap.error(f'--refine-max = "{opts.refine_max}": must be from 2 to 16 candidates per bucket')
    if opts.refine_rounds and opts.shard != "0/1":
        ap.error(f"--refine-rounds with --shard {opts.shard}: refinement compares every candidate of a bucket; run it once, unsharded, on the merged results")
    gpus = torch.cuda.device_count() if opts.gpus == "all" else int(opts.gpus)
    if gpus > 1:
        return measure_on_gpus(opts, gpus)
    torch.cuda.set_device(opts.device)
    shard, shards = (int(x) for x in opts.shard.split("/"))

    _lib.load_library(os.path.join(opts.bundle, "lib", "libsagegen.so"))
    with open(os.path.join(opts.bundle, "manifest.json")) as f:
        manifest = json.load(f)
    specs = {v["name"]: v["spec"] for v in manifest["variants"]}
    ptxas = {v["name"]: [e for e in v["ptxas"] if e["kernel"] == "attentionKernel"] for v in manifest["variants"]}
    # The sha256 of each candidate's generated .cu: the tuned configuration keeps the winner's, so a
    # build can tell when its kernels are no longer the ones that were timed.
    missing = [v["name"] for v in manifest["variants"] if len(v.get("sourceSha256") or "") != 64]
    if missing:
        ap.error(f"{opts.bundle}/manifest.json: variant {missing[0]} has no sourceSha256 (a bundle of an older sagegen: compile it again)")
    sources = {v["name"]: v["sourceSha256"] for v in manifest["variants"]}
    index = {v["name"]: v["index"] for v in sagegen.variants()}
    # candidates.json (sagegen autotune --compile-only) lists those that survived the post-compile
    # pruning (spills, occupancy); without it every variant of the library is a candidate.
    chosen = os.path.join(opts.bundle, "candidates.json")
    if os.path.exists(chosen):
        with open(chosen) as f:
            keep = set(json.load(f)["measure"])
        specs = {n: s for n, s in specs.items() if n in keep}
    names = [n for n in specs if n in index][shard::shards]
    seqs = [int(x) for x in opts.seqs.split(",")]
    header = {"device": torch.cuda.get_device_name(opts.device), "capability": "%d.%d" % torch.cuda.get_device_capability(opts.device), "runner": "measure.py",
              "torch": torch.__version__, "nvcc": manifest["nvcc"],
              "date": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
              "commit": os.environ.get("SAGEGEN_COMMIT", "unknown")}
    run_sweep(
        [(n, specs[n]) for n in names],
        seqs,
        opts.out,
        gate=lambda name, spec: gate(index[name], spec, seed=GATE_SEED),
        timing=lambda name, spec, seq: timing(index[name], spec, seq, opts.warmup_ms),
        header=header,
        log=lambda line: print(line, flush=True),
        gate_extra=lambda name: {"ptxas": ptxas[name], "sourceSha256": sources[name]},
    )
    if opts.refine_rounds:
        refine_sweep(
            [(n, specs[n]) for n in names],
            seqs,
            opts.out,
            timing=lambda name, spec, seq: timing(index[name], spec, seq, opts.warmup_ms),
            rounds=opts.refine_rounds,
            margin=opts.refine_margin,
            max_candidates=opts.refine_max,
            header=header,
            log=lambda line: print(line, flush=True),
        )


if __name__ == "__main__":
    sys.exit(main())
