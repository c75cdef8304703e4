#!/usr/bin/env bash
# D=64 blocks of two consumer warpgroups, two blocks per SM (libraries from build.sh, in .carry/c.tgz):
# GPU checks of both, compute-sanitizer on h4m3, and a same-run A/B against main's tuned set at D=64.
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/shape8x2/device.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
[ -f .carry/c.tgz ] && tar xzf .carry/c.tgz -C .carry
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
for lib in h4m3 m3; do
  cuobjdump -sass .carry/s/$lib/lib/libsagegen.so > /tmp/sass.txt 2>/dev/null
  echo "$lib: $(grep -c 'Function : .*attentionKernel' /tmp/sass.txt) attention kernels, $(grep -cE '\b(STL|LDL)\b' /tmp/sass.txt) STL/LDL, $(grep -cE '\bHMMA\b' /tmp/sass.txt) HMMA"
  timeout 100 python3 runtime/test/gpu_check.py --lib .carry/s/$lib/lib/libsagegen.so --label shape8x2-$lib --out "$out/checks-$lib.json" 2>&1 | grep -E "FAIL|passed|failed" | tail -6
done
timeout 120 python3 runtime/test/run_sanitizer.py --lib .carry/s/h4m3/lib/libsagegen.so --tools memcheck,racecheck,synccheck --timeout 35 --out "$out/sanitizer-h4m3.json" 2>&1 | tail -4
timeout 160 python3 runtime/bench/ab.py --rounds 4 --reps 15 --lib .carry/s/tuned --lib .carry/s/h4m3 --lib .carry/s/m3 --head-dims 64 --seqs 2048,8192,32768 --causal false --out "$out/ab-full.json" 2>&1 | grep -A4 "^D=" | grep -v "^--"
timeout 120 python3 runtime/bench/ab.py --rounds 4 --reps 15 --lib .carry/s/tuned --lib .carry/s/h4m3 --lib .carry/s/m3 --head-dims 64 --seqs 8192,32768 --causal true --out "$out/ab-causal.json" 2>&1 | grep -A4 "^D=" | grep -v "^--"
