#!/usr/bin/env bash
# Session 23: Q·Kᵀ with Q from registers (qk-registers.patch, an experiment). Build the tuned set twice
# here, from main and from main + the patch with SAGEGEN_EXPERIMENT_QK_RS=1:
#   npx sagegen build --config autotune/tuned/h100-sm90a-wgmma.json --out .carry/{s,rs}/tuned
#   tar czf .carry/x.tgz {s,rs}/tuned/{lib/libsagegen.so,include,manifest.json}   (from .carry/)
# then: bash results/wgmma/session23/rs/device.sh OUTDIR
set -uo pipefail
w="${1:?OUTDIR}"; mkdir -p "$w"; export PYTHONUNBUFFERED=1
tar xzf .carry/x.tgz -C .carry
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv | tee "$w/gpu.txt"
timeout 60 python3 runtime/test/gpu_check.py --lib .carry/rs/tuned/lib/libsagegen.so --label qk-registers --out "$w/gpu-check.json" 2>&1 | tail -1
timeout 150 python3 runtime/bench/ab.py --lib .carry/s/tuned --lib .carry/rs/tuned --head-dims 64 --seqs 1024,4096,8192,16384 --causal both \
  --rounds 3 --reps 15 --out "$w/ab-d64.json" 2>&1 | grep -v "^wrote"
timeout 60 python3 runtime/bench/ab.py --lib .carry/s/tuned --lib .carry/rs/tuned --head-dims 128 --seqs 8192 --causal false \
  --rounds 3 --reps 15 --out "$w/ab-d128.json" 2>&1 | grep -v "^wrote"
echo "used $SECONDS s"
