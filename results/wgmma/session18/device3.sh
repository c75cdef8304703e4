#!/usr/bin/env bash
# Session 2026-12-07 (18), call 3: the benchmark of record of the shipped tuned set (D=64 and 128,
# beside torch's backends; library built from autotune/tuned/h100-sm90a-wgmma.json at 982c3be, as
# .carry/s/tuned in .carry/d.tgz), then the runner over generated/tune64e (.carry/c.tgz: the D=64
# space with polyExp2Every 0, 3, 4 and 6 pairs; data for a later re-selection).
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session18/device3.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
[ -f .carry/d.tgz ] && tar xzf .carry/d.tgz -C .carry
[ -f .carry/c.tgz ] && tar xzf .carry/c.tgz
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
timeout 300 python3 runtime/bench/bench.py --lib .carry/s/tuned --head-dims 64,128 --out "$out/h100-wgmma-tuned.json" 2>&1 | grep "^\[" | tail -48
timeout 200 generated/tune64e/runner/sagegen-measure generated/tune64e --seqs 1024,2048,4096,8192,16384 \
  --refine-rounds 3 --out "$out/tune64e.jsonl" 2>&1 | tail -3
grep -c '"kind": "timing"' "$out/tune64e.jsonl"
