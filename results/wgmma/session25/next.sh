#!/usr/bin/env bash
# For the next session (not run yet): the tuned set with tiling.overlapKvQuant on in its 23
# one-consumer buckets (tuned-overlap.json, written from autotune/tuned/h100-sm90a-wgmma.json by
# setting the option in those winners), checked and benchmarked as a candidate for the shipped set.
# Build here and carry:
#   npx sagegen build --config results/wgmma/session25/tuned-overlap.json --out .carry/tov/tuned
#   tar czf .carry/tov.tgz -C .carry tov/tuned/lib/libsagegen.so tov/tuned/include tov/tuned/manifest.json
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session25/next.sh OUTDIR [SECONDS_BUDGET]
# If it holds up: copy tuned-overlap.json over autotune/tuned/h100-sm90a-wgmma.json, and the bench
# and checks below over the records (results/wgmma/bench/, results/gpu/, results/wgmma/tuned/edge/).
set -uo pipefail
source results/wgmma/device-steps.sh
device_start "${1:?OUTDIR}" "${2:-570}" .carry/tov.tgz || exit 1
lib=.carry/tov/tuned
step 45 timeout 100 python3 results/wgmma/session25/overlap_bitwise.py --lib $lib --reps 5 --out "$w/overlap-bitwise.json" 2>&1 | tail -1
if [ ! -s "$w/overlap-bitwise.json" ]; then echo "no overlap-bitwise.json: stopping"; tar -C "$out" -czf "$out/next.tgz" w; exit 1; fi
step 35 timeout 90 python3 runtime/test/gpu_check.py --lib $lib/lib/libsagegen.so --label tuned-h100-wgmma --out "$w/tuned-h100-wgmma.json" 2>&1 | tail -1
step 260 python3 runtime/bench/bench.py --lib $lib --head-dims 64,128 --out "$w/h100-wgmma-tuned.json" 2>&1 | grep "^\[" | tail -3
OUT="$w/edge" step 150 bash runtime/test/run_edge_checks.sh $lib 2>&1 | tail -3
echo "used $SECONDS s"
tar -C "$out" -czf "$out/next.tgz" w && rm -rf "$w"
