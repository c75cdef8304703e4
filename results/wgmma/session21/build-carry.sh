#!/usr/bin/env bash
# Rebuilds the carried libraries of device6.sh / device7.sh from the repository root (after `npm ci`),
# if .carry/ was lost: main's tuned set (.carry/c.tgz: s/tuned), the tuned set with the epilogue patch
# (.carry/e.tgz: ep/tuned), and with kv-stream.patch alone, its joint-loads form, and with both patches
# (.carry/k.tgz: kv/sk, kv/sk2, kv/both).
# About 10 minutes of nvcc.
#   bash results/wgmma/session21/build-carry.sh
set -euo pipefail
repo=$(pwd); d=$repo/results/wgmma/session21; w=$(mktemp -d); cfg=autotune/tuned/h100-sm90a-wgmma.json
build() {  # name patches...
  local name=$1; shift
  git worktree add -q "$w/$name" HEAD
  (cd "$w/$name" && for p in "$@"; do git apply "$p"; done && ln -s "$repo/node_modules" node_modules && npx tsc -p . \
    && node dist/cli/sagegen.js build --config "$cfg" --out "$w/out/$name" --quiet)
}
keep() {  # name dest
  mkdir -p "$repo/.carry/$2/lib" && cp "$w/out/$1/lib/libsagegen.so" "$repo/.carry/$2/lib/" && cp -r "$w/out/$1/include" "$w/out/$1/manifest.json" "$repo/.carry/$2/"
}
build main
build ep "$d/epilogue/epilogue-wgmma.patch"
build sk "$d/kv-stream.patch"
build sk2 "$d/kv-stream-joint-loads.patch"
build both "$d/kv-stream.patch" "$d/epilogue/epilogue-wgmma.patch"
mkdir -p .carry && rm -rf .carry/s/tuned .carry/ep .carry/kv
keep main s/tuned && keep ep ep/tuned && keep sk kv/sk && keep sk2 kv/sk2 && keep both kv/both
tar czf .carry/c.tgz -C .carry s/tuned && tar czf .carry/e.tgz -C .carry ep && tar czf .carry/k.tgz -C .carry kv
rm -rf .carry/s/tuned .carry/ep .carry/kv
for n in main ep sk sk2 both; do git worktree remove --force "$w/$n"; done
