#!/usr/bin/env bash
# Session 2026-12-06 (15), part 3: P·V accumulated straight into O in the wgmma accumulator (single
# level, as FlashAttention-3), O rescaled only when a row maximum of the warp grew; no per-tile flush.
# Libraries as .carry/s/<name> (packed in .carry/c.tgz):
#   cur     main's tuned set (autotune/tuned/h100-sm90a-wgmma.json) at f6ec612
#   sgl     the same config with single-level.patch applied to the template
#   defsgl  the wgmma defaults (runtime/test/specs-wgmma.json) with the patch
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/single-level/device1.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
[ -f .carry/c.tgz ] && tar xzf .carry/c.tgz -C .carry
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
timeout 120 python3 runtime/bench/ab.py --rounds 4 --reps 15 --lib .carry/s/cur --lib .carry/s/sgl --head-dims 128,64 --seqs 8192,32768 --causal false --out "$out/ab-sgl.json" 2>&1 | grep -A2 "^D=" | grep -v "^--"
for n in cur sgl; do
  timeout 60 python3 results/wgmma/single-level/accuracy_long.py --seqs 32768 --lib .carry/s/$n/lib/libsagegen.so --out "$out/acc-$n.json" 2>&1 | tail -4
done
timeout 80 python3 runtime/test/gpu_check.py --quick --lib .carry/s/defsgl/lib/libsagegen.so --label single-level-defaults --out "$out/checks-defsgl.json" 2>&1 | grep -E "FAIL|passed|failed" | tail -6
