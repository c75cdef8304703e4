#!/usr/bin/env bash
# Session 29: the GPU checks of the six shipped libraries whose records predate c42080f (run(): one
# K/V cluster launch path, host code) re-run on builds of this commit, then the edge checks of the
# tuned wgmma set and of the sm_90a mma.sync defaults. Build here and carry (README.md gives the
# commands), then on the device:
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session29/recheck.sh OUTDIR [SECONDS_BUDGET]
set -uo pipefail
source results/wgmma/device-steps.sh
device_start "${1:?OUTDIR}" "${2:-540}" .carry/r29.tgz || exit 1
for lib in tuned-h100-wgmma sm_90a_d64-128 tuned-h100 sm_90a_variety sm_89_d64-128 sm_80_d64-128; do
  step 45 ok "check-$lib" timeout 120 python3 runtime/test/gpu_check.py --lib .carry/r29/$lib/lib/libsagegen.so --label $lib --out "$w/gpu/$lib.json"
done
OUT="$w/tuned-edge" step 110 ok edge-tuned bash runtime/test/run_edge_checks.sh .carry/r29/tuned-h100-wgmma
OUT="$w/gpu-edge" step 110 ok edge-sm90a bash runtime/test/run_edge_checks.sh .carry/r29/sm_90a_d64-128
echo "used $SECONDS s"
tar -C "$out" -czf "$out/r29.tgz" w && rm -rf "$w"
