#!/usr/bin/env bash
# The benchmarks of record that session 22 could not re-run after the epilogue change (about 8 device
# minutes): the shipped tuned wgmma set (../bench/h100-wgmma-tuned.*) and the mma.sync sm_90a defaults
# (results/bench/h100-d{128,64}.*). Build here at the commit to be recorded, then carry .carry/n.tgz:
#   npx sagegen build --config autotune/tuned/h100-sm90a-wgmma.json --out .carry/s/tuned
#   npx sagegen build --arch sm_90a --headdim 64,128 --out .carry/s/sm_90a_d64-128
#   tar czf .carry/n.tgz -C .carry $(for d in s/tuned s/sm_90a_d64-128; do echo $d/lib/libsagegen.so $d/include $d/manifest.json; done)
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session22/bench-records.sh OUTDIR
# OUTDIR/bench.tgz unpacks to wgmma/ (copy into results/wgmma/bench/) and mma-sync/ (into results/bench/).
set -uo pipefail
out="${1:?OUTDIR}"; w="$out/w"; mkdir -p "$w/wgmma" "$w/mma-sync"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
tar xzf .carry/n.tgz -C .carry
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv | tee "$w/gpu.txt"
python3 runtime/bench/bench.py --lib .carry/s/tuned --head-dims 64,128 --out "$w/wgmma/h100-wgmma-tuned.json" 2>&1 | tee "$w/wgmma/h100-wgmma-tuned.log" | grep "^\[" | tail -48
for d in 128 64; do
  python3 runtime/bench/bench.py --lib .carry/s/sm_90a_d64-128 --head-dims $d --out "$w/mma-sync/h100-d$d.json" 2>&1 | tee "$w/mma-sync/h100-d$d.log" | grep "^\[" | tail -24
done
tar -C "$w" -czf "$out/bench.tgz" . && rm -rf "$w"
