#!/usr/bin/env bash
# How results/records.json's "measured" fingerprints were made: the fingerprint of a build as the
# sources of an earlier commit render it, computed with today's build/fingerprint.ts.
#   bash results/wgmma/session30/backfill.sh COMMIT LABEL...      # LABELs of results/records.json "libraries"
# prints {label: fingerprint}. The checkout is a throw-away git worktree with this checkout's
# node_modules. Commits older than the named host and link flags (toolchain/nvcc.ts HOST_FLAGS,
# SHARED_LINK_FLAGS) get them appended, and only when their compile and link lines are textually
# today's; otherwise the script stops.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
commit="${1:?COMMIT}"; shift
[ $# -ge 1 ] || { echo "give at least one library label" >&2; exit 2; }
work="$(mktemp -d)"
trap 'git -C "$repo" worktree remove --force "$work/wt" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git -C "$repo" worktree add -q --detach "$work/wt" "$commit"
cd "$work/wt"
ln -s "$repo/node_modules" node_modules
cp "$repo/build/fingerprint.ts" build/
if ! grep -q "export const HOST_FLAGS" toolchain/nvcc.ts; then
  grep -q "'-std=c++17', '-O2', '-Xcompiler', '-fPIC,-fvisibility=hidden'" toolchain/nvcc.ts || { echo "$commit: host flags differ from today's" >&2; exit 1; }
  grep -q "'-shared', '-cudart=static', '-Xlinker', '-soname=libsagegen.so'" toolchain/nvcc.ts || { echo "$commit: link flags differ from today's" >&2; exit 1; }
  grep "^export const \(HOST_FLAGS\|SHARED_LINK_FLAGS\) = " "$repo/toolchain/nvcc.ts" >> toolchain/nvcc.ts
fi
npx tsc -p tsconfig.json
python3 - "$repo/results/records.json" "$@" > "$work/builds.json" <<'PY'
import json, sys
libraries = json.load(open(sys.argv[1]))["libraries"]
print(json.dumps({label: libraries[label]["build"] for label in sys.argv[2:]}))
PY
node "$repo/results/wgmma/session30/fingerprint-at.mjs" "$work/wt" "$work/builds.json"
