#!/usr/bin/env bash
# Checks that a template change leaves the machine code of every shipped wgmma kernel as it was:
# builds the H100 tuned set and the sm_90a wgmma defaults at BASE and at the working tree, then
# compares cuobjdump's SASS with the source-path lines taken out. Run from the repository root after
# `npm ci`; needs nvcc and cuobjdump (CUOBJDUMP=path if it is not on PATH).
#   bash results/wgmma/session19/sass-identity.sh BASE
set -euo pipefail
base="${1:?BASE commit}"; cuobjdump="${CUOBJDUMP:-cuobjdump}"; repo=$(pwd); w=$(mktemp -d)
git worktree add -q "$w/base" "$base"
trap 'git worktree remove --force "$w/base"; rm -rf "$w"' EXIT
build() {  # dir out
  (cd "$1" && node dist/cli/sagegen.js build --config "$repo/autotune/tuned/h100-sm90a-wgmma.json" --out "$2/tuned" --quiet >/dev/null \
    && node dist/cli/sagegen.js build --arch sm_90a --headdim 64,128 --mma wgmma --out "$2/wg" --quiet >/dev/null)
}
(cd "$w/base" && ln -s "$repo/node_modules" node_modules && npx tsc -p .)
npx tsc -p .
build "$w/base" "$w/before"; build "$repo" "$w/after"
status=0
for lib in tuned wg; do
  for side in before after; do
    "$cuobjdump" -sass "$w/$side/$lib/lib/libsagegen.so" | grep -v '^identifier' > "$w/$side-$lib.sass"
  done
  n=$(grep -c 'Function :' "$w/after-$lib.sass")
  if cmp -s "$w/before-$lib.sass" "$w/after-$lib.sass"; then echo "$lib: SASS identical ($n functions)"; else echo "$lib: SASS differs"; status=1; fi
done
exit $status
