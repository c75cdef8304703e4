#!/usr/bin/env bash
# Session 24, device call 6 (never ran: no machine, then no device time): check_torch_op.py on the H100
# after its test fix, a second and third sample of the host microseconds before/after the binding
# change, then pairs without the mask: the tuned set's non-causal buckets of ≤ 2 blocks per SM
# paired (block x computes tiles x and x + blocks per head through one K/V ring), built with
# causal-pairs.patch + pairs-noncausal-on-causal-pairs.patch on 9ad1d92 from pairs-nc-config.json.
# Carries .carry/p.tgz (device1.sh), .carry/oldpy (9ad1d92's runtime/python), .carry/nc.tgz
# (nc/tuned: tar czf .carry/nc.tgz -C .carry nc/tuned/{lib/libsagegen.so,include,manifest.json}).
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session24/device6.sh OUTDIR [SECONDS_BUDGET]
set -uo pipefail
out="${1:?OUTDIR}"; budget="${2:-420}"; w="$out/w"; mkdir -p "$w"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
tar xzf .carry/p.tgz -C .carry && tar xzf .carry/nc.tgz -C .carry
source results/wgmma/device-steps.sh
gpu_state
lib=.carry/base/tuned
step 90 python3 runtime/python/tests/check_torch_op.py --lib $lib/lib/libsagegen.so --out "$w/torch_op.json" 2>&1 | tail -2
u=results/wgmma/session24/host/user_path.py
for i in 1 2; do
  step 30 env SAGEGEN_PYTHON_ROOT=.carry/oldpy python3 $u --lib $lib --out "$w/user_path-before-$i.json"
  step 30 python3 $u --lib $lib --out "$w/user_path-after-$i.json"
done
b=results/wgmma/session24/pairs_bitwise.py
bitwise() {
  python3 $b save --lib $lib --out /tmp/a.pt && python3 $b save --lib .carry/nc/tuned --out /tmp/b.pt && python3 $b compare /tmp/a.pt /tmp/b.pt > "$w/nc-bitwise.txt" 2>&1
  tail -1 "$w/nc-bitwise.txt"
}
step 60 bitwise
step 40 python3 runtime/test/gpu_check.py --lib .carry/nc/tuned/lib/libsagegen.so --label pairs-noncausal --out "$w/nc-gpu-check.json" 2>&1 | tail -1
step 110 python3 runtime/bench/ab.py --lib $lib --lib .carry/nc/tuned --head-dims 64,128 --seqs 2048,4096,8192,16384 --causal false \
  --rounds 3 --reps 15 --out "$w/nc-ab.json" 2>&1 | grep -v "^wrote"
echo "used $SECONDS s"
tar -C "$out" -czf "$out/device6.tgz" w && rm -rf "$w"
