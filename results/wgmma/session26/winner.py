#!/usr/bin/env python3
"""Picks call 2's library from call 1's folder: the candidate (tkp, tov) whose checks all passed
(status.txt: bitwise, gpu check, and for tkp the sanitizer) with the best geometric mean of its
whole-call ratio to base over the A/B rows; base when neither passed or neither is faster."""
import glob
import json
import math
import os
import sys

w = sys.argv[1]
status = {}
for line in open(os.path.join(w, "status.txt")) if os.path.exists(os.path.join(w, "status.txt")) else []:
    name, rc = line.split()
    status[name] = rc == "rc=0"
need = {"tkp": ["bitwise-tkp", "gpucheck-tkp", "sanitizer-tkp"], "tov": ["bitwise-tov", "gpucheck-tov"]}
ratios = {"tkp": [], "tov": []}
for f in sorted(glob.glob(os.path.join(w, "ab-*.json"))):
    for row in json.load(open(f))["rows"]:
        for label, entry in row["libraries"].items():
            c = label.split("/")[0]
            if c in ratios:
                ratios[c].append(entry["whole_vs_first"])
best, best_gain = "base", 1.0
for c in ("tkp", "tov"):
    passed = all(status.get(n, False) for n in need[c])
    gain = math.exp(sum(map(math.log, ratios[c])) / len(ratios[c])) if ratios[c] else 0.0
    print(f"# {c}: checks {'passed' if passed else 'FAILED or not run'}, whole-call geomean vs base {gain:.4f} over {len(ratios[c])} rows", file=sys.stderr)
    if passed and gain > best_gain:
        best, best_gain = c, gain
print(best)
