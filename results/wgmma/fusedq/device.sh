#!/usr/bin/env bash
# Session 2026-12-05 (8) device run: SASS of the previous defaults, GPU checks, edge checks and
# compute-sanitizer of the in-kernel query quantization (defaults, tuned set), same-run A/Bs against
# the previous libraries, ncu source counters of the previous D=128 default. The libraries are built
# on the development machine and carried as .carry/s/<name> (results/wgmma/fusedq/README.md).
#   results/wgmma/fusedq/device.sh OUTDIR [A|B|AB]   (A: checks and A/Bs of the fused query, B: kernel candidates and ncu)
set -uo pipefail
out="${1:?OUTDIR}"; w="$out/w"; mkdir -p "$w"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
partA() {
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv | tee "$w/gpu.txt"
for c in .carry/s/base/cubin/*; do cuobjdump -sass "$c" > "$w/$(basename "$c" .cubin).sass"; done
python3 runtime/test/gpu_check.py --lib .carry/s/cur/lib/libsagegen.so --label sm_90a_wgmma --out "$w/sm_90a_wgmma.json" 2>&1 | grep -v "^\[.*PASS" | tail -8
python3 runtime/test/gpu_check.py --lib .carry/s/cur-tuned/lib/libsagegen.so --label tuned-h100-wgmma --out "$w/tuned-h100-wgmma.json" 2>&1 | grep -v "^\[.*PASS" | tail -8
OUT="$w/edge" bash runtime/test/run_edge_checks.sh .carry/s/cur 2>&1 | tail -4
timeout 240 python3 runtime/bench/ab.py --lib .carry/s/base --lib .carry/s/fq --head-dims 128,64 --seqs 1024,2048,4096,8192,16384 --causal both --rounds 5 --reps 15 --out "$w/ab-fused-query.json" 2>&1 | grep -A2 "^D=" | grep -v "^--"
timeout 120 python3 runtime/bench/ab.py --lib .carry/s/head-tuned --lib .carry/s/cur-tuned --head-dims 128 --seqs 4096,8192,16384 --causal true --rounds 5 --reps 15 --out "$w/ab-fused-query-tuned-causal.json" 2>&1 | grep -A2 "^D=" | grep -v "^--"
tar -C "$out" -czf "$out/partA.tgz" w && rm -rf "$w"
ls -la "$out"
}

partB() {
mkdir -p "$w"
timeout 120 python3 runtime/bench/ab.py --lib .carry/s/fq --lib .carry/s/cur --head-dims 64,128 --seqs 1024,4096,16384 --causal true --rounds 5 --reps 15 --out "$w/ab-lone-consumer-refill.json" 2>&1 | grep -A2 "^D=" | grep -v "^--"
timeout 60 python3 runtime/bench/ab.py --lib .carry/s/fq --lib .carry/s/cur --head-dims 64 --seqs 4096,16384 --causal false --rounds 5 --reps 15 --out "$w/ab-lone-consumer-refill-d64.json" 2>&1 | grep -A2 "^D=" | grep -v "^--"
for c in .carry/s/p8/cubin/*; do cuobjdump -sass "$c" > "$w/$(basename "$c" .cubin).sass"; done
for n in p8 p4; do python3 runtime/test/gpu_check.py --lib .carry/s/$n/lib/libsagegen.so --label $n --out "$w/checks-$n.json" 2>&1 | tail -1; done
timeout 150 python3 runtime/bench/ab.py --lib .carry/s/cur --lib .carry/s/p8 --lib .carry/s/p4 --head-dims 64 --seqs 2048,8192,16384 --causal both --rounds 5 --reps 15 --out "$w/ab-poly-exp2-d64.json" 2>&1 | grep -A3 "^D=" | grep -v "^--"
timeout 80 python3 runtime/bench/ab.py --lib .carry/s/cur --lib .carry/s/p8 --head-dims 128 --seqs 4096,16384 --causal false --rounds 5 --reps 15 --out "$w/ab-poly-exp2-d128.json" 2>&1 | grep -A2 "^D=" | grep -v "^--"
timeout 100 ncu --kernel-name regex:attentionKernel --launch-skip 1 --launch-count 1 --section SourceCounters --section WarpStateStats --section SchedulerStats --import-source no -o /tmp/r128 python3 runtime/bench/profile_one.py --lib .carry/s/base --seq 8192 --head-dim 128 > "$w/ncu.log" 2>&1
ncu -i /tmp/r128.ncu-rep --page source --csv --print-source sass 2>/dev/null | gzip > "$w/ncu-base-d128-n8192-src.csv.gz"
ncu -i /tmp/r128.ncu-rep --page details > "$w/ncu-base-d128-n8192-details.txt" 2>&1
tar -C "$out" -czf "$out/partB.tgz" w && rm -rf "$w"
ls -la "$out"
}

case "${2:-A}" in A) partA ;; B) partB ;; *) partA; partB ;; esac
