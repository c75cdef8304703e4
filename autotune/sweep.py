"""The measurement loop of an autotuning sweep, free of torch and CUDA so it can be tested on CPU.

run_sweep() walks the candidates: gate first (a rejected candidate is never timed), then one timing
per sequence-length bucket. Every record is appended to the results file as one JSON line the moment
it exists, so a killed run loses at most the record in flight; on restart previous_records() reads
what is there (a line cut by the kill is ignored and measured again) and those are skipped.
"""
import json
import os
import time


def previous_records(path):
    """(name, seq) -> record of an earlier, interrupted run of the same results file."""
    records = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a kill: measured again
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
