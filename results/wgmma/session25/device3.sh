#!/usr/bin/env bash
# Session 25, device call 3 (calls 1 and 2 were written, never ran, and were folded into this one, as
# the device time left allows one call):
# the attention kernel launched beside the K/V kernel (plan quant.kvReady). Bitwise and GPU checks of
# the tuned set and of the wgmma defaults, a same-run A/B against main before the change, memcheck,
# the binding's host microseconds (before/after its repeated-geometry argument blocks), then the
# tuned set's benchmark of record if the time left allows. Carries
#   .carry/ov.tgz   this commit's tuned set: npx sagegen build --config autotune/tuned/h100-sm90a-wgmma.json --out .carry/ov/tuned
#   .carry/ovd.tgz  this commit's wgmma defaults: npx sagegen build --arch sm_90a --headdim 64,128 --mma wgmma --out .carry/ovd/def
#   .carry/b25.tgz  the tuned set built at 9ad1d92 (.carry/base/tuned), whose kernels are main's before this change
#     (each: tar czf X.tgz -C .carry DIR/lib/libsagegen.so DIR/include DIR/manifest.json)
#   .carry/py24     runtime/python of db2d1e4: the binding before its repeated-geometry argument blocks
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session25/device3.sh OUTDIR [SECONDS_BUDGET]
set -uo pipefail
source results/wgmma/device-steps.sh
device_start "${1:?OUTDIR}" "${2:-570}" .carry/ov.tgz .carry/b25.tgz .carry/ovd.tgz || exit 1
new=.carry/ov/tuned base=.carry/base/tuned def=.carry/ovd/def
# correctness first: a hang would be the dependent launch deadlocking, so each is time-boxed
step 45 timeout 100 python3 results/wgmma/session25/overlap_bitwise.py --lib $new --reps 5 --out "$w/overlap-bitwise.json" 2>&1 | tail -15
if [ ! -s "$w/overlap-bitwise.json" ]; then  # it hung or failed to run: nothing after it is worth the time
  echo "no overlap-bitwise.json: stopping"; tar -C "$out" -czf "$out/device3.tgz" w; exit 1
fi
step 35 timeout 90 python3 runtime/test/gpu_check.py --lib $new/lib/libsagegen.so --label tuned-h100-wgmma --out "$w/tuned-h100-wgmma.json" 2>&1 | tail -1
ab() { python3 runtime/bench/ab.py --lib $base --lib $new --rounds 3 --reps 15 "$@" 2>&1 | grep -v "^wrote"; }
step 70 ab --head-dims 128 --seqs 1024,2048 --causal both --out "$w/ab-d128.json"
step 50 ab --head-dims 64 --seqs 1024,4096,16384 --causal false --out "$w/ab-d64.json"
step 35 timeout 90 python3 runtime/test/gpu_check.py --lib $def/lib/libsagegen.so --label sm_90a_wgmma --out "$w/sm_90a_wgmma.json" 2>&1 | tail -1
step 45 python3 runtime/test/run_sanitizer.py --lib $new/lib/libsagegen.so --tools memcheck --out "$w/sanitizer-memcheck.json" --timeout 40 2>&1 | tail -2
h=results/wgmma/session25/host_us.py
step 25 env SAGEGEN_PYTHON_ROOT=.carry/py24 python3 $h --lib $new --out "$w/host-before.json"
step 25 python3 $h --lib $new --out "$w/host-after.json"
# last, only where the call's time allows: the tuned set's benchmark of record on the new kernels
step 250 python3 runtime/bench/bench.py --lib $new --head-dims 64,128 --out "$w/h100-wgmma-tuned.json" 2>&1 | grep "^\[" | tail -3
echo "used $SECONDS s"
tar -C "$out" -czf "$out/device3.tgz" w && rm -rf "$w"
