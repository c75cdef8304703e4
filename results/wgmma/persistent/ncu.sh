#!/usr/bin/env bash
# Session 2026-12-06 (11): why the persistent blocks are slower. ncu on the attention kernel of the
# defaults built without (n) and with (p) tiling.persistent: launch, occupancy, scheduler and warp
# state, L2, for D=64 N=4096 (no spills in either) and D=128 N=8192 (three consumers; p spills).
#   results/wgmma/persistent/ncu.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
for lib in n p; do for shape in "64 4096" "128 8192"; do
  set -- $shape
  f="$out/ncu-$lib-d$1-n$2.txt"
  timeout 100 ncu --section SpeedOfLight --section LaunchStats --section Occupancy --section SchedulerStats --section WarpStateStats --section MemoryWorkloadAnalysis \
    --kernel-name regex:attentionKernel --launch-skip 1 --launch-count 1 \
    python3 runtime/bench/profile_one.py --lib .carry/s/$lib --seq $2 --head-dim $1 > "$f" 2>&1
  echo "$lib D=$1 N=$2: $(grep -E "^    (Duration|Grid Size|Registers Per Thread|Achieved Occupancy|Theoretical Occupancy|Issue Slots Busy|No Eligible|Active Warps Per Scheduler|Eligible Warps Per Scheduler|L2 Hit Rate|Compute \(SM\) Throughput|Memory Throughput|Warp Cycles Per Issued Instruction|Executed Instructions)" "$f" | awk '{$1=$1; print}' | sed 's/  */ /g' | tr '\n' ';')"
done; done
