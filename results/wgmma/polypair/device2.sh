#!/usr/bin/env bash
# Session 2026-12-07 (17), part 2: the D=64 buckets re-tuned with pv.rowMax "vimnmx3" and, as a
# second axis value, every 4th pair of exponentials by the packed-half polynomial (f16x2). Bundle
# generated/tune64p (compiled by README's autotune command) carried inside .carry/c.tgz.
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/polypair/device2.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
[ -f .carry/c.tgz ] && tar xzf .carry/c.tgz
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
timeout 330 generated/tune64p/runner/sagegen-measure generated/tune64p --seqs 1024,2048,4096,8192,16384 \
  --refine-rounds 3 --out "$out/tune64p.jsonl" 2>&1 | tail -3
grep -c '"kind": "timing"' "$out/tune64p.jsonl"
