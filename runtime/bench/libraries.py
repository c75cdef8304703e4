"""What a --lib argument names: the library file, its manifest's variants, and a label that tells it apart
from the other libraries of the same run. Stdlib only (test_bench.py tests it without torch)."""
import json
import os


def _paths(target):
    """(libsagegen.so, the library's root directory) of a generated/<target> dir or a .so path."""
    lib = target if target.endswith(".so") else os.path.join(target, "lib", "libsagegen.so")
    return lib, os.path.dirname(os.path.dirname(os.path.abspath(lib)))


def _manifest(root):
    """The manifest.json of a build directory, or of an install prefix (share/sagegen/), or {}."""
    for path in (os.path.join(root, "manifest.json"), os.path.join(root, "share", "sagegen", "manifest.json")):
        if os.path.exists(path):
            with open(path) as f:
                return json.load(f)
    return {}


def _info(lib, root):
    manifest = _manifest(root)
    variants = [{"name": v["name"], "spec": v["spec"]} for v in manifest.get("variants", [])]
    return {"path": lib, "variants": variants, "fingerprint": manifest.get("fingerprint")}


def manifest_fingerprint(target):
    """The source fingerprint (build/fingerprint.ts) in the manifest.json of the library a --lib names, or
    None (no manifest, or one written before fingerprints). A record carries it so that
    test/records.test.ts can tell whether the kernels measured are still the ones the build makes."""
    _, root = _paths(target)
    return _manifest(root).get("fingerprint")


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
