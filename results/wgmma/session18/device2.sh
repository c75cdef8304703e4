#!/usr/bin/env bash
# Session 2026-12-07 (18), call 2: 256-key wgmma tiles (tiling.ctaK 256) at D=64.
#   .carry/d.tgz: s/tuned (main's tuned set at 982c3be), s/k256h4 and s/k256m3 (D=64 fp16/bf16, causal
#   and not, q64 k256 b2, every 4th exponential pair on the polynomial, or none); .carry/c.tgz: the
#   autotuner bundle generated/tune64k (session 17's D=64 space with --cta-k 128,256: 56 candidates).
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session18/device2.sh OUTDIR [checks|ab|all]
set -uo pipefail
out="${1:?OUTDIR}"; part="${2:-all}"; mkdir -p "$out"
[ -f .carry/d.tgz ] && tar xzf .carry/d.tgz -C .carry
[ -f .carry/c.tgz ] && tar xzf .carry/c.tgz
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
if [ "$part" != ab ]; then
  for lib in k256h4 k256m3; do
    cuobjdump -sass .carry/s/$lib/lib/libsagegen.so > /tmp/sass.txt 2>/dev/null
    echo "$lib: $(grep -c 'Function : .*attentionKernel' /tmp/sass.txt) attention kernels, $(grep -cE '\b(STL|LDL)\b' /tmp/sass.txt) STL/LDL, $(grep -cE '\bHMMA\b' /tmp/sass.txt) HMMA, $(grep -cE 'QGMMA|IGMMA' /tmp/sass.txt) QGMMA/IGMMA"
    timeout 100 python3 runtime/test/gpu_check.py --lib .carry/s/$lib/lib/libsagegen.so --label $lib --out "$out/checks-$lib.json" 2>&1 | grep -E "FAIL|passed|failed" | tail -6
  done
  timeout 120 python3 runtime/test/run_sanitizer.py --lib .carry/s/k256h4/lib/libsagegen.so --tools memcheck,racecheck,synccheck --timeout 35 --out "$out/sanitizer-k256h4.json" 2>&1 | tail -4
  timeout 200 generated/tune64k/runner/sagegen-measure generated/tune64k --seqs 1024,2048,4096,8192,16384 \
    --refine-rounds 3 --out "$out/tune64k.jsonl" 2>&1 | tail -3
  grep -c '"kind": "timing"' "$out/tune64k.jsonl"
fi
if [ "$part" != checks ]; then
  timeout 160 python3 runtime/bench/ab.py --rounds 4 --reps 15 --lib .carry/s/tuned --lib .carry/s/k256h4 --lib .carry/s/k256m3 --head-dims 64 --seqs 2048,8192,32768 --causal false --out "$out/ab-k256-full.json" 2>&1 | grep -A4 "^D=" | grep -v "^--"
  timeout 120 python3 runtime/bench/ab.py --rounds 4 --reps 15 --lib .carry/s/tuned --lib .carry/s/k256h4 --lib .carry/s/k256m3 --head-dims 64 --seqs 8192,32768 --causal true --out "$out/ab-k256-causal.json" 2>&1 | grep -A4 "^D=" | grep -v "^--"
fi
