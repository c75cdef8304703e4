#!/usr/bin/env bash
# Session 2026-12-06 (12), part 2: the wgmma libraries of record after the consumer skip and the
# autotuner's re-selection. Carried as .carry/s/<name>: fin-tuned (autotune/tuned/h100-sm90a-wgmma.json
# as selected from run1/tune*.jsonl) and def (the wgmma defaults; its GPU checks are run1/checks-def.json).
# GPU checks of fin-tuned, edge checks (C ABI table, edge numerics, compute-sanitizer) of both, and
# the benchmark beside torch (tuned set fp16 and bf16; defaults fp16).
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/consumer-skip/device2.sh OUTDIR
set -uo pipefail
w="${1:?OUTDIR}"; mkdir -p "$w"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
timeout 60 python3 runtime/test/gpu_check.py --lib .carry/s/fin-tuned/lib/libsagegen.so --label tuned-h100-wgmma --out "$w/tuned-h100-wgmma.json" 2>&1 | grep -E "FAIL|passed|failed" | tail -4
for lib in def fin-tuned; do OUT="$w/edge-$lib" timeout 120 bash runtime/test/run_edge_checks.sh .carry/s/$lib 2>&1 | tail -3; done
tar -C "$w" -czf "$w/edge.tgz" edge-def edge-fin-tuned && rm -rf "$w/edge-def" "$w/edge-fin-tuned"
timeout 250 python3 runtime/bench/bench.py --lib .carry/s/fin-tuned --head-dims 64,128 --out "$w/h100-wgmma-tuned.json" 2>&1 | grep "^\[" | tail -60
timeout 130 python3 runtime/bench/bench.py --lib .carry/s/def --head-dims 64,128 --dtypes fp16 --out "$w/h100-wgmma.json" 2>&1 | grep "^\[" | tail -30
ls "$w"
