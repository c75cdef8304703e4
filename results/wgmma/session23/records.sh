#!/usr/bin/env bash
# Session 23, device call 2: the benchmarks of record at dc745f9 and the overlap probe. Carries the
# same .carry/l.tgz as landing.sh (the libraries under .carry/s/).
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session23/records.sh OUTDIR [SECONDS_BUDGET]
# OUTDIR/records.tgz: wgmma/ (into results/wgmma/bench/), mma-sync/ (into results/bench/), overlap.json.
set -uo pipefail
out="${1:?OUTDIR}"; budget="${2:-570}"; w="$out/w"; mkdir -p "$w/wgmma" "$w/mma-sync"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
[ -d .carry/s/tuned ] || tar xzf .carry/l.tgz -C .carry
source results/wgmma/device-steps.sh
gpu_state
# the benchmarks of record are H100 figures (the targets); on another card they are not run
if ! grep -q "H100" "$w/gpu.txt"; then budget=0; echo "not an H100: nothing is run" | tee -a "$w/skipped.txt"; fi
b() { step "$1" python3 runtime/bench/bench.py "${@:2}" 2>&1 | grep "^\[" | tail -4; }
b 150 --lib .carry/s/tuned --head-dims 64,128 --out "$w/wgmma/h100-wgmma-tuned.json"
b 80 --lib .carry/s/wg --head-dims 64,128 --dtypes fp16 --out "$w/wgmma/h100-wgmma.json"
step 100 python3 results/wgmma/session23/overlap.py --lib .carry/s/tuned --out "$w/overlap.json"
for d in 128 64; do b 60 --lib .carry/s/sm_90a_d64-128 --head-dims $d --out "$w/mma-sync/h100-d$d.json"; done
echo "used $SECONDS s"
tar -C "$w" -czf "$out/records.tgz" . && rm -rf "$w"
