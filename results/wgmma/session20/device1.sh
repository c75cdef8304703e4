#!/usr/bin/env bash
# Session 20, device call 1 (carry .carry/c.tgz and .carry/t.tgz):
#   1. per-block timelines of the traced shipped kernels (trace/, libraries from trace/build.sh);
#   2. the 1K wave test (waves.py) and energy per call beside cuDNN (energy.py) on main's tuned set;
#   3. ncu of the shipped kernels (session19/ncu.sh).
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session20/device1.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
[ -d .carry/s/tuned ] || tar xzf .carry/c.tgz -C .carry
[ -d .carry/t/b3 ] || tar xzf .carry/t.tgz -C .carry
nvidia-smi --query-gpu=name,clocks.sm,power.draw,temperature.gpu --format=csv
tr=results/wgmma/session20/trace/trace.py
python3 $tr --lib .carry/t/b3 --label b3 --seq 1024 --head-dim 128 --out "$out/trace-b3-1k.json"
python3 $tr --lib .carry/t/b3 --label b3 --phase all --seq 1024 --head-dim 128 --out "$out/trace-b3-1k-whole.json"
python3 $tr --lib .carry/t/x12 --label x12 --seq 1024 --head-dim 128 --out "$out/trace-x12-1k.json"
python3 $tr --lib .carry/t/b3 --label b3 --seq 2048 --head-dim 128 --out "$out/trace-b3-2k.json"
python3 $tr --lib .carry/t/x12 --label x12 --seq 8192 --head-dim 128 --out "$out/trace-x12-8k.json"
python3 $tr --lib .carry/t/d64 --label d64 --seq 8192 --head-dim 64 --out "$out/trace-d64-8k.json"
python3 results/wgmma/session20/waves.py --lib .carry/s/tuned --out "$out/waves-d128-1k.json" 2>&1 | tail -12
python3 results/wgmma/session20/energy.py --lib .carry/s/tuned --out "$out/energy.json" 2>&1 | tail -20
bash results/wgmma/session19/ncu.sh "$out/ncu"
