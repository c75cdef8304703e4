#!/usr/bin/env bash
# Device call 2 of the re-check: the benchmarks of record of the tuned wgmma set and of the sm_90a
# mma.sync defaults (H100 only: the targets are H100 figures), then the consumers (C++ and C
# examples, the torch op) against an install prefix. Same carried tarball as recheck.sh:
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session30/records.sh OUTDIR [SECONDS_BUDGET]
# OUTDIR/r30b.tgz: wgmma/ (into results/wgmma/bench/), mma-sync/ (into results/bench/), consumers/.
set -uo pipefail
source results/wgmma/device-steps.sh
device_start "${1:?OUTDIR}" "${2:-540}" .carry/r30.tgz || exit 1
mkdir -p "$w/wgmma" "$w/mma-sync" "$w/consumers"
# bench.py labels a library by its directory: the records' labels are "tuned" and "sm_90a_d64-128".
ln -sfn tuned-h100-wgmma .carry/r30/tuned
bench=true
grep -q "H100" "$w/gpu.txt" || { bench=false; echo "not an H100: no benchmark is run" | tee -a "$w/skipped.txt"; }
if $bench; then
  step 150 ok bench-tuned python3 runtime/bench/bench.py --lib .carry/r30/tuned --head-dims 64,128 --out "$w/wgmma/h100-wgmma-tuned.json"
  for d in 128 64; do
    step 60 ok "bench-mma-d$d" python3 runtime/bench/bench.py --lib .carry/r30/sm_90a_d64-128 --head-dims $d --out "$w/mma-sync/h100-d$d.json"
  done
fi
step 200 ok consumers bash examples/run_gpu_consumers.sh .carry/r30/consumers "$w/consumers"
echo "used $SECONDS s"
tar -C "$out" -czf "$out/r30b.tgz" w && rm -rf "$w"
