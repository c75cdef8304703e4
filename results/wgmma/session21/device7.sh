#!/usr/bin/env bash
# K/V statistics and quantization in one streaming launch (kv-stream.patch), alone and with the
# epilogue patch. Carry .carry/c.tgz (main's tuned set, s/tuned), .carry/k.tgz (kv/sk: the tuned set
# with kv-stream.patch; kv/sk2: with kv-stream-joint-loads.patch, the statistics' K and V loads in flight
# together; kv/both: kv-stream.patch and epilogue/epilogue-wgmma.patch). About 9 device minutes.
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session21/device7.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
for t in c k; do tar xzf .carry/$t.tgz -C .carry; done
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,clocks.sm,power.draw,temperature.gpu --format=csv
# correctness first: every case of the GPU check (split phases and CUDA-graph replay included)
python3 runtime/test/gpu_check.py --lib .carry/kv/sk/lib/libsagegen.so --label kv-stream --out "$out/checks-kv-stream.json" 2>&1 | tail -3
timeout 200 python3 runtime/test/run_sanitizer.py --lib .carry/kv/sk/lib/libsagegen.so --tools memcheck,synccheck,racecheck --timeout 60 \
  --out "$out/sanitizer-kv-stream.json" 2>&1 | tail -5
# speed: whole call (the quantization is what changes) and kernel, same run
python3 runtime/bench/ab.py --lib .carry/s/tuned --lib .carry/kv/sk --lib .carry/kv/sk2 --lib .carry/kv/both --head-dims 128,64 --seqs 1024,2048,4096,8192,16384 \
  --causal false --rounds 4 --reps 15 --out "$out/ab-kv-stream.json" 2>&1 | grep -v "^wrote"
python3 runtime/bench/ab.py --lib .carry/s/tuned --lib .carry/kv/sk --lib .carry/kv/sk2 --lib .carry/kv/both --head-dims 128 --seqs 1024,8192 \
  --causal true --rounds 3 --reps 15 --out "$out/ab-kv-stream-causal.json" 2>&1 | grep -v "^wrote"
# beside torch, for the targets (1K-4K whole call against cuDNN; 8K whole call against 850)
python3 runtime/bench/bench.py --lib .carry/kv/both --lib .carry/s/tuned --head-dims 128 --dtypes fp16 --seqs 1024,2048,4096,8192 \
  --causal false --out "$out/bench-both.json" 2>&1 | grep "^\["
