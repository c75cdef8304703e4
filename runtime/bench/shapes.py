"""The benchmark's shape list and its arithmetic. Pure Python (no torch): unit-tested on CPU."""

BATCH = 4
HEADS = 32
HEAD_DIMS = (64, 128)
SEQ_LENS = (1024, 2048, 4096, 8192, 16384, 32768)
CAUSAL = (False, True)
DTYPES = ("fp16", "bf16")
QUICK_SEQ_LENS = (1024, 4096, 16384)


def shapes(quick=False, head_dims=HEAD_DIMS, dtypes=DTYPES):
    """Every (batch, heads, seq, head_dim, causal, dtype) the benchmark times, in a stable order."""
    seqs = QUICK_SEQ_LENS if quick else SEQ_LENS
    dts = dtypes[:1] if quick else dtypes
    return [
        dict(batch=BATCH, heads=HEADS, seq=n, head_dim=d, causal=c, dtype=dt)
        for d in head_dims
        for c in CAUSAL
        for dt in dts
        for n in seqs
    ]


def attention_ops(batch, heads, seq, head_dim, causal):
    """Operations of one forward: Q·Kᵀ and P·V are each 2·N²·D multiply-adds counted as 2 ops per
    multiply-add, i.e. 4·B·H·N²·D in all; causal does half of it."""
    ops = 4 * batch * heads * seq * seq * head_dim
    return ops / 2 if causal else ops


def tops(batch, heads, seq, head_dim, causal, seconds):
    """TOP/s (10^12 operations per second) of one forward that took `seconds`."""
    if seconds is None or seconds <= 0:
        return None
    return attention_ops(batch, heads, seq, head_dim, causal) / seconds / 1e12
