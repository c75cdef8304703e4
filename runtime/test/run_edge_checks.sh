#!/usr/bin/env bash
# Issue 6 on a CUDA machine with PyTorch and compute-sanitizer (no Node, builds nothing): the C ABI
# argument table on CUDA memory with the Python binding's checks, numerics at the edges (lengths
# around the tiles, decode, degenerate and extreme inputs, N = 262144, 64-bit offsets), and
# compute-sanitizer memcheck / initcheck / synccheck / racecheck on the default variants.
#
#   SAGEGEN_COMMIT=<sha> OUT=<dir> bash runtime/test/run_edge_checks.sh [generated/<target>]
#
# Default target generated/sm_90a_d64-128 (npx sagegen build --arch sm_90a --headdim 64,128).
# Writes $OUT/abi_table.json, $OUT/edge_check.json, $OUT/sanitizer.json and $OUT/run-log.txt
# (OUT defaults to results/gpu/edge). Exit 0 only when all three pass.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo" || exit 2
export PYTHONUNBUFFERED=1
python="${PYTHON:-python3}"
target="${1:-generated/sm_90a_d64-128}"
lib="$target/lib/libsagegen.so"
out="${OUT:-results/gpu/edge}"

[ -f "$lib" ] || { echo "error: no $lib; build it here first: npx sagegen build --arch sm_90a --headdim 64,128" >&2; exit 2; }
mkdir -p "$out" || exit 2
if [ -z "${SAGEGEN_COMMIT:-}" ] && git -C "$repo" rev-parse HEAD >/dev/null 2>&1; then
  SAGEGEN_COMMIT="$(git -C "$repo" rev-parse HEAD)"
fi
export SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
log="$out/run-log.txt"
: >"$log"

step() {  # step NAME COMMAND...: runs, appends to the log, records PASS/FAIL
  local name="$1"; shift
  echo "=== $name: $*" | tee -a "$log"
  local t0=$SECONDS
  "$@" 2>&1 | tee -a "$log"
  local rc=${PIPESTATUS[0]}
  results+=("$([ "$rc" -eq 0 ] && echo PASS || echo "FAIL (exit $rc)") $name ($((SECONDS - t0)) s)")
  [ "$rc" -eq 0 ] || status=1
}

status=0
results=()
{ echo "commit $SAGEGEN_COMMIT, $(date -u +%FT%TZ), $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1)"; } | tee -a "$log"
step "C ABI + binding argument table" "$python" runtime/test/abi_table.py --lib "$lib" --memory cuda --binding --out "$out/abi_table.json"
step "edge numerics" "$python" runtime/test/edge_check.py --lib "$lib" --out "$out/edge_check.json"
step "compute-sanitizer" "$python" runtime/test/run_sanitizer.py --lib "$lib" --out "$out/sanitizer.json"
echo "=== summary" | tee -a "$log"
printf '%s\n' "${results[@]}" | tee -a "$log"
exit $status
