"""Attention routing at the first decoding step, computed from queries and cached keys.

AdaKV refuses eager attention, so attention weights are never materialised by
the model. A forward hook on each attention layer recomputes, for the last
prompt token only, softmax(q K^T * scaling) over the keys the model really
uses: AdaKV's masked keys and batch padding are excluded. From it we keep, per
layer and query head, the argmax token (as a position in the original prompt)
and the attention mass that lands on the answer evidence T_ans.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from kvpress.utils import get_prerope_query_states
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb, repeat_kv


@dataclass
class Routing:
    argmax: torch.Tensor  # (batch, layers, query_heads) position in the prompt; question tokens are >= context length
    answer_mass: torch.Tensor  # (batch, layers, query_heads) attention mass on T_ans


class RoutingProbe:
    """Collects first-step routing during one batched question forward.

    ``positions[l]`` maps layer l's cache slots to context positions (per KV
    head); ``masked[l]`` lists AdaKV's (head, slot) pairs; ``pad[b]`` is the
    number of left-padding slots of row b; ``evidence[b]`` is T_ans of row b.
    """

    def __init__(self, modules, positions, masked, pad: list[int], width: int, context_length: int,
                 evidence: list[list[int]] | None):
        self.modules = modules
        self.positions = positions
        self.masked = masked
        self.pad = pad
        self.width = width
        self.context_length = context_length
        self.evidence = evidence
        self.argmax: dict[int, torch.Tensor] = {}
        self.mass: dict[int, torch.Tensor] = {}

    def _slot_positions(self, layer: int, batch: int) -> torch.Tensor:
        """(batch, kv_heads, slots) prompt position of every key slot; -1 marks padding."""
        cached = self.positions[layer]  # (kv_heads, n_cached)
        n_heads = cached.shape[0]
        question = torch.arange(self.width).expand(batch, self.width) - torch.tensor(self.pad)[:, None]
        question = torch.where(question >= 0, question + self.context_length, torch.full_like(question, -1))
        return torch.cat([cached.expand(batch, -1, -1), question[:, None, :].expand(batch, n_heads, -1)], dim=-1)

    def hook(self, module, args, kwargs, output):
        layer = module.layer_idx
        hidden = kwargs["hidden_states"][:, -1:]
        cos, sin = kwargs["position_embeddings"]
        query = get_prerope_query_states(module, hidden)  # (batch, q_heads, 1, dim)
        query, _ = apply_rotary_pos_emb(query, query, cos[:, -1:], sin[:, -1:])
        keys = kwargs["past_key_values"].layers[layer].keys
        batch, n_kv, n_slots, _ = keys.shape
        groups = query.shape[1] // n_kv
        scores = (query.float() @ repeat_kv(keys, groups).float().transpose(-1, -2)).squeeze(2) * module.scaling

        slot_pos = self._slot_positions(layer, batch)  # (batch, kv_heads, slots)
        blocked = slot_pos < 0
        if self.masked[layer] is not None:
            heads, seqs = self.masked[layer]
            blocked[:, heads.cpu(), seqs.cpu()] = True
        blocked = blocked.repeat_interleave(groups, dim=1).to(scores.device)
        weights = scores.masked_fill(blocked, float("-inf")).softmax(-1)

        slot_pos_q = slot_pos.repeat_interleave(groups, dim=1).to(scores.device)
        self.argmax[layer] = slot_pos_q.gather(-1, weights.argmax(-1, keepdim=True)).squeeze(-1).cpu()
        if self.evidence is not None:
            on_answer = torch.zeros_like(blocked)
            for b, positions in enumerate(self.evidence):
                if positions:
                    wanted = torch.tensor(positions, device=slot_pos_q.device)
                    on_answer[b] = torch.isin(slot_pos_q[b], wanted)
            self.mass[layer] = (weights * on_answer).sum(-1).cpu()
        return output

    @contextlib.contextmanager
    def attached(self):
        handles = [m.register_forward_hook(self.hook, with_kwargs=True) for m in self.modules]
        try:
            yield self
        finally:
            for h in handles:
                h.remove()

    def result(self) -> Routing:
        layers = sorted(self.argmax)
        argmax = torch.stack([self.argmax[l] for l in layers], dim=1)
        mass = (torch.stack([self.mass[l] for l in layers], dim=1) if self.mass
                else torch.full(argmax.shape, float("nan")))
        return Routing(argmax=argmax, answer_mass=mass)
