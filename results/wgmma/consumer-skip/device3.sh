#!/usr/bin/env bash
# Session 2026-12-06 (12), part 3: compute-sanitizer racecheck of the wgmma defaults (part 2's edge
# run of `def` was cut by its timeout after memcheck, initcheck and synccheck), and same-run A/Bs of
# main's tuned set (base-tuned, 3eed51f: the 2026-11-23 selection, kernels before the skip) against
# the re-selected set with the skip (fin-tuned), whole call and kernel.
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/consumer-skip/device3.sh OUTDIR
set -uo pipefail
w="${1:?OUTDIR}"; mkdir -p "$w"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
timeout 150 python3 runtime/test/run_sanitizer.py --lib .carry/s/def/lib/libsagegen.so --tools racecheck --timeout 120 --out "$w/sanitizer-def-racecheck.json" 2>&1 | tail -2
ab() { timeout 100 python3 runtime/bench/ab.py --lib .carry/s/base-tuned --lib .carry/s/fin-tuned --rounds 5 --reps 15 "$@" 2>&1 | grep -A2 "^D=" | grep -v "^--"; }
ab --head-dims 128 --seqs 1024,2048,4096,16384 --causal false --out "$w/ab-tuned-d128.json"
ab --head-dims 128 --seqs 1024,2048,4096,16384 --causal true --out "$w/ab-tuned-d128-causal.json"
ab --head-dims 64 --seqs 1024,2048,4096 --causal both --out "$w/ab-tuned-d64.json"
