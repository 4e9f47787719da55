"""Attention on CPU without two of torch's slow paths.

1. Grouped-query attention. transformers' sdpa copies every KV head once per
   query head that shares it (``repeat_kv``) before calling torch's SDPA on
   CPU, whenever a mask is passed: it only asks SDPA to share the heads
   itself (``enable_gqa``) on CUDA. For a batch of decoding rows that copy is
   the cache times the group size (7 for Qwen2.5-0.5B), made again in every
   layer at every step: it was 54% of a float32 replication run's profile
   (py-spy), five times the attention itself. ``gqa_sdpa_attention`` passes
   ``enable_gqa=True`` instead; tests/inference/test_attention.py checks that it gives
   the same bits as transformers' path, float32 and bf16, masked or causal.
2. Batched bf16. torch's CPU flash kernel spends ~5 ms per layer on one bf16
   decoding step of 24 rows over 300 cached keys (0.2 ms for one row). Two
   plain matmuls with a float32 softmax (``matmul_attention``) do the same
   work in ~0.3 ms. They take exactly those calls (CPU, reduced precision,
   more than one row, an explicit mask or a single new token); in bf16 they
   can differ from SDPA by one unit in the last place, like any change of
   batch shape.

3. AdaKV's hidden keys. kvpress hides a head's evicted entries by writing a
   fake key, whose attention weight underflows to zero, at every masked
   (row, head, slot) before each decoding step. Its index scatter gathers
   one copy of the fake key per masked entry (90% of the cache at alpha =
   0.9); ``hide_masked_keys`` writes the same values with one masked
   ``torch.where`` into the cache, 5x faster, from a slot mask built once
   per batch. tests/inference/test_attention.py checks keys and outputs against
   kvpress's ``attention_patch``, bit for bit. Where kvpress's search finds
   no fake key for a (row, KV head) (its 1,000 steps can fail when a group's
   queries spread over more than a half-space, as random-weight Qwen-2.5-7B's
   did on an H200), the same entries are hidden by a per-head attention mask
   instead: the weight is exactly zero either way, and stock kvpress would
   have stopped with an error.

``install()`` puts the dispatcher under "sdpa", inside ``hide_masked_keys``.
Everything else (CUDA, models without grouped heads) stays on transformers'
sdpa, and AdaKV's masking applies to every path.

``KVROUTE_CODE_PATH=cuda`` turns the CPU-only paths (1 and 2) off, so a CPU
runs exactly what a GPU would (transformers' sdpa under the masking): tests
exercise the GPU's code path where no GPU is at hand.
"""

from __future__ import annotations

import os

import torch
from kvpress.attention_patch import search_hyperplane
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
        # (batch, 1, 1, q_len, kv_len), or per query head (hide_masked_keys's fallback) grouped as the scores
        per_head = attention_mask.shape[1] == heads and heads > 1
        mask = (attention_mask.view(batch, kv_heads, groups, q_len, -1) if per_head
                else attention_mask[:, :, None])
        if mask.dtype == torch.bool:
            # A finite minimum, not -inf: a fully masked (padding) row stays finite,
            # so no NaN can reach other rows through its keys and values.
            scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        else:
            scores = scores + mask.float()
    weights = scores.softmax(-1).to(value.dtype).view(batch, kv_heads, groups * q_len, kv_len)
    out = (weights @ value).view(batch, heads, q_len, dim)
    return out.transpose(1, 2).contiguous(), None


def gqa_sdpa_attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None, is_causal=None,
                       **kwargs):
    """transformers' sdpa_attention_forward, with the KV heads shared inside torch's SDPA instead of copied."""
    # The same causal rule as transformers: only a prefill without an explicit mask.
    is_causal = is_causal if is_causal is not None else getattr(module, "is_causal", True)
    is_causal = query.shape[2] > 1 and attention_mask is None and is_causal
    out = torch.nn.functional.scaled_dot_product_attention(
        query, key, value, attn_mask=attention_mask, dropout_p=dropout, scale=scaling, is_causal=is_causal,
        enable_gqa=True)
    return out.transpose(1, 2).contiguous(), None


# Set to "cuda" to run the code path a GPU takes on a CPU (kvroute.inference.job reads it too).
CODE_PATH_ENV = "KVROUTE_CODE_PATH"
CODE_PATHS = ("auto", "cuda")


def code_path() -> str:
    """``auto`` (each device its own path) or ``cuda`` (the GPU's path everywhere); a bad value is an error."""
    path = os.environ.get(CODE_PATH_ENV) or "auto"
    if path not in CODE_PATHS:
        raise ValueError(f"environment variable {CODE_PATH_ENV}: {path!r} is not allowed; "
                         f"allowed values: {', '.join(CODE_PATHS)}")
    return path


def _cpu_only_paths(query) -> bool:
    """Whether the CPU-only paths may run: a CPU tensor, and the GPU's path not asked for."""
    return query.device.type == "cpu" and code_path() != "cuda"


