#!/usr/bin/env bash
# Session 2026-12-05 (9), the kept state on the H100: the K/V cluster kernel with one amax atomic per
# row and tile and its cluster's partials read at once, and one INT8 packing helper for every Q/K
# quantization. GPU checks of every library the change reaches (all of them run the INT8 pack; the
# wgmma and FP8 sm_90a libraries the cluster kernel), edge checks and compute-sanitizer of the two
# wgmma libraries (part C1); a same-run A/B of the tuned set against the previous commit's and the
# benchmark beside torch (part C2; two parts, as a call carries at most 64 MiB of libraries). Libraries built on the development machine (README.md here) and
# carried as .carry/s/<name>.
#   results/wgmma/quant/opt/final.sh OUTDIR C1|C2
set -uo pipefail
out="${1:?OUTDIR}"; w="$out/w"; mkdir -p "$w"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
c1() {
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv | tee "$w/gpu.txt"
for lib in fin fin-tuned; do
  label=$([ $lib = fin ] && echo sm_90a_wgmma || echo tuned-h100-wgmma)
  python3 runtime/test/gpu_check.py --lib .carry/s/$lib/lib/libsagegen.so --label $label --out "$w/$label.json" 2>&1 | grep -v "^\[.*PASS\|^PASS" | tail -3
  OUT="$w/edge-$lib" bash runtime/test/run_edge_checks.sh .carry/s/$lib 2>&1 | tail -3
done
for label in sm_90a_variety sm_89_d64-128 sm_90a_d64-128 sm_80_d64-128 tuned-h100; do
  python3 runtime/test/gpu_check.py --lib .carry/s/$label/lib/libsagegen.so --label $label --out "$w/$label.json" 2>&1 | grep -v "^\[.*PASS\|^PASS" | tail -2
done
# the split quantization kernel's SASS (every library runs it) beside the previous commit's
for pair in old-sm90a:sm_90a_d64-128 old-sm89:sm_89_d64-128; do
  for side in ${pair%%:*} ${pair##*:}; do
    cuobjdump -sass .carry/s/$side/lib/libsagegen.so | awk '/Function :/{on=index($0,"quantizeInt8Kernel")>0} on' | sed 's@/\*[0-9a-f]*\*/@@g; s@ *;.*@@' | grep -v '^\s*$' > /tmp/$side.sass
  done
  echo "quantizeInt8Kernel SASS, $pair: $(wc -l < /tmp/${pair%%:*}.sass) / $(wc -l < /tmp/${pair##*:}.sass) lines, $(diff /tmp/${pair%%:*}.sass /tmp/${pair##*:}.sass | grep -c '^[<>]') differ" | tee -a "$w/sass-quantize.txt"
done
tar -C "$out" -czf "$out/C1.tgz" w && rm -rf "$w"
}
c2() {
# the mma.sync library (split quantization kernels only) against the previous commit's, whole call
timeout 90 python3 runtime/bench/ab.py --lib .carry/s/old-sm90a --lib .carry/s/sm_90a_d64-128 --head-dims 128,64 --seqs 1024,4096 --causal false --rounds 3 --reps 10 --out "$w/ab-final-mma-sync.json" 2>&1 | grep -A2 "^D=" | grep -v "^--"
timeout 150 python3 runtime/bench/ab.py --lib .carry/s/base-tuned --lib .carry/s/fin-tuned --head-dims 128,64 --seqs 1024,2048,4096 --causal both --rounds 5 --reps 15 --out "$w/ab-final-tuned.json" 2>&1 | grep -A2 "^D=" | grep -v "^--"
python3 runtime/bench/bench.py --lib .carry/s/fin-tuned --head-dims 64,128 --out "$w/h100-wgmma-tuned.json" 2>&1 | grep "^\[" | tail -60
python3 runtime/bench/bench.py --lib .carry/s/fin --head-dims 64,128 --dtypes fp16 --out "$w/h100-wgmma.json" 2>&1 | grep "^\[" | tail -30
tar -C "$out" -czf "$out/C2.tgz" w && rm -rf "$w"
}
case "${2:?C1|C2}" in C1) c1 ;; C2) c2 ;; esac
ls -la "$out"
