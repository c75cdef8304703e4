#!/usr/bin/env bash
# Session 28: the new wgmma defaults (dsl/builder.ts wgmmaSpecInput: D=128 causal in the three-consumer
# block, D=64 in the tuned set's most frequent block) checked, A/B-timed against main's defaults in the
# same run, and their records re-run. Build both here and carry them (README.md gives the commands):
#   tar czf .carry/d28.tgz -C .carry d28/{wg,old}/{lib/libsagegen.so,include,manifest.json}
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session28/defaults.sh OUTDIR [SECONDS_BUDGET]
# Steps run most needed first, each only while time is left; everything ends in OUTDIR/d28.tgz.
set -uo pipefail
source results/wgmma/device-steps.sh
device_start "${1:?OUTDIR}" "${2:-570}" .carry/d28.tgz || exit 1
new=.carry/d28/wg old=.carry/d28/old
# 1. correctness of the new defaults: the GPU check (the record results/gpu/sm_90a_wgmma.json) and the
#    overlap (on at D=64) bit for bit against the two phases run one after the other
step 40 ok gpucheck timeout 90 python3 runtime/test/gpu_check.py --lib $new/lib/libsagegen.so --label sm_90a_wgmma --out "$w/sm_90a_wgmma.json"
step 45 ok bitwise timeout 100 python3 results/wgmma/session25/overlap_bitwise.py --lib $new --reps 5 --out "$w/overlap-bitwise.json"
# 2. whether they pay: same-run A/B, main's defaults first
step 150 ok ab timeout 170 python3 runtime/bench/ab.py --lib $old --lib $new --rounds 3 --reps 15 --head-dims 64,128 --seqs 1024,4096,16384 --causal both --out "$w/ab.json"
# 3. the records: edge checks with the four sanitizers, then the defaults' benchmark (fp16, as before)
OUT="$w/edge" step 110 ok edge bash runtime/test/run_edge_checks.sh $new
step 130 ok bench timeout 200 python3 runtime/bench/bench.py --lib $new --head-dims 64,128 --dtypes fp16 --out "$w/bench/h100-wgmma.json"
echo "used $SECONDS s"
tar -C "$out" -czf "$out/d28.tgz" w && rm -rf "$w"
