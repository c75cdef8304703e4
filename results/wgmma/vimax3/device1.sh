#!/usr/bin/env bash
# Session 2026-12-06 (16): the wgmma row maximum by VIMNMX3 (three-input integer max) on the raw biased
# accumulators of unmasked tiles (main loop −32 instructions). Libraries as .carry/s/<name>
# (packed in .carry/c.tgz):
#   cur  main's tuned set (autotune/tuned/h100-sm90a-wgmma.json) at 0176900
#   vt   the same config at this commit;  vd  the wgmma defaults (runtime/test/specs-wgmma.json) at this commit
#   sglalu  (single-level/device2.sh's library; its accuracy only)
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/vimax3/device1.sh OUTDIR
# A same-run A/B first; the checks and the benchmarks of record only if vt is not slower.
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
[ -f .carry/c.tgz ] && tar xzf .carry/c.tgz -C .carry
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
timeout 110 python3 runtime/bench/ab.py --rounds 4 --reps 15 --lib .carry/s/cur --lib .carry/s/vt --head-dims 128,64 --seqs 2048,8192,32768 --causal both --out "$out/ab-vimax3.json" 2>&1 | grep -A2 "^D=" | grep -v "^--"
python3 - "$out/ab-vimax3.json" <<'P' || exit 0
import json, math, sys
rows = json.load(open(sys.argv[1]))["rows"]
r = [row["libraries"]["vt"]["kernel_vs_first"] for row in rows]
g = math.exp(sum(map(math.log, r)) / len(r))
print(f"kernel vt/cur geometric mean {g:.3f} over {len(r)} shapes")
sys.exit(0 if g >= 1.0 else 1)
P
for pair in vt:tuned-h100-wgmma vd:sm_90a_wgmma; do
  lib=${pair%%:*}; label=${pair#*:}
  timeout 60 python3 runtime/test/gpu_check.py --lib .carry/s/$lib/lib/libsagegen.so --label $label --out "$out/$label.json" 2>&1 | grep -E "FAIL|passed|failed" | tail -4
done
timeout 40 python3 results/wgmma/single-level/accuracy_long.py --seqs 2048,32768 --lib .carry/s/sglalu/lib/libsagegen.so --out "$out/acc-sglalu.json" 2>&1 | tail -3
timeout 250 python3 runtime/bench/bench.py --lib .carry/s/vt --head-dims 64,128 --out "$out/h100-wgmma-tuned.json" 2>&1 | grep "^\[" | tail -24
