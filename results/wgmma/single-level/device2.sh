#!/usr/bin/env bash
# Session 2026-12-06 (16), part 2: where single-level accumulation loses accuracy. Libraries as
# .carry/s/<name> (packed in .carry/c.tgz):
#   cur     main's tuned set at 0176900 (two-level)
#   sgl     the same with single-level.patch (row sums in P·V's ones columns, "tensor")
#   sglalu  single-level.patch, one spec: D=128 fp16 q192 s3 with pv.rowSums "alu" (row sums in
#           fp32 FADDs; only O in the wgmma accumulator)
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/single-level/device2.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
[ -f .carry/c.tgz ] && tar xzf .carry/c.tgz -C .carry
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
for n in cur sgl sglalu; do
  timeout 90 python3 results/wgmma/single-level/accuracy_long.py --seqs 2048,8192,32768 --lib .carry/s/$n/lib/libsagegen.so --out "$out/acc-$n.json" 2>&1 | tail -6
done
