"""The measurement loop of an autotuning sweep, free of torch and CUDA so it can be tested on CPU.

run_sweep() walks the candidates: gate first (a rejected candidate is never timed), then one timing
per sequence-length bucket. refine_sweep() then times each bucket's close candidates again in
interleaved rounds, as the native runner's --refine-rounds does (autotune/runner/sagegen_measure.cu),
and writes the same "refined" timing records, which the selection prefers. Every record is appended to the results file as one JSON line the moment
it exists, so a killed run loses at most the record in flight; on restart previous_records() reads
what is there (a line cut by the kill is ignored and measured again) and those are skipped.
"""
import json
import os
import time


def previous_records(path, refined=False):
    """(name, seq) -> record of an earlier, interrupted run of the same results file: the sweep's
    records, or with refined=True the refinement's."""
    records = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a kill: measured again
                if bool(r.get("refined")) == refined:
                    records[(r["name"], r.get("seq"))] = r
    return records


def _ends_with_newline(path):
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def run_sweep(candidates, seqs, out_path, gate, timing, header=None, log=print, gate_extra=lambda name: {}):
    """candidates: [(name, spec)]; gate(name, spec) -> (passed, metrics); timing(name, spec, seq) ->
    dict with at least kernel_tops; gate_extra(name) -> fields added to the gate record (ptxas figures).
    Returns (name, seq) -> record for everything measured, now or before."""
    done = previous_records(out_path)
    total = len(candidates) * (len(seqs) + 1)
    best, started, finished = {}, time.time(), 0
    with open(out_path, "a") as out:
        if out.tell() > 0 and not _ends_with_newline(out_path):
            out.write("\n")  # close a line cut by a kill, so the next record starts on its own line

        def emit(record):
            record = {**(header or {}), **record}
            out.write(json.dumps(record) + "\n")
            out.flush()
            return record

        for i, (name, spec) in enumerate(candidates):
            if (name, None) not in done:
                passed, metrics = gate(name, spec)
                done[(name, None)] = emit({"name": name, "seq": None, "kind": "gate", "passed": passed, "accuracy": metrics, "spec": spec,
                                           **gate_extra(name)})
                if not passed:
                    log(f"  rejected {name}: {metrics}")
            finished += 1
            for seq in seqs:
                finished += 1
                if (name, seq) in done or not done[(name, None)]["passed"]:
                    continue  # measured before the interruption, or rejected by the gate: never timed
                t = timing(name, spec, seq)
                done[(name, seq)] = emit({"name": name, "seq": seq, "kind": "timing", **t})
                if seq not in best or t["kernel_tops"] > best[seq][1]:
                    best[seq] = (name, t["kernel_tops"])
            elapsed = time.time() - started
            eta = elapsed / max(finished, 1) * (total - finished)
            lead = max(best.values(), key=lambda x: x[1], default=("-", 0.0))
            log(f"[{i + 1}/{len(candidates)}] {name}  best so far {lead[1]:.1f} TOP/s ({lead[0]})  ~{eta / 60:.1f} min left")
    return done


def _median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def _group(spec):
    return f"D={spec['headDim']} {spec['dtype']} {'causal' if spec['causal'] else 'full'}"


def refine_plan(candidates, seqs, out_path, margin=0.05, max_candidates=4):
    """Per bucket (head dim, dtype, causal flag, length) of `candidates`, in first-seen order: the
    gate-passing ones whose sweep timing came within `margin` of the fastest whole call, at most
    `max_candidates`, fastest first. A bucket with fewer than two so close is left out. Returns
    [(group, seq, [(name, spec)], done)]: done when every one has its refined record already."""
    timed, refined = previous_records(out_path), previous_records(out_path, refined=True)
    buckets, order = {}, []
    for name, spec in candidates:
        for seq in seqs:
            t = timed.get((name, seq))
            if not t or t.get("kind") != "timing":
                continue
            key = (_group(spec), seq)
            if key not in buckets:
                buckets[key] = []
                order.append(key)
            buckets[key].append((t["whole_tops"], name, spec))
    plan = []
    for key in order:
        ranked = sorted(buckets[key], key=lambda x: (-x[0], x[1]))
        close = [(n, s) for w, n, s in ranked if w >= ranked[0][0] * (1 - margin)][:max_candidates]
        if len(close) >= 2:
            plan.append((key[0], key[1], close, all((n, key[1]) in refined for n, _ in close)))
    return plan


def refine_sweep(candidates, seqs, out_path, timing, rounds, margin=0.05, max_candidates=4, header=None, log=print):
    """Times each bucket's close candidates (refine_plan) again in `rounds` interleaved rounds, each
    round timing every one once in an order rotated by one, so drift falls on all alike; appends one
    timing record per candidate with the medians and a "refined" member. A bucket's records are
    written together at its end, so a killed bucket is timed again from its first round; a finished
    one is skipped on resume. timing(name, spec, seq) -> dict with kernel_ms and whole_ms."""
    plan = refine_plan(candidates, seqs, out_path, margin, max_candidates)
    with open(out_path, "a") as out:
        if out.tell() > 0 and not _ends_with_newline(out_path):
            out.write("\n")
        for group, seq, close, done in plan:
            if not done:
                per = {name: [] for name, _ in close}
                for r in range(rounds):
                    for k in range(len(close)):
                        name, spec = close[(k + r) % len(close)]
                        per[name].append(timing(name, spec, seq))
                for name, _ in close:
                    ts = per[name]
                    kernel_ms, whole_ms = _median([t["kernel_ms"] for t in ts]), _median([t["whole_ms"] for t in ts])
                    # TOP/s from the median time: ops / time is the same for every round of one shape
                    ops_per_ms = ts[0]["kernel_tops"] * ts[0]["kernel_ms"]
                    record = {**(header or {}), "name": name, "seq": seq, "kind": "timing", "kernel_ms": kernel_ms, "whole_ms": whole_ms,
                              "kernel_tops": ops_per_ms / kernel_ms, "whole_tops": ops_per_ms / whole_ms,
                              **({"warmup_ms": ts[0]["warmup_ms"]} if "warmup_ms" in ts[0] else {}),
                              "refined": {"rounds": rounds, "candidates": len(close), "margin": margin,
                                          "whole_tops_rounds": [t["whole_tops"] for t in ts]}}
                    out.write(json.dumps(record) + "\n")
                out.flush()
            log(f"refined {group} N={seq}: {len(close)} candidates within {margin * 100:g}% of the fastest, {rounds} interleaved rounds"
                + (" (in the results file already)" if done else ""))
    return plan
