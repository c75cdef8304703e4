#!/usr/bin/env python3
"""Lands what recheck.sh and records.sh brought back: copies each record into its place and updates
results/records.json (a record that carries its own source fingerprint needs no backfill, and is no
longer stale). test/records.test.ts then says whether each one measured the sources built now.

    python3 results/wgmma/session30/land.py DIR [DIR...]    # each DIR holds the unpacked w/ of a call

A record whose own summary reports a failure is not copied (the failure is the finding to report, not
a record to stand); nothing is written before every input has been read. Stdlib only.
"""
import json
import os
import shutil
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
CATALOGUE = os.path.join(REPO, "results", "records.json")

# Where each output of the two calls goes: (folder under w/, file names or None for every .json, destination).
PLACES = [
    ("gpu", None, "results/gpu"),
    ("tuned-edge", ["abi_table.json", "edge_check.json", "sanitizer.json", "run-log.txt"], "results/wgmma/tuned/edge"),
    ("gpu-edge", ["abi_table.json", "edge_check.json", "sanitizer.json", "run-log.txt"], "results/gpu/edge"),
    ("wgmma", ["h100-wgmma-tuned.json", "h100-wgmma-tuned.md", "h100-wgmma-tuned.svg"], "results/wgmma/bench"),
    ("mma-sync", ["h100-d128.json", "h100-d128.md", "h100-d128.svg", "h100-d64.json", "h100-d64.md", "h100-d64.svg"], "results/bench"),
    ("consumers", None, "results/consumers"),
]


def failures(record):
    """The failures a record reports about itself, or 0 for a benchmark (which has no pass/fail):
    gpu_check, abi_table, check_torch_op and the consumers count them in summary.failed, the sanitizer
    marks each tool clean or not, gpu_check and edge_check also give each case a status, and any
    record may carry an error (a library that did not load)."""
    cases = record.get("cases")
    failing_cases = sum(c.get("status") not in ("pass", "skip") for c in cases) if isinstance(cases, list) else 0
    count = max((record.get("summary") or {}).get("failed", 0), failing_cases)
    tools = record.get("tools")
    if isinstance(tools, dict):
        count += sum(not t.get("clean") for t in tools.values())
    return count + (1 if record.get("error") else 0)


def main(dirs):
    catalogue = json.load(open(CATALOGUE))
    copies, skipped = [], []
    for d in dirs:
        w = os.path.join(d, "w") if os.path.isdir(os.path.join(d, "w")) else d
        for sub, names, dest in PLACES:
            src_dir = os.path.join(w, sub)
            if not os.path.isdir(src_dir):
                continue
            for name in names or sorted(f for f in os.listdir(src_dir) if f.endswith(".json")):
                src = os.path.join(src_dir, name)
                if not os.path.exists(src):
                    continue
                rel = f"{dest}/{name}"
                if name.endswith(".json"):
                    record = json.load(open(src))
                    if failures(record):
                        skipped.append(f"{rel}: {failures(record)} failure(s) reported; not landed")
                        continue
                copies.append((src, rel))
    landed_json = [rel for _, rel in copies if rel.endswith(".json")]
    unknown = [rel for rel in landed_json if rel not in catalogue["records"]]
    if unknown:
        sys.exit(f"not in results/records.json (add them first): {', '.join(unknown)}")
    for src, rel in copies:
        shutil.copyfile(src, os.path.join(REPO, rel))
        print(f"landed {rel}")
        entry = catalogue["records"].get(rel)
        if entry is not None:
            # The scripts write the measured library's fingerprint into the record: no backfill, and
            # whether it is stale is for test/records.test.ts to say (a stale mark would fail it).
            entry.pop("measured", None)
            entry.pop("stale", None)
    used = {r.get("measured") for r in catalogue["records"].values()}
    catalogue["measured"] = {k: v for k, v in catalogue["measured"].items() if k in used}
    with open(CATALOGUE, "w") as f:
        json.dump(catalogue, f, indent=1)
        f.write("\n")
    for s in skipped:
        print(f"SKIPPED {s}")
    print(f"{len(copies)} file(s) landed, {len(skipped)} skipped; now run: npx vitest run test/records.test.ts")
    return 1 if skipped else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1:]))
