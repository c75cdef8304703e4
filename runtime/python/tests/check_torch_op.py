#!/usr/bin/env python3
"""Checks torch.ops.sagegen.sageattn (runtime/python/sagegen/_op.py): schema, fake kernel,
torch.library.opcheck, torch.compile(fullgraph=True) of a module calling sagegen.sageattn with no
graph break (torch._dynamo.explain), fp16/bf16, HND/NHD, GQA, LSE, and SagegenError through the op.

    python3 runtime/python/tests/check_torch_op.py --lib PREFIX/lib/libsagegen.so --out op.json   # CUDA + the library
    python3 runtime/python/tests/check_torch_op.py --device cpu                                  # no GPU: see below

--device cpu replaces the op's CUDA work with a float32 reference kernel registered for CPU
(torch.library.register_kernel) and points the binding's device seams at host memory: it checks
everything about the op except the library. With CUDA the library runs and its results are compared
with float64 attention. Prints one line per check and `N passed, M failed`; writes --out as JSON
(device, date, commit, command, checks). Exit 1 when anything failed.
"""
import argparse
import contextlib
import ctypes
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "runtime", "python"))
sys.path.append(os.path.join(REPO, "runtime", "bench"))  # libraries.py: the manifest fingerprint a record carries
from libraries import manifest_fingerprint  # noqa: E402

import torch  # noqa: E402

import sagegen  # noqa: E402
from sagegen import _lib  # noqa: E402

# Output limits against float64 attention on Gaussian inputs (runtime/test/gpu_check.py's).
MIN_COS, MAX_REL_L1 = 0.999, 0.043
LSE_MAX_ABS = 0.05  # natural-log LSE of Gaussian scores at these sizes; gpu_check derives a tighter one per case

DEVICE = "cuda"


def reference(q, k, v, layout, causal, scale):
    """float64 attention and LSE in HND; q, k, v in `layout`."""
    if layout == "NHD":
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
    q, k, v = q.double(), k.double(), v.double()
    group = q.size(1) // k.size(1)
    k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
    s = torch.matmul(q, k.transpose(-1, -2)) * scale
    if causal:
        nq, nk = q.size(2), k.size(2)
        visible = torch.arange(nk, device=q.device)[None, :] <= torch.arange(nq, device=q.device)[:, None] + (nk - nq)
        s = s.masked_fill(~visible, float("-inf"))
    lse = torch.logsumexp(s, dim=-1)
    o = torch.softmax(s, dim=-1).nan_to_num(0.0) @ v
    return (o.transpose(1, 2) if layout == "NHD" else o), lse


def use_cpu_standin():
    """--device cpu: the op's kernel for CPU is the float32 reference; the binding's checks accept host tensors."""
    global DEVICE
    DEVICE = "cpu"
    sagegen._on_cuda = lambda t: True

    @torch.library.register_kernel("sagegen::sageattn", "cpu")
    def _cpu(q, k, v, tensor_layout, is_causal, sm_scale, return_lse):
        scale = sm_scale if sm_scale is not None else 1.0 / math.sqrt(q.size(-1))
        o, lse = reference(q, k, v, tensor_layout, is_causal, scale)
        lse = lse.float() if return_lse else torch.empty((0,), dtype=torch.float32)
        return o.to(q.dtype).contiguous(), lse


def inputs(layout, dtype, b=2, hq=8, hkv=2, nq=256, nk=384, d=128, seed=0):
    g = torch.Generator(device="cpu").manual_seed(seed)

    def t(h, n):
        shape = (b, h, n, d) if layout == "HND" else (b, n, h, d)
        return torch.randn(shape, generator=g).to(dtype=dtype, device=DEVICE)

    return t(hq, nq), t(hkv, nk), t(hkv, nk)


def metrics(o, ref):
    o, ref = o.double().flatten(), ref.double().flatten()
    cos = float(torch.dot(o, ref) / (o.norm() * ref.norm() + 1e-30))
    rel_l1 = float((o - ref).abs().sum() / (ref.abs().sum() + 1e-30))
    return cos, rel_l1


class Attention(torch.nn.Module):
    """A block as a model would have it: projections around sagegen.sageattn (NHD, GQA, causal)."""

    def __init__(self, dim=512, heads=8, kv_heads=2, head_dim=64):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, head_dim
        self.q = torch.nn.Linear(dim, heads * head_dim, bias=False)
        self.kv = torch.nn.Linear(dim, 2 * kv_heads * head_dim, bias=False)
        self.out = torch.nn.Linear(heads * head_dim, dim, bias=False)

    def forward(self, x):
        b, n, _ = x.shape
        q = self.q(x).view(b, n, self.heads, self.head_dim)
        k, v = self.kv(x).view(b, n, 2, self.kv_heads, self.head_dim).unbind(2)
        o, lse = sagegen.sageattn(q, k.contiguous(), v.contiguous(), tensor_layout="NHD", is_causal=True, return_lse=True)
        return self.out(o.reshape(b, n, -1)), lse


