"""A KV cache with room reserved for the tokens still to come.

transformers' DynamicLayer appends each new token with ``torch.cat``, which
copies the whole cache: in every layer, at every decoding step. For a batch
of 128 rows over a 1,500-token passage that copy is twice the memory traffic
of the attention itself, and py-spy put it at half of a float32 replication
run. ``ReservedLayer`` allocates each layer once, with room for the question
and the answer, writes new tokens into that room and hands attention a view
of the filled part. The values attention sees are the same, so answers are
unchanged (tests/test_cache.py checks the bits against DynamicLayer).
"""

from __future__ import annotations

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer


class ReservedLayer(DynamicLayer):
    """A DynamicLayer whose tensors are views of buffers with spare slots."""

    @classmethod
    def holding(cls, keys: torch.Tensor, values: torch.Tensor, room: int) -> "ReservedLayer":
        """A layer that starts with ``keys``/``values`` (batch, heads, slots, dim) and ``room`` free slots."""
        layer = cls()
        layer.dtype, layer.device = keys.dtype, keys.device
        layer._key_buffer = cls._allocate(keys, room)
        layer._value_buffer = cls._allocate(values, room)
        layer._filled = keys.shape[2]
        layer._expose()
        layer.is_initialized = True
        return layer

    @staticmethod
    def _allocate(tensor: torch.Tensor, room: int) -> torch.Tensor:
        batch, heads, slots, dim = tensor.shape
        buffer = tensor.new_empty(batch, heads, slots + room, dim)
        buffer[:, :, :slots] = tensor
        return buffer

    def _expose(self) -> None:
        self.keys = self._key_buffer[:, :, :self._filled]
        self.values = self._value_buffer[:, :, :self._filled]

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, cache_kwargs=None):
        new = key_states.shape[2]
        if self._filled + new > self._key_buffer.shape[2]:
            # Out of room (a longer answer than planned): grow by copying, as DynamicLayer would.
            self._key_buffer = self._allocate(self._key_buffer[:, :, :self._filled], new + 16)
            self._value_buffer = self._allocate(self._value_buffer[:, :, :self._filled], new + 16)
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


def reserved_cache(keys: list[torch.Tensor], values: list[torch.Tensor], room: int) -> DynamicCache:
    """A DynamicCache over per-layer ``keys``/``values`` with ``room`` free slots in every layer.

    Empties the two lists layer by layer as it copies, so a caller holding no
    other reference frees each layer's tensors as soon as they are copied.
    """
    cache = DynamicCache()
    cache.layers = []
    for layer in range(len(keys)):
        cache.layers.append(ReservedLayer.holding(keys[layer], values[layer], room))
        keys[layer] = values[layer] = None
    return cache
