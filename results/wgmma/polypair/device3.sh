#!/usr/bin/env bash
# Session 2026-12-07 (17), part 3: the shipped tuned set after the D=64 re-selection
# (autotune/tuned/h100-sm90a-wgmma.json, built as .carry/s/tuned inside .carry/c.tgz): GPU checks of
# every case, the edge checks with compute-sanitizer, and the benchmark beside torch's backends at D=64
# (the D=128 kernels are byte-identical to the records' and keep them).
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/polypair/device3.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
[ -f .carry/c.tgz ] && tar xzf .carry/c.tgz -C .carry
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
cuobjdump -sass .carry/s/tuned/lib/libsagegen.so > /tmp/sass.txt 2>/dev/null
echo "tuned: $(grep -c 'Function : .*attentionKernel' /tmp/sass.txt) attention kernels, $(grep -cE '\b(STL|LDL)\b' /tmp/sass.txt) STL/LDL, $(grep -cE '\bHMMA\b' /tmp/sass.txt) HMMA, $(grep -cE 'QGMMA|IGMMA' /tmp/sass.txt) QGMMA/IGMMA"
timeout 90 python3 runtime/test/gpu_check.py --lib .carry/s/tuned/lib/libsagegen.so --label tuned-h100-wgmma --out "$out/checks-tuned.json" 2>&1 | grep -E "FAIL|passed|failed" | tail -4
OUT="$out/edge" timeout 200 bash runtime/test/run_edge_checks.sh .carry/s/tuned 2>&1 | tail -4
timeout 200 python3 runtime/bench/bench.py --lib .carry/s/tuned --head-dims 64 --out "$out/h100-wgmma-tuned-d64.json" 2>&1 | grep "^\[" | tail -30
