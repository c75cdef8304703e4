#!/usr/bin/env bash
# Session 2026-12-06 (16), part 2: D=64 only. VIMNMX3 (vimax3.patch) and pv.polyExp2Every 16, alone
# and together, on the tuned set's D=64 fp16 entries. Libraries as .carry/s/<name> (.carry/c.tgz):
#   cur64  main's tuned config, D=64 fp16 entries only (at 0176900's template)
#   p64    the same with pv.polyExp2Every 16 on every entry
#   v64    cur64's config with vimax3.patch applied to the template
#   vp64   both
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/vimax3/device2.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
[ -f .carry/c.tgz ] && tar xzf .carry/c.tgz -C .carry
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
timeout 200 python3 runtime/bench/ab.py --rounds 4 --reps 15 --lib .carry/s/cur64 --lib .carry/s/v64 --lib .carry/s/p64 --lib .carry/s/vp64 --head-dims 64 --seqs 2048,8192,32768 --causal both --out "$out/ab-d64.json" 2>&1 | grep -A4 "^D=" | grep -v "^--"
timeout 60 python3 runtime/test/gpu_check.py --lib .carry/s/vp64/lib/libsagegen.so --only d64 --label vimax3-poly16-d64 --out "$out/checks-vp64.json" 2>&1 | grep -E "FAIL|passed|failed" | tail -4
