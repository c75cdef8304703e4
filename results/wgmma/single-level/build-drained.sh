#!/usr/bin/env bash
# Builds device3.sh's libraries (run from the repository root, after `npm ci && npm run build:ts`):
#   cur   main's tuned set
#   fa3d  fa3-drained.patch at 0176900 (its base), one spec: fa3c-spec.json (D=128 fp16 non-causal,
#         two consumers, no producer, fp32 row sums)
# and packs them into .carry/c.tgz.
set -euo pipefail
repo=$(pwd); w=$(mktemp -d)
git worktree add -q "$w/src" 0176900
(cd "$w/src" && git apply "$repo/results/wgmma/single-level/fa3-drained.patch" && ln -s "$repo/node_modules" node_modules \
  && npx tsc -p . && node dist/cli/sagegen.js build --spec "$repo/results/wgmma/single-level/fa3c-spec.json" --out "$w/b/fa3d" --quiet)
node dist/cli/sagegen.js build --config autotune/tuned/h100-sm90a-wgmma.json --out "$w/b/cur" --quiet
rm -rf .carry/s && mkdir -p .carry/s
for c in cur fa3d; do
  mkdir -p .carry/s/$c/lib && cp "$w/b/$c/lib/libsagegen.so" .carry/s/$c/lib/ && cp -r "$w/b/$c/include" "$w/b/$c/manifest.json" .carry/s/$c/
done
tar czf .carry/c.tgz -C .carry s && rm -rf .carry/s
git worktree remove --force "$w/src"
