#!/usr/bin/env python3
"""Checks that the ctypes mirror (runtime/python/sagegen/_abi.py) matches runtime/include/sagegen.h.

Compiles a tiny C program with `cc` that prints sizeof/offsetof of every field of
sagegen_forward_args and sagegen_strides, the enum sizes and every constant, then compares with
ctypes; and checks that every function the header declares has a ctypes prototype. Needs neither torch nor a GPU nor the built library. Prints `ok`, or the mismatches and
exits 1.

    python3 runtime/python/tests/check_abi_layout.py [--cc cc] [--header runtime/include/sagegen.h]
"""
import argparse
import ctypes
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
ABI_PY = os.path.join(REPO, "runtime", "python", "sagegen", "_abi.py")
HEADER = os.path.join(REPO, "runtime", "include", "sagegen.h")


def load_abi():
    # Load _abi.py by path: importing the package would run sagegen/__init__.py, which needs torch.
    spec = importlib.util.spec_from_file_location("sagegen_abi_under_test", ABI_PY)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def c_program(abi, header):
    """C source printing `key value` lines; keys match python_layout()."""
    lines = [f'#include "{header}"', "#include <stdio.h>", "#include <stddef.h>", "int main(void) {"]

    def emit(key, expr):
        lines.append(f'  printf("%s %lld\\n", "{key}", (long long)({expr}));')

    for cname, cls in (("sagegen_forward_args", abi.SagegenForwardArgs), ("sagegen_strides", abi.SagegenStrides),
                        ("sagegen_variant_info", abi.SagegenVariantInfo)):
        emit(f"{cname}.sizeof", f"sizeof({cname})")
        emit(f"{cname}.alignof", f"_Alignof({cname})")
        for field, _ in cls._fields_:
            emit(f"{cname}.{field}.offset", f"offsetof({cname}, {field})")
            emit(f"{cname}.{field}.size", f"sizeof((({cname}*)0)->{field})")
    for enum in ("sagegen_status", "sagegen_dtype", "sagegen_layout"):
        emit(f"{enum}.sizeof", f"sizeof({enum})")
    emit("sagegen_stream_t.sizeof", "sizeof(sagegen_stream_t)")
    for name in abi.enum_constants():
        emit(name, name)
    lines += ["  return 0;", "}"]
    return "\n".join(lines) + "\n"


def python_layout(abi):
    out = {}
    for cname, cls in (("sagegen_forward_args", abi.SagegenForwardArgs), ("sagegen_strides", abi.SagegenStrides),
                        ("sagegen_variant_info", abi.SagegenVariantInfo)):
        out[f"{cname}.sizeof"] = ctypes.sizeof(cls)
        out[f"{cname}.alignof"] = ctypes.alignment(cls)
        for field, ftype in cls._fields_:
            out[f"{cname}.{field}.offset"] = getattr(cls, field).offset
            out[f"{cname}.{field}.size"] = ctypes.sizeof(ftype)
    for enum in ("sagegen_status", "sagegen_dtype", "sagegen_layout"):
        out[f"{enum}.sizeof"] = ctypes.sizeof(abi.c_enum)
    out["sagegen_stream_t.sizeof"] = ctypes.sizeof(ctypes.c_void_p)
    out.update(abi.enum_constants())
    return out


def unmirrored_constants(abi, header):
    """Enumerators/ABI macro in the header that _abi.py lacks (a new status code, say): the
    compiled comparison only sees names the mirror already knows."""
    with open(header) as f:
        text = f.read()
    names = set(re.findall(r"\b(SAGEGEN_(?:STATUS|DTYPE|LAYOUT)_[A-Z0-9_]+)\s*=", text))
    names |= set(re.findall(r"#define\s+(SAGEGEN_ABI_VERSION)\b", text))
    return sorted(names - set(abi.enum_constants()))


def unmirrored_functions(abi, header):
    """Functions the header declares that declare_prototypes does not (e.g. a new query), and back."""
    with open(header) as f:
        declared = set(re.findall(r"^SAGEGEN_API\s+[^;(]*?\b(sagegen_\w+)\s*\(", f.read(), re.M))

    class Recorder:
        def __init__(self):
            self.names = set()

        def __getattr__(self, name):
            self.names.add(name)
            return type("Fn", (), {})()

    recorder = Recorder()
    abi.declare_prototypes(recorder)
    return [f"  {n}: declared in the header, no prototype in _abi.py" for n in sorted(declared - recorder.names)] + \
           [f"  {n}: prototype in _abi.py, not in the header" for n in sorted(recorder.names - declared)]


def c_layout(cc, source):
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = os.path.join(tmp, "layout.c"), os.path.join(tmp, "layout")
        with open(src, "w") as f:
            f.write(source)
        # -std=c11 for _Alignof; -Werror so a header that only compiles with warnings is caught too.
        cmd = [cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-o", exe, src]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.stderr.write(f"compiling the layout program failed ({' '.join(cmd)}):\n{r.stderr}\n")
            sys.exit(1)
        r = subprocess.run([exe], capture_output=True, text=True, check=True)
    return {key: int(val) for key, val in (line.split() for line in r.stdout.splitlines())}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    ap.add_argument("--header", default=HEADER)
    opts = ap.parse_args()
    if shutil.which(opts.cc) is None:
        sys.stderr.write(f"C compiler {opts.cc!r} not found\n")
        return 1
    abi = load_abi()
    want = c_layout(opts.cc, c_program(abi, os.path.abspath(opts.header)))
    have = python_layout(abi)
    bad = [f"  {k}: C {want.get(k)} vs ctypes {have.get(k)}" for k in sorted(set(want) | set(have)) if want.get(k) != have.get(k)]
    bad += [f"  {name}: in the header, missing from _abi.py" for name in unmirrored_constants(abi, opts.header)]
    bad += unmirrored_functions(abi, opts.header)
    if bad:
        print("ABI layout mismatch between sagegen.h and _abi.py:\n" + "\n".join(bad))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
