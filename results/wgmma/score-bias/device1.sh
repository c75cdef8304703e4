#!/usr/bin/env bash
# Session 2026-12-06 (13), part 1: the score bias loaded from shared memory (commit in SAGEGEN_COMMIT).
# Libraries as .carry/s/<name>: fin2-tuned (main's tuned set before the change, 3a8c99d), bias-tuned
# (the same config with the change), bias-def (the wgmma defaults with the change).
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/score-bias/device1.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
for pair in bias-tuned:tuned-h100-wgmma bias-def:sm_90a_wgmma; do
  lib=${pair%%:*}; label=${pair#*:}
  timeout 60 python3 runtime/test/gpu_check.py --lib .carry/s/$lib/lib/libsagegen.so --label $label --out "$out/checks-$lib.json" 2>&1 | grep -E "FAIL|passed|failed" | tail -4
done
ab() { timeout 100 python3 runtime/bench/ab.py --lib .carry/s/fin2-tuned --lib .carry/s/bias-tuned --rounds 5 --reps 15 "$@" 2>&1 | grep -A2 "^D=" | grep -v "^--"; }
ab --head-dims 128 --seqs 1024,2048,8192,16384 --causal false --out "$out/ab-d128.json"
ab --head-dims 128 --seqs 4096,16384 --causal true --out "$out/ab-d128-causal.json"
ab --head-dims 64 --seqs 2048,8192,16384 --causal false --out "$out/ab-d64.json"
ab --head-dims 64 --seqs 8192 --causal true --out "$out/ab-d64-causal.json"
OUT="$out/edge-bias-tuned" timeout 150 bash runtime/test/run_edge_checks.sh .carry/s/bias-tuned 2>&1 | tail -3
tar -C "$out" -czf "$out/edge-bias-tuned.tgz" edge-bias-tuned && rm -rf "$out/edge-bias-tuned"
