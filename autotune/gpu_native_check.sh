#!/usr/bin/env bash
# The native measurement runner on a real GPU, in one command, checked against measure.py.
#
#   bash autotune/gpu_native_check.sh prepare     here (Node + nvcc): compile two bundles, copy what
#                                                 the GPU host needs into .carry/native-check (~45 MB)
#   OUT=DIR bash autotune/gpu_native_check.sh run  on the GPU host (driver, python3 + torch for the
#                                                 cross-check; no Node): results under $OUT
#
# The bundles:
#   tune-native        sm_90a, D=128 and D=64, fp16 and FP8 P·V, per-warp scales, CTA_K 32/64 (the
#                      axes of the sweep in results/autotune/): 58 compiled, 46 measured;
#   tune-wrong-native  sm_90a D=128 with and without K smoothing (per-block and per-warp scales): the
#                      unsmoothed ones are the deliberately inaccurate variants the gate must reject
#                      (results/autotune/README.md, "K smoothing on and off").
#
# What `run` does, each step bounded by `timeout` (the whole under 8 minutes):
#   1. the native runner on tune-wrong-native (N=1024, --events: the protocol `sagegen autotune
#      --measure` reads);
#   2. the native runner on tune-native, killed once it has written KILL_AT records (default 10), then
#      run again on the same results file (resume: nothing measured twice);
#   3. measure.py (PyTorch) on four tune-native candidates and on tune-wrong-native, same GPU, same call;
#   4. autotune/gpu_native_check.py compares them and writes native-check.json (device, date, commit,
#      command, each criterion and whether it held).
# Files under $OUT: native-tune.jsonl, native-wrong.jsonl, native-wrong-events.jsonl,
# measurepy-subset.jsonl, measurepy-wrong.jsonl, native-check.json, native-check.log.
set -uo pipefail
cd "$(dirname "$0")/.."
CARRY=.carry/native-check

prepare() {
  set -e
  npx tsc -p tsconfig.json  # dist/ from this working tree
  local cli="node dist/cli/sagegen.js"
  $cli autotune --arch sm_90a --headdim 128,64 --pv m16n8k16,fp8-f16 --granularity per-warp --stages 2 --cta-k 32,64 \
    --compile-only --out generated/tune-native
  $cli autotune --arch sm_90a --headdim 128 --pv m16n8k16 --granularity per-block,per-warp --smooth-k true,false --stages 2 --cta-k 64 --warp-q 16 \
    --compile-only --out generated/tune-wrong-native
  rm -rf "$CARRY"
  for b in tune-native tune-wrong-native; do
    # What the runners read: manifest, candidates, the shared library (measure.py), the runner folder.
    # Not the objects, sources, PTX, cubins or the static library (the native runner has it inside).
    mkdir -p "$CARRY/$b/lib"
    cp "generated/$b/manifest.json" "generated/$b/candidates.json" "$CARRY/$b/"
    cp "generated/$b/lib/libsagegen.so" "$CARRY/$b/lib/"
    cp -r "generated/$b/include" "generated/$b/runner" "$CARRY/$b/"
  done
  local commit
  commit=$(git rev-parse HEAD)
  git diff --quiet HEAD -- . ':!package-lock.json' || commit="$commit-dirty"
  echo "$commit" > "$CARRY/COMMIT"
  du -sh "$CARRY"
  echo "carry: $CARRY (commit $commit)"
}

run() {
  [ -d "$CARRY" ] || { echo "no $CARRY: run 'bash autotune/gpu_native_check.sh prepare' where the bundles are compiled, and carry it" >&2; return 1; }
  export SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-$(git rev-parse HEAD 2>/dev/null || cat "$CARRY/COMMIT")}"
  local T="$CARRY/tune-native" W="$CARRY/tune-wrong-native" work
  work=$(mktemp -d)
  echo "== $(date -u +%FT%TZ) commit $SAGEGEN_COMMIT"
  nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu --format=csv || true
  echo "== device count: $("$T/runner/sagegen-measure" --device-count)"
  "$T/runner/sagegen-measure" --self-test

  echo "== 1. native runner, gate bundle (N=1024, --events)"
  timeout 60 "$W/runner/sagegen-measure" "$W" --out "$OUT/native-wrong.jsonl" --seqs 1024 --events > "$OUT/native-wrong-events.jsonl"
  echo "exit $?"

  echo "== 2. native runner, sweep bundle: killed (SIGKILL) once ${KILL_AT:=10} records are written, then resumed"
  "$T/runner/sagegen-measure" "$T" --out "$OUT/native-tune.jsonl" &
  local pid=$! polls=0
  while kill -0 "$pid" 2>/dev/null && [ "$(cat "$OUT/native-tune.jsonl" 2>/dev/null | wc -l)" -lt "$KILL_AT" ] && [ "$polls" -lt 600 ]; do
    sleep 0.2
    polls=$((polls + 1))
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid"
  echo "exit $? (137: killed as intended) with $(cat "$OUT/native-tune.jsonl" 2>/dev/null | wc -l) lines written"
  cp "$OUT/native-tune.jsonl" "$work/after-kill.jsonl" 2>/dev/null || : > "$work/after-kill.jsonl"
  timeout 200 "$T/runner/sagegen-measure" "$T" --out "$OUT/native-tune.jsonl"
  echo "exit $?"

  echo "== 3. measure.py (PyTorch) on four of the same candidates, and on the gate bundle"
  mkdir -p "$work/subset"
  ln -s "$(realpath "$T/manifest.json")" "$work/subset/manifest.json"
  ln -s "$(realpath "$T/lib")" "$work/subset/lib"
  python3 - "$T/candidates.json" "$T/manifest.json" "$work/subset/candidates.json" <<'EOF'
import json, sys
keep = json.load(open(sys.argv[1]))["measure"]
dims = {v["name"]: v["spec"]["headDim"] for v in json.load(open(sys.argv[2]))["variants"]}
# per head dim the first and the last candidate of the space order: fp16 and FP8 P·V, two tile shapes
pick = [n for d in (128, 64) for n in (lambda of_d: [of_d[0], of_d[-1]])([n for n in keep if dims[n] == d])]
json.dump({"measure": pick}, open(sys.argv[3], "w"))
print("subset:", ", ".join(pick))
EOF
  timeout 100 python3 "$T/runner/measure.py" "$work/subset" --out "$OUT/measurepy-subset.jsonl"
  echo "exit $?"
  timeout 60 python3 "$W/runner/measure.py" "$W" --out "$OUT/measurepy-wrong.jsonl" --seqs 1024
  echo "exit $?"

  echo "== 4. summary"
  python3 autotune/gpu_native_check.py --dir "$OUT" --after-kill "$work/after-kill.jsonl" \
    --tune-bundle "$T" --wrong-bundle "$W" --command "OUT=\$OUT bash autotune/gpu_native_check.sh run"
  local rc=$?
  rm -rf "$work"
  return $rc
}

case "${1:-}" in
  prepare) prepare ;;
  run)
    : "${OUT:?set OUT to the folder for the results}"
    mkdir -p "$OUT"
    run 2>&1 | tee "$OUT/native-check.log"
    exit "${PIPESTATUS[0]}"
    ;;
  *) echo "usage: bash autotune/gpu_native_check.sh prepare|run" >&2; exit 2 ;;
esac
