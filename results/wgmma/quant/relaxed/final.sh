#!/usr/bin/env bash
# For landing the relaxed cluster arrive (relaxed-arrive.patch here; commit 1f4e41b, local branch
# exp-relaxed), not run yet (session 9's device time ran out): GPU checks of the libraries that run the
# K/V cluster kernel (wgmma tuned set, FP8 sm_90a variety, wgmma defaults), edge checks and
# compute-sanitizer of both wgmma libraries, and the benchmark beside torch. Libraries built on the
# development machine and carried as .carry/s/<name> (fin2, fin2-tuned, variety2). Writes into OUTDIR.
#   results/wgmma/quant/relaxed/final.sh OUTDIR   (with the patch applied and the three libraries rebuilt)
set -uo pipefail
w="${1:?OUTDIR}"; mkdir -p "$w"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv | tee "$w/gpu.txt"
python3 runtime/test/gpu_check.py --lib .carry/s/fin2-tuned/lib/libsagegen.so --label tuned-h100-wgmma --out "$w/tuned-h100-wgmma.json" 2>&1 | tail -1
python3 runtime/test/gpu_check.py --lib .carry/s/variety2/lib/libsagegen.so --label sm_90a_variety --out "$w/sm_90a_variety.json" 2>&1 | tail -1
for lib in fin2 fin2-tuned; do OUT="$w/edge-$lib" bash runtime/test/run_edge_checks.sh .carry/s/$lib 2>&1 | tail -3; done
# one archive, as a call returns only a few files from OUTDIR
tar -C "$w" -czf "$w/edge.tgz" edge-fin2 edge-fin2-tuned && rm -rf "$w/edge-fin2" "$w/edge-fin2-tuned"
python3 runtime/bench/bench.py --lib .carry/s/fin2-tuned --head-dims 64,128 --out "$w/h100-wgmma-tuned.json" 2>&1 | grep "^\[" | tail -60
python3 runtime/bench/bench.py --lib .carry/s/fin2 --head-dims 64,128 --dtypes fp16 --out "$w/h100-wgmma.json" 2>&1 | grep "^\[" | tail -30
python3 runtime/test/gpu_check.py --lib .carry/s/fin2/lib/libsagegen.so --label sm_90a_wgmma --out "$w/sm_90a_wgmma.json" 2>&1 | tail -1
