"""A KV cache with room reserved for the tokens still to come.

transformers' DynamicLayer appends each new token with ``torch.cat``, which
copies the whole cache: in every layer, at every decoding step. For a batch
of 128 rows over a 1,500-token passage that copy is twice the memory traffic
of the attention itself, and py-spy put it at half of a float32 replication
run. ``ReservedLayer`` allocates each layer once, with room for the question
and the answer, writes new tokens into that room and hands attention a view
of the filled part. The values attention sees are the same, so answers are
unchanged (tests/inference/test_cache.py checks the bits against DynamicLayer).
"""

from __future__ import annotations

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer


def reserve(tensor: torch.Tensor, room: int) -> torch.Tensor:
    """A copy of ``tensor`` (batch, heads, slots, dim) in a buffer with ``room`` free slots after it."""
    batch, heads, slots, dim = tensor.shape
    buffer = tensor.new_empty(batch, heads, slots + room, dim)
    buffer[:, :, :slots] = tensor
    return buffer


class ReservedLayer(DynamicLayer):
    """A DynamicLayer whose keys and values are views of the first ``filled`` slots of larger buffers."""

    def __init__(self, key_buffer: torch.Tensor, value_buffer: torch.Tensor, filled: int):
        super().__init__()
        self.dtype, self.device = key_buffer.dtype, key_buffer.device
        self._key_buffer, self._value_buffer, self._filled = key_buffer, value_buffer, filled
        self._expose()
        self.is_initialized = True

    def _expose(self) -> None:
        self.keys = self._key_buffer[:, :, :self._filled]
        self.values = self._value_buffer[:, :, :self._filled]

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, cache_kwargs=None):
        new = key_states.shape[2]
        if self._filled + new > self._key_buffer.shape[2]:
            # Out of room (a longer answer than planned): grow by copying, as DynamicLayer would.
            self._key_buffer = reserve(self.keys, new + 16)
            self._value_buffer = reserve(self.values, new + 16)
        self._key_buffer[:, :, self._filled:self._filled + new] = key_states
        self._value_buffer[:, :, self._filled:self._filled + new] = value_states
        self._filled += new
        self._expose()
        return self.keys, self.values

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self._key_buffer = self._key_buffer[indices]
        self._value_buffer = self._value_buffer[indices]
        self._expose()

    def crop(self, max_length: int) -> None:
        if max_length < 0:
            max_length = self._filled + max_length
        self._filled = min(self._filled, max_length)
        self._expose()

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        self.batch_select_indices(beam_idx.to(self._key_buffer.device))

    def batch_repeat_interleave(self, repeats: int) -> None:
        self._key_buffer = self._key_buffer.repeat_interleave(repeats, dim=0)
        self._value_buffer = self._value_buffer.repeat_interleave(repeats, dim=0)
        self._expose()


def reserved_cache(key_buffers: list[torch.Tensor], value_buffers: list[torch.Tensor],
                   filled: list[int]) -> DynamicCache:
    """A DynamicCache over per-layer buffers whose first ``filled[layer]`` slots hold the cache (no copy)."""
    cache = DynamicCache()
    cache.layers = [ReservedLayer(k, v, n) for k, v, n in zip(key_buffers, value_buffers, filled)]
    return cache
