#!/usr/bin/env bash
# Builds the wgmma defaults' D=128 fp16 blocks (three consumers, ctaQ 192: non-causal and causal, from
# runtime/test/specs-wgmma.json) with session 20's per-block trace points (../session20/trace/trace.patch
# on HEAD's templates) into .carry/t31.tgz: t31/x12 (non-causal) and t31/x12c (causal), one variant per
# library, since each traced variant exports its own sagegen_trace_copy; and t31/plain, both untraced,
# to time the trace points' cost in a same-run A/B. Run from the repository root after
# `npm ci && npm run build:ts`. The patch adds a __device__ buffer and five timestamp stores by thread 0;
# the script prints the attention kernel's registers and spills beside the untraced build's, which must match.
set -euo pipefail
repo=$(pwd); w=$(mktemp -d); d=results/wgmma/session20/trace
git worktree add -q "$w/tr" HEAD
trap 'git -C "$repo" worktree remove --force "$w/tr"' EXIT
python3 - "$w" <<'PY'
import json, sys
specs = [s for s in json.load(open('runtime/test/specs-wgmma.json')) if s['headDim'] == 128 and s['dtype'] == 'fp16']
assert len(specs) == 2 and all(s['tiling']['ctaQ'] == 192 for s in specs), specs
for s in specs:
    json.dump(s, open(f"{sys.argv[1]}/{'x12c' if s['causal'] else 'x12'}.json", 'w'))
json.dump(specs, open(f"{sys.argv[1]}/both.json", 'w'))
PY
node dist/cli/sagegen.js build --spec "$w/both.json" --out "$w/plain" --quiet
(cd "$w/tr" && git apply "$repo/$d/trace.patch" && ln -s "$repo/node_modules" node_modules && npx tsc -p . \
  && for v in x12 x12c; do node dist/cli/sagegen.js build --spec "$w/$v.json" --out "$w/$v" --quiet; done)
python3 - "$w/plain/manifest.json" "$w/x12/manifest.json" "$w/x12c/manifest.json" <<'PY'
import json, sys
def kernels(path):
    # (registers, spill bytes, blocks per SM by registers: 64K over the block's threads at the register
    # count rounded up to 8, the allocation unit)
    out = {}
    for v in json.load(open(path))["variants"]:
        e = next(e for e in v["ptxas"] if e["kernel"] == "attentionKernel")
        regs = e["registers"]
        out[v["name"]] = (regs, e["spillStoreBytes"] + e["spillLoadBytes"], 65536 // (v["plan"]["threads"] * -(-regs // 8) * 8))
    return out
plain, traced = kernels(sys.argv[1]), {**kernels(sys.argv[2]), **kernels(sys.argv[3])}
for name in plain:
    print(f"{name}: untraced {plain[name]} traced {traced[name]} (registers, spill bytes, blocks per SM by registers)")
    # A few more registers are allowed (the timestamps), not a spill or another occupancy: the timeline
    # must be the shipped kernel's schedule, give or take the five stores.
    assert traced[name][1] == 0 and traced[name][2] == plain[name][2], f"{name}: the trace points spill or change the occupancy"
PY
rm -rf .carry/t31
for v in plain x12 x12c; do
  mkdir -p .carry/t31/$v/lib && cp "$w/$v/lib/libsagegen.so" .carry/t31/$v/lib/ && cp -r "$w/$v/include" "$w/$v/manifest.json" .carry/t31/$v/
done
tar czf .carry/t31.tgz -C .carry t31
ls -la .carry/t31.tgz
