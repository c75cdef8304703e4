#!/usr/bin/env bash
# Session 22: landing both epilogue patches in one device call (the device was scarce). Carry
# .carry/c.tgz (main's tuned wgmma set before the patch, extracted under .carry/old/), .carry/r.tgz
# (s/wg, s/tuned at the landing commit: ../session21/epilogue/records.sh says how) and .carry/m.tgz
# (the five mma.sync libraries of results/gpu/ built at the landing commit as .carry/s/<record name>,
# with lib/, include/ and manifest.json; main's sm_90a and sm_89 defaults before the patch as
# .carry/old/s/<name>). Steps run most needed first, each only while time is left, so a
# short call still brings back the correctness records; all outputs end in $OUT/all.tgz.
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session22/landing-all.sh OUTDIR [SECONDS_BUDGET]
set -uo pipefail
out="${1:?OUTDIR}"; budget="${2:-570}"; w="$out/w"; mkdir -p "$w/bench"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
mkdir -p .carry/old && tar xzf .carry/c.tgz -C .carry/old && tar xzf .carry/r.tgz -C .carry && tar xzf .carry/m.tgz -C .carry
source results/wgmma/device-steps.sh
gpu_state
b=results/wgmma/session21/epilogue/bitwise.py
bitwise() {  # old new name
  python3 $b save --lib "$1" --out /tmp/a.pt && python3 $b save --lib "$2" --out /tmp/b.pt && python3 $b compare /tmp/a.pt /tmp/b.pt > "$w/bitwise-$3.txt" 2>&1
  tail -1 "$w/bitwise-$3.txt"
}
step 60 python3 runtime/bench/ab.py --lib .carry/old/s/tuned --lib .carry/s/tuned --head-dims 128,64 --seqs 1024,2048,4096,8192 --causal false \
  --rounds 4 --reps 15 --out "$w/ab-epilogue.json" 2>&1 | grep -v "^wrote"
step 30 python3 runtime/bench/ab.py --lib .carry/old/s/tuned --lib .carry/s/tuned --head-dims 128 --seqs 1024,8192 --causal true \
  --rounds 3 --reps 15 --out "$w/ab-epilogue-causal.json" 2>&1 | grep -v "^wrote"
step 40 python3 runtime/test/gpu_check.py --lib .carry/s/tuned/lib/libsagegen.so --label tuned-h100-wgmma --out "$w/tuned-h100-wgmma.json" 2>&1 | tail -1
step 40 python3 runtime/test/gpu_check.py --lib .carry/s/wg/lib/libsagegen.so --label sm_90a_wgmma --out "$w/sm_90a_wgmma.json" 2>&1 | tail -1
for name in sm_90a_d64-128 sm_89_d64-128; do step 40 bitwise .carry/old/s/$name .carry/s/$name $name; done
for name in sm_90a_d64-128 sm_89_d64-128 sm_80_d64-128 sm_90a_variety tuned-h100; do
  step 40 python3 runtime/test/gpu_check.py --lib .carry/s/$name/lib/libsagegen.so --label $name --out "$w/$name.json" 2>&1 | tail -1
done
for lib in tuned wg; do OUT="$w/edge-$lib" step 90 bash runtime/test/run_edge_checks.sh .carry/s/$lib 2>&1 | tail -3; done
step 40 python3 runtime/bench/ab.py --lib .carry/old/s/sm_90a_d64-128 --lib .carry/s/sm_90a_d64-128 --head-dims 128,64 --seqs 1024,4096 \
  --causal false --rounds 3 --reps 15 --out "$w/ab-epilogue-mma-sync.json" 2>&1 | grep -v "^wrote"
# the benchmarks of record are H100 figures (the targets); on another card they are not run
if ! grep -q "H100" "$w/gpu.txt"; then budget=0; echo "not an H100: the benchmarks of record are not run" | tee -a "$w/skipped.txt"; fi
step 240 python3 runtime/bench/bench.py --lib .carry/s/tuned --head-dims 64,128 --out "$w/bench/h100-wgmma-tuned.json" 2>&1 | grep "^\[" | tail -60
step 120 python3 runtime/bench/bench.py --lib .carry/s/wg --head-dims 64,128 --dtypes fp16 --out "$w/bench/h100-wgmma.json" 2>&1 | grep "^\[" | tail -30
echo "used $SECONDS s"
tar -C "$out" -czf "$out/all.tgz" w && rm -rf "$w"
