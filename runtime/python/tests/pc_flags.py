#!/usr/bin/env python3
"""A stand-in for `pkg-config` on machines without it, for sagegen.pc only (variables, Cflags, Libs):

    pc_flags.py [--cflags] [--libs] [--variable=NAME] sagegen     (PKG_CONFIG_PATH as for pkg-config)

Used by examples/run_gpu_consumers.sh when the GPU host has no pkg-config.
"""
import os
import re
import sys


def load(name):
    for d in filter(None, os.environ.get("PKG_CONFIG_PATH", "").split(os.pathsep)):
        path = os.path.join(d, f"{name}.pc")
        if os.path.isfile(path):
            return path
    sys.exit(f"pc_flags.py: {name}.pc not found in PKG_CONFIG_PATH")


def parse(path):
    values = {"pcfiledir": os.path.dirname(os.path.abspath(path))}
    fields = {}
    expand = lambda text: re.sub(r"\$\{(\w+)\}", lambda m: values.get(m.group(1), ""), text)
    for line in open(path):
        line = line.split("#", 1)[0].strip()
        if m := re.match(r"^(\w+)=(.*)$", line):
            values[m.group(1)] = expand(m.group(2).strip())
        elif m := re.match(r"^([\w.]+):\s*(.*)$", line):
            fields[m.group(1)] = expand(m.group(2).strip())
    return values, fields


def main(argv):
    names = [a for a in argv if not a.startswith("--")]
    if len(names) != 1:
        sys.exit("usage: pc_flags.py [--cflags] [--libs] [--variable=NAME] [--modversion] PACKAGE")
    values, fields = parse(load(names[0]))
    out = []
    for a in argv:
        if a == "--cflags":
            out.append(fields.get("Cflags", ""))
        elif a == "--libs":
            out.append(fields.get("Libs", ""))
        elif a == "--modversion":
            out.append(fields.get("Version", ""))
        elif a.startswith("--variable="):
            out.append(values.get(a.split("=", 1)[1], ""))
    print(" ".join(x for x in out if x))


if __name__ == "__main__":
    main(sys.argv[1:])
