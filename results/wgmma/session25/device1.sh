#!/usr/bin/env bash
# Session 25, device call 1: the attention kernel launched beside the K/V kernel (plan quant.kvReady),
# on the tuned set. Carries .carry/ov.tgz (this commit's tuned set: npx sagegen build --config
# autotune/tuned/h100-sm90a-wgmma.json --out .carry/ov/tuned) and .carry/b25.tgz (the same config
# built at 9ad1d92, whose kernels are main's before this change: .carry/base/tuned), and .carry/py24
# (runtime/python of db2d1e4: the binding before its repeated-geometry argument blocks) and .carry/oldpy
# (runtime/python of 9ad1d92: the binding before session 24 took the dispatcher out of eager calls).
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session25/device1.sh OUTDIR [SECONDS_BUDGET]
set -uo pipefail
out="${1:?OUTDIR}"; budget="${2:-560}"; w="$out/w"; mkdir -p "$w"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
tar xzf .carry/ov.tgz -C .carry && tar xzf .carry/b25.tgz -C .carry
source results/wgmma/device-steps.sh
gpu_state
new=.carry/ov/tuned base=.carry/base/tuned
# correctness first: a hang here would be the dependent launch deadlocking, so each is time-boxed
step 60 timeout 120 python3 results/wgmma/session25/overlap_bitwise.py --lib $new --reps 10 --out "$w/overlap-bitwise.json" 2>&1 | tail -16
step 45 timeout 90 python3 runtime/test/gpu_check.py --lib $new/lib/libsagegen.so --label overlap --out "$w/gpu-check.json" 2>&1 | tail -2
ab() { python3 runtime/bench/ab.py --lib $base --lib $new --rounds 3 --reps 15 "$@" 2>&1 | grep -v "^wrote"; }
step 90 ab --head-dims 128 --seqs 1024,2048 --causal both --out "$w/ab-d128.json"
step 90 ab --head-dims 64 --seqs 1024,2048,4096,8192,16384 --causal false --out "$w/ab-d64.json"
step 60 ab --head-dims 64 --seqs 1024,2048,4096 --causal true --out "$w/ab-d64-causal.json"
step 100 python3 runtime/test/run_sanitizer.py --lib $new/lib/libsagegen.so --tools memcheck,initcheck --out "$w/sanitizer.json" --timeout 45 2>&1 | tail -5
# the binding's repeated-geometry argument blocks: host µs before (.carry/py24: runtime/python of db2d1e4) and after
h=results/wgmma/session25/host_us.py
for i in 1; do
  step 25 env SAGEGEN_PYTHON_ROOT=.carry/oldpy python3 $h --lib $new --out "$w/host-9ad1d92-$i.json"
  step 25 env SAGEGEN_PYTHON_ROOT=.carry/py24 python3 $h --lib $new --out "$w/host-before-$i.json"
  step 25 python3 $h --lib $new --out "$w/host-after-$i.json"
done
step 40 python3 runtime/python/tests/check_torch_op.py --lib $new/lib/libsagegen.so --out "$w/torch_op.json" 2>&1 | tail -2
echo "used $SECONDS s"
tar -C "$out" -czf "$out/device1.tgz" w && rm -rf "$w"
