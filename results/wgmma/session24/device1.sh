#!/usr/bin/env bash
# Session 24, device call 1: causal pairs (tiling.causalPairs, causal-pairs.patch on 9ad1d92), correctness and a same-run A/B.
# Built here: main before the change (9ad1d92) as .carry/base/tuned and the change with the tuned
# set's causal buckets of ≤ 2 blocks per SM paired as .carry/pairs/tuned:
#   npx sagegen build --config autotune/tuned/h100-sm90a-wgmma.json --out .carry/base/tuned   (at 9ad1d92)
#   npx sagegen build --config <the tuned config with tiling.causalPairs true on those entries> --out .carry/pairs/tuned
#   tar czf .carry/p.tgz -C .carry {base,pairs}/tuned/{lib/libsagegen.so,include,manifest.json}
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session24/device1.sh OUTDIR [SECONDS_BUDGET]
set -uo pipefail
out="${1:?OUTDIR}"; budget="${2:-570}"; w="$out/w"; mkdir -p "$w"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
tar xzf .carry/p.tgz -C .carry
source results/wgmma/device-steps.sh
gpu_state
b=results/wgmma/session24/pairs_bitwise.py
bitwise() {
  python3 $b save --lib .carry/base/tuned --out /tmp/a.pt && python3 $b save --lib .carry/pairs/tuned --out /tmp/b.pt && python3 $b compare /tmp/a.pt /tmp/b.pt > "$w/bitwise.txt" 2>&1
  tail -1 "$w/bitwise.txt"
}
step 60 bitwise
step 60 bash -c "python3 runtime/test/gpu_check.py --lib .carry/pairs/tuned/lib/libsagegen.so --label causal-pairs --out $w/gpu-check.json 2>&1 | tail -1"
ab() { python3 runtime/bench/ab.py --lib .carry/base/tuned --lib .carry/pairs/tuned "$@" --rounds 3 --reps 15 2>&1 | grep -v "^wrote"; }
step 200 ab --head-dims 128,64 --seqs 2048,4096,8192,16384 --causal true --out "$w/ab-causal.json"
step 80 ab --head-dims 128,64 --seqs 4096,16384 --causal false --out "$w/ab-full.json"
step 100 bash -c "OUT=$w/edge bash runtime/test/run_edge_checks.sh .carry/pairs/tuned 2>&1 | tail -3"
echo "used $SECONDS s"
tar -C "$out" -czf "$out/device1.tgz" w && rm -rf "$w"
