#!/usr/bin/env bash
# Builds device1.sh's libraries from the shipped tuned config (run from the repository root, after
# `npm ci && npm run build:ts`) and packs them into .carry/c.tgz.
set -euo pipefail
d=results/wgmma/polypair; w=$(mktemp -d)
python3 $d/cfg.py $w/cur64.json 64 fp16
python3 $d/cfg.py $w/m3.json 64 fp16 rowMax=vimnmx3
for n in 8 4 3 2; do python3 $d/cfg.py $w/h$n.json 64 fp16 rowMax=vimnmx3 polyExp2Every=$n polyExp2Form=f16x2; done
python3 $d/cfg.py $w/cur128.json 128 fp16
for n in 8 4; do python3 $d/cfg.py $w/d128h$n.json 128 fp16 polyExp2Every=$n polyExp2Form=f16x2; done
rm -rf .carry/s && mkdir -p .carry/s
for c in cur64 m3 h8 h4 h3 h2 cur128 d128h8 d128h4; do
  node $d/names.mjs $w/$c.json
  node dist/cli/sagegen.js build --config $w/$c.json --out $w/b/$c --quiet
  mkdir -p .carry/s/$c/lib && cp $w/b/$c/lib/libsagegen.so .carry/s/$c/lib/ && cp -r $w/b/$c/include $w/b/$c/manifest.json .carry/s/$c/
done
tar czf .carry/c.tgz -C .carry s
