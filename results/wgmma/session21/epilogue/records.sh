#!/usr/bin/env bash
# For landing epilogue-wgmma.patch (after device5.sh has measured it): the records of the two wgmma
# libraries, whose attention kernels the patch changes. Build on the development machine first, at
# the commit that lands the patch, and carry them as .carry/s/{wg,tuned} in one tarball:
#   npx sagegen build --arch sm_90a --headdim 64,128 --mma wgmma --out .carry/s/wg
#   npx sagegen build --config autotune/tuned/h100-sm90a-wgmma.json --out .carry/s/tuned
#   tar czf .carry/r.tgz -C .carry s/wg s/tuned
# Then: SAGEGEN_COMMIT=<hash> bash results/wgmma/session21/epilogue/records.sh OUTDIR (about 10 device
# minutes). Outputs: results/gpu/{sm_90a_wgmma,tuned-h100-wgmma}.json, the edge checks of both
# (edge.tgz: ../../edge/ and ../../tuned/edge/), the two benchmarks of record (../../bench/).
set -uo pipefail
w="${1:?OUTDIR}"; mkdir -p "$w"
tar xzf .carry/r.tgz -C .carry
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv | tee "$w/gpu.txt"
python3 runtime/test/gpu_check.py --lib .carry/s/tuned/lib/libsagegen.so --label tuned-h100-wgmma --out "$w/tuned-h100-wgmma.json" 2>&1 | tail -1
python3 runtime/test/gpu_check.py --lib .carry/s/wg/lib/libsagegen.so --label sm_90a_wgmma --out "$w/sm_90a_wgmma.json" 2>&1 | tail -1
for lib in wg tuned; do OUT="$w/edge-$lib" bash runtime/test/run_edge_checks.sh .carry/s/$lib 2>&1 | tail -3; done
tar -C "$w" -czf "$w/edge.tgz" edge-wg edge-tuned && rm -rf "$w/edge-wg" "$w/edge-tuned"
mkdir -p "$w/bench"
python3 runtime/bench/bench.py --lib .carry/s/tuned --head-dims 64,128 --out "$w/bench/h100-wgmma-tuned.json" 2>&1 | grep "^\[" | tail -60
python3 runtime/bench/bench.py --lib .carry/s/wg --head-dims 64,128 --dtypes fp16 --out "$w/bench/h100-wgmma.json" 2>&1 | grep "^\[" | tail -30
# one archive (a call returns at most eight files)
tar -C "$w" -czf "$w/bench.tgz" bench && rm -rf "$w/bench"
