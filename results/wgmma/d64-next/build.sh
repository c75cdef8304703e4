#!/usr/bin/env bash
# Builds device.sh's libraries (from the repository root, after `npm ci && npm run build:ts`) and
# packs them into .carry/c.tgz (s/<name>):
#   tuned   main's tuned set (autotune/tuned/h100-sm90a-wgmma.json)
#   x2h4    shape8x2.patch: specs-h4m3.json (D=64 fp16/bf16, causal and not, two consumer warpgroups
#           a block, two blocks per SM, every 4th exponential pair on the packed-half polynomial)
#   x2m3    the same without the polynomial (specs-m3.json)
#   split   early-pv-option.patch (the DSL option pv.earlyPvSteps): main's tuned set with every D=64
#           entry at earlyPvSteps 2 (P·V issued in two groups a tile)
set -euo pipefail
repo=$(pwd); w=$(mktemp -d); d=results/wgmma/d64-next
git worktree add -q "$w/x2" HEAD
(cd "$w/x2" && git apply "$repo/$d/shape8x2.patch" && ln -s "$repo/node_modules" node_modules && npx tsc -p . \
  && node dist/cli/sagegen.js build --spec "$repo/$d/specs-h4m3.json" --out "$w/b/x2h4" --quiet \
  && node dist/cli/sagegen.js build --spec "$repo/$d/specs-m3.json" --out "$w/b/x2m3" --quiet)
git worktree add -q "$w/sp" HEAD
(cd "$w/sp" && git apply "$repo/$d/early-pv-option.patch" && ln -s "$repo/node_modules" node_modules && npx tsc -p . \
  && python3 - "$w/split.json" <<'PY'
import json, sys
d = json.load(open('autotune/tuned/h100-sm90a-wgmma.json'))
for t in d['targets']:
    for e in t['entries']:
        if e['headDim'] == 64:
            e['winner']['spec']['pv']['earlyPvSteps'] = 2
json.dump(d, open(sys.argv[1], 'w'), indent=1)
PY
  node --input-type=module -e "
import fs from 'node:fs'; import { parseSpec, variantName } from './dist/dsl/spec.js';
const f = '$w/split.json'; const d = JSON.parse(fs.readFileSync(f, 'utf8'));
for (const t of d.targets) for (const e of t.entries) e.winner.name = variantName(parseSpec(e.winner.spec));
fs.writeFileSync(f, JSON.stringify(d, null, 1));" \
  && node dist/cli/sagegen.js build --config "$w/split.json" --out "$w/b/split" --quiet)
node dist/cli/sagegen.js build --config autotune/tuned/h100-sm90a-wgmma.json --out "$w/b/tuned" --quiet
rm -rf .carry/s && mkdir -p .carry/s
for c in tuned x2h4 x2m3 split; do
  mkdir -p .carry/s/$c/lib && cp "$w/b/$c/lib/libsagegen.so" .carry/s/$c/lib/ && cp -r "$w/b/$c/include" "$w/b/$c/manifest.json" .carry/s/$c/
done
tar czf .carry/c.tgz -C .carry s && rm -rf .carry/s
git worktree remove --force "$w/x2"; git worktree remove --force "$w/sp"
