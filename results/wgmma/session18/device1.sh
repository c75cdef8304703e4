#!/usr/bin/env bash
# Session 2026-12-07 (18), call 1: two jobs in one machine start.
#  1. The D=64 re-tuning sweep (polypair/device2.sh's runner): bundle generated/tune64p, in .carry/c.tgz.
#  2. fa3-drained (single-level/device3.sh): libraries cur + fa3d from build-drained.sh, in .carry/d.tgz.
#   SAGEGEN_COMMIT=<hash> bash results/wgmma/session18/device1.sh OUTDIR
set -uo pipefail
out="${1:?OUTDIR}"; mkdir -p "$out"
bash results/wgmma/polypair/device2.sh "$out"
mv .carry/d.tgz .carry/c.tgz
bash results/wgmma/single-level/device3.sh "$out"
