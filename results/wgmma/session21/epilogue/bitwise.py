#!/usr/bin/env python3
"""Whole-call outputs (O and LSE) of one library on fixed seeded inputs, saved to a file; or two such
files compared bit for bit. The epilogue change of session 21 reorders loads only, so the outputs must
be identical.

    python3 bitwise.py save --lib DIR --out a.pt ; python3 bitwise.py save --lib DIR2 --out b.pt
    python3 bitwise.py compare a.pt b.pt
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "..", "runtime", "bench"))

import torch  # noqa: E402

# (batch, q heads, kv heads, qo, kv, head_dim, dtype, causal)
SHAPES = [(2, 8, 8, 1000, 1000, 128, "fp16", False), (2, 8, 8, 1024, 1024, 128, "fp16", True), (1, 32, 8, 777, 3000, 128, "bf16", True),
          (2, 8, 8, 4096, 4096, 128, "fp16", False), (2, 8, 8, 8192, 8192, 128, "bf16", False), (2, 8, 8, 1000, 1000, 64, "fp16", False),
          (2, 8, 8, 8192, 8192, 64, "fp16", True), (2, 8, 8, 17, 17, 64, "bf16", False), (2, 8, 8, 1, 300, 128, "fp16", False)]


def save(lib, out):
    import bench  # noqa: F401  (puts runtime/python on the path)
    import sagegen
    from sagegen import _lib
    info = bench.library_info(lib)[1]
    _lib.load_library(info["path"])
    results = []
    for i, (b, hq, hkv, nq, nk, d, dt, causal) in enumerate(SHAPES):
        g = torch.Generator(device="cuda").manual_seed(1234 + i)
        dtype = torch.float16 if dt == "fp16" else torch.bfloat16
        q = torch.randn(b, hq, nq, d, device="cuda", dtype=dtype, generator=g)
        k = torch.randn(b, hkv, nk, d, device="cuda", dtype=dtype, generator=g) + 0.5
        v = torch.randn(b, hkv, nk, d, device="cuda", dtype=dtype, generator=g)
        run, o, lse = sagegen.prepare(q, k, v, "HND", causal, return_lse=True)
        o.fill_(float("nan"))
        run()
        torch.cuda.synchronize()
        results.append((o.cpu(), lse.cpu()))
    torch.save(results, out)
    print(f"saved {len(results)} shapes from {info['path']}")


def compare(a, b):
    ra, rb = torch.load(a), torch.load(b)
    bad = 0
    for shape, (oa, la), (ob, lb) in zip(SHAPES, ra, rb):
        same = torch.equal(oa, ob) and torch.equal(la, lb)
        finite = bool(torch.isfinite(oa).all())
        bad += (not same) or (not finite)
        print(f"{shape}: O and LSE bitwise {'equal' if same else 'DIFFERENT'}, O finite {finite}")
    print(f"{len(SHAPES) - bad} of {len(SHAPES)} shapes identical and finite")
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "save":
        save(sys.argv[sys.argv.index("--lib") + 1], sys.argv[sys.argv.index("--out") + 1])
    else:
        sys.exit(compare(sys.argv[2], sys.argv[3]))
