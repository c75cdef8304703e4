#!/usr/bin/env bash
# Session 2026-12-06 (11), diagnostic: how much of the persistent kernel's loss is its per-tile ring
# bookkeeping. p2 = the D=128 fp16 non-causal persistent variant with stage and phase taken from the
# unit's own tile index (valid only when every unit's tile count is a multiple of 2 · kStages, as at
# N = 4K, 8K, 16K here; not a candidate) and the stage's last consumer found by a modulo. Same-run
# A/B against the non-persistent (n) and the persistent (p) builds.
#   results/wgmma/persistent/diag.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv | tee "$out/gpu-diag.txt"
timeout 150 python3 runtime/bench/ab.py --lib .carry/s/n --lib .carry/s/p --lib .carry/s/p2 --head-dims 128 --seqs 4096,8192,16384 --causal false --rounds 3 --reps 15 --out "$out/ab-p2.json" 2>&1 | grep -A3 "^D=" | grep -v "^--"
