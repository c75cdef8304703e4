#!/usr/bin/env bash
# Session 20, device call 1: ncu of the shipped kernels (session19/ncu.sh) and the 1K wave test.
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session20/device1.sh OUTDIR   (carry .carry/c.tgz)
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
[ -d .carry/s/tuned ] || tar xzf .carry/c.tgz -C .carry
python3 results/wgmma/session20/waves.py --lib .carry/s/tuned --out "$out/waves-d128-1k.json" 2>&1 | tail -12
python3 results/wgmma/session20/energy.py --lib .carry/s/tuned --out "$out/energy.json" 2>&1 | tail -20
bash results/wgmma/session19/ncu.sh "$out/ncu"
