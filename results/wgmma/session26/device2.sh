#!/usr/bin/env bash
# Session 26, call 2 (same warm machine as device1.sh): the GPU check, the benchmark of record, the
# edge checks and the remaining sanitizers on the library call 1 picked (.carry/winner.txt), or on the one named.
#   SAGEGEN_COMMIT=<hash> TKP_COMMIT=<exp-kv-persistent-final hash> bash results/wgmma/session26/device2.sh OUTDIR [SECONDS_BUDGET] [tkp|tov|base]
set -uo pipefail
source results/wgmma/device-steps.sh
device_start "${1:?OUTDIR}" "${2:-570}" || exit 1
c="${3:-$(cat .carry/winner.txt 2>/dev/null)}"; c="${c:-base}"; echo "library: $c" | tee "$w/library.txt"
lib=.carry/$c/tuned
# tkp's records come from tkpf, the same kernels without the experiment's knob (branch
# exp-kv-persistent-final), the code that would be merged; they name that commit (TKP_COMMIT).
if [ "$c" = tkp ]; then lib=.carry/tkpf/tuned; export SAGEGEN_COMMIT="${TKP_COMMIT:?TKP_COMMIT}"; fi
step 35 timeout 90 python3 runtime/test/gpu_check.py --lib $lib/lib/libsagegen.so --label tuned-h100-wgmma --out "$w/tuned-h100-wgmma.json" 2>&1 | tail -1
step 260 python3 runtime/bench/bench.py --lib $lib --head-dims 64,128 --out "$w/h100-wgmma-tuned.json" 2>&1 | grep "^\[" | tail -3
OUT="$w/edge" step 150 bash runtime/test/run_edge_checks.sh $lib 2>&1 | tail -3
step 60 timeout 90 python3 runtime/test/run_sanitizer.py --lib $lib/lib/libsagegen.so --tools initcheck,synccheck --out "$w/sanitizer-$c.json" --timeout 40 2>&1 | tail -2
echo "used $SECONDS s"
tar -C "$out" -czf "$out/s26-2.tgz" w && rm -rf "$w"
