#!/usr/bin/env bash
# Session 24, device call 2: where a whole call's host microseconds go. api_cost (host/api_cost.cu,
# built here: nvcc -arch=sm_90a -O2 -o .carry/api_cost results/wgmma/session24/host/api_cost.cu) times
# the CUDA runtime calls run() makes; host/host_us.py times sagegen's layers on the tuned set (9ad1d92,
# .carry/base/tuned from device1.sh's tarball).
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session24/device2.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; w="$out/w"; mkdir -p "$w"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
tar xzf .carry/p.tgz -C .carry
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv | tee "$w/gpu.txt"
timeout 60 .carry/api_cost | tee "$w/api_cost.json"
timeout 120 python3 results/wgmma/session24/host/host_us.py --lib .carry/base/tuned --out "$w/host_us.json"
echo "used $SECONDS s"
tar -C "$out" -czf "$out/device2.tgz" w && rm -rf "$w"
