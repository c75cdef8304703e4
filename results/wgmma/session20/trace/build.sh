#!/usr/bin/env bash
# Builds the traced libraries (trace.patch on HEAD's template) into .carry/t.tgz (t/<name>), from the
# repository root after `npm ci && npm run build:ts`:
#   b3   the tuned D=128 fp16 non-causal winner up to 1.4K (one consumer, three blocks per SM)
#   x12  the tuned D=128 fp16 non-causal winner from 5.8K (three consumers, one block per SM)
#   d64  the tuned D=64 fp16 non-causal winner from 5.8K (one consumer, two blocks per SM)
set -euo pipefail
repo=$(pwd); w=$(mktemp -d); d=results/wgmma/session20/trace
git worktree add -q "$w/tr" HEAD
cd "$w/tr" && git apply "$repo/$d/trace.patch" && ln -s "$repo/node_modules" node_modules && npx tsc -p .
python3 - "$w" <<'PY'
import json, sys
d = json.load(open('autotune/tuned/h100-sm90a-wgmma.json'))
E = d['targets'][0]['entries']
def pick(hd, lo):
    return [e for e in E if e['headDim'] == hd and not e['causal'] and e['dtype'] == 'fp16' and e['minSeq'] == lo][0]['winner']['spec']
for name, hd, lo in (('b3', 128, 0), ('x12', 128, 5793), ('d64', 64, 5793)):
    json.dump(pick(hd, lo), open(f'{sys.argv[1]}/{name}.json', 'w'))
PY
for v in b3 x12 d64; do node dist/cli/sagegen.js build --spec "$w/$v.json" --out "$w/b/$v" --quiet; done
cd "$repo"; rm -rf .carry/t && mkdir -p .carry/t
for v in b3 x12 d64; do mkdir -p .carry/t/$v/lib && cp "$w/b/$v/lib/libsagegen.so" .carry/t/$v/lib/ && cp -r "$w/b/$v/include" "$w/b/$v/manifest.json" .carry/t/$v/; done
tar czf .carry/t.tgz -C .carry t && rm -rf .carry/t
git worktree remove --force "$w/tr"
