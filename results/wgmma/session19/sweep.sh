#!/usr/bin/env bash
# Session 2026-12-07 (19): the runner over generated/tune64x (.carry/t.tgz), the D=64 space with both
# d64-next ideas applied (shape8x2.patch and early-pv-option.patch on c23bf58): warps 4/8/12, min
# blocks 1-4 (the shapes of WGMMA_SHAPES plus 8 warps x 2), polyExp2Every 0/4 (f16x2), earlyPvSteps
# 0/2; 96 compiled, 84 to measure. Built with:
#   sagegen autotune --arch sm_90a --headdim 64 --dtype fp16,bf16 --causal both --pv wgmma --warp-q 16 \
#     --warps 4,8,12 --cta-k 128 --stages 2 --min-blocks 1,2,3,4 --overlap-qk false --producer false \
#     --row-sums tensor --row-max vimnmx3 --poly-exp2 0,4 --poly-exp2-form f16x2 --early-pv 0,2 \
#     --granularity per-warp --fold-dequant true --compile-only --out generated/tune64x
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session19/sweep.sh OUTDIR   (resumes from OUTDIR/tune64x.jsonl)
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
[ -d generated/tune64x ] || tar xzf .carry/t.tgz
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
timeout 560 generated/tune64x/runner/sagegen-measure generated/tune64x --seqs 1024,2048,4096,8192,16384 \
  --refine-rounds 3 --out "$out/tune64x.jsonl" 2>&1 | tail -3
grep -c '"kind": "timing"' "$out/tune64x.jsonl"
