"""Finding and loading libsagegen.so (ctypes only, no torch)."""
import ctypes
import glob
import os
import threading

from . import _abi

ENV_VAR = "SAGEGEN_LIB"

# runtime/python/sagegen/_lib.py -> repository root is three directories up.
_REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))

_lock = threading.Lock()
_loaded = None  # (path, ctypes.CDLL)


class LibraryNotFoundError(RuntimeError):
    """libsagegen.so could not be found or loaded."""


def _how_to_build():
    return (
        "build it with `npx sagegen build ...` (it lands in generated/<target>/lib/libsagegen.so) "
        f"or set {ENV_VAR}=/path/to/libsagegen.so"
    )


def find_library():
    """Path of the library to load: $SAGEGEN_LIB, else the newest generated/*/lib/libsagegen.so.

    The generated/ tree is searched under the repository root and under the working directory.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        if not os.path.isfile(env):
            raise LibraryNotFoundError(f"{ENV_VAR}={env!r} does not name a file; {_how_to_build()}")
        return os.path.abspath(env)
    roots = {_REPO_ROOT, os.getcwd()}
    candidates = set()
    for root in roots:
        candidates.update(glob.glob(os.path.join(root, "generated", "*", "lib", "libsagegen.so")))
    if not candidates:
        searched = ", ".join(sorted(os.path.join(r, "generated/*/lib/libsagegen.so") for r in roots))
        raise LibraryNotFoundError(f"libsagegen.so not found (searched {searched}); {_how_to_build()}")
    # Several targets may have been built; the most recent build is the one being worked on.
    return os.path.abspath(max(candidates, key=os.path.getmtime))


def _open(path):
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise LibraryNotFoundError(f"cannot load {path}: {e}; {_how_to_build()}") from e
    try:
        _abi.declare_prototypes(lib)
    except AttributeError as e:
        raise LibraryNotFoundError(f"{path} is not a sagegen library: {e}") from e
    abi = lib.sagegen_abi_version()
    if abi != _abi.ABI_VERSION:
        raise LibraryNotFoundError(
            f"{path} has ABI version {abi}, this binding mirrors version {_abi.ABI_VERSION}; "
            "rebuild the library or update the Python binding"
        )
    return lib


def load_library(path=None):
    """Loads (or switches to) the library at `path`, default find_library(). Returns the CDLL."""
    global _loaded
    with _lock:
        path = os.path.abspath(path) if path else find_library()
        if _loaded is None or _loaded[0] != path:
            _loaded = (path, _open(path))
        return _loaded[1]


def get_library():
    """The loaded library, loading the default one on first use."""
    loaded = _loaded
    return loaded[1] if loaded is not None else load_library()


def loaded_library():
    """The loaded library, or None before the first load (never loads one)."""
    loaded = _loaded
    return loaded[1] if loaded is not None else None


def library_path():
    """Path of the loaded library, or of the one that would be loaded."""
    loaded = _loaded
    return loaded[0] if loaded is not None else find_library()


def new_args(lib):
    """A sagegen_forward_args filled by the library's own defaults."""
    args = _abi.SagegenForwardArgs()
    lib.sagegen_forward_args_init(ctypes.byref(args))
    if args.struct_size != ctypes.sizeof(args):
        # The library was compiled with a different struct than this mirror: refuse, don't misread.
        raise LibraryNotFoundError(
            f"library's sizeof(sagegen_forward_args)={args.struct_size} but the Python mirror has "
            f"{ctypes.sizeof(args)}; the binding and the library disagree on the ABI"
        )
    return args


def decode(b):
    return b.decode("utf-8", "replace") if b is not None else ""
