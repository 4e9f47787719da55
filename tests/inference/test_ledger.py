"""Packed eviction ledger round trip and the global-eviction definition."""

import numpy as np
import torch

from kvroute.inference import ledger


def test_pack_round_trip_is_exact():
    gen = torch.Generator().manual_seed(0)
    kept = [torch.rand(3, 37, generator=gen) > 0.5 for _ in range(5)]
    row = ledger.pack(kept)
    assert (row["layers"], row["kv_heads"], row["tokens"]) == (5, 3, 37)
    assert len(row["kept_bits"]) == -(-5 * 3 * 37 // 8)
    assert np.array_equal(ledger.unpack(row), torch.stack(kept).numpy())


def test_globally_evicted_means_no_layer_and_no_head_keeps_it():
    kept = np.zeros((2, 2, 4), dtype=bool)
    kept[0, 1, 0] = True  # position 0 survives in one (layer, head)
    kept[1, 0, 2] = True
    assert ledger.globally_evicted(kept).tolist() == [False, True, False, True]
