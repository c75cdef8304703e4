#!/usr/bin/env bash
# Session 25, device call 3: device1.sh and device2.sh in one call (the device time left allows one):
# the attention kernel launched beside the K/V kernel (plan quant.kvReady). Bitwise and GPU checks of
# the tuned set and of the wgmma defaults, a same-run A/B against main before the change, memcheck,
# the tuned set's benchmark of record, then the binding's host microseconds (before/after its
# repeated-geometry argument blocks). Carries .carry/ov.tgz, .carry/b25.tgz, .carry/ovd.tgz (see
# device1.sh and device2.sh) and .carry/py24.
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session25/device3.sh OUTDIR [SECONDS_BUDGET]
set -uo pipefail
out="${1:?OUTDIR}"; budget="${2:-570}"; w="$out/w"; mkdir -p "$w"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
tar xzf .carry/ov.tgz -C .carry && tar xzf .carry/b25.tgz -C .carry && tar xzf .carry/ovd.tgz -C .carry
source results/wgmma/device-steps.sh
gpu_state
new=.carry/ov/tuned base=.carry/base/tuned def=.carry/ovd/def
# correctness first: a hang would be the dependent launch deadlocking, so each is time-boxed
step 45 timeout 100 python3 results/wgmma/session25/overlap_bitwise.py --lib $new --reps 5 --out "$w/overlap-bitwise.json" 2>&1 | tail -15
step 35 timeout 90 python3 runtime/test/gpu_check.py --lib $new/lib/libsagegen.so --label tuned-h100-wgmma --out "$w/tuned-h100-wgmma.json" 2>&1 | tail -1
ab() { python3 runtime/bench/ab.py --lib $base --lib $new --rounds 3 --reps 15 "$@" 2>&1 | grep -v "^wrote"; }
step 70 ab --head-dims 128 --seqs 1024,2048 --causal both --out "$w/ab-d128.json"
step 50 ab --head-dims 64 --seqs 1024,4096,16384 --causal false --out "$w/ab-d64.json"
step 35 timeout 90 python3 runtime/test/gpu_check.py --lib $def/lib/libsagegen.so --label sm_90a_wgmma --out "$w/sm_90a_wgmma.json" 2>&1 | tail -1
step 45 python3 runtime/test/run_sanitizer.py --lib $new/lib/libsagegen.so --tools memcheck --out "$w/sanitizer-memcheck.json" --timeout 40 2>&1 | tail -2
step 250 python3 runtime/bench/bench.py --lib $new --head-dims 64,128 --out "$w/h100-wgmma-tuned.json" 2>&1 | grep "^\[" | tail -3
h=results/wgmma/session25/host_us.py
step 25 env SAGEGEN_PYTHON_ROOT=.carry/py24 python3 $h --lib $new --out "$w/host-before.json"
step 25 python3 $h --lib $new --out "$w/host-after.json"
echo "used $SECONDS s"
tar -C "$out" -czf "$out/device3.tgz" w && rm -rf "$w"
