#!/usr/bin/env bash
# Session 2026-12-06 (14), part 1. Libraries as .carry/s/<name> (packed in .carry/c.tgz):
#   cur  main's tuned set (autotune/tuned/h100-sm90a-wgmma.json) at 9c1b8ea's kernels
#   ch   the same config with the row maximum in 8 FMNMX chains per row (plan.wgmma.rowMaxChains)
#   p8, p16  the D=64 fp16 entries of that config with pv.polyExp2Every 8 / 16, with the chains
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/row-max/device1.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
[ -f .carry/c.tgz ] && tar xzf .carry/c.tgz -C .carry
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
timeout 90 python3 runtime/test/gpu_check.py --lib .carry/s/ch/lib/libsagegen.so --label tuned-h100-wgmma-chains --out "$out/checks-ch.json" 2>&1 | grep -E "FAIL|passed|failed" | tail -4
for n in p8 p16; do
  timeout 60 python3 runtime/test/gpu_check.py --lib .carry/s/$n/lib/libsagegen.so --only d64 --label poly-$n --out "$out/checks-$n.json" 2>&1 | grep -E "FAIL|passed|failed" | tail -4
done
ab() { timeout 150 python3 runtime/bench/ab.py --rounds 5 --reps 15 "$@" 2>&1 | grep -A4 "^D=" | grep -v "^--"; }
ab --lib .carry/s/cur --lib .carry/s/ch --head-dims 128 --seqs 1024,4096,8192,16384 --causal both --out "$out/ab-chains-d128.json"
ab --lib .carry/s/cur --lib .carry/s/ch --lib .carry/s/p8 --lib .carry/s/p16 --head-dims 64 --seqs 2048,8192,16384 --causal both --out "$out/ab-poly-d64.json"
