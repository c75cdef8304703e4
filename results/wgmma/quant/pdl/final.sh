#!/usr/bin/env bash
# For landing the dependent-launch chain after device.sh's A/B gains: GPU checks of every library
# the change touches (the template's host code changed for all of them), edge checks and
# compute-sanitizer of both wgmma libraries, and the benchmark beside torch (tuned set, then the
# defaults). Libraries built on the development machine at the candidate commit and carried as
# .carry/s/<name>: pdl, pdl-tuned (wgmma), pdl-variety (FP8 mma.sync sm_90a), pdl-sm90a and
# pdl-tuned-h100 (16-bit mma.sync sm_90a), pdl-sm89, pdl-sm80 (run through PTX). Every result is
# packed into three archives, as a call returns only about eight files.
#   results/wgmma/quant/pdl/final.sh OUTDIR [checks|bench|all]
set -uo pipefail
w="${1:?OUTDIR}"; part="${2:-all}"; mkdir -p "$w"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv | tee "$w/gpu.txt"
if [ "$part" != bench ]; then
  mkdir -p "$w/checks"
  for pair in pdl:sm_90a_wgmma pdl-tuned:tuned-h100-wgmma pdl-variety:sm_90a_variety pdl-sm90a:sm_90a_d64-128 \
              pdl-tuned-h100:tuned-h100 pdl-sm89:sm_89_d64-128 pdl-sm80:sm_80_d64-128; do
    lib="${pair%%:*}"; label="${pair##*:}"
    [ -e ".carry/s/$lib/lib/libsagegen.so" ] || { echo "missing .carry/s/$lib"; continue; }
    echo "$label: $(python3 runtime/test/gpu_check.py --lib .carry/s/$lib/lib/libsagegen.so --label "$label" --out "$w/checks/$label.json" 2>&1 | tail -1)"
  done
  tar -C "$w" -czf "$w/checks.tgz" checks && rm -rf "$w/checks"
  for lib in pdl pdl-tuned; do OUT="$w/edge-$lib" bash runtime/test/run_edge_checks.sh .carry/s/$lib 2>&1 | tail -3; done
  tar -C "$w" -czf "$w/edge.tgz" edge-pdl edge-pdl-tuned && rm -rf "$w/edge-pdl" "$w/edge-pdl-tuned"
fi
if [ "$part" != checks ]; then
  mkdir -p "$w/bench"
  python3 runtime/bench/bench.py --lib .carry/s/pdl-tuned --head-dims 64,128 --out "$w/bench/h100-wgmma-tuned.json" 2>&1 | grep "^\[" | tail -5
  python3 runtime/bench/bench.py --lib .carry/s/pdl --head-dims 64,128 --dtypes fp16 --out "$w/bench/h100-wgmma.json" 2>&1 | grep "^\[" | tail -5
  tar -C "$w" -czf "$w/bench.tgz" bench && rm -rf "$w/bench"
fi
ls -la "$w"
