#!/usr/bin/env bash
# The library's consumers on a CUDA machine (no Node needed there), against an install prefix built
# elsewhere with `sagegen build ... --install PREFIX`:
#
#   1. the C++ example (examples/cpp): find_package(sagegen), built with CMake, run: must print PASS
#   2. the C example (examples/c): built with pkg-config, run: must print PASS
#   3. runtime/test/gpu_check.py through the torch.library op (--via-op) and through sageattn(out=)
#   4. runtime/python/tests/check_torch_op.py: opcheck, fp16/bf16, HND/NHD, GQA, LSE, SagegenError,
#      torch.compile(fullgraph=True) of a module with torch._dynamo.explain reporting 0 graph breaks
#
#   examples/run_gpu_consumers.sh PREFIX [OUT_DIR]
#
# OUT_DIR (default $OUT, else results/consumers) receives consumers-<gpu>.json (device, date, commit,
# command, each step's status and output tail) and the two Python reports. Exit 0 only when every
# step passed. Needs cmake, a C compiler, pkg-config and python3 with a CUDA build of PyTorch.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo" || exit 2
[ $# -ge 1 ] || { sed -n '2,16p' "$0"; exit 2; }
prefix="$(cd "$1" && pwd)" || { echo "error: install prefix $1 not found" >&2; exit 2; }
out="${2:-${OUT:-results/consumers}}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
python="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export PYTHONUNBUFFERED=1

if [ -z "${SAGEGEN_COMMIT:-}" ] && git -C "$repo" rev-parse HEAD >/dev/null 2>&1; then
  SAGEGEN_COMMIT="$(git -C "$repo" rev-parse HEAD)"
fi
export SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
lib="$prefix/lib/libsagegen.so"
[ -f "$lib" ] || { echo "error: no $lib (build it with: npx sagegen build ... --install $1)" >&2; exit 2; }

# Each step: its name, then the command; output goes to $work/<n>.log and to the terminal.
steps=()
step() {
  local name="$1"; shift
  local n=${#steps[@]} start rc
  start=$(date +%s)
  echo "=== $name"
  ( "$@" ) >"$work/$n.log" 2>&1
  rc=$?
  cat "$work/$n.log"
  echo "=== $name: $([ $rc -eq 0 ] && echo PASS || echo "FAIL (exit $rc)") in $(( $(date +%s) - start )) s"
  steps+=("$name"$'\t'"$rc"$'\t'"$(( $(date +%s) - start ))")
}

# cmake and pkg-config may be missing on a GPU host: a cmake wheel carried under .carry/wheels is
# installed into a throw-away venv, and the .pc file is read by a few lines of Python instead.
if ! command -v cmake >/dev/null 2>&1; then
  wheel="$(ls .carry/wheels/cmake-*.whl 2>/dev/null | head -1)"
  if [ -n "$wheel" ] && "$python" -m venv "$work/venv" >/dev/null && "$work/venv/bin/pip" install -q --no-index "$wheel"; then
    export PATH="$work/venv/bin:$PATH"
    echo "cmake: not installed here; using $($work/venv/bin/cmake --version | head -1) from $wheel"
  else
    echo "cmake: not installed here and no usable .carry/wheels/cmake-*.whl"
  fi
fi
if ! command -v pkg-config >/dev/null 2>&1; then
  echo "pkg-config: not installed here; sagegen.pc is read by runtime/python/tests/pc_flags.py"
  pkg-config() { "$python" "$repo/runtime/python/tests/pc_flags.py" "$@"; }
fi

gpu_arch="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '.')"
cxx_example() {
  cmake -S examples/cpp -B "$work/cpp" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CUDA_ARCHITECTURES="${gpu_arch:-80}" &&
    cmake --build "$work/cpp" -j 4 && "$work/cpp/sagegen_example"
}
c_example() {
  export PKG_CONFIG_PATH="$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  # The .pc file names the CUDA toolkit of the build machine; this machine's may live elsewhere.
  local cuda_inc cuda_lib cuda_root
  cuda_inc="$(pkg-config --variable=cuda_includedir sagegen)"
  cuda_lib="$(pkg-config --variable=cuda_libdir sagegen)"
  cuda_root="${CUDA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")}"
  [ -f "$cuda_inc/cuda_runtime_api.h" ] || cuda_inc="$cuda_root/include"
  [ -d "$cuda_lib" ] || cuda_lib="$cuda_root/lib64"
  # shellcheck disable=SC2046
  cc -std=c99 -Wall -Wextra -Werror examples/c/forward_constant_v.c $(pkg-config --cflags --libs sagegen) \
    -I"$cuda_inc" -L"$cuda_lib" -Wl,-rpath,"$cuda_lib" -lcudart -lm \
    -o "$work/forward_constant_v" && "$work/forward_constant_v"
}

