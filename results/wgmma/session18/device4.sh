#!/usr/bin/env bash
# Session 2026-12-07 (18), call 4: what limits the re-selected D=64 kernels, from ncu (issue, pipes,
# warp stalls, occupancy) at N = 8192 and 16384, non-causal fp16 (the shipped tuned set, built from
# the config at 982c3be, as .carry/s/tuned in .carry/d.tgz).
#   bash results/wgmma/session18/device4.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
[ -f .carry/d.tgz ] && tar xzf .carry/d.tgz -C .carry
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
prof() {  # name seq
  timeout 110 ncu --kernel-name regex:attentionKernel --launch-skip 1 --launch-count 1 \
    --section SpeedOfLight --section ComputeWorkloadAnalysis --section SchedulerStats --section WarpStateStats --section InstructionStats --section Occupancy --section LaunchStats \
    --metrics smsp__inst_executed_pipe_xu.sum,smsp__inst_executed_pipe_fma.sum,smsp__inst_executed_pipe_alu.sum,smsp__inst_executed.sum,regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio \
    python3 runtime/bench/profile_one.py --lib .carry/s/tuned --seq $2 --head-dim 64 > "$out/ncu-$1.txt" 2>&1
  grep -E "Duration|Issue Slots Busy|No Eligible|Executed Ipc A|pipe_xu|pipe_fma|pipe_alu|inst_executed.sum|Warp Cycles Per Issued|Achieved Occupancy|Theoretical Occupancy|Registers Per|Stall|issue_stalled" "$out/ncu-$1.txt" | head -60
}
prof tuned-d64-8k 8192
prof tuned-d64-16k 16384
