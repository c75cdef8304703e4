#!/usr/bin/env bash
# Session 20, device call 2 (carry .carry/c.tgz, .carry/t.tgz, .carry/p.tgz), most wanted first:
#   1. same-run A/B: main's tuned set against prefetch/ (the successor block's Q and a key tile of its
#      head prefetched into L2 at block start), non-causal D=128 and D=64, 1K-8K;
#   2. per-block timelines (trace/) at D=128 1K (kernel and whole call) and 8K;
#   3. the 1K wave test and energy per call beside cuDNN;
#   4. quick GPU checks of the prefetch library; 5. ncu (session19/ncu.sh).
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session20/device2.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
for t in c t p; do tar xzf .carry/$t.tgz -C .carry; done
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,clocks.sm,power.draw,temperature.gpu --format=csv
python3 runtime/bench/ab.py --lib .carry/s/tuned --lib .carry/pf --head-dims 128,64 --seqs 1024,2048,4096,8192 --causal false \
  --rounds 4 --reps 15 --out "$out/ab-prefetch.json"
tr=results/wgmma/session20/trace/trace.py
python3 $tr --lib .carry/t/b3 --label b3 --seq 1024 --head-dim 128 --out "$out/trace-b3-1k.json"
python3 $tr --lib .carry/t/b3 --label b3 --phase all --seq 1024 --head-dim 128 --out "$out/trace-b3-1k-whole.json"
python3 $tr --lib .carry/t/x12 --label x12 --seq 8192 --head-dim 128 --out "$out/trace-x12-8k.json"
python3 results/wgmma/session20/waves.py --lib .carry/s/tuned --out "$out/waves-d128-1k.json"
python3 results/wgmma/session20/energy.py --lib .carry/s/tuned --out "$out/energy.json"
python3 runtime/test/gpu_check.py --lib .carry/pf/lib/libsagegen.so --quick --label prefetch --out "$out/checks-prefetch-quick.json" 2>&1 | tail -5
python3 $tr --lib .carry/t/d64 --label d64 --seq 8192 --head-dim 64 --out "$out/trace-d64-8k.json"
python3 $tr --lib .carry/t/x12 --label x12 --seq 1024 --head-dim 128 --out "$out/trace-x12-1k.json"
bash results/wgmma/session19/ncu.sh "$out/ncu"
