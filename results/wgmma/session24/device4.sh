#!/usr/bin/env bash
# Session 24, device call 4: the binding's host path (commit 97bbcee) on the tuned set.
# Carries .carry/p.tgz (device1.sh: .carry/base/tuned, the tuned set at 9ad1d92; the kernels are
# unchanged since) and .carry/oldpy (runtime/python of 9ad1d92, the binding before).
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session24/device4.sh OUTDIR [SECONDS_BUDGET]
set -uo pipefail
out="${1:?OUTDIR}"; budget="${2:-560}"; w="$out/w"; mkdir -p "$w/edge"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
tar xzf .carry/p.tgz -C .carry
source results/wgmma/device-steps.sh
gpu_state
mkdir -p .carry/s && rm -rf .carry/s/tuned && mv .carry/base/tuned .carry/s/tuned; lib=.carry/s/tuned  # the label of the records before
u=results/wgmma/session24/host/user_path.py
step 40 env SAGEGEN_PYTHON_ROOT=.carry/oldpy python3 $u --lib $lib --out "$w/user_path-before.json"
step 40 python3 $u --lib $lib --out "$w/user_path-after.json"
step 90 python3 runtime/python/tests/check_torch_op.py --lib $lib/lib/libsagegen.so --out "$w/torch_op.json" 2>&1 | tail -4
step 45 python3 runtime/test/gpu_check.py --lib $lib/lib/libsagegen.so --label tuned-h100-wgmma --out "$w/gpu-check.json" 2>&1 | tail -1
step 110 bash -c "OUT=$w/edge bash runtime/test/run_edge_checks.sh $lib 2>&1 | tail -3"
# the benchmark of record (H100 figures only), now with the api mode
if grep -q "H100" "$w/gpu.txt"; then
  step 240 python3 runtime/bench/bench.py --lib $lib --head-dims 64,128 --out "$w/h100-wgmma-tuned.json" 2>&1 | grep "^\[" | tail -3
fi
echo "used $SECONDS s"
tar -C "$out" -czf "$out/device4.tgz" w && rm -rf "$w"
