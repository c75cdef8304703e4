#!/usr/bin/env bash
# Session 2026-12-05 (10), experiment: programmatic dependent launch of the whole call's chain (K/V
# cluster kernel -> query quantization -> attention; plan.launch.dependentLaunch). GPU checks and
# compute-sanitizer of the candidate (wgmma defaults), then a same-run A/B against the landed
# relaxed-arrive build (babe6cd). Libraries carried as .carry/s/<name> (fin2 = babe6cd, pdl).
#   results/wgmma/quant/pdl/device.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv | tee "$out/gpu.txt"
python3 runtime/test/gpu_check.py --lib .carry/s/pdl/lib/libsagegen.so --label pdl --out "$out/checks-pdl.json" 2>&1 | tail -1
python3 runtime/test/run_sanitizer.py --lib .carry/s/pdl/lib/libsagegen.so --out "$out/sanitizer-pdl.json" 2>&1 | tail -2
timeout 200 python3 runtime/bench/ab.py --lib .carry/s/fin2 --lib .carry/s/pdl --head-dims 128,64 --seqs 1024,2048,4096,16384 --causal false --rounds 5 --reps 15 --out "$out/ab-pdl.json" 2>&1 | grep -A2 "^D=" | grep -v "^--"
timeout 100 python3 runtime/bench/ab.py --lib .carry/s/fin2 --lib .carry/s/pdl --head-dims 128 --seqs 1024,4096 --causal true --rounds 5 --reps 15 --out "$out/ab-pdl-causal.json" 2>&1 | grep -A2 "^D=" | grep -v "^--"
