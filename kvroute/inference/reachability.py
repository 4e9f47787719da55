"""Is the answer evidence reachable from the query? Paper Definitions 1-2 and section 6.2.

Nodes are (layer, position); within layer l, an edge i -> j means token i reads
token j there with weight above eps. A node read at layer l matters from layer
l - 1 down (its state at layer l was built below), and a node that matters at
layer l + 1 also matters at l (residual stream). Walking from the query (last
prompt token) down from the top layer, T_ans is reachable when some evidence
position ever matters. Two variants, always named:

- ``def2`` (the paper's Definition 2): context edge i -> j exists at layer l iff
  some KV head h with j in U_{l,h} (kept by that layer and head) has a query
  head of its group giving A_{l,h}(i, j) > eps. A is the uncompressed prefill
  attention, not renormalised after pruning. Pruned positions lose every in-edge,
  so evidence that no layer and head keeps is never reachable.
- ``prefill`` (physical): context edges are the uncompressed prefill's, whatever
  the press later pruned, since the context read the full context before
  compression. Evidence can reach the query this way through surviving tokens
  that read it during prefill: the leakage paper Prop. 2's footnote assumes away.

In both, question tokens' edges are the attention they really computed over the
compressed cache (``RoutingProbe``); the question part of the walk is done per
batch and hands over ``entries``: the context positions live question tokens read
at each layer. ``walk`` then propagates through the context for every row of a
passage at once, recomputing the prefill attention one layer at a time, so no
(layers, T, T) tensor is ever held.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from kvpress.utils import get_prerope_query_states
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb


@dataclass
class Reach:
    """Per row: 1.0 / 0.0 reachable, NaN when the row has no evidence; share of T_ans reachable."""

    reachable_def2: torch.Tensor
    reachable_prefill: torch.Tensor
    reach_fraction_def2: torch.Tensor
    reach_fraction_prefill: torch.Tensor


def question_entries(question_edges: list[torch.Tensor], context_length: int) -> torch.Tensor:
    """(layers, T) bool: context positions read at each layer by question tokens that matter.

    ``question_edges[l]`` (q_len, T + q_len) are one row's question-token edges at
    layer l; the query is the last question token. Context tokens never read
    question tokens (causal), so the question walk needs no context edges.
    """
    t = context_length
    q_len = question_edges[0].shape[0]
    live = torch.zeros(q_len, dtype=torch.bool)
    live[-1] = True
    entries = torch.zeros(len(question_edges), t, dtype=torch.bool)
    for layer in range(len(question_edges) - 1, -1, -1):
        reads = question_edges[layer][live].any(0)
        entries[layer] = reads[:t]
        live |= reads[t:]
    return entries


@torch.inference_mode()
def head_edges(layer_input: tuple, keys: torch.Tensor, threshold: float) -> torch.Tensor:
    """(kv_heads, T, T) bool: token i reads token j in the prefill through some query head of KV group h."""
    module, hidden, kwargs = layer_input
    cos, sin = kwargs["position_embeddings"]
    query = get_prerope_query_states(module, hidden)
    query, _ = apply_rotary_pos_emb(query, query, cos, sin)
    n_kv, length = keys.shape[1], keys.shape[2]
    groups = query.shape[1] // n_kv
    causal = torch.ones(length, length, dtype=torch.bool, device=keys.device).triu(1)
    edges = []
    for h in range(n_kv):  # one KV group at a time bounds memory to groups x T x T weights
        q = query[0, h * groups:(h + 1) * groups].float()
        scores = (q @ keys[0, h].float().T) * module.scaling
        weights = scores.masked_fill(causal, float("-inf")).softmax(-1)
        edges.append((weights > threshold).any(0))
    return torch.stack(edges)


def _reads(live: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """(rows, T) bool: positions some live token reads through ``edges`` (T, T)."""
    return (live.to(torch.float32) @ edges.to(torch.float32)) > 0


@torch.inference_mode()
def walk(pre, threshold: float, entries: torch.Tensor, kept: list[list[torch.Tensor]],
         evidence: list[list[int]]) -> Reach:
    """Both reachability variants for every row of one passage.

    ``pre`` is the passage's recorded prefill (``engine.Prefill``); ``entries``
    (rows, layers, T) come from ``question_entries``; ``kept[r][l]`` (kv_heads, T)
    is the cache of row r (its cell's kept mask); ``evidence[r]`` is its T_ans.
    """
    return propagate(lambda layer: head_edges(pre.layer_inputs[layer], pre.keys[layer], threshold),
                     entries, kept, evidence)


def propagate(edges_at, entries: torch.Tensor, kept: list[list[torch.Tensor]], evidence: list[list[int]]) -> Reach:
    """The context walk of ``walk`` given ``edges_at(layer)`` -> (kv_heads, T, T) prefill edges."""
    rows, n_layers, t = entries.shape
    live = {}
    for layer in range(n_layers - 1, -1, -1):
        edges = edges_at(layer)  # the walk runs where the prefill is (GPU or CPU)
        if not live:
            live = {name: torch.zeros(rows, t, dtype=torch.bool, device=edges.device) for name in ("def2", "prefill")}
        entry = entries[:, layer].to(edges.device)
        reads_prefill = entry | _reads(live["prefill"], edges.any(0))
        kept_here = torch.stack([k[layer] for k in kept]).to(edges.device)  # (rows, kv_heads, T)
        reads_def2 = entry.clone()
        for h in range(edges.shape[0]):
            # Definition 2: j is read through head h only where h keeps j.
            reads_def2 |= _reads(live["def2"], edges[h]) & kept_here[:, h]
        live["prefill"] |= reads_prefill
        live["def2"] |= reads_def2
    out = {}
    for name, matters in live.items():
        matters = matters.cpu()  # one copy, not one per row
        hit = torch.full((rows,), float("nan"))
        share = torch.full((rows,), float("nan"))
        for r, ev in enumerate(evidence):
            ev = [p for p in ev if 0 <= p < t]
            if ev:
                got = matters[r, ev]
                hit[r], share[r] = float(got.any()), float(got.float().mean())
        out[f"reachable_{name}"], out[f"reach_fraction_{name}"] = hit, share
    return Reach(**out)
