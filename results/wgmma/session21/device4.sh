#!/usr/bin/env bash
# Session 21, second call (carry .carry/c.tgz, .carry/t.tgz): energy per call with the workspace
# quantized before the kernel-only stretch (D=128 8K/16K), ncu's per-instruction stall samples of the
# D=128 1K winner (where does a block's 6.9 us "epilogue" go?), and the whole-call and x12 1K traces.
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session21/device4.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
for t in c t; do [ -f .carry/$t.tgz ] && tar xzf .carry/$t.tgz -C .carry; done
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,clocks.sm,power.draw,temperature.gpu --format=csv
timeout 120 ncu --kernel-name regex:attentionKernel --launch-skip 1 --launch-count 1 --section SourceCounters --section WarpStateStats \
  --import-source no -o /tmp/b3src python3 runtime/bench/profile_one.py --lib .carry/s/tuned --head-dim 128 --seq 1024 2>&1 | tail -3
ncu --import /tmp/b3src.ncu-rep --page source --csv --print-source sass 2>/dev/null | gzip > "$out/b3-1k-source.csv.gz"
cp /tmp/b3src.ncu-rep "$out/" ; ncu --import /tmp/b3src.ncu-rep --page details 2>&1 | grep -iE "stall|warp cycles|issued" | head -30
ls -la "$out"
python3 results/wgmma/session20/energy.py --lib .carry/s/tuned --shapes 128:8192,128:16384,64:8192 --out "$out/energy.json" 2>&1 | tail -12
tr=results/wgmma/session20/trace/trace.py
python3 $tr --lib .carry/t/b3 --label b3 --phase all --seq 1024 --head-dim 128 --out /tmp/tw.json 2>&1 | head -3
python3 $tr --lib .carry/t/x12 --label x12 --seq 1024 --head-dim 128 --out /tmp/tx.json 2>&1 | head -3
python3 $tr --lib .carry/t/d64 --label d64 --seq 8192 --head-dim 64 --out /tmp/td.json 2>&1 | head -3
