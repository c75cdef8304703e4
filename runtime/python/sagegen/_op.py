"""torch.ops.sagegen.sageattn: the forward as a torch.library custom op.

A custom op is opaque to torch.compile: Dynamo puts one node in the graph instead of tracing into
ctypes (which would break the graph), and the fake (meta) kernel below tells the compiler the
shapes, dtypes and devices of the results without running anything.

Schema: sageattn(Tensor q, Tensor k, Tensor v, str tensor_layout, bool is_causal, float? sm_scale,
bool return_lse) -> (Tensor o, Tensor lse). o is a new contiguous tensor of q's shape and dtype; lse
is float32 [B, Hq, Nq] when return_lse, else an empty float32 tensor (an op returns a fixed
number of tensors). Errors of the C library surface as sagegen.SagegenError, status text included.
"""
import importlib
from typing import Optional, Tuple

import torch

# The package itself (imported last by its __init__, so everything used here exists at call time).
_pkg = importlib.import_module(__package__)

OP_NAME = "sagegen::sageattn"

# (batch, heads, seq) dims of each layout; head_dim is the last dim (as in sagegen._DIMS).
_DIMS = {"HND": (0, 1, 2), "NHD": (0, 2, 1)}


def _lse_shape(q, tensor_layout):
    b, h, s = _DIMS[tensor_layout]
    return (q.size(b), q.size(h), q.size(s))


@torch.library.custom_op(OP_NAME, mutates_args=())
def sageattn_op(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, tensor_layout: str, is_causal: bool,
                sm_scale: Optional[float], return_lse: bool) -> Tuple[torch.Tensor, torch.Tensor]:
    result = _pkg._sageattn_eager(q, k, v, tensor_layout, is_causal, sm_scale, return_lse)
    if return_lse:
        return result
    return result, torch.empty((0,), dtype=torch.float32, device=q.device)


@sageattn_op.register_fake
def _sageattn_fake(q, k, v, tensor_layout, is_causal, sm_scale, return_lse):
    if tensor_layout not in _DIMS:
        raise ValueError(f"tensor_layout must be 'HND' or 'NHD', got {tensor_layout!r}")
    o = torch.empty(q.shape, dtype=q.dtype, device=q.device)
    lse_shape = _lse_shape(q, tensor_layout) if return_lse else (0,)
    return o, torch.empty(lse_shape, dtype=torch.float32, device=q.device)
