#!/usr/bin/env bash
# Session 24, device call 5: check_torch_op.py on the H100 after its test fix (8bd5a5c), and a second
# sample of the host microseconds before/after the binding change (same carry as device4.sh).
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session24/device5.sh OUTDIR [SECONDS_BUDGET]
set -uo pipefail
out="${1:?OUTDIR}"; budget="${2:-300}"; w="$out/w"; mkdir -p "$w"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
tar xzf .carry/p.tgz -C .carry
source results/wgmma/device-steps.sh
gpu_state
lib=.carry/base/tuned
step 90 python3 runtime/python/tests/check_torch_op.py --lib $lib/lib/libsagegen.so --out "$w/torch_op.json" 2>&1 | tail -3
u=results/wgmma/session24/host/user_path.py
for i in 1 2; do
  step 40 env SAGEGEN_PYTHON_ROOT=.carry/oldpy python3 $u --lib $lib --out "$w/user_path-before-$i.json"
  step 40 python3 $u --lib $lib --out "$w/user_path-after-$i.json"
done
echo "used $SECONDS s"
tar -C "$out" -czf "$out/device5.tgz" w && rm -rf "$w"
