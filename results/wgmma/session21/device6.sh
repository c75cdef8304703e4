#!/usr/bin/env bash
# The next session's first call (about 6 device minutes; carry .carry/c.tgz, .carry/e.tgz):
#   1. epilogue/device5.sh: bitwise equality, same-run A/B and quick checks of the epilogue patch;
#   2. ncu's per-instruction stall samples of the D=128 1K winner, main and patched (what is left of
#      a block's time after its last tile);
#   3. energy per call with the workspace quantized first (D=128 8K/16K, D=64 8K).
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session21/device6.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
bash results/wgmma/session21/epilogue/device5.sh "$out/epilogue"
tar -C "$out" -czf "$out/epilogue.tgz" epilogue && rm -rf "$out/epilogue"
for lib in s/tuned ep/tuned; do
  name=$(echo $lib | tr / -)
  timeout 120 ncu --kernel-name regex:attentionKernel --launch-skip 1 --launch-count 1 --section SourceCounters --section WarpStateStats \
    --import-source no -o /tmp/src-$name python3 runtime/bench/profile_one.py --lib .carry/$lib --head-dim 128 --seq 1024 2>&1 | tail -2
  ncu --import /tmp/src-$name.ncu-rep --page source --csv --print-source sass 2>/dev/null | gzip > "$out/source-$name.csv.gz"
  ncu --import /tmp/src-$name.ncu-rep --page details 2>&1 | grep -iE "duration|warp cycles per|stall" | head -12
done
python3 results/wgmma/session20/energy.py --lib .carry/s/tuned --shapes 128:8192,128:16384,64:8192 --out "$out/energy.json" 2>&1 | tail -12
