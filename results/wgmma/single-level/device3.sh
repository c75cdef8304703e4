#!/usr/bin/env bash
# FlashAttention-3's three-way overlap, drained once per tile (fa3-drained.patch; libraries from
# build-drained.sh, in .carry/c.tgz): quick GPU checks of the one variant, its accuracy at long N
# (single-level O, row sums in fp32), and a same-run A/B against main's tuned set at D=128.
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/single-level/device3.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
[ -f .carry/c.tgz ] && tar xzf .carry/c.tgz -C .carry
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
cuobjdump -sass .carry/s/fa3d/lib/libsagegen.so | grep -cE '\b(STL|LDL)\b'
timeout 90 python3 runtime/test/gpu_check.py --lib .carry/s/fa3d/lib/libsagegen.so --quick --label fa3-drained --out "$out/checks-fa3d.json" 2>&1 | grep -E "FAIL|passed|failed" | tail -6
timeout 90 python3 results/wgmma/single-level/accuracy_long.py --seqs 2048,8192,32768 --lib .carry/s/fa3d/lib/libsagegen.so --out "$out/acc-fa3d.json" 2>&1 | tail -6
timeout 150 python3 runtime/bench/ab.py --rounds 4 --reps 15 --lib .carry/s/cur --lib .carry/s/fa3d --head-dims 128 --seqs 4096,8192,32768 --causal false --out "$out/ab-fa3d.json" 2>&1 | grep -A3 "^D=" | grep -v "^--"
