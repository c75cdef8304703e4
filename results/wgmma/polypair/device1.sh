#!/usr/bin/env bash
# Session 2026-12-07 (17): pairs of exponentials by a packed-half polynomial (pv.polyExp2Form "f16x2"),
# D=64 fp16 entries of the tuned set. Libraries as .carry/s/<name> (.carry/c.tgz), built by
# results/wgmma/polypair/build.sh:
#   cur64  main's tuned config, D=64 fp16 entries
#   m3     the same with pv.rowMax "vimnmx3"
#   cur128 main's tuned config, D=128 fp16 entries; d128hN the same with every N-th pair on the FMA pipe
#   hN     m3 with pv.polyExp2Every N, pv.polyExp2Form "f16x2" (every N-th pair on the FMA pipe)
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/polypair/device1.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
[ -f .carry/c.tgz ] && tar xzf .carry/c.tgz -C .carry
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
for l in h4; do
  timeout 70 python3 runtime/test/gpu_check.py --lib .carry/s/$l/lib/libsagegen.so --only d64 --label polypair-$l --out "$out/checks-$l.json" 2>&1 | grep -E "FAIL|passed|failed" | tail -4
done
timeout 70 python3 runtime/test/gpu_check.py --lib .carry/s/m3/lib/libsagegen.so --only d64 --label polypair-m3 --out "$out/checks-m3.json" 2>&1 | grep -E "FAIL|passed|failed" | tail -4
timeout 300 python3 runtime/bench/ab.py --rounds 4 --reps 15 --lib .carry/s/cur64 --lib .carry/s/m3 --lib .carry/s/h8 --lib .carry/s/h4 --lib .carry/s/h2 --head-dims 64 --seqs 2048,8192,32768 --causal both --out "$out/ab-d64.json" 2>&1 | grep -A7 "^D=" | grep -v "^--"
# D=128: the tuned set's fp16 entries with tensor row sums (the q192 blocks), every 8th or 4th pair
# on the FMA pipe: one warp's 64 MUFU.EX2 take 512 cycles of its scheduler's 4 lanes, in the softmax's
# latency that bounds this kernel.
timeout 150 python3 runtime/bench/ab.py --rounds 4 --reps 15 --lib .carry/s/cur128 --lib .carry/s/d128h8 --lib .carry/s/d128h4 --head-dims 128 --seqs 8192,32768 --causal both --out "$out/ab-d128.json" 2>&1 | grep -A4 "^D=" | grep -v "^--"