step "C++ example (CMake find_package, sm_${gpu_arch:-80} reference kernel)" cxx_example
step "C example (pkg-config)" c_example
step "gpu_check.py through torch.ops.sagegen.sageattn" \
  "$python" runtime/test/gpu_check.py --lib "$lib" --label consumers-via-op --via-op --out "$out/gpu_check-via-op.json"
step "gpu_check.py through sageattn(out=)" \
  "$python" runtime/test/gpu_check.py --lib "$lib" --label consumers --out "$out/gpu_check.json"
step "torch.library op: opcheck, dtypes, layouts, GQA, LSE, errors, torch.compile fullgraph" \
  "$python" runtime/python/tests/check_torch_op.py --lib "$lib" --out "$out/torch_op.json"

# The summary report, written by Python (JSON quoting) from the step table and logs.
printf '%s\n' "${steps[@]}" >"$work/steps.tsv"
"$python" - "$work" "$out" "$prefix" "$0 $*" <<'EOF'
import datetime, json, os, re, subprocess, sys
work, out, prefix, command = sys.argv[1:5]
def gpu():
    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,compute_cap", "--format=csv,noheader"],
                              capture_output=True, text=True, check=True).stdout.strip().splitlines()[0]
    except Exception as e:
        return f"unknown ({e})"
steps = []
for n, line in enumerate(open(os.path.join(work, "steps.tsv")).read().splitlines()):
    name, rc, seconds = line.split("\t")
    log = open(os.path.join(work, f"{n}.log"), errors="replace").read()
    steps.append({"name": name, "status": "pass" if rc == "0" else "fail", "exit": int(rc), "seconds": int(seconds),
                  "output_tail": log.splitlines()[-40:]})
manifest = os.path.join(prefix, "share", "sagegen", "manifest.json")
manifest = json.load(open(manifest)) if os.path.exists(manifest) else {}
archs = manifest.get("archs")
device = gpu()
report = {"device": device, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
          "commit": os.environ.get("SAGEGEN_COMMIT", "unknown"), "command": command, "library_archs": archs,
          "fingerprint": manifest.get("fingerprint"),
          "steps": steps, "summary": {"passed": sum(s["status"] == "pass" for s in steps),
                                      "failed": sum(s["status"] != "pass" for s in steps)}}
name = re.sub(r"[^a-z0-9]+", "-", device.split(",")[0].strip().lower()).strip("-")[:40] or "gpu"
path = os.path.join(out, f"consumers-{name}.json")
with open(path, "w") as f:
    json.dump(report, f, indent=2)
    f.write("\n")
print(f"report: {path}")
EOF

echo
echo "=== consumers"
failed=0
for s in "${steps[@]}"; do
  IFS=$'\t' read -r name rc seconds <<<"$s"
  if [ "$rc" -eq 0 ]; then echo "PASS $name (${seconds} s)"; else echo "FAIL $name (exit $rc)"; failed=$((failed + 1)); fi
done
echo "$(( ${#steps[@]} - failed )) passed, $failed failed"
[ $failed -eq 0 ]
