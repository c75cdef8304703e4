#!/usr/bin/env bash
# Session 2026-12-05 (8), the final build on the H100: GPU checks, edge checks and compute-sanitizer
# of the defaults and the tuned set, their SASS beside the previous commit's, same-run A/Bs against the
# previous commit's libraries (part C1); the benchmark beside torch (part C2). Libraries built on the
# development machine (README.md here) and carried as .carry/s/<name>.
#   results/wgmma/fusedq/final.sh OUTDIR C1|C2
set -uo pipefail
out="${1:?OUTDIR}"; w="$out/w"; mkdir -p "$w"
export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
c1() {
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv | tee "$w/gpu.txt"
for lib in fin fin-tuned; do
  label=$([ $lib = fin ] && echo sm_90a_wgmma || echo tuned-h100-wgmma)
  python3 runtime/test/gpu_check.py --lib .carry/s/$lib/lib/libsagegen.so --label $label --out "$w/$label.json" 2>&1 | grep -v "^\[.*PASS\|^PASS" | tail -5
  OUT="$w/edge-$lib" bash runtime/test/run_edge_checks.sh .carry/s/$lib 2>&1 | tail -4
done
cuobjdump -sass -fun attentionKernel .carry/s/base/cubin/*d128_fp16_full* | grep -v "Function\|code for\|^$\|\.text\|Fatbin\|=====\|arch\|host\|compile_size" | sed 's@/\*[0-9a-f]*\*/@@; s@;.*@@' > /tmp/a.sass
cuobjdump -sass -fun attentionKernel .carry/s/fin/cubin/*d128_fp16_full* | grep -v "Function\|code for\|^$\|\.text\|Fatbin\|=====\|arch\|host\|compile_size" | sed 's@/\*[0-9a-f]*\*/@@; s@;.*@@' > /tmp/b.sass
echo "three-consumer D=128 kernel SASS lines: $(wc -l < /tmp/a.sass) previous, $(wc -l < /tmp/b.sass) now, $(diff /tmp/a.sass /tmp/b.sass | grep -c '^[<>]') differing" | tee "$w/sass-3consumer.txt"
timeout 200 python3 runtime/bench/ab.py --lib .carry/s/base --lib .carry/s/fin --head-dims 128,64 --seqs 1024,2048,4096,16384 --causal both --rounds 5 --reps 15 --out "$w/ab-final-defaults.json" 2>&1 | grep -A2 "^D=" | grep -v "^--"
timeout 120 python3 runtime/bench/ab.py --lib .carry/s/head-tuned --lib .carry/s/fin-tuned --head-dims 128,64 --seqs 1024,2048,4096 --causal both --rounds 5 --reps 15 --out "$w/ab-final-tuned.json" 2>&1 | grep -A2 "^D=" | grep -v "^--"
tar -C "$out" -czf "$out/C1.tgz" w && rm -rf "$w"
}
c2() {
python3 runtime/bench/bench.py --lib .carry/s/fin-tuned --head-dims 64,128 --out "$w/h100-wgmma-tuned.json" 2>&1 | grep "^\[" | tail -60
python3 runtime/bench/bench.py --lib .carry/s/fin --head-dims 64,128 --dtypes fp16 --out "$w/h100-wgmma.json" 2>&1 | grep "^\[" | tail -30
tar -C "$out" -czf "$out/C2.tgz" w && rm -rf "$w"
}
case "${2:?C1|C2}" in C1) c1 ;; C2) c2 ;; esac
ls -la "$out"
