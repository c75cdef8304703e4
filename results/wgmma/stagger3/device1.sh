#!/usr/bin/env bash
# Session 2026-12-06 (15), part 1: the three-consumer blocks (q192, D=128 non-causal) started
# staggered, as the two-consumer ones are. Libraries as .carry/s/<name> (packed in .carry/c.tgz):
#   cur     main's tuned set (autotune/tuned/h100-sm90a-wgmma.json) before (f6ec612)
#   st      the same config at this commit: consumer c + 1 starts when c issues its first P·V
#   stq     the same, c + 1 starts when c has issued its first Q·Kᵀ (template edited for the build)
#   defst, defstq   the wgmma defaults (runtime/test/specs-wgmma.json) built as st / stq
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/stagger3/device1.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
[ -f .carry/c.tgz ] && tar xzf .carry/c.tgz -C .carry
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
ab() { timeout 200 python3 runtime/bench/ab.py --rounds 5 --reps 15 "$@" 2>&1 | grep -A3 "^D=" | grep -v "^--"; }
ab --lib .carry/s/cur --lib .carry/s/st --lib .carry/s/stq --head-dims 128 --seqs 8192,16384,32768 --causal false --out "$out/ab-stagger3.json"
# GPU checks (D=128 cases) of the defaults built like the faster of st and stq (geometric mean of the
# kernel ratios), where it beats cur; none when neither does.
best=$(python3 - "$out/ab-stagger3.json" <<'PY'
import json, math, sys
rows = json.load(open(sys.argv[1]))["rows"]
gm = {n: math.exp(sum(math.log(r["libraries"][n]["kernel_vs_first"]) for r in rows) / len(rows)) for n in ("st", "stq")}
print(gm, file=sys.stderr)
n = max(gm, key=gm.get)
print(n if gm[n] > 1.0 else "")
PY
)
if [ -n "$best" ]; then
  timeout 120 python3 runtime/test/gpu_check.py --lib .carry/s/def$best/lib/libsagegen.so --only d128 --label stagger3-def$best --out "$out/checks-def$best.json" 2>&1 | grep -E "FAIL|passed|failed" | tail -4
fi
