#!/usr/bin/env bash
# Session 21, one device call (carry .carry/{f,c,t,p}.tgz), most wanted first:
#   1. K/V quantized inside the attention kernel (kv-in-cluster.patch), single-variant
#      libraries of the D=128 fp16 non-causal winner up to 2.9K ("b3"): fk/fused (patched) and
#      fk/b3main (main): GPU checks of the D=128 fp16 cases, a same-run A/B, and bench.py beside torch;
#   2. session 20's prefetch A/B and the 1K trace; 3. sanitizer on the fused library; 4. the rest of
#      session 20's call (waves, energy, more traces) as time allows.
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session21/device3.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
for t in f c t p; do [ -f .carry/$t.tgz ] && tar xzf .carry/$t.tgz -C .carry; done
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,clocks.sm,power.draw,temperature.gpu --format=csv
python3 runtime/test/gpu_check.py --lib .carry/fk/fused/lib/libsagegen.so --only d128-fp16 --label kv-in-cluster \
  --out "$out/checks-fused.json" 2>&1 | tail -45
python3 runtime/bench/ab.py --lib .carry/fk/b3main --lib .carry/fk/fused --head-dims 128 --seqs 1024,2048,4096 --causal false \
  --rounds 5 --reps 20 --out "$out/ab-fused.json" 2>&1 | tail -12
python3 runtime/bench/bench.py --lib .carry/fk/fused --lib .carry/fk/b3main --head-dims 128 --dtypes fp16 --seqs 1024,2048,4096 \
  --causal false --out "$out/bench-fused.json" 2>&1 | tail -20
python3 runtime/bench/ab.py --lib .carry/s/tuned --lib .carry/pf --head-dims 128,64 --seqs 1024,2048,4096,8192 --causal false \
  --rounds 4 --reps 15 --out "$out/ab-prefetch.json" 2>&1 | tail -12
tr=results/wgmma/session20/trace/trace.py
python3 $tr --lib .carry/t/b3 --label b3 --seq 1024 --head-dim 128 --out "$out/trace-b3-1k.json" 2>&1 | tail -15
timeout 150 python3 runtime/test/run_sanitizer.py --lib .carry/fk/fused/lib/libsagegen.so --tools memcheck,racecheck,synccheck \
  --timeout 45 --out "$out/sanitizer-fused.json" 2>&1 | tail -8
python3 $tr --lib .carry/t/x12 --label x12 --seq 8192 --head-dim 128 --out "$out/trace-x12-8k.json" 2>&1 | tail -10
python3 results/wgmma/session20/energy.py --lib .carry/s/tuned --out "$out/energy.json" 2>&1 | tail -12
python3 results/wgmma/session20/waves.py --lib .carry/s/tuned --out "$out/waves-d128-1k.json" 2>&1 | tail -12
