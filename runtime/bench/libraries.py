"""What a --lib argument names: the library file, its manifest's variants, and a label that tells it apart
from the other libraries of the same run. Stdlib only (test_bench.py tests it without torch)."""
import json
import os


def _paths(target):
    """(libsagegen.so, the library's root directory) of a generated/<target> dir or a .so path."""
    lib = target if target.endswith(".so") else os.path.join(target, "lib", "libsagegen.so")
    return lib, os.path.dirname(os.path.dirname(os.path.abspath(lib)))


def _info(lib, root):
    variants = []
    manifest = os.path.join(root, "manifest.json")
    if os.path.exists(manifest):
        with open(manifest) as f:
            variants = [{"name": v["name"], "spec": v["spec"]} for v in json.load(f)["variants"]]
    return {"path": lib, "variants": variants}


def library_info(target):
    lib, root = _paths(target)
    return os.path.basename(root), _info(lib, root)


def library_infos(targets):
    """library_info of each target, labelled by as many trailing path components as it takes to tell them
    apart (s/tuned and ep/tuned, not tuned twice: a repeated label would silently merge two libraries)."""
    paths = [_paths(t) for t in targets]
    parts = [root.strip(os.sep).split(os.sep) for _, root in paths]
    for depth in range(1, max(len(p) for p in parts) + 1):
        labels = ["/".join(p[-depth:]) for p in parts]
        if len(set(labels)) == len(labels):
            return [(label, _info(lib, root)) for label, (lib, root) in zip(labels, paths)]
    raise SystemExit(f"--lib: the same library is given twice ({', '.join(targets)}); each --lib must name a different library")
