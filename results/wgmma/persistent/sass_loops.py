#!/usr/bin/env python3
"""Main-loop size and spills of each attention kernel in two libraries, from their SASS.

    python3 results/wgmma/persistent/sass_loops.py BASE.so CANDIDATE.so [--cuobjdump PATH]

For every attentionKernel: the instruction count, and each loop (a backward branch) that holds
wgmma instructions, as (first, last, length, GMMA count, STL/LDL count). Variants are matched by name
with the persistent tag ("cp" -> "c") dropped. No GPU is needed, only a cuobjdump that reads sm_90a
(the development machines have none; Debian's nvidia-cuda-toolkit 12.4, from trixie non-free, reads
nvcc 13.0's cubins: `apt-get download nvidia-cuda-toolkit && dpkg -x nvidia-cuda-toolkit_*.deb x`,
then x/usr/bin/cuobjdump).
"""
import argparse
import re
import subprocess


def kernels(lib, cuobjdump):
    text = subprocess.run([cuobjdump, "-sass", lib], capture_output=True, text=True, check=True).stdout
    out = {}
    for m in re.finditer(r"Function : (\S+)\n(.*?)(?=\n\s*Function : |\Z)", text, re.S):
        if "attentionKernel" not in m.group(1):
            continue
        name = re.search(r"sage_\w+?(?=\d+attentionKernel)", m.group(1)).group(0)
        out[re.sub(r"cp_qk", "c_qk", name)] = [l.strip() for l in m.group(2).split("\n") if re.match(r"\s*/\*[0-9a-f]{4}\*/", l)]
    return out


def loops(ins):
    address = lambda line: int(re.match(r"/\*([0-9a-f]+)\*/", line).group(1), 16)
    index = {address(line): i for i, line in enumerate(ins)}
    found = []
    for i, line in enumerate(ins):
        branch = re.search(r"\bBRA\b.*?(0x[0-9a-f]+)", line)
        if branch and int(branch.group(1), 16) < address(line):
            j = index.get(int(branch.group(1), 16))
            body = ins[j:i + 1]
            gmma = sum("GMMA" in x for x in body)
            if gmma:
                found.append((j, i, i - j + 1, gmma, sum(bool(re.search(r"\b(STL|LDL)\b", x)) for x in body)))
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base")
    ap.add_argument("candidate")
    ap.add_argument("--cuobjdump", default="cuobjdump")
    args = ap.parse_args()
    base, cand = kernels(args.base, args.cuobjdump), kernels(args.candidate, args.cuobjdump)
    for name in sorted(base):
        print(f"{name}: {len(base[name])} / {len(cand.get(name, []))} instructions")
        print("  base loops (first, last, length, GMMA, STL/LDL):", loops(base[name]))
        print("  candidate loops:", loops(cand.get(name, [])))


if __name__ == "__main__":
    main()
