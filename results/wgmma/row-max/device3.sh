#!/usr/bin/env bash
# Session 2026-12-06 (14), part 3: what limits the D=64 kernel, from ncu (pipe utilization, issue,
# warp stalls, instruction mix): main's tuned set (.carry/s/cur) and its D=64 entries with
# pv.polyExp2Every 16 (.carry/s/p16) at D=64 N=8192 non-causal fp16, and main's at D=128 N=8192.
#   bash results/wgmma/row-max/device3.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
[ -f .carry/c.tgz ] && tar xzf .carry/c.tgz -C .carry
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
prof() {  # name lib head_dim
  timeout 100 ncu --kernel-name regex:attentionKernel --launch-skip 1 --launch-count 1 \
    --section SpeedOfLight --section ComputeWorkloadAnalysis --section SchedulerStats --section WarpStateStats --section InstructionStats \
    --metrics smsp__inst_executed_pipe_xu.sum,smsp__inst_executed_pipe_fma.sum,smsp__inst_executed_pipe_alu.sum,sm__pipe_shared_cycles_active.avg.pct_of_peak_sustained_active,smsp__inst_executed.sum \
    python3 runtime/bench/profile_one.py --lib .carry/s/$2 --seq 8192 --head-dim $3 > "$out/ncu-$1.txt" 2>&1
  grep -E "Duration|Issue Slots Busy|Issued Warp|No Eligible|Executed Ipc A|pipe_xu|pipe_fma|pipe_alu|inst_executed.sum|Warp Cycles Per Issued" "$out/ncu-$1.txt" | head -14
}
prof cur-d64 cur 64
prof p16-d64 p16 64
prof cur-d128 cur 128
