#!/usr/bin/env bash
# Session 2026-12-06 (12): consumers of multi-consumer wgmma blocks skip the tiles after their own
# (causal diagonal, rows past qo_len). Libraries as .carry/s/<name>: base-tuned (main's tuned set at
# 3eed51f), tuned (the same config with this change), mc (the tuned set's multi-consumer causal
# variants alone, so every causal case runs them), def (the wgmma defaults with this change),
# base-def (main's defaults); and the autotuner bundles generated/tune128 and generated/tune64
# (runner, manifest and candidate list) compiled with this change.
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/consumer-skip/device1.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
# Everything comes as one archive (.carry/c.tgz), as the carried paths may hold 64 MiB in all.
[ -f .carry/c.tgz ] && tar xzf .carry/c.tgz
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
for lib in base-tuned tuned; do
  cuobjdump -sass .carry/s/$lib/lib/libsagegen.so > /tmp/sass-$lib.txt 2>/dev/null
  echo "$lib: $(grep -c 'Function : .*attentionKernel' /tmp/sass-$lib.txt) attention kernels, $(grep -cE '\b(STL|LDL)' /tmp/sass-$lib.txt) STL/LDL, $(grep -cE 'HMMA' /tmp/sass-$lib.txt) HMMA in the library" 
done
for pair in mc:mc tuned:tuned def:sm_90a_wgmma; do
  lib=${pair%%:*}; label=${pair#*:}
  timeout 60 python3 runtime/test/gpu_check.py --lib .carry/s/$lib/lib/libsagegen.so --label $label --out "$out/checks-$lib.json" 2>&1 | grep -E "FAIL|passed|failed" | tail -4
done
timeout 150 python3 runtime/test/run_sanitizer.py --lib .carry/s/mc/lib/libsagegen.so --tools racecheck,synccheck,memcheck --timeout 45 --out "$out/sanitizer-mc.json" 2>&1 | tail -4
timeout 120 python3 runtime/bench/ab.py --lib .carry/s/base-tuned --lib .carry/s/tuned --head-dims 128 --seqs 4096,8192,16384 --causal true --rounds 5 --reps 15 --out "$out/ab-causal.json" 2>&1 | grep -A3 "^D=" | grep -v "^--"
timeout 90 python3 runtime/bench/ab.py --lib .carry/s/base-def --lib .carry/s/def --head-dims 128 --seqs 1024,2048,4096 --causal false --rounds 5 --reps 15 --out "$out/ab-full.json" 2>&1 | grep -A3 "^D=" | grep -v "^--"
for b in tune128 tune64; do
  [ -x generated/$b/runner/sagegen-measure ] || { echo "no bundle $b"; continue; }
  timeout 200 generated/$b/runner/sagegen-measure generated/$b --seqs 1024,2048,4096,8192,16384 --out "$out/$b.jsonl" 2>&1 | tail -2
done