# ------------------------------------------------------------------------------------------------
# Checks: each returns (ok, detail).


def check_schema():
    schema = str(torch.ops.sagegen.sageattn.default._schema)
    want = "sagegen::sageattn(Tensor q, Tensor k, Tensor v, str tensor_layout, bool is_causal, float? sm_scale, bool return_lse) -> (Tensor, Tensor)"
    return schema == want, schema


def check_fake():
    """The fake kernel's shapes for HND/NHD, GQA, with and without LSE, under FakeTensorMode."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    got = []
    with FakeTensorMode() as mode:
        for layout, shape_q, shape_kv, lse_shape in (("HND", (2, 8, 100, 64), (2, 2, 300, 64), (2, 8, 100)),
                                                       ("NHD", (2, 100, 8, 64), (2, 300, 2, 64), (2, 8, 100))):
            q = mode.from_tensor(torch.empty(shape_q, dtype=torch.bfloat16))
            kv = mode.from_tensor(torch.empty(shape_kv, dtype=torch.bfloat16))
            for want_lse in (True, False):
                o, lse = torch.ops.sagegen.sageattn(q, kv, kv, layout, False, None, want_lse)
                ok = (tuple(o.shape) == shape_q and o.dtype == torch.bfloat16 and lse.dtype == torch.float32
                      and tuple(lse.shape) == (lse_shape if want_lse else (0,)))
                got.append((layout, want_lse, tuple(o.shape), tuple(lse.shape), ok))
    return all(g[-1] for g in got), str(got)


def check_opcheck():
    q, k, v = inputs("HND", torch.float16, nq=64, nk=96, d=64)
    results = []
    for layout, lse in (("HND", True), ("HND", False)):
        torch.library.opcheck(torch.ops.sagegen.sageattn.default, (q, k, v, layout, False, None, lse),
                              test_utils=("test_schema", "test_faketensor"))
        results.append(f"{layout} lse={lse}")
    return True, "opcheck test_schema + test_faketensor: " + ", ".join(results)


def check_forward(layout, dtype, causal, lse):
    q, k, v = inputs(layout, dtype, seed=("HND", "NHD").index(layout) * 8 + (dtype == torch.bfloat16) * 4 + causal * 2 + lse)
    scale = 1.0 / math.sqrt(q.size(-1))
    got = sagegen.sageattn(q, k, v, tensor_layout=layout, is_causal=causal, return_lse=lse)
    o, l = got if lse else (got, None)
    ref_o, ref_lse = reference(q, k, v, layout, causal, scale)
    cos, rel = metrics(o, ref_o)
    ok = o.shape == q.shape and o.dtype == q.dtype and cos >= MIN_COS and rel <= MAX_REL_L1
    detail = f"cos {cos:.5f} rel_l1 {rel:.4f}"
    if lse:
        err = float((l.double() - ref_lse).abs().max())
        ok = ok and tuple(l.shape) == tuple(ref_lse.shape) and err <= LSE_MAX_ABS
        detail += f" lse max abs err {err:.4g}"
    return ok, detail


def check_compile(backend):
    """torch.compile(fullgraph=True) of the Attention block matches eager; explain() reports 0 graph breaks."""
    torch._dynamo.reset()
    model = Attention().to(DEVICE, torch.float16)
    x = torch.randn(2, 256, 512, generator=torch.Generator().manual_seed(3)).to(DEVICE, torch.float16)
    with torch.no_grad():
        eager_o, eager_lse = model(x)
        explanation = torch._dynamo.explain(model)(x)
        compiled = torch.compile(model, fullgraph=True, backend=backend)
        comp_o, comp_lse = compiled(x)
    cos, rel = metrics(comp_o, eager_o)
    ops = sum(1 for g in explanation.graphs for n in g.graph.nodes if "sagegen.sageattn" in str(n.target))
    ok = (explanation.graph_break_count == 0 and explanation.graph_count == 1 and ops == 1
          and cos >= 0.9999 and float((comp_lse - eager_lse).abs().max()) <= 1e-2)
    return ok, (f"backend {backend}: graphs {explanation.graph_count}, graph breaks {explanation.graph_break_count}, "
                f"sagegen.sageattn nodes {ops}, compiled vs eager cos {cos:.6f} rel_l1 {rel:.2e}")


@contextlib.contextmanager
def runs_library(value=True):
    """sagegen._runs_library patched: host tensors count as ones the library runs on (the decision's seam)."""
    saved = sagegen._runs_library
    sagegen._runs_library = lambda t: value
    try:
        yield
    finally:
        sagegen._runs_library = saved


def check_dispatcher_decision():
    """sageattn skips torch's dispatcher only in plain eager use: not while tracing, not for tensor
    subclasses or under dispatch / function modes, not when an input requires grad with grad on."""
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.overrides import TorchFunctionMode
    from torch.utils._python_dispatch import TorchDispatchMode

    class Passthrough(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            return func(*args, **(kwargs or {}))

    class FunctionPassthrough(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            return func(*args, **(kwargs or {}))

    q, k, v = inputs("HND", torch.float16, nq=16, nk=16, d=64)
    got = {}
    host = q.cpu()  # (on a CUDA run too: a host tensor is never one the library runs on)
    got["not on the library's device"] = sagegen._dispatcher_needed(host, host, host)
    with runs_library():
        got["plain eager"] = sagegen._dispatcher_needed(q, k, v)
        g = q.detach().float().requires_grad_()
        got["requires grad"] = sagegen._dispatcher_needed(g, k, v)
        with torch.no_grad():
            got["requires grad, no_grad"] = sagegen._dispatcher_needed(g, k, v)
        with Passthrough():
            got["TorchDispatchMode"] = sagegen._dispatcher_needed(q, k, v)
        with FunctionPassthrough():
            got["TorchFunctionMode"] = sagegen._dispatcher_needed(q, k, v)
        with FakeTensorMode() as mode:
            fq = mode.from_tensor(q)
            got["FakeTensor"] = sagegen._dispatcher_needed(fq, fq, fq)
        torch._dynamo.reset()
        traced = torch.compile(lambda x: x + (1.0 if sagegen._dispatcher_needed(x, x, x) else 0.0), fullgraph=True, backend="eager")
        got["torch.compile"] = bool((traced(torch.zeros(2)) == 1.0).all())
    want = {"not on the library's device": True, "plain eager": False, "requires grad": True, "requires grad, no_grad": False,
            "TorchDispatchMode": True, "TorchFunctionMode": True, "FakeTensor": True, "torch.compile": True}
    return got == want, str(got)


def check_direct_call():
    """In plain eager use sageattn calls the op's work itself (no op dispatch); compiled, the graph holds the op."""
    calls = []
    saved = sagegen._sageattn_eager
    sagegen._sageattn_eager = lambda *a, **kw: calls.append(kw) or saved(*a, **kw)
    try:
        with runs_library():
            if DEVICE == "cpu":
                q, k, v = inputs("HND", torch.float16, nq=16, nk=16, d=64)
                with contextlib.suppress(Exception):  # host tensors: the library itself refuses them
                    sagegen.sageattn(q, k, v)
                direct = len(calls) == 1
                # the same call under a dispatch mode goes through the op (its CPU stand-in kernel)
                calls.clear()
                from torch.utils._python_dispatch import TorchDispatchMode

                class Seen(TorchDispatchMode):
                    ops = []

                    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                        Seen.ops.append(str(func))
                        return func(*args, **(kwargs or {}))

                with Seen():
                    sagegen.sageattn(q, k, v)
                via_op = not calls and any("sagegen.sageattn" in o for o in Seen.ops)
                ok, detail = direct and via_op, f"eager: direct {direct}; under a dispatch mode: via the op {via_op}"
            else:
                q, k, v = inputs("HND", torch.float16, seed=11)
                o_direct, lse_direct = sagegen.sageattn(q, k, v, return_lse=True)
                direct = len(calls) == 1
                o_op, lse_op = torch.ops.sagegen.sageattn(q, k, v, "HND", False, None, True)
                same = torch.equal(o_direct, o_op) and torch.equal(lse_direct, lse_op)
                ok, detail = direct and same, f"eager call direct {direct}; bitwise equal to the op's result {same}"
    finally:
        sagegen._sageattn_eager = saved
    return ok, detail


class RecordingLibrary:
    """Stands in for libsagegen in check_call_plans: records the argument block of every forward."""

    def __init__(self):
        self.blocks = []

    def sagegen_workspace_size(self, b, hq, hkv, nq, nk, d):
        return 3 * b * hq * max(nq, nk) * d + 4096  # any size that depends on the problem

    def sagegen_forward_args_init(self, ref):
        args = ref._obj
        ctypes.memset(ctypes.addressof(args), 0, ctypes.sizeof(args))
        args.struct_size, args.abi_version = ctypes.sizeof(args), sagegen.ABI_VERSION

    def sagegen_forward_phases(self, ref, stream, phases):
        self.blocks.append(sagegen.SagegenForwardArgs.from_buffer_copy(ref._obj))
        return 0


POINTER_FIELDS = ("q", "k", "v", "o", "lse", "workspace")


def without_pointers(args):
    copy = sagegen.SagegenForwardArgs.from_buffer_copy(args)
    for name in POINTER_FIELDS:
        setattr(copy, name, None)
    return bytes(copy)


def address(args, name):
    return ctypes.cast(getattr(args, name), ctypes.c_void_p).value or 0


def check_call_plans():
    """A call of a geometry seen before skips the checks and reuses the argument block (sageattn's
    _CALL_PLANS): the block it passes must be, byte for byte, the one a first call of that geometry
    fills, with this call's pointers. The geometries differ pairwise in one thing each (strides of the
    same shape, layout, causal, scale, dtype, GQA, size-1 dims), so a key that missed any of them would
    hand one geometry another's block. Host tensors and a recording stand-in library: no GPU needed."""
    lib = RecordingLibrary()
    base = torch.zeros(2, 8, 64, 64, dtype=torch.float16)
    geometries = [
        ("HND", base, base, base, False, None, False),
        ("HND", base.transpose(1, 2).contiguous().transpose(1, 2), base, base, False, None, False),  # q: same shape, other strides
        ("NHD", base, base, base, False, None, False),
        ("HND", base, base, base, True, None, False),
        ("HND", base, base, base, False, 0.05, True),
        ("HND", base, base, base, False, 1, False),
        ("HND", base.bfloat16(), base.bfloat16(), base.bfloat16(), False, None, False),
        ("HND", base, base[:, :2], base[:, :2], True, None, True),  # GQA 8/2
        ("HND", base[:1, :, :1], base[:1], base[:1], False, None, False),  # size-1 batch and query length
        ("HND", base[..., :32], base[..., :32], base[..., :32], False, None, False),  # strided rows, D=32
    ]
    saved = (_lib.get_library, _lib.loaded_library, sagegen._device_guard, sagegen._stream_handle, sagegen._on_cuda)
    _lib.get_library = _lib.loaded_library = lambda: lib
    sagegen._device_guard = lambda device: contextlib.nullcontext()
    sagegen._stream_handle = lambda device: 0
    sagegen._on_cuda = lambda t: True
    sagegen._CALL_PLANS.clear()
    problems = []
    try:
        first = []  # each geometry's block from a call that found nothing stored
        for layout, q, k, v, causal, scale, lse in geometries:
            sagegen._CALL_PLANS.clear()
            sagegen._sageattn_eager(q, k, v, layout, causal, scale, lse)
            first.append(lib.blocks[-1])
        sagegen._CALL_PLANS.clear()
        for layout, q, k, v, causal, scale, lse in geometries:  # all stored, one after the other
            sagegen._sageattn_eager(q, k, v, layout, causal, scale, lse)
        stored = len(sagegen._CALL_PLANS)
        for i, (layout, q, k, v, causal, scale, lse) in enumerate(geometries):
            # other tensors of the same geometry: the block must carry their pointers
            q2, k2, v2 = (torch.empty_strided(t.size(), t.stride(), dtype=t.dtype).copy_(t) for t in (q, k, v))
            result = sagegen._sageattn_eager(q2, k2, v2, layout, causal, scale, lse)
            o2 = result[0] if lse else result
            block = lib.blocks[-1]
            if without_pointers(block) != without_pointers(first[i]):
                problems.append(f"geometry {i}: the reused block differs from a first call's")
            want = {"q": q2.data_ptr(), "k": k2.data_ptr(), "v": v2.data_ptr(), "o": o2.data_ptr(), "lse": result[1].data_ptr() if lse else 0}
            got = {name: address(block, name) for name in want}
            if got != want or not address(block, "workspace"):
                problems.append(f"geometry {i}: pointers {got}, want {want}")
        # a bad call is still refused: its geometry was never stored
        try:
            sagegen._sageattn_eager(base, base[..., :32], base, "HND", False, None, False)
            problems.append("a head_dim mismatch was not refused")
        except ValueError:
            pass
    finally:
        _lib.get_library, _lib.loaded_library, sagegen._device_guard, sagegen._stream_handle, sagegen._on_cuda = saved
        sagegen._CALL_PLANS.clear()
    if stored != len(geometries):
        problems.append(f"{stored} geometries stored, want {len(geometries)} (one per distinct geometry)")
    return not problems, "; ".join(problems) or f"{len(geometries)} geometries: reused blocks equal to first calls', pointers this call's"


def check_error(compiled, via_op=False):
    """An input the library refuses (head_dim 96 is not built) raises SagegenError with the C status text."""
    q = torch.zeros(1, 2, 16, 96, dtype=torch.float16, device=DEVICE)
    fn = (lambda t: sagegen.sageattn(t, t, t))
    if via_op:
        fn = (lambda t: torch.ops.sagegen.sageattn(t, t, t, "HND", False, None, False))
    if compiled:
        torch._dynamo.reset()
        fn = torch.compile(fn, fullgraph=True, backend="eager")
    try:
        fn(q)
    except sagegen.SagegenError as e:
        want = "head dim not supported or not built"
        return want in str(e) and e.status == sagegen.Status.UNSUPPORTED_HEAD_DIM, str(e)
    except Exception as e:  # a different exception type is a failure of this check
        return False, f"{type(e).__name__}: {e}"
    return False, "no exception"


def commit():
    if os.environ.get("SAGEGEN_COMMIT"):
        return os.environ["SAGEGEN_COMMIT"]
    with contextlib.suppress(Exception):
        return subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    return "unknown"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lib", help="libsagegen.so (default: $SAGEGEN_LIB, else the newest generated/*/lib/libsagegen.so)")
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    ap.add_argument("--backend", default=None, help="torch.compile backend (default: inductor on CUDA, aot_eager on CPU)")
    ap.add_argument("--out", help="JSON report path")
    opts = ap.parse_args(argv)
    started = datetime.datetime.now(datetime.timezone.utc)
    report = {"date": started.isoformat(timespec="seconds"), "commit": commit(), "command": [sys.executable] + sys.argv,
              "torch": torch.__version__, "python": platform.python_version()}
    checks = [("schema", check_schema), ("fake kernel shapes (HND/NHD, GQA, lse on/off)", check_fake)]
    if opts.device == "cpu":
        use_cpu_standin()
        report.update(device=f"cpu ({platform.machine()}): op checked with a CPU stand-in kernel, not the library")
        backend = opts.backend or "aot_eager"
    else:
        if not torch.cuda.is_available():
            print("error: torch sees no CUDA device", file=sys.stderr)
            return 1
        sagegen.load_library(opts.lib)
        report.update(device=torch.cuda.get_device_name(), capability="%d.%d" % torch.cuda.get_device_capability(),
                      library={"path": sagegen.library_path(), "version": sagegen.version(), "abi": sagegen.abi_version(),
                               "archs": sagegen.archs(), "fingerprint": manifest_fingerprint(sagegen.library_path())})
        backend = opts.backend or "inductor"
        checks.append(("SagegenError through the op (eager)", lambda: check_error(False, via_op=True)))
        checks.append(("SagegenError from sageattn's direct eager call", lambda: check_error(False)))
        checks.append(("SagegenError through the op (torch.compile fullgraph)", lambda: check_error(True)))
    checks.append(("torch.library.opcheck", check_opcheck))
    checks.append(("sageattn skips the dispatcher only in plain eager use", check_dispatcher_decision))
    checks.append(("sageattn's direct eager call", check_direct_call))
    checks.append(("a repeated geometry reuses its checked argument block", check_call_plans))
    for layout in ("HND", "NHD"):
        for dtype in (torch.float16, torch.bfloat16):
            for causal in (False, True):
                name = f"forward {layout} {str(dtype).replace('torch.', '')} causal={causal} GQA 8/2 lse"
                checks.append((name, lambda layout=layout, dtype=dtype, causal=causal: check_forward(layout, dtype, causal, True)))
    checks.append(("forward without lse", lambda: check_forward("HND", torch.float16, False, False)))
    checks.append((f"torch.compile(fullgraph=True) module + dynamo explain", lambda: check_compile(backend)))

    results = []
    for name, fn in checks:
        try:
            ok, detail = fn()
        except Exception as e:
            ok, detail = False, f"{type(e).__name__}: {e}\n{traceback.format_exc()}"
        results.append({"name": name, "status": "pass" if ok else "fail", "detail": detail})
        print(f"{'PASS' if ok else 'FAIL'} {name}: {detail.splitlines()[0] if detail else ''}", flush=True)
    passed = sum(r["status"] == "pass" for r in results)
    failed = len(results) - passed
    report.update(checks=results, summary={"passed": passed, "failed": failed},
                  seconds=round((datetime.datetime.now(datetime.timezone.utc) - started).total_seconds(), 1))
    if opts.out:
        os.makedirs(os.path.dirname(os.path.abspath(opts.out)), exist_ok=True)
        with open(opts.out, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
