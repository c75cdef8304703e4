#!/usr/bin/env bash
# Session 21: the epilogue's V scales loaded before its stores (epilogue-wgmma.patch). Carry .carry/c.tgz
# (main's tuned set, s/tuned) and .carry/e.tgz (the same set with the patch, ep/tuned).
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session21/epilogue/device5.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
for t in c e; do tar xzf .carry/$t.tgz -C .carry; done
export PYTHONUNBUFFERED=1
d=results/wgmma/session21/epilogue
nvidia-smi --query-gpu=name,clocks.sm,power.draw,temperature.gpu --format=csv
python3 $d/bitwise.py save --lib .carry/s/tuned --out /tmp/a.pt && python3 $d/bitwise.py save --lib .carry/ep/tuned --out /tmp/b.pt \
  && python3 $d/bitwise.py compare /tmp/a.pt /tmp/b.pt 2>&1 | tee "$out/bitwise.txt"
python3 runtime/bench/ab.py --lib .carry/s/tuned --lib .carry/ep/tuned --head-dims 128,64 --seqs 1024,2048,8192 --causal false \
  --rounds 4 --reps 15 --out "$out/ab-epilogue.json" 2>&1 | grep -v "^wrote"
python3 runtime/bench/ab.py --lib .carry/s/tuned --lib .carry/ep/tuned --head-dims 128 --seqs 1024,8192 --causal true \
  --rounds 3 --reps 15 --out "$out/ab-epilogue-causal.json" 2>&1 | grep -v "^wrote"
python3 runtime/test/gpu_check.py --lib .carry/ep/tuned/lib/libsagegen.so --quick --label epilogue --out "$out/checks-quick.json" 2>&1 | tail -3
