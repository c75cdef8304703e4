#!/usr/bin/env bash
# Session 23, device call 1: the correctness records after dc745f9 (the LSE corrections loaded before
# the first O store). Build here, at the landing commit, the seven libraries of results/gpu/ as
# .carry/s/<record name> and main's four before it (eb22854) as .carry/old/s/<name> (the commands are
# in results/gpu/README.md), then carry one tarball:
#   tar czf .carry/l.tgz -C .carry $(for d in s/* old/s/*; do echo $d/lib/libsagegen.so $d/include $d/manifest.json; done)
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session23/landing.sh OUTDIR [SECONDS_BUDGET]
# Steps run most needed first, each only while time is left; everything ends in OUTDIR/landing.tgz.
set -uo pipefail
out="${1:?OUTDIR}"; budget="${2:-570}"; w="$out/w"; mkdir -p "$w"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
tar xzf .carry/l.tgz -C .carry
source results/wgmma/device-steps.sh
gpu_state
b=results/wgmma/session21/epilogue/bitwise.py
bitwise() {  # name: O and LSE of main before and after, bit for bit
  python3 $b save --lib .carry/old/s/$1 --out /tmp/a.pt && python3 $b save --lib .carry/s/$1 --out /tmp/b.pt && python3 $b compare /tmp/a.pt /tmp/b.pt > "$w/bitwise-$1.txt" 2>&1
  echo "$1: $(tail -1 "$w/bitwise-$1.txt")"
}
for name in wg tuned sm_90a_d64-128 sm_89_d64-128; do step 40 bitwise $name; done
check() {  # library-dir record-name
  python3 runtime/test/gpu_check.py --lib .carry/s/$1/lib/libsagegen.so --label $2 --out "$w/$2.json" 2>&1 | tail -1
}
step 40 check tuned tuned-h100-wgmma
step 40 check wg sm_90a_wgmma
for name in sm_90a_d64-128 sm_89_d64-128 sm_80_d64-128 sm_90a_variety tuned-h100; do step 40 check $name $name; done
for lib in tuned wg; do OUT="$w/edge-$lib" step 100 bash runtime/test/run_edge_checks.sh .carry/s/$lib 2>&1 | tail -3; done
echo "used $SECONDS s"
tar -C "$out" -czf "$out/landing.tgz" w && rm -rf "$w"
