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
# Right for Qwen2 and Mistral too: they use LLaMA's rotate-half RoPE, and transformers'
# modeling_qwen2/modeling_mistral copy these helpers from modeling_llama.
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

from kvroute.inference.reachability import question_entries


# Attention sinks: the first context tokens draw attention whatever they say (StreamingLLM's 4).
SINK_TOKENS = 4


@dataclass
class Routing:
    argmax: torch.Tensor  # (batch, layers, query_heads) position in the prompt; question tokens are >= context length
    # The same argmax over content tokens only: sinks (first SINK_TOKENS) and question tokens excluded; -1 if none.
    argmax_content: torch.Tensor
    answer_mass: torch.Tensor  # (batch, layers, query_heads) attention mass on T_ans
    # (batch, layers, T) bool: context positions the question tokens that matter read at each layer
    # (kvroute.inference.reachability.question_entries); None when reachability is off.
    entries: torch.Tensor | None = None


class RoutingProbe:
    """Collects first-step routing during one batched question forward.

    ``positions[l]`` (rows, kv_heads, slots) maps layer l's cache slots to
    context positions, -1 on padding; ``masked[l]`` lists AdaKV's (row, head,
    slot) triples; ``pad[b]`` is the number of left-padding question slots of
    row b; ``evidence[b]`` is T_ans of row b. With a ``threshold``, every
    question token's edges are recorded too, for reachability.
    """

    def __init__(self, modules, positions, masked, pad: list[int], width: int, context_length: int,
                 evidence: list[list[int]] | None, threshold: float | None = None):
        self.modules = modules
        self.positions = positions
        self.masked = masked
        self.pad = pad
        self.width = width
        self.context_length = context_length
        self.evidence = evidence
        self.threshold = threshold
        self.argmax: dict[int, torch.Tensor] = {}
        self.argmax_content: dict[int, torch.Tensor] = {}
        self.mass: dict[int, torch.Tensor] = {}
        self.question_edges: dict[int, torch.Tensor] = {}
        self._wanted: torch.Tensor | None = None

    def _slot_positions(self, layer: int, batch: int, device) -> torch.Tensor:
        """(batch, kv_heads, slots) prompt position of every key slot, on ``device``; -1 marks padding."""
        cached = self.positions[layer].to(device)  # (batch, kv_heads, n_cached)
        n_heads = cached.shape[1]
        pad = torch.tensor(self.pad, device=device)[:, None]
        question = torch.arange(self.width, device=device).expand(batch, self.width) - pad
        question = torch.where(question >= 0, question + self.context_length, torch.full_like(question, -1))
        return torch.cat([cached, question[:, None, :].expand(batch, n_heads, -1)], dim=-1)

    def _on_answer(self, slot_pos: torch.Tensor) -> torch.Tensor:
        """(batch, kv_heads, slots) bool: the slot holds a T_ans token of its row."""
        batch = slot_pos.shape[0]
        if self._wanted is None:  # built once per batch, on the host, then moved in one copy
            wanted = torch.zeros(batch, self.context_length + self.width + 1, dtype=torch.bool)
            for b, positions in enumerate(self.evidence):
                wanted[b, positions] = True
            self._wanted = wanted.to(slot_pos.device)
        flat = slot_pos.reshape(batch, -1).clamp(min=0)
        return self._wanted.gather(1, flat).view_as(slot_pos) & (slot_pos >= 0)

    def hook(self, module, args, kwargs, output):
        layer = module.layer_idx
        # The first decoding step reads only the last prompt token; reachability needs every question token.
        every = self.threshold is not None
        hidden = kwargs["hidden_states"] if every else kwargs["hidden_states"][:, -1:]
        width = hidden.shape[1]
        cos, sin = kwargs["position_embeddings"]
        query = get_prerope_query_states(module, hidden)  # (batch, q_heads, width, dim)
        query, _ = apply_rotary_pos_emb(query, query, cos[:, -width:], sin[:, -width:])
        keys = kwargs["past_key_values"].layers[layer].keys
        batch, n_kv, n_slots, dim = keys.shape
        groups = query.shape[1] // n_kv
        # Query heads sharing a KV head are scored together: no copy of the keys per query head.
        grouped = query.reshape(batch, n_kv, groups * width, dim).float()
        scores = (grouped @ keys.float().transpose(-1, -2)) * module.scaling
        scores = scores.view(batch, n_kv, groups, width, n_slots)

        # Everything below stays on the model's device: results leave it once per batch, in result().
        device = scores.device
        slot_pos = self._slot_positions(layer, batch, device)  # (batch, kv_heads, slots)
        blocked = slot_pos < 0
        if self.masked[layer] is not None:
            rows, heads, seqs = (t.to(device) for t in self.masked[layer])
            blocked[rows, heads, seqs] = True
        # Question token i sees the cache and question tokens up to itself.
        future = torch.zeros(width, n_slots, dtype=torch.bool, device=device)
        future[:, n_slots - width:] = torch.ones(width, width, dtype=torch.bool, device=device).triu(1)
        hide = blocked[:, :, None, None, :] | future
        # Padded question rows see nothing: their all -inf rows become zeros.
        weights = scores.masked_fill(hide, float("-inf")).softmax(-1).nan_to_num(0.0)

        last = weights[:, :, :, -1]  # (batch, kv_heads, groups, slots)
        best = last.argmax(-1)  # slot index per query head
        self.argmax[layer] = slot_pos.gather(-1, best).reshape(batch, n_kv * groups)
        content = (slot_pos >= SINK_TOKENS) & (slot_pos < self.context_length) & ~hide[:, :, 0, -1]
        masked_last = last.masked_fill(~content[:, :, None, :], -1.0)
        best_content = masked_last.argmax(-1)
        found = masked_last.gather(-1, best_content[..., None])[..., 0] >= 0
        self.argmax_content[layer] = torch.where(found, slot_pos.gather(-1, best_content),
                                                 torch.full_like(best_content, -1)).reshape(batch, n_kv * groups)
        if self.evidence is not None:
            on_answer = self._on_answer(slot_pos)
            self.mass[layer] = (last * on_answer[:, :, None, :]).sum(-1).reshape(batch, n_kv * groups)
        if every:
            self.question_edges[layer] = self._question_edges(weights, slot_pos)
        return output

    def _question_edges(self, weights: torch.Tensor, slot_pos: torch.Tensor) -> torch.Tensor:
        """(batch, width, T + width) bool: question token i reads prompt position j at this layer.

        ``weights`` is (batch, kv_heads, groups, width, slots); an edge exists
        when some query head gives the slot more than the threshold.
        """
        batch, n_kv, _, width, n_slots = weights.shape
        strong = (weights > self.threshold).any(2)  # (batch, kv_heads, width, slots)
        n_nodes = self.context_length + self.width
        target = slot_pos.clamp(min=0)[:, :, None, :].expand(batch, n_kv, width, n_slots)
        target = torch.where(strong, target, torch.full_like(target, n_nodes))
        edges = torch.zeros(batch, width, n_nodes + 1, dtype=torch.bool, device=weights.device)
        edges.scatter_(2, target.permute(0, 2, 1, 3).reshape(batch, width, n_kv * n_slots), True)
        return edges[..., :n_nodes].cpu()

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
        argmax = torch.stack([self.argmax[l] for l in layers], dim=1).cpu()
        argmax_content = torch.stack([self.argmax_content[l] for l in layers], dim=1).cpu()
        mass = (torch.stack([self.mass[l] for l in layers], dim=1).cpu() if self.mass
                else torch.full(argmax.shape, float("nan")))
        entries = None
        if self.threshold is not None:
            t = self.context_length
            # Row b's question tokens are nodes t..t+q_len-1; its padding rows are dropped.
            entries = torch.stack([
                question_entries([self.question_edges[l][b, pad:, : t + self.width - pad] for l in layers], t)
                for b, pad in enumerate(self.pad)])
        return Routing(argmax=argmax, argmax_content=argmax_content, answer_mass=mass, entries=entries)
