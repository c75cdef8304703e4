#!/usr/bin/env bash
# Session 25, device calls 2 and 3: run by hand on the machine device3.sh had left warm (same carried
# files, same commit), with the last device time of the session. Kept here as they ran:
#   call 2 -> run2/w/, call 3 -> run3/w/.
#   SAGEGEN_COMMIT=a1dcc09 bash results/wgmma/session25/warm-calls.sh 2|3 OUTDIR
set -uo pipefail
call="${1:?2 or 3}"; w="${2:?OUTDIR}/w"; mkdir -p "$w"
export SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}" PYTHONUNBUFFERED=1
if [ "$call" = 2 ]; then
  # check_torch_op on CUDA (the direct call, the op, torch.compile, the repeated-geometry blocks),
  # api figures at D=128 1K-4K beside torch, and a second A/B of the D=128 buckets
  timeout 45 python3 runtime/python/tests/check_torch_op.py --lib .carry/ov/tuned/lib/libsagegen.so --out $w/torch_op.json 2>&1 | tail -3
  timeout 80 python3 runtime/bench/bench.py --lib .carry/ov/tuned --head-dims 128 --dtypes fp16 --seqs 1024,2048,4096 --causal false --out $w/api-quick.json 2>&1 | grep "^\["
  timeout 60 python3 runtime/bench/ab.py --lib .carry/base/tuned --lib .carry/ov/tuned --rounds 3 --reps 15 --head-dims 128 --seqs 1024,2048 --causal both --out $w/ab-d128-2.json 2>&1 | grep -v "^wrote"
else
  # the D=64 causal buckets' A/B, and the 1K figures of all four D/causal pairs beside torch
  timeout 50 python3 runtime/bench/ab.py --lib .carry/base/tuned --lib .carry/ov/tuned --rounds 3 --reps 15 --head-dims 64 --seqs 1024,2048 --causal true --out $w/ab-d64-causal.json 2>&1 | grep -v "^wrote"
  timeout 55 python3 runtime/bench/bench.py --lib .carry/ov/tuned --head-dims 64,128 --dtypes fp16 --seqs 1024 --out $w/api-quick-1k.json 2>&1 | grep "^\["
fi
