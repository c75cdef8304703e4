#!/usr/bin/env bash
# Session 22: landing epilogue-mma-sync.patch (../session21/epilogue/): the mma.sync epilogue loads its
# V scales before its first store. Carry .carry/m.tgz: the five mma.sync libraries built at the landing
# commit (.carry/s/<record name>) and main's sm_90a / sm_89 defaults before the patch (.carry/old/s/...).
#   1. bitwise: every shape of bitwise.py, before vs after (sm_90a, and sm_89 as compute_89 PTX);
#   2. a same-run A/B of the sm_90a defaults before and after;
#   3. the GPU check of each library (results/gpu/<name>.json);
#   4. the benchmarks of record of the sm_90a defaults (results/bench/h100-d{128,64}).
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session22/landing-mma-sync.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; w="$out/w"; mkdir -p "$w"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
tar xzf .carry/m.tgz -C .carry
b=results/wgmma/session21/epilogue/bitwise.py
for name in sm_90a_d64-128 sm_89_d64-128; do
  python3 $b save --lib .carry/old/s/$name --out /tmp/a.pt && python3 $b save --lib .carry/s/$name --out /tmp/b.pt \
    && python3 $b compare /tmp/a.pt /tmp/b.pt 2>&1 | tee "$w/bitwise-$name.txt" | tail -1
done
python3 runtime/bench/ab.py --lib .carry/old/s/sm_90a_d64-128 --lib .carry/s/sm_90a_d64-128 --head-dims 128,64 --seqs 1024,4096 \
  --causal false --rounds 3 --reps 15 --out "$w/ab-epilogue-mma-sync.json" 2>&1 | grep -v "^wrote"
for name in sm_90a_d64-128 sm_89_d64-128 sm_80_d64-128 sm_90a_variety tuned-h100; do
  python3 runtime/test/gpu_check.py --lib .carry/s/$name/lib/libsagegen.so --label $name --out "$w/$name.json" 2>&1 | tail -1
done
mkdir -p "$w/bench"
for d in 128 64; do
  python3 runtime/bench/bench.py --lib .carry/s/sm_90a_d64-128 --head-dims $d --out "$w/bench/h100-d$d.json" 2>&1 | grep "^\[" | tail -24
done
tar -C "$out" -czf "$out/mma-sync.tgz" w && rm -rf "$w"
