#!/usr/bin/env bash
# Session 2026-12-05 (9): the persistent, ring-buffered K/V cluster quantization (ringN: an N-KiB
# ring per block) and the queries quantized in the three-consumer kernel (fq3: ring128 plus the
# query prologue called out of line). GPU checks and compute-sanitizer of the candidates, then a
# same-run A/B (whole call and kernel) against the previous commit's library. Libraries built on the
# development machine (README.md here) and carried as .carry/s/<name>.
#   results/wgmma/quant/ring/device.sh OUTDIR "CHECKED LIBS" "QUICK-CHECKED LIBS" [A/B seqs]
set -uo pipefail
out="${1:?OUTDIR}"; checked="${2:?libraries}"; quick="${3:-}"; seqs="${4:-1024,2048,4096,8192}"; w="$out/w"; mkdir -p "$w"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv | tee "$w/gpu.txt"
for lib in $checked; do
  python3 runtime/test/gpu_check.py --lib .carry/s/$lib/lib/libsagegen.so --label $lib --out "$w/checks-$lib.json" 2>&1 | grep -v "^\[.*PASS\|^PASS" | tail -4
done
for lib in $quick; do
  python3 runtime/test/gpu_check.py --quick --lib .carry/s/$lib/lib/libsagegen.so --label $lib --out "$w/quick-$lib.json" 2>&1 | tail -1
done
first=${checked%% *}
timeout 150 python3 runtime/test/run_sanitizer.py --lib .carry/s/$first/lib/libsagegen.so --out "$w/sanitizer-$first.json" --tools racecheck,synccheck,memcheck --timeout 45 2>&1 | tail -4
args=(); for lib in base $checked $quick; do args+=(--lib .carry/s/$lib); done
timeout 300 python3 runtime/bench/ab.py "${args[@]}" --head-dims 128,64 --seqs "$seqs" --causal false --rounds 5 --reps 15 --out "$w/ab-ring.json" 2>&1 | grep -A6 "^D=" | grep -v "^--"
tar -C "$out" -czf "$out/ring.tgz" w && rm -rf "$w"
ls -la "$out"
