#!/usr/bin/env bash
# Session 2026-12-06 (13), part 4: main's tuned config built at this session's kernels
# (.carry/s/cur-tuned): GPU checks, the benchmark of record beside torch, edge checks and compute-sanitizer on it
# and on the defaults (.carry/s/def); same-run A/Bs of the tuned set before this session's kernel
# changes (.carry/s/fin2-tuned, 3a8c99d) against it.
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/score-bias/device4.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
[ -f .carry/c.tgz ] && tar xzf .carry/c.tgz
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
timeout 60 python3 runtime/test/gpu_check.py --lib .carry/s/cur-tuned/lib/libsagegen.so --label tuned-h100-wgmma --out "$out/tuned-h100-wgmma.json" 2>&1 | grep -E "FAIL|passed|failed" | tail -4
timeout 250 python3 runtime/bench/bench.py --lib .carry/s/cur-tuned --head-dims 64,128 --out "$out/h100-wgmma-tuned.json" 2>&1 | grep "^\[" | tail -48
for lib in cur-tuned def; do
  OUT="$out/edge-$lib" timeout 150 bash runtime/test/run_edge_checks.sh .carry/s/$lib 2>&1 | tail -3
  tar -C "$out" -czf "$out/edge-$lib.tgz" edge-$lib && rm -rf "$out/edge-$lib"
done
ab() { timeout 100 python3 runtime/bench/ab.py --lib .carry/s/fin2-tuned --lib .carry/s/cur-tuned --rounds 5 --reps 15 "$@" 2>&1 | grep -A2 "^D=" | grep -v "^--"; }
ab --head-dims 128 --seqs 1024,2048,4096,8192,16384 --causal both --out "$out/ab-session-d128.json"
ab --head-dims 64 --seqs 2048,8192,16384 --causal both --out "$out/ab-session-d64.json"
