"""Batched bf16 attention on CPU, without torch's slow path.

torch's CPU flash kernel spends ~5 ms per layer on one bf16 decoding step of
24 rows over 300 cached keys (0.2 ms for one row): it dominated kvroute's
batched decoding on CPU. Two plain matmuls with a float32 softmax do the same
work in ~0.3 ms. ``install()`` routes exactly those calls (CPU, reduced
precision, more than one row, an explicit mask or a single new token) to the
matmul path and leaves everything else, one-row decoding included, on
transformers' sdpa; kvpress's head-wise key masking (AdaKV) still applies to
both, because its wrapper sits outside this dispatcher.

Both paths compute the same softmax(q k^T * scale) v; in bf16 they can differ
by one unit in the last place, like any change of batch shape.
"""

from __future__ import annotations

import torch
from kvpress.attention_patch import attention_patch
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS


def matmul_attention(module, query, key, value, attention_mask, scaling=None, **kwargs):
    """softmax(q k^T * scale + mask) v with grouped query heads; returns (batch, q_len, heads, dim)."""
    batch, heads, q_len, dim = query.shape
    kv_heads, kv_len = key.shape[1], key.shape[2]
    groups = heads // kv_heads
    scale = scaling if scaling is not None else dim ** -0.5
    # Query heads sharing a KV head are one matmul against that head's keys.
    q = query.reshape(batch, kv_heads, groups * q_len, dim)
    scores = (q @ key.transpose(-1, -2)).float().mul_(scale).view(batch, kv_heads, groups, q_len, kv_len)
    if attention_mask is not None:
        mask = attention_mask[:, :, None]  # (batch, 1, 1, q_len, kv_len)
        if mask.dtype == torch.bool:
            # A finite minimum, not -inf: a fully masked (padding) row stays finite,
            # so no NaN can reach other rows through its keys and values.
            scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        else:
            scores = scores + mask.float()
    weights = scores.softmax(-1).to(value.dtype).view(batch, kv_heads, groups * q_len, kv_len)
    out = (weights @ value).view(batch, heads, q_len, dim)
    return out.transpose(1, 2).contiguous(), None


def _use_matmul(query, attention_mask) -> bool:
    return (query.device.type == "cpu" and query.dtype in (torch.bfloat16, torch.float16)
            and query.shape[0] > 1 and (attention_mask is not None or query.shape[2] == 1))


def _dispatch(module, query, key, value, attention_mask, dropout=0.0, scaling=None, is_causal=None, **kwargs):
    if _use_matmul(query, attention_mask) and not dropout:
        return matmul_attention(module, query, key, value, attention_mask, scaling=scaling)
    return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                  is_causal=is_causal, **kwargs)


def install() -> None:
    """Make "sdpa" use the matmul path for batched reduced-precision CPU attention.

    ``models.load`` calls it. The mapping is process-wide, so once is enough;
    a second call only finds the marker and returns.
    """
    if getattr(ALL_ATTENTION_FUNCTIONS["sdpa"], "_kvroute", False):
        return
    patched = attention_patch(_dispatch)
    patched._kvroute = True
    ALL_ATTENTION_FUNCTIONS["sdpa"] = patched
