#!/usr/bin/env python3
"""Judges a run of autotune/gpu_native_check.sh: reads its JSON-lines results, writes native-check.json.

    python3 autotune/gpu_native_check.py --dir OUT --after-kill FILE --tune-bundle T --wrong-bundle W --command CMD

Criteria (each recorded with what was seen, and `passed` only when all hold):
- resume: the sweep bundle's results hold every candidate's gate once and every passing candidate's
  timings once per length, the killed first run had left a part of them, and nothing is duplicated;
- gate: on the gate bundle, every candidate without K smoothing is rejected and every one with it
  passes (native runner), and measure.py's verdicts agree candidate by candidate;
- events: every line the runner printed with --events is a JSON event with the fields the node driver
  reads, one `candidate` per candidate and one `record` per record;
- sources: every gate record (native runner and measure.py) carries its candidate's sourceSha256, as
  the bundle's manifest gives it;
- agreement: for lengths >= 4096, the native runner's kernel and whole-call TOP/s are within 10% of
  measure.py's for the same candidates in the same call (at 1024 the Python launch overhead weighs on
  measure.py's figures: reported, not judged).
Pure Python (no torch), exit 0 when everything passed.
"""
import argparse
import json
import os
import sys

SEQS = (1024, 4096, 16384)
AGREEMENT = 0.10
JUDGED_FROM_SEQ = 4096


def read_jsonl(path):
    """(records, lines that are not JSON)."""
    records, bad = [], 0
    if not os.path.exists(path):
        return records, bad
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                bad += 1
    return records, bad


def key(r):
    return (r["name"], r.get("seq"))


def duplicates(records):
    seen, dup = set(), []
    for r in records:
        if key(r) in seen:
            dup.append(key(r))
        seen.add(key(r))
    return dup


def gates(records):
    return {r["name"]: r for r in records if r.get("kind") == "gate"}