def _use_gqa(module, query) -> bool:
    return _cpu_only_paths(query) and getattr(module, "num_key_value_groups", 1) > 1


def _use_matmul(query, attention_mask) -> bool:
    return (_cpu_only_paths(query) and query.dtype in (torch.bfloat16, torch.float16)
            and query.shape[0] > 1 and (attention_mask is not None or query.shape[2] == 1))


def _dispatch(module, query, key, value, attention_mask, dropout=0.0, scaling=None, is_causal=None, **kwargs):
    if _use_matmul(query, attention_mask) and not dropout:
        return matmul_attention(module, query, key, value, attention_mask, scaling=scaling)
    if _use_gqa(module, query):
        return gqa_sdpa_attention(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                  is_causal=is_causal)
    return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                  is_causal=is_causal, **kwargs)


def _hidden_slots(module, rows: int, kv_heads: int) -> torch.Tensor:
    """(rows, kv_heads, slots, 1) bool: the module's masked (row, head, slot) entries, built once per mask."""
    indices = module.masked_key_indices
    cached = getattr(module, "_kvroute_hidden", None)
    if cached is None or cached[0] is not indices:
        row, head, slot = indices
        hidden = torch.zeros(rows, kv_heads, int(slot.max()) + 1 if slot.numel() else 0, 1, dtype=torch.bool,
                             device=slot.device)
        hidden[row, head, slot] = True
        cached = module._kvroute_hidden = (indices, hidden)
    return cached[1]


def mask_hidden_keys(attention_mask, hidden: torch.Tensor, query: torch.Tensor, kv_len: int) -> torch.Tensor:
    """(batch, heads, q_len, kv_len) bool: ``attention_mask`` (None: causal; additive: its finite part)
    with every hidden (row, KV head, slot) invisible to the query heads of that KV head."""
    batch, heads, q_len, _ = query.shape
    if attention_mask is None:  # causal: the queries are the last q_len positions
        visible = torch.ones(q_len, kv_len, dtype=torch.bool, device=query.device).tril(kv_len - q_len)[None, None]
    elif attention_mask.dtype == torch.bool:
        visible = attention_mask[:, :, :, :kv_len]
    else:
        visible = attention_mask[:, :, :, :kv_len] > torch.finfo(attention_mask.dtype).min / 2
    visible = visible.expand(batch, heads, q_len, kv_len).clone()
    groups = heads // hidden.shape[1]
    slots = hidden.shape[2]
    visible[..., :slots] &= ~hidden.repeat_interleave(groups, dim=1).transpose(-1, -2)
    return visible


def hide_masked_keys(func):
    """kvpress's ``attention_patch`` around ``func``: the same fake keys, written by a masked where."""

    def wrapper(module, query, key, value, attention_mask, dropout, **kwargs):
        if query.shape[2] == key.shape[2]:  # prefill: nothing is masked yet
            module.masked_key_indices = None
        elif getattr(module, "masked_key_indices", None) is not None:
            batch, heads, q_len, dim = query.shape
            kv_heads = key.shape[1]
            # One fake key per row and KV head, orthogonal-ish to every query of its group (kvpress's search).
            q = query.view(batch, kv_heads, heads // kv_heads, q_len, dim).reshape(batch * kv_heads, -1, dim)
            hidden = _hidden_slots(module, batch, kv_heads)
            fake = None
            # after one failed search, the rest of this batch's steps go straight to the mask (1,000 steps each)
            if getattr(module, "_kvroute_no_fake_key", None) is not module.masked_key_indices:
                try:
                    fake = search_hyperplane(q).view(batch, kv_heads, 1, dim)
                except ValueError:  # no fake key for some head: hide the same entries by the mask
                    module._kvroute_no_fake_key = module.masked_key_indices
            if fake is None:
                attention_mask = mask_hidden_keys(attention_mask, hidden, query, key.shape[2])
            else:
                part = key[:, :, :hidden.shape[2]]
                torch.where(hidden, fake, part, out=part)
        if "cu_seq_lens_k" in kwargs:  # as kvpress: only model.generate passes it
            kwargs["cu_seq_lens_k"][-1] = key.shape[-2]
        return func(module, query, key, value, attention_mask, dropout, **kwargs)

    return wrapper


def install() -> None:
    """Make "sdpa" share grouped KV heads on CPU, use the matmul path for batched reduced precision and hide
    AdaKV's masked keys with a masked where.

    ``models.load`` calls it. The mapping is process-wide, so once is enough;
    a second call only finds the marker and returns.
    """
    if getattr(ALL_ATTENTION_FUNCTIONS["sdpa"], "_kvroute", False):
        return
    patched = hide_masked_keys(_dispatch)
    patched._kvroute = True
    ALL_ATTENTION_FUNCTIONS["sdpa"] = patched
