#!/usr/bin/env bash
# Session 2026-12-06 (11), experiment: persistent wgmma blocks (tiling.persistent). The wgmma
# defaults built three ways and carried as .carry/s/<name>: main (ff744a4), n (this branch, not
# persistent: must match main) and p (every default variant persistent). Spill check of the SASS,
# GPU checks of p, same-run A/Bs of main, n and p, compute-sanitizer of p, GPU checks of n.
#   results/wgmma/persistent/device.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv | tee "$out/gpu.txt"
for lib in n p; do
  cuobjdump -sass .carry/s/$lib/lib/libsagegen.so > /tmp/sass-$lib.txt 2>/dev/null
  echo "$lib: $(grep -c 'Function : .*attentionKernel' /tmp/sass-$lib.txt) attention kernels, $(grep -cE '\b(STL|LDL)' /tmp/sass-$lib.txt) STL/LDL in the library" | tee -a "$out/gpu.txt"
done
timeout 45 python3 runtime/test/gpu_check.py --lib .carry/s/p/lib/libsagegen.so --label p --out "$out/checks-p.json" 2>&1 | tail -2
timeout 120 python3 runtime/bench/ab.py --lib .carry/s/main --lib .carry/s/n --lib .carry/s/p --head-dims 128 --seqs 1024,4096,8192,16384 --causal false --rounds 3 --reps 15 --out "$out/ab-p.json" 2>&1 | grep -A3 "^D=" | grep -v "^--"
timeout 60 python3 runtime/bench/ab.py --lib .carry/s/main --lib .carry/s/n --lib .carry/s/p --head-dims 64 --seqs 1024,4096 --causal false --rounds 3 --reps 15 --out "$out/ab-p-d64.json" 2>&1 | grep -A3 "^D=" | grep -v "^--"
timeout 100 python3 runtime/test/run_sanitizer.py --lib .carry/s/p/lib/libsagegen.so --tools racecheck,synccheck --timeout 45 --out "$out/sanitizer-p.json" 2>&1 | tail -3
timeout 60 python3 runtime/bench/ab.py --lib .carry/s/main --lib .carry/s/n --lib .carry/s/p --head-dims 128 --seqs 4096,16384 --causal true --rounds 3 --reps 15 --out "$out/ab-p-causal.json" 2>&1 | grep -A3 "^D=" | grep -v "^--"
timeout 30 python3 runtime/test/gpu_check.py --lib .carry/s/n/lib/libsagegen.so --label n --out "$out/checks-n.json" 2>&1 | tail -2
