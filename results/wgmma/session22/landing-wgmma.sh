#!/usr/bin/env bash
# Session 22: landing epilogue-wgmma.patch (../session21/epilogue/). A same-run A/B of the shipped tuned set
# before (main before the patch: .carry/c.tgz, extracted under .carry/old/) and after (.carry/r.tgz, built at
# the landing commit, see ../session21/epilogue/records.sh), then the records of both wgmma libraries.
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session22/landing-wgmma.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
export PYTHONUNBUFFERED=1
mkdir -p .carry/old && tar xzf .carry/c.tgz -C .carry/old && tar xzf .carry/r.tgz -C .carry
python3 runtime/bench/ab.py --lib .carry/old/s/tuned --lib .carry/s/tuned --head-dims 128,64 --seqs 1024,2048,4096,8192 --causal false \
  --rounds 4 --reps 15 --out "$out/ab-epilogue.json" 2>&1 | grep -v "^wrote"
python3 runtime/bench/ab.py --lib .carry/old/s/tuned --lib .carry/s/tuned --head-dims 128 --seqs 1024,8192 --causal true \
  --rounds 3 --reps 15 --out "$out/ab-epilogue-causal.json" 2>&1 | grep -v "^wrote"
bash results/wgmma/session21/epilogue/records.sh "$out/records"
