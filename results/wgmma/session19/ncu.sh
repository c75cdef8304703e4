#!/usr/bin/env bash
# Session 2026-12-07 (19): what limits the shipped kernels where the targets are unmet, from ncu
# (issue, pipes, warp stalls, occupancy): D=64 non-causal fp16 at N = 8192 and D=128 causal fp16 at
# N = 8192, and D=128 non-causal at
# 1024 (the 1K whole-call target). Library: main's tuned set
# (autotune/tuned/h100-sm90a-wgmma.json at c23bf58, built by d64-next/build.sh as s/tuned in
# .carry/c.tgz).
#   bash results/wgmma/session19/ncu.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
[ -d .carry/s/tuned ] || tar xzf .carry/c.tgz -C .carry
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
prof() {  # name head-dim extra-args
  local name=$1 hd=$2; shift 2
  timeout 100 ncu --kernel-name regex:attentionKernel --launch-skip 1 --launch-count 1 \
    --section SpeedOfLight --section ComputeWorkloadAnalysis --section SchedulerStats --section WarpStateStats --section InstructionStats --section Occupancy --section LaunchStats \
    --metrics sm__cycles_active.avg,sm__cycles_elapsed.avg,sm__warps_active.avg.per_cycle_active,smsp__inst_executed_pipe_xu.sum,smsp__inst_executed_pipe_fma.sum,smsp__inst_executed_pipe_alu.sum,smsp__inst_executed.sum,sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_active,regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio \
    python3 runtime/bench/profile_one.py --lib .carry/s/tuned --head-dim $hd "$@" > "$out/ncu-$name.txt" 2>&1
  echo "== $name"; grep -E "attentionKernel|Duration|Issue Slots Busy|No Eligible|Executed Ipc A|pipe_xu|pipe_fma|pipe_alu|inst_executed.sum|gmma|Achieved Occupancy|Theoretical Occupancy|Registers Per|Block Limit|Waves Per SM|sm__cycles|sm__warps_active" "$out/ncu-$name.txt" | head -30
  grep -E "issue_stalled" "$out/ncu-$name.txt" | awk '$NF+0 > 0.05' | sort -k3 -g -r | head -12
}
prof d64-8k 64 --seq 8192
prof d128-1k 128 --seq 1024
prof d128-causal-8k 128 --seq 8192 --causal
