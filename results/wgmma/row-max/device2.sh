#!/usr/bin/env bash
# Session 2026-12-06 (14), part 2: pv.polyExp2Every without the FMNMX chains (part 1: the chains were
# 2–8% slower and are not kept). Libraries as .carry/s/<name> (packed in .carry/c.tgz):
#   cur  main's tuned set (autotune/tuned/h100-sm90a-wgmma.json) at 9c1b8ea's kernels
#   p8, p16      its D=64 fp16 entries with pv.polyExp2Every 8 / 16
#   q16, q32     its D=128 fp16 entries with pv.polyExp2Every 16 / 32
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/row-max/device2.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
[ -f .carry/c.tgz ] && tar xzf .carry/c.tgz -C .carry
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
for pair in p8:d64 p16:d64 q16:d128 q32:d128; do
  n=${pair%%:*}; d=${pair#*:}
  timeout 60 python3 runtime/test/gpu_check.py --lib .carry/s/$n/lib/libsagegen.so --only $d --label poly-$n --out "$out/checks-$n.json" 2>&1 | grep -E "FAIL|passed|failed" | tail -4
done
ab() { timeout 170 python3 runtime/bench/ab.py --rounds 5 --reps 15 "$@" 2>&1 | grep -A3 "^D=" | grep -v "^--"; }
ab --lib .carry/s/cur --lib .carry/s/p8 --lib .carry/s/p16 --head-dims 64 --seqs 2048,8192,16384 --causal both --out "$out/ab-poly-d64.json"
ab --lib .carry/s/cur --lib .carry/s/q16 --lib .carry/s/q32 --head-dims 128 --seqs 1024,4096,8192,16384 --causal both --out "$out/ab-poly-d128.json"
# The native runner's refinement (--refine-rounds) on the GPU: the p8 bundle's 8 variants at N=2048,
# then each bucket's candidates within 10% timed again in 3 interleaved rounds.
if [ -x .carry/s/p8/runner/sagegen-measure ]; then
  timeout 120 .carry/s/p8/runner/sagegen-measure .carry/s/p8 --out "$out/refine-p8.jsonl" --seqs 2048 --refine-rounds 3 --refine-margin 0.1 2>&1 | tail -12
fi
