"""ReservedLayer holds exactly what transformers' DynamicLayer would, without a copy per token."""

from __future__ import annotations

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from kvroute.inference.cache import ReservedLayer, reserve, reserved_cache


def _steps(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    start = torch.randn(4, 2, 7, 8, generator=g), torch.randn(4, 2, 7, 8, generator=g)
    news = [(torch.randn(4, 2, n, 8, generator=g), torch.randn(4, 2, n, 8, generator=g)) for n in (3, 1, 1, 1)]
    return start, news


def test_updates_and_row_selection_match_dynamic_layer():
    (k0, v0), news = _steps()
    stock = DynamicLayer()
    stock.update(k0, v0)
    mine = ReservedLayer(reserve(k0, 4), reserve(v0, 4), 7)  # one slot short: the last token must grow the buffer
    rows = torch.arange(4)
    for step, (k, v) in enumerate(news):
        ks, vs = stock.update(k[rows], v[rows])
        km, vm = mine.update(k[rows], v[rows])
        assert torch.equal(km, ks) and torch.equal(vm, vs), f"step {step}"
        if step == 1:  # a row leaves the batch mid-answer
            keep = torch.tensor([0, 2, 3])
            stock.batch_select_indices(keep)
            mine.batch_select_indices(keep)
            rows = rows[keep]
    assert mine.get_seq_length() == stock.get_seq_length() == 7 + 3 + 1 + 1 + 1


def test_writes_through_the_view_reach_the_cache():
    """kvpress's AdaKV patch overwrites masked keys in the tensor update() returned; the cache must keep them."""
    (k0, v0), news = _steps(1)
    layer = ReservedLayer(reserve(k0, 8), reserve(v0, 8), 7)
    keys, _ = layer.update(*news[0])
    keys[1, 0, 2] = 42.0
    assert layer.keys[1, 0, 2].eq(42.0).all()
    keys, _ = layer.update(*news[1])
    assert keys[1, 0, 2].eq(42.0).all()


def test_reserved_cache_decodes_like_dynamic_cache(smollm2):
    """A question and a greedy step through each cache give the same logits, bit for bit."""
    model, _ = smollm2
    ids = torch.arange(100, 160)[None]
    with torch.inference_mode():
        stock = DynamicCache()
        model(input_ids=ids[:, :40], past_key_values=stock)
        keys = [reserve(layer.keys.expand(3, -1, -1, -1), 22) for layer in stock.layers]
        values = [reserve(layer.values.expand(3, -1, -1, -1), 22) for layer in stock.layers]
        stock.batch_repeat_interleave(3)
        mine = reserved_cache(keys, values, [40] * len(keys))
        question = ids[:, 40:].expand(3, -1)
        for step in range(3):
            tail = question if step == 0 else token[:, None]
            a = model(input_ids=tail, past_key_values=stock).logits
            b = model(input_ids=tail, past_key_values=mine).logits
            assert torch.equal(a, b), f"step {step}"
            token = a[:, -1].argmax(-1)
