#!/usr/bin/env bash
# Session 25, device call 2 (landing the attention kernel beside the K/V kernel): the records of the
# two wgmma libraries whose one-consumer variants changed, and the tuned set's benchmark of record.
# Carries .carry/ov.tgz (device1.sh) and .carry/ovd.tgz (the wgmma defaults at this commit:
# npx sagegen build --arch sm_90a --headdim 64,128 --mma wgmma --out .carry/ovd/def;
# tar czf .carry/ovd.tgz -C .carry ovd/def/{lib/libsagegen.so,include,manifest.json}).
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session25/device2.sh OUTDIR [SECONDS_BUDGET]
set -uo pipefail
out="${1:?OUTDIR}"; budget="${2:-570}"; w="$out/w"; mkdir -p "$w"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
tar xzf .carry/ov.tgz -C .carry && tar xzf .carry/ovd.tgz -C .carry
source results/wgmma/device-steps.sh
gpu_state
tuned=.carry/ov/tuned def=.carry/ovd/def
step 60 timeout 120 python3 results/wgmma/session25/overlap_bitwise.py --lib $def --reps 5 --out "$w/overlap-bitwise-defaults.json" 2>&1 | tail -1
step 40 timeout 90 python3 runtime/test/gpu_check.py --lib $def/lib/libsagegen.so --label sm_90a_wgmma --out "$w/sm_90a_wgmma.json" 2>&1 | tail -1
step 250 python3 runtime/bench/bench.py --lib $tuned --head-dims 64,128 --out "$w/h100-wgmma-tuned.json" 2>&1 | grep "^\[" | tail -3
for lib in tuned def; do d=$tuned; [ $lib = def ] && d=$def; OUT="$w/edge-$lib" step 100 bash runtime/test/run_edge_checks.sh $d 2>&1 | tail -3; done
echo "used $SECONDS s"
tar -C "$out" -czf "$out/device2.tgz" w && rm -rf "$w"
