#!/usr/bin/env bash
# Session 2026-12-05 (9), experiment: the K/V cluster kernel's second cluster arrive (done reading
# the other blocks' partials, whose values are consumed by then) as .relaxed instead of .release, as
# ncu counted 15% of its stall samples on memory barriers. GPU checks of the candidate, a same-run
# A/B against the kept defaults (fin), and ncu's stall reasons of both.
#   results/wgmma/quant/relaxed/device.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
python3 runtime/test/gpu_check.py --lib .carry/s/relaxed/lib/libsagegen.so --label relaxed --out "$out/checks-relaxed.json" 2>&1 | grep -v "^\[.*PASS\|^PASS" | tail -2
for l in fin relaxed; do
  ncu --section WarpStateStats --section SpeedOfLight --print-details all --kernel-name kvClusterQuantKernel --launch-skip 1 --launch-count 1 \
    python3 runtime/bench/profile_one.py --lib .carry/s/$l --seq 1024 --head-dim 128 > "$out/ncu-$l.txt" 2>&1
  echo "$l: $(grep -E "^    Duration|stalled_membar |stalled_barrier " "$out/ncu-$l.txt" | awk '{print $1,$NF}' | tr '\n' ' ')"
done
timeout 150 python3 runtime/bench/ab.py --lib .carry/s/fin --lib .carry/s/relaxed --head-dims 128,64 --seqs 1024,2048,4096 --causal false --rounds 5 --reps 15 --out "$out/ab-relaxed.json" 2>&1 | grep -A2 "^D=" | grep -v "^--"