def timings(records):
    return {(r["name"], r["seq"]): r for r in records if r.get("kind") == "timing"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--after-kill", required=True)
    ap.add_argument("--tune-bundle", required=True)
    ap.add_argument("--wrong-bundle", required=True)
    ap.add_argument("--command", required=True)
    opts = ap.parse_args()
    at = lambda name: os.path.join(opts.dir, name)  # noqa: E731
    criteria = {}

    # resume
    tune, tune_bad = read_jsonl(at("native-tune.jsonl"))
    after_kill, _ = read_jsonl(opts.after_kill)
    expected = json.load(open(os.path.join(opts.tune_bundle, "candidates.json")))["measure"]
    g = gates(tune)
    passing = [n for n in expected if n in g and g[n]["passed"]]
    missing = [n for n in expected if n not in g] + [f"{n}@{s}" for n in passing for s in SEQS if (n, s) not in timings(tune)]
    dup = duplicates(tune)
    criteria["resume"] = {
        "passed": not missing and not dup and 0 < len(after_kill) < len(tune),
        "records_after_kill": len(after_kill),
        "records_final": len(tune),
        "cut_lines_closed": tune_bad,
        "candidates": len(expected),
        "rejected": len(expected) - len(passing),
        "missing": missing,
        "duplicates": [list(k) for k in dup],
        "runner": sorted({r.get("runner", "?") for r in tune}),
    }

    # gate
    wrong, _ = read_jsonl(at("native-wrong.jsonl"))
    wrong_py, _ = read_jsonl(at("measurepy-wrong.jsonl"))
    gn, gp = gates(wrong), gates(wrong_py)
    rows = []
    for name, r in sorted(gn.items()):
        smooth = r["spec"]["qk"]["smoothK"]
        py = gp.get(name)
        rows.append({
            "name": name, "smoothK": smooth, "native_passed": r["passed"], "native_accuracy": r["accuracy"],
            "measurepy_passed": py["passed"] if py else None, "measurepy_accuracy": py["accuracy"] if py else None,
        })
    unsmoothed = [x for x in rows if not x["smoothK"]]
    criteria["gate"] = {
        "passed": bool(unsmoothed) and all(not x["native_passed"] for x in unsmoothed) and all(x["native_passed"] for x in rows if x["smoothK"])
        and all(x["measurepy_passed"] in (None, x["native_passed"]) for x in rows) and any(x["measurepy_passed"] is not None for x in rows),
        "unsmoothed_rejected": f"{sum(not x['native_passed'] for x in unsmoothed)}/{len(unsmoothed)}",
        "smoothed_passed": f"{sum(x['native_passed'] for x in rows if x['smoothK'])}/{len(rows) - len(unsmoothed)}",
        "rejected_never_timed": all((x["name"], 1024) not in timings(wrong) for x in rows if not x["native_passed"]),
        "candidates": rows,
    }
    criteria["gate"]["passed"] = criteria["gate"]["passed"] and criteria["gate"]["rejected_never_timed"]

    # events
    events, events_bad = read_jsonl(at("native-wrong-events.jsonl"))
    kinds = [e.get("event") for e in events]
    # the fields autotune/measure-runner.ts (RunnerEventSchema) reads
    shaped = all(
        (e["event"] == "start" and isinstance(e.get("candidates"), int))
        or (e["event"] == "record" and isinstance(e.get("resumed"), bool) and isinstance(e.get("record"), dict))
        or (e["event"] == "candidate" and isinstance(e.get("name"), str) and isinstance(e.get("resumed"), bool))
        for e in events if e.get("event") in ("start", "record", "candidate"))
    wrong_expected = json.load(open(os.path.join(opts.wrong_bundle, "candidates.json")))["measure"]
    criteria["events"] = {
        "passed": events_bad == 0 and shaped and kinds[:1] == ["start"] and kinds.count("candidate") == len(wrong_expected)
        and kinds.count("record") == len(wrong) and set(kinds) <= {"start", "record", "candidate"},
        "lines": len(events), "not_json": events_bad, "candidate_events": kinds.count("candidate"), "record_events": kinds.count("record"),
    }

    # sources: each gate record carries its candidate's source sha256 from the bundle's manifest
    # (the tuned configuration keeps the winner's, for sagegen build --config's check)
    def manifest_sources(bundle):
        return {v["name"]: v["sourceSha256"] for v in json.load(open(os.path.join(bundle, "manifest.json")))["variants"]}
    want = {**manifest_sources(opts.tune_bundle), **manifest_sources(opts.wrong_bundle)}
    carried = [(file, r) for file, records in (("native-tune", tune), ("native-wrong", wrong), ("measurepy-wrong", wrong_py)) for r in gates(records).values()]
    mismatched = [f"{file}:{r['name']}" for file, r in carried if r.get("sourceSha256") != want.get(r["name"])]
    criteria["sources"] = {"passed": bool(carried) and not mismatched, "gate_records": len(carried), "mismatched": mismatched}

    # agreement with measure.py
    subset, _ = read_jsonl(at("measurepy-subset.jsonl"))
    tn, tp = timings(tune), timings(subset)
    compared = []
    for k, py in sorted(tp.items()):
        nat = tn.get(k)
        if not nat:
            continue
        compared.append({
            "name": k[0], "seq": k[1],
            "native_kernel_tops": round(nat["kernel_tops"], 1), "measurepy_kernel_tops": round(py["kernel_tops"], 1),
            "kernel_ratio": round(nat["kernel_tops"] / py["kernel_tops"], 3),
            "native_whole_tops": round(nat["whole_tops"], 1), "measurepy_whole_tops": round(py["whole_tops"], 1),
            "whole_ratio": round(nat["whole_tops"] / py["whole_tops"], 3),
        })
    judged = [c for c in compared if c["seq"] >= JUDGED_FROM_SEQ]
    criteria["agreement"] = {
        "passed": bool(judged) and all(abs(c[f] - 1) <= AGREEMENT for c in judged for f in ("kernel_ratio", "whole_ratio")),
        "rule": f"native / measure.py TOP/s within {AGREEMENT:.0%} for seq >= {JUDGED_FROM_SEQ}",
        "compared": compared,
    }

    first = (tune or wrong or [{}])[0]
    summary = {
        "what": "native measurement runner (autotune/runner) on the GPU, against measure.py",
        "device": first.get("device"), "capability": first.get("capability"),
        "cuda_driver": first.get("cuda_driver"), "cuda_runtime": first.get("cuda_runtime"),
        "date": first.get("date"), "commit": os.environ.get("SAGEGEN_COMMIT", first.get("commit", "unknown")),
        "command": opts.command,
        "passed": all(c["passed"] for c in criteria.values()),
        "criteria": criteria,
    }
    with open(at("native-check.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    for name, c in criteria.items():
        print(f"{name}: {'PASS' if c['passed'] else 'FAIL'}")
    for c in compared:
        print(f"  {c['name']} N={c['seq']}: kernel {c['native_kernel_tops']} vs {c['measurepy_kernel_tops']} TOP/s ({c['kernel_ratio']}), "
              f"whole {c['native_whole_tops']} vs {c['measurepy_whole_tops']} ({c['whole_ratio']})")
    print(f"overall: {'PASS' if summary['passed'] else 'FAIL'} -> {at('native-check.json')}")
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
