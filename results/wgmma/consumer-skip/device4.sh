#!/usr/bin/env bash
# Session 2026-12-06 (12), part 4: the tuned set as re-selected with the quantization-path tie rule
# (autotune/select.ts; the same run1 records), carried as .carry/s/fin2-tuned, beside main's
# (.carry/s/base-tuned, 3eed51f). GPU checks, the benchmark beside torch, edge checks with
# compute-sanitizer, and same-run A/Bs against base-tuned.
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/consumer-skip/device4.sh OUTDIR
set -uo pipefail
w="${1:?OUTDIR}"; mkdir -p "$w"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
timeout 60 python3 runtime/test/gpu_check.py --lib .carry/s/fin2-tuned/lib/libsagegen.so --label tuned-h100-wgmma --out "$w/tuned-h100-wgmma.json" 2>&1 | grep -E "FAIL|passed|failed" | tail -4
timeout 250 python3 runtime/bench/bench.py --lib .carry/s/fin2-tuned --head-dims 64,128 --out "$w/h100-wgmma-tuned.json" 2>&1 | grep "^\[" | tail -60
OUT="$w/edge-fin2-tuned" timeout 150 bash runtime/test/run_edge_checks.sh .carry/s/fin2-tuned 2>&1 | tail -3
tar -C "$w" -czf "$w/edge.tgz" edge-fin2-tuned && rm -rf "$w/edge-fin2-tuned"
ab() { timeout 80 python3 runtime/bench/ab.py --lib .carry/s/base-tuned --lib .carry/s/fin2-tuned --rounds 5 --reps 15 "$@" 2>&1 | grep -A2 "^D=" | grep -v "^--"; }
ab --head-dims 128 --seqs 2048,4096 --causal both --out "$w/ab-tuned-d128.json"
ab --head-dims 64 --seqs 4096,16384 --causal both --out "$w/ab-tuned-d64.json"
