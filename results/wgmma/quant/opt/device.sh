#!/usr/bin/env bash
# Session 2026-12-05 (9): fewer steps in the K/V cluster quantization (one amax atomic per row and
# tile, the cluster's partials read at once) and 64-row query blocks (opt2).
# GPU checks and compute-sanitizer (racecheck, memcheck) of the candidate, ncu durations and DRAM throughput
# of its quantization kernels beside the previous commit's, and a same-run A/B (whole call and
# kernel). Libraries built on the development machine and carried as .carry/s/<name>.
#   results/wgmma/quant/opt/device.sh OUTDIR CANDIDATE [OTHER]   (OTHER: timed only; opt2 = opt with 64-row query blocks)
set -uo pipefail
out="${1:?OUTDIR}"; lib="${2:?candidate}"; other="${3:-}"; w="$out/w"; mkdir -p "$w"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv | tee "$w/gpu.txt"
python3 runtime/test/gpu_check.py --lib .carry/s/$lib/lib/libsagegen.so --label $lib --out "$w/checks-$lib.json" 2>&1 | grep -v "^\[.*PASS\|^PASS" | tail -4
timeout 100 python3 runtime/test/run_sanitizer.py --lib .carry/s/$lib/lib/libsagegen.so --out "$w/sanitizer-$lib.json" --tools racecheck,memcheck --timeout 45 2>&1 | tail -3
for l in base $lib $other; do for n in 1024; do
  ncu --kernel-name regex:"kvCluster|quantize" --launch-skip 2 --launch-count 2 --metrics gpu__time_duration.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,dram__bytes.sum \
    python3 runtime/bench/profile_one.py --lib .carry/s/$l --seq $n --head-dim 128 > "$w/ncu-$l-$n.txt" 2>&1
  echo "$l N=$n: $(grep -E "^  [a-zA-Z].*Kernel|duration|dram__throughput" "$w/ncu-$l-$n.txt" | awk '{print $1, $NF}' | tr '\n' ' ')"
done; done
timeout 240 python3 runtime/bench/ab.py --lib .carry/s/base --lib .carry/s/$lib ${other:+--lib .carry/s/$other} --head-dims 128,64 --seqs 1024,2048,4096 --causal both --rounds 5 --reps 15 --out "$w/ab-opt.json" 2>&1 | grep -A3 "^D=" | grep -v "^--"
tar -C "$out" -czf "$out/opt.tgz" w && rm -rf "$w"
ls -la "$out"
