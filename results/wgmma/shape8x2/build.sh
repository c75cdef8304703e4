#!/usr/bin/env bash
# Builds device.sh's libraries (from the repository root, after `npm ci && npm run build:ts`):
#   tuned  main's tuned set (autotune/tuned/h100-sm90a-wgmma.json)
#   h4m3   shape8x2.patch applied in a worktree: specs-h4m3.json (D=64 fp16/bf16, causal and not,
#          two consumer warpgroups per block and two blocks per SM, every 4th exponential pair on
#          the packed-half polynomial)
#   m3     the same without the polynomial (specs-m3.json)
# and packs them into .carry/c.tgz (s/<name>).
set -euo pipefail
repo=$(pwd); w=$(mktemp -d); d=results/wgmma/shape8x2
git worktree add -q "$w/src" HEAD
(cd "$w/src" && git apply "$repo/$d/shape8x2.patch" && ln -s "$repo/node_modules" node_modules && npx tsc -p . \
  && for s in h4m3 m3; do node dist/cli/sagegen.js build --spec "$repo/$d/specs-$s.json" --out "$w/b/$s" --quiet; done)
node dist/cli/sagegen.js build --config autotune/tuned/h100-sm90a-wgmma.json --out "$w/b/tuned" --quiet
rm -rf .carry/s && mkdir -p .carry/s
for c in tuned h4m3 m3; do
  mkdir -p .carry/s/$c/lib && cp "$w/b/$c/lib/libsagegen.so" .carry/s/$c/lib/ && cp -r "$w/b/$c/include" "$w/b/$c/manifest.json" .carry/s/$c/
done
tar czf .carry/c.tgz -C .carry s && rm -rf .carry/s
git worktree remove --force "$w/src"
