#!/usr/bin/env bash
# Device call 1 of the re-check of the stale results of record (results/records.json, "stale"): the GPU
# checks of the six shipped libraries whose records predate their sources, then the edge checks (C ABI
# table, edge cases, compute-sanitizer) of the tuned wgmma set and of the sm_90a mma.sync defaults.
# Prepared in session 29, rebuilt in session 30 so that every manifest carries its source fingerprint
# (the records written here carry it, and test/records.test.ts checks it). Build and pack here
# (README.md), then on the device:
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session30/recheck.sh OUTDIR [SECONDS_BUDGET]
set -uo pipefail
source results/wgmma/device-steps.sh
device_start "${1:?OUTDIR}" "${2:-540}" .carry/r30.tgz || exit 1
for lib in tuned-h100-wgmma sm_90a_d64-128 tuned-h100 sm_90a_variety sm_89_d64-128 sm_80_d64-128; do
  step 45 ok "check-$lib" timeout 120 python3 runtime/test/gpu_check.py --lib .carry/r30/$lib/lib/libsagegen.so --label $lib --out "$w/gpu/$lib.json"
done
OUT="$w/tuned-edge" step 110 ok edge-tuned bash runtime/test/run_edge_checks.sh .carry/r30/tuned-h100-wgmma
OUT="$w/gpu-edge" step 110 ok edge-sm90a bash runtime/test/run_edge_checks.sh .carry/r30/sm_90a_d64-128
echo "used $SECONDS s"
tar -C "$out" -czf "$out/r30a.tgz" w && rm -rf "$w"
