#!/usr/bin/env python3
"""Causal pairs (tiling.causalPairs) must not change a single output bit: a paired block computes each
of its query tiles with the same key tiles, scales and order as an unpaired block. This saves O and
LSE of one library on fixed seeded inputs, from the whole call and from the two phases (quantize, then
attention: the attention kernel then loads the INT8 Q by TMA instead of quantizing it), or compares
two such files bit for bit. The shapes reach the paired buckets of the tuned set and its edges: an
odd number of query tiles (a middle tile alone), a last tile partly past qo_len, qo_len > kv_len (rows
that see no key), qo_len < kv_len, GQA.

    python3 pairs_bitwise.py save --lib DIR --out a.pt ; python3 pairs_bitwise.py save --lib DIR2 --out b.pt
    python3 pairs_bitwise.py compare a.pt b.pt
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "runtime", "bench"))

import torch  # noqa: E402

# (batch, q heads, kv heads, qo, kv, head_dim, dtype, causal)
SHAPES = [(2, 8, 8, 4096, 4096, 128, "fp16", True), (1, 8, 8, 3000, 3000, 128, "bf16", True), (1, 16, 4, 2900, 5000, 128, "fp16", True),
          (1, 8, 8, 6000, 3000, 128, "fp16", True), (2, 8, 8, 8192, 8192, 128, "bf16", True), (1, 4, 4, 16384, 16384, 128, "fp16", True),
          (2, 8, 8, 2000, 2000, 64, "fp16", True), (1, 8, 2, 1500, 1500, 64, "bf16", True), (2, 8, 8, 8192, 8192, 64, "fp16", True),
          (1, 8, 8, 7000, 9000, 64, "bf16", True), (1, 8, 8, 5000, 2000, 64, "fp16", True), (2, 8, 8, 4096, 4096, 128, "fp16", False),
          (2, 8, 8, 1000, 1000, 64, "fp16", False)]


def save(lib, out):
    import bench  # noqa: F401  (puts runtime/python on the path)
    import sagegen
    from sagegen import _abi, _lib
    info = bench.library_info(lib)[1]
    _lib.load_library(info["path"])
    results = []
    for i, (b, hq, hkv, nq, nk, d, dt, causal) in enumerate(SHAPES):
        g = torch.Generator(device="cuda").manual_seed(4321 + i)
        dtype = torch.float16 if dt == "fp16" else torch.bfloat16
        q = torch.randn(b, hq, nq, d, device="cuda", dtype=dtype, generator=g)
        k = torch.randn(b, hkv, nk, d, device="cuda", dtype=dtype, generator=g) + 0.5
        v = torch.randn(b, hkv, nk, d, device="cuda", dtype=dtype, generator=g)
        run, o, lse = sagegen.prepare(q, k, v, "HND", causal, return_lse=True)
        outs = []
        for phases in ((_abi.Phase.ALL,), (_abi.Phase.QUANTIZE, _abi.Phase.ATTENTION)):
            o.fill_(float("nan"))
            lse.fill_(float("nan"))
            for ph in phases:
                run(ph)
            torch.cuda.synchronize()
            outs.append((o.cpu().clone(), lse.cpu().clone()))
        results.append(outs)
    torch.save(results, out)
    print(f"saved {len(results)} shapes from {info['path']}")


def compare(a, b):
    ra, rb = torch.load(a), torch.load(b)
    bad = 0
    for shape, sa, sb in zip(SHAPES, ra, rb):
        line = []
        for name, (oa, la), (ob, lb) in zip(("whole call", "phases"), sa, sb):
            same = torch.equal(oa, ob) and torch.equal(la, lb)
            # O is never NaN (unwritten elements stay NaN); the LSE of a row with no visible key is -inf
            written = not bool(torch.isnan(oa).any()) and not bool(torch.isnan(la).any())
            bad += (not same) or (not written)
            line.append(f"{name}: {'equal' if same else 'DIFFERENT'}{'' if written else ', NaN left'}")
        print(f"{shape}: " + "; ".join(line))
    print(f"{2 * len(SHAPES) - bad} of {2 * len(SHAPES)} runs bitwise equal and written")
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "save":
        save(sys.argv[sys.argv.index("--lib") + 1], sys.argv[sys.argv.index("--out") + 1])
    else:
        sys.exit(compare(sys.argv[2], sys.argv[3]))
