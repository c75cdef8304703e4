#!/usr/bin/env bash
# Two D=64 ideas against main's tuned set (libraries from build.sh, in .carry/c.tgz). Part "checks":
# GPU checks of x2h4, x2m3 and split, compute-sanitizer on x2h4 and split. Part "ab": same-run A/Bs
# at D=64 (2K / 8K / 32K, causal 8K / 32K). About 4 + 4 device minutes; run both parts on one warm
# machine, or all in one call with a 600 s limit at some risk.
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/d64-next/device.sh OUTDIR [checks|ab|all]
set -uo pipefail
out="${1:?OUTDIR}"; part="${2:-all}"; mkdir -p "$out"
[ -d .carry/s/tuned ] || { [ -f .carry/c.tgz ] && tar xzf .carry/c.tgz -C .carry; }
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
if [ "$part" != ab ]; then
  for lib in x2h4 x2m3 split; do
    cuobjdump -sass .carry/s/$lib/lib/libsagegen.so > /tmp/sass.txt 2>/dev/null
    echo "$lib: $(grep -c 'Function : .*attentionKernel' /tmp/sass.txt) attention kernels, $(grep -cE '\b(STL|LDL)\b' /tmp/sass.txt) STL/LDL, $(grep -cE '\bHMMA\b' /tmp/sass.txt) HMMA"
    only=""; [ $lib = split ] && only="--only d64"  # its D=128 kernels are the tuned set's
    timeout 100 python3 runtime/test/gpu_check.py --lib .carry/s/$lib/lib/libsagegen.so $only --label d64next-$lib --out "$out/checks-$lib.json" 2>&1 | grep -E "FAIL|passed|failed" | tail -6
  done
  for lib in x2h4 split; do
    timeout 110 python3 runtime/test/run_sanitizer.py --lib .carry/s/$lib/lib/libsagegen.so --tools memcheck,racecheck,synccheck --timeout 30 --out "$out/sanitizer-$lib.json" 2>&1 | tail -2
  done
fi
if [ "$part" != checks ]; then
  timeout 200 python3 runtime/bench/ab.py --rounds 4 --reps 15 --lib .carry/s/tuned --lib .carry/s/x2h4 --lib .carry/s/x2m3 --lib .carry/s/split --head-dims 64 --seqs 2048,8192,32768 --causal false --out "$out/ab-full.json" 2>&1 | grep -A5 "^D=" | grep -v "^--"
  timeout 150 python3 runtime/bench/ab.py --rounds 4 --reps 15 --lib .carry/s/tuned --lib .carry/s/x2h4 --lib .carry/s/x2m3 --lib .carry/s/split --head-dims 64 --seqs 8192,32768 --causal true --out "$out/ab-causal.json" 2>&1 | grep -A5 "^D=" | grep -v "^--"
fi
