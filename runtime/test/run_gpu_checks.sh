#!/usr/bin/env bash
# Runs the GPU correctness check (runtime/test/gpu_check.py) on every library build given, one
# process per build, writing results/gpu/<label>.json with label = the generated/<target> dir name.
#
#   runtime/test/run_gpu_checks.sh [--quick] [--via-op] [--seed N] [--only TEXT] [--max-seq N] [LIB_DIR_OR_SO ...]
#
# LIB_DIR_OR_SO: a generated/<target> dir, its lib/ dir, or a libsagegen.so path.
# Default: every generated/*/lib/libsagegen.so. Needs python3 with a CUDA build of PyTorch.
# Exits 1 when any build had a failing case (every build is still checked), 2 on bad usage.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo" || exit 2
export PYTHONUNBUFFERED=1
python="${PYTHON:-python3}"

passthrough=()
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick|--via-op) passthrough+=("$1"); shift ;;
    --seed|--only|--max-seq)
      [ $# -ge 2 ] || { echo "error: $1 needs a value" >&2; exit 2; }
      passthrough+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    -*) echo "error: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done

# The path of libsagegen.so for a dir or file argument.
resolve_lib() {
  local t="$1"
  if [ -f "$t" ]; then echo "$t"
  elif [ -f "$t/lib/libsagegen.so" ]; then echo "$t/lib/libsagegen.so"
  elif [ -f "$t/libsagegen.so" ]; then echo "$t/libsagegen.so"
  else return 1
  fi
}

# generated/<target>/lib/libsagegen.so -> <target>
label_of() {
  local lib_dir
  lib_dir="$(cd "$(dirname "$1")" && pwd)"
  if [ "$(basename "$lib_dir")" = lib ]; then basename "$(dirname "$lib_dir")"; else basename "$lib_dir"; fi
}

if [ ${#targets[@]} -eq 0 ]; then
  shopt -s nullglob
  targets=(generated/*/lib/libsagegen.so)
  shopt -u nullglob
  if [ ${#targets[@]} -eq 0 ]; then
    echo "error: no generated/*/lib/libsagegen.so under $repo; build one with 'npx sagegen build ...' or pass a path" >&2
    exit 2
  fi
fi

if ! "$python" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo "error: $python has no PyTorch with a usable CUDA device" >&2
  exit 2
fi

# The commit the reports name: the caller's SAGEGEN_COMMIT, else git's when this is a checkout.
if [ -z "${SAGEGEN_COMMIT:-}" ] && git -C "$repo" rev-parse HEAD >/dev/null 2>&1; then
  SAGEGEN_COMMIT="$(git -C "$repo" rev-parse HEAD)"
  export SAGEGEN_COMMIT
fi

mkdir -p results/gpu
status=0
summary=()
for t in "${targets[@]}"; do
  if ! lib="$(resolve_lib "$t")"; then
    echo "error: no libsagegen.so at $t" >&2
    summary+=("MISSING $t")
    status=1
    continue
  fi
  label="$(label_of "$lib")"
  out="results/gpu/$label.json"
  echo "=== $label: $lib -> $out"
  if "$python" runtime/test/gpu_check.py --lib "$lib" --label "$label" --out "$out" ${passthrough[@]+"${passthrough[@]}"}; then
    summary+=("PASS $label ($out)")
  else
    summary+=("FAIL $label ($out)")
    status=1
  fi
done

echo
echo "=== GPU checks"
printf '%s\n' "${summary[@]}"
exit $status
