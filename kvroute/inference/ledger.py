"""The eviction ledger: which KV entries survive, per layer, KV head and position.

One entry per passage x press x ratio, stored as packed bits so that GER,
eviction rate and per-layer variants can be recomputed offline.
"""

from __future__ import annotations

import numpy as np

# No torch import here: the analysis stages read ledgers in an image without torch.


def pack(kept) -> dict:
    """kept[l]: bool tensor (kv_heads, tokens) -> a row with the shape and the packed bits."""
    bits = np.stack([np.asarray(k.cpu() if hasattr(k, "cpu") else k, dtype=bool) for k in kept])
    layers, heads, tokens = bits.shape
    return {"layers": layers, "kv_heads": heads, "tokens": tokens, "kept_bits": np.packbits(bits.ravel()).tobytes()}


def unpack(row) -> np.ndarray:
    """A ledger row -> bool array (layers, kv_heads, tokens)."""
    shape = (int(row["layers"]), int(row["kv_heads"]), int(row["tokens"]))
    flat = np.unpackbits(np.frombuffer(row["kept_bits"], dtype=np.uint8), count=int(np.prod(shape)))
    return flat.astype(bool).reshape(shape)


def globally_evicted(kept: np.ndarray) -> np.ndarray:
    """Positions no (layer, head) keeps: GlobalEvicted(t) (docs/definitions.md)."""
    return ~kept.any(axis=(0, 1))
