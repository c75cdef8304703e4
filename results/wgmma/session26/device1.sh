#!/usr/bin/env bash
# Session 26, call 1: the K/V overlap candidates checked and timed side by side.
#   base = the shipped tuned set (overlap off); tov = tuned-overlap.json built on main (overlap on in
#   the 23 one-consumer buckets); tkp = the same config built on branch exp-kv-persistent (the K/V
#   cluster kernel persistent, about one block per SM, when it runs beside the attention kernel).
# Build here and carry (see README.md):
#   tar czf .carry/s26.tgz -C .carry {tkp,tkpf,tov,base}/tuned/{lib/libsagegen.so,include,manifest.json}
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session26/device1.sh OUTDIR [SECONDS_BUDGET]
# Writes .carry/winner.txt (tkp, tov or base: the candidate that passed its checks with the best whole
# call over the A/B rows) for call 2 (device2.sh) on the same machine.
set -uo pipefail
source results/wgmma/device-steps.sh
device_start "${1:?OUTDIR}" "${2:-570}" .carry/s26.tgz || exit 1
ok() {  # name command...: runs it, tails its output, records pass/fail in $w/status.txt
  local name=$1; shift
  "$@" > "$w/$name.log" 2>&1; local rc=$?
  tail -n 2 "$w/$name.log"; echo "$name rc=$rc" | tee -a "$w/status.txt"
}
check() {  # candidate: its bitwise comparison with the two phases and the GPU check
  local c=$1 lib=.carry/$1/tuned
  step 45 ok bitwise-$c timeout 100 python3 results/wgmma/session25/overlap_bitwise.py --lib $lib --reps 5 --out "$w/overlap-bitwise-$c.json"
  step 35 ok gpucheck-$c timeout 90 python3 runtime/test/gpu_check.py --lib $lib/lib/libsagegen.so --label tuned-$c --out "$w/gpu-check-$c.json"
}
ab() {  # tkp only once its bitwise check passed (a hang there would hold the whole call)
  local libs="--lib .carry/base/tuned --lib .carry/tov/tuned"
  grep -q "^bitwise-tkp rc=0" "$w/status.txt" && libs="$libs --lib .carry/tkp/tuned"
  timeout 150 python3 runtime/bench/ab.py $libs --rounds 3 --reps 15 "$@" 2>&1 | grep -v "^wrote"
}
# Most needed first: the new kernel's correctness, then whether it pays, then the rest.
check tkp
step 100 ab --head-dims 128 --seqs 1024,2048 --causal both --out "$w/ab-d128.json"
step 45 ok sanitizer-tkp timeout 60 python3 runtime/test/run_sanitizer.py --lib .carry/tkp/tuned/lib/libsagegen.so --tools memcheck,racecheck --out "$w/sanitizer-tkp.json" --timeout 40
# The persistent kernel's rows of clusters (default SMs / cluster blocks, 16 at 1K) swept through the
# branch's experiment knob: 8, 33 (two blocks per SM) and 256 (the whole grid, as on main).
if grep -q "^bitwise-tkp rc=0" "$w/status.txt"; then
  for rows in 8 33 256; do
    SAGEGEN_EXP_KV_CLUSTER_ROWS=$rows step 30 timeout 60 python3 runtime/bench/ab.py --lib .carry/base/tuned --lib .carry/tkp/tuned --rounds 3 --reps 15 --head-dims 128 --seqs 1024 --out "$w/sweep-rows$rows.json" 2>&1 | grep -v "^wrote"
  done
fi
check tov
step 70 ab --head-dims 64 --seqs 1024,4096 --causal both --out "$w/ab-d64.json"
python3 results/wgmma/session26/winner.py "$w" | tee .carry/winner.txt "$w/winner.txt"
echo "used $SECONDS s"
tar -C "$out" -czf "$out/s26-1.tgz" w && rm -rf "$w"
