#!/usr/bin/env bash
# Session 24, device call 3: host microseconds of the user-facing call, layer by layer
# (host/user_path.py), on the tuned set at 9ad1d92 (.carry/base/tuned from device1.sh's tarball).
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session24/device3.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; w="$out/w"; mkdir -p "$w"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
tar xzf .carry/p.tgz -C .carry
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv | tee "$w/gpu.txt"
timeout 150 python3 results/wgmma/session24/host/user_path.py --lib .carry/base/tuned --out "$w/user_path.json"
echo "used $SECONDS s"
tar -C "$out" -czf "$out/device3.tgz" w && rm -rf "$w"
