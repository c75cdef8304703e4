#!/usr/bin/env bash
# Session 2026-12-06 (13), part 2: the autotuner's sweep of the sm_90a wgmma space with this session's
# kernels (score bias from shared memory, Q descriptor in uniform registers, ATOMS stage counters),
# bundles generated/tune128 and generated/tune64 (carried in .carry/c.tgz), warm-up 200 ms per
# timing; same-run A/Bs: .carry/s/bias-tuned (part 1's library) against .carry/s/cur-tuned (main's
# tuned config at this commit) where three-consumer blocks run; cur-tuned against .carry/s/rs (the
# tuned set's one-consumer D=128 variants with pv.rowSums "tensor-shared", built from
# results/wgmma/score-bias/rs-specs.json) up to 4K, after GPU checks of rs.
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/score-bias/device2.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
[ -f .carry/c.tgz ] && tar xzf .carry/c.tgz
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
timeout 40 python3 runtime/test/gpu_check.py --lib .carry/s/rs/lib/libsagegen.so --label rs --out "$out/checks-rs.json" 2>&1 | grep -E "FAIL|passed|failed" | tail -4
ab() { timeout 70 python3 runtime/bench/ab.py --rounds 5 --reps 15 "$@" 2>&1 | grep -A2 "^D=" | grep -v "^--"; }
ab --lib .carry/s/cur-tuned --lib .carry/s/rs --head-dims 128 --seqs 1024,2048,4096 --causal both --out "$out/ab-rs.json"
ab --lib .carry/s/bias-tuned --lib .carry/s/cur-tuned --head-dims 128 --seqs 8192,16384 --causal both --out "$out/ab-qrows-atoms.json"
for b in tune128 tune64; do
  timeout 200 generated/$b/runner/sagegen-measure generated/$b --seqs 1024,2048,4096,8192,16384 --warmup-ms 200 --out "$out/$b.jsonl" 2>&1 | tail -2
done
