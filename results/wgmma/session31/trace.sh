#!/usr/bin/env bash
# Session 31's prepared device call (carry .carry/t31.tgz, made by trace-build.sh): where the D=128
# kernel's time goes per block at N >= 8K, which the issue 7 notes leave as an estimate (the 8K
# kernel runs ~4.5% below 16K, about what a fixed per-block prologue and epilogue would cost with one
# three-consumer block per SM). About 2–3 device minutes, most needed first:
#   1. per-block timelines of the wgmma defaults' q192 block (session 20's trace.py): non-causal 8K,
#      16K, then causal 8K, then non-causal 1K, 4K, 32K and causal 16K: each block's prologue / loop /
#      epilogue, slot utilization and the tail;
#   2. the trace points' own cost: same-run A/B of each traced library against the untraced build.
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session31/trace.sh OUTDIR [SECONDS_BUDGET]
# Writes OUTDIR/t31.tgz (the folder w/: JSONs and logs).
set -uo pipefail
source results/wgmma/device-steps.sh
device_start "${1:?OUTDIR}" "${2:-300}" .carry/t31.tgz || exit 1
tr=results/wgmma/session20/trace/trace.py
trace() {  # label seq [--causal]
  local label=$1 seq=$2; shift 2
  step 25 ok "trace-$label-$seq" python3 $tr --lib .carry/t31/$label --label $label --seq $seq --head-dim 128 "$@" --out "$w/trace-$label-$seq.json"
}
trace x12 8192; trace x12 16384; trace x12c 8192 --causal
step 60 ok ab-trace-cost python3 runtime/bench/ab.py --lib .carry/t31/plain --lib .carry/t31/x12 --head-dims 128 --seqs 8192,16384 \
  --causal false --rounds 3 --reps 15 --out "$w/ab-trace-cost.json"
trace x12 1024; trace x12 4096; trace x12 32768; trace x12c 16384 --causal
step 40 ok ab-trace-cost-causal python3 runtime/bench/ab.py --lib .carry/t31/plain --lib .carry/t31/x12c --head-dims 128 --seqs 8192 \
  --causal true --rounds 3 --reps 15 --out "$w/ab-trace-cost-causal.json"
echo "used $SECONDS s"
tar -C "$out" -czf "$out/t31.tgz" w && rm -rf "$w"
