#!/usr/bin/env bash
# Session 2026-12-06 (13), part 3: GPU checks of the wgmma defaults (.carry/s/def) and of the
# re-selected tuned set (.carry/s/new-tuned, autotune --select over part 2's sweep); same-run A/Bs of
# main's tuned config (.carry/s/cur-tuned) against the re-selection; the benchmark of record of the
# defaults beside torch.
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/score-bias/device3.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
[ -f .carry/c.tgz ] && tar xzf .carry/c.tgz
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
for pair in def:sm_90a_wgmma new-tuned:tuned-h100-wgmma; do
  lib=${pair%%:*}; label=${pair#*:}
  timeout 60 python3 runtime/test/gpu_check.py --lib .carry/s/$lib/lib/libsagegen.so --label $label --out "$out/checks-$lib.json" 2>&1 | grep -E "FAIL|passed|failed" | tail -4
done
ab() { timeout 100 python3 runtime/bench/ab.py --lib .carry/s/cur-tuned --lib .carry/s/new-tuned --rounds 5 --reps 15 "$@" 2>&1 | grep -A2 "^D=" | grep -v "^--"; }
ab --head-dims 128 --seqs 2048,4096,8192,16384 --causal both --out "$out/ab-reselect-d128.json"
ab --head-dims 64 --seqs 1024,4096,8192,16384 --causal both --out "$out/ab-reselect-d64.json"
ab --head-dims 128 --seqs 4096,8192,16384 --causal true --dtype bf16 --out "$out/ab-reselect-d128-bf16.json"
timeout 250 python3 runtime/bench/bench.py --lib .carry/s/def --head-dims 64,128 --out "$out/h100-wgmma.json" 2>&1 | grep "^\[" | tail -40
