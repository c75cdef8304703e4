#!/usr/bin/env bash
# Session 2026-12-05 (9): ncu's full section set for the K/V cluster kernel of the kept defaults
# (D=128 and D=64, N=1024 and 4096, fp16, B=4, H=32), for the next change to the kernel: where its
# warps stall. Library carried as .carry/s/fin (final.sh's build).
#   results/wgmma/quant/opt/ncu.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
for d in 128 64; do for n in 1024 4096; do
  ncu --set full --kernel-name kvClusterQuantKernel --launch-skip 1 --launch-count 1 \
    python3 runtime/bench/profile_one.py --lib .carry/s/fin --seq $n --head-dim $d > "$out/ncu-kv-d$d-n$n.txt" 2>&1
  echo "D=$d N=$n: $(grep -E "^    Duration|DRAM Throughput|Warp Cycles Per Issued|Achieved Occupancy" "$out/ncu-kv-d$d-n$n.txt" | awk '{print $1,$2,$NF}' | tr '\n' ' ')"
done; done
# where the excessive global sectors and shared wavefronts are (source counters, every table)
ncu --section SourceCounters --print-details all --kernel-name kvClusterQuantKernel --launch-skip 1 --launch-count 1 \
  python3 runtime/bench/profile_one.py --lib .carry/s/fin --seq 1024 --head-dim 128 > "$out/ncu-kv-d128-n1024-source.txt" 2>&1
grep -A30 "Excessive" "$out/ncu-kv-d128-n1024-source.txt" | head -60
