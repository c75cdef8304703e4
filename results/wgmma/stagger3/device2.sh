#!/usr/bin/env bash
# Session 2026-12-06 (15), part 2: ncu of the D=128 N=8192 non-causal fp16 attention kernel, main's
# tuned set (.carry/s/cur), and main's
# D=64 kernel: pipe use (tensor, MUFU), issue, warp stalls.
#   bash results/wgmma/stagger3/device2.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
[ -f .carry/c.tgz ] && tar xzf .carry/c.tgz -C .carry
prof() {  # name lib head_dim
  timeout 120 ncu --kernel-name regex:attentionKernel --launch-skip 1 --launch-count 1 \
    --section SpeedOfLight --section ComputeWorkloadAnalysis --section SchedulerStats --section WarpStateStats \
    --metrics sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_active,sm__inst_executed_pipe_xu.avg.pct_of_peak_sustained_active,smsp__inst_executed.sum,sm__cycles_elapsed.avg \
    python3 runtime/bench/profile_one.py --lib .carry/s/$2 --seq 8192 --head-dim $3 > "$out/ncu-$1.txt" 2>&1
  echo "== $1"; grep -E "Duration|Issue Slots Busy|No Eligible|gmma_cycles|pipe_xu|inst_executed.sum|Warp Cycles Per Issued|Stall" "$out/ncu-$1.txt" | head -14
}
prof cur-d128 cur 128
prof cur-d64 cur 64
