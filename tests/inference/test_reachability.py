"""Reachability of T_ans from the query: paper Definition 2 and the physical prefill variant.

Hand-built graphs pin the walk's semantics; a naive per-row walk checks the
batched one; a real model checks the recomputed prefill attention against
eager attention and the invariants on real caches.
"""

from __future__ import annotations

import pytest
import torch

from kvroute.inference import engine, reachability
from kvroute.inference.reachability import propagate, question_entries

from test_routing import SPECS, eager, passage  # noqa: F401  (module fixtures)


def _question(layers: int, t: int, reads: dict[int, list[int]], q_len: int = 1) -> list[torch.Tensor]:
    """Question edges where the query (last question token) reads ``reads[layer]`` context positions."""
    edges = [torch.zeros(q_len, t + q_len, dtype=torch.bool) for _ in range(layers)]
    for layer, positions in reads.items():
        edges[layer][-1, positions] = True
    return edges


def _full(layers: int, heads: int, t: int) -> list[torch.Tensor]:
    return [torch.ones(heads, t, dtype=torch.bool) for _ in range(layers)]


def test_walk_on_a_hand_built_graph():
    # 2 layers, 1 KV head, context tokens 0..3; at layer 0 token 2 reads token 1; the query reads 2 at layer 1.
    edges = torch.zeros(2, 1, 4, 4, dtype=torch.bool)
    edges[0, 0, 2, 1] = True
    entries = question_entries(_question(2, 4, {1: [2]}), 4)[None]
    reach = propagate(lambda l: edges[l], entries, [_full(2, 1, 4)], [[1]])
    assert reach.reachable_def2.tolist() == [1.0] and reach.reachable_prefill.tolist() == [1.0]
    both = propagate(lambda l: edges[l], entries, [_full(2, 1, 4)], [[0, 1]])
    assert both.reach_fraction_prefill.tolist() == [0.5]
    assert propagate(lambda l: edges[l], entries, [_full(2, 1, 4)], [[3]]).reachable_prefill.tolist() == [0.0]
    # Order matters: 2 reading 1 at layer 1 is too late for a query that reads 2 at layer 0.
    late = torch.zeros(2, 1, 4, 4, dtype=torch.bool)
    late[1, 0, 2, 1] = True
    early = question_entries(_question(2, 4, {0: [2]}), 4)[None]
    assert propagate(lambda l: late[l], early, [_full(2, 1, 4)], [[1]]).reachable_prefill.tolist() == [0.0]


def test_pruning_cuts_in_edges_under_definition_2_only():
    edges = torch.zeros(2, 1, 4, 4, dtype=torch.bool)
    edges[0, 0, 2, 1] = True
    entries = question_entries(_question(2, 4, {1: [2]}), 4)[None]
    pruned = _full(2, 1, 4)
    pruned[0][0, 1] = False  # layer 0 drops token 1, the only layer where 2 read it
    reach = propagate(lambda l: edges[l], entries, [pruned], [[1]])
    assert reach.reachable_def2.tolist() == [0.0], "Definition 2: a pruned position loses its in-edges"
    assert reach.reachable_prefill.tolist() == [1.0], "physically, 2 read 1 before compression"
    # Pruning token 1 at layer 1 instead leaves the layer-0 edge, so it stays reachable.
    later = _full(2, 1, 4)
    later[1][0, 1] = False
    assert propagate(lambda l: edges[l], entries, [later], [[1]]).reachable_def2.tolist() == [1.0]


def test_an_edge_needs_the_head_that_keeps_the_target():
    # Two KV heads, two layers: at layer 0 only head 1 has the edge 2 -> 1; the query reads 2 at layer 1.
    edges = torch.zeros(2, 2, 3, 3, dtype=torch.bool)
    edges[0, 1, 2, 1] = True
    entries = question_entries(_question(2, 3, {1: [2]}), 3)[None]
    kept = _full(2, 2, 3)
    kept[0][1, 1] = False  # head 1 prunes 1; head 0 keeps it but never read it
    assert propagate(lambda l: edges[l], entries, [kept], [[1]]).reachable_def2.tolist() == [0.0]
    kept = _full(2, 2, 3)
    kept[0][0, 1] = False  # head 0 prunes 1: head 1's edge survives
    assert propagate(lambda l: edges[l], entries, [kept], [[1]]).reachable_def2.tolist() == [1.0]


def test_no_evidence_is_unknown_not_unreachable():
    edges = torch.ones(1, 1, 3, 3, dtype=torch.bool).tril()
    entries = question_entries(_question(1, 3, {0: [0]}), 3)[None]
    reach = propagate(lambda l: edges[l], entries, [_full(1, 1, 3)], [[]])
    assert torch.isnan(reach.reachable_def2).all() and torch.isnan(reach.reachable_prefill).all()


def _naive(edges: torch.Tensor, question: list[torch.Tensor], kept: list[torch.Tensor] | None, evidence: list[int]):
    """Reference: one row, one node set, context and question walked together, head by head."""
    n_layers, n_heads, t, _ = edges.shape
    q_len = question[0].shape[0]
    live = [False] * (t + q_len)
    live[t + q_len - 1] = True
    for layer in range(n_layers - 1, -1, -1):
        reads = set()
        for i in range(t + q_len):
            if not live[i]:
                continue
            if i >= t:
                reads |= {j for j in range(t + q_len) if question[layer][i - t, j]}
                continue
            for h in range(n_heads):
                reads |= {j for j in range(t) if edges[layer, h, i, j] and (kept is None or kept[layer][h, j])}
        for j in reads:
            live[j] = True
    return any(live[e] for e in evidence)


def test_batched_walk_matches_a_naive_walk_on_random_graphs():
    gen = torch.Generator().manual_seed(0)
    layers, heads, t, q_len = 4, 2, 12, 3
    for trial in range(40):
        edges = (torch.rand(layers, heads, t, t, generator=gen) < 0.12).tril()
        rows = []
        for r in range(3):
            question = [(torch.rand(q_len, t + q_len, generator=gen) < 0.1) for _ in range(layers)]
            for layer in range(layers):  # causal within the question
                question[layer][:, t:] &= torch.ones(q_len, q_len, dtype=torch.bool).tril()
            kept = [torch.rand(heads, t, generator=gen) < 0.5 for _ in range(layers)]
            evidence = torch.randperm(t, generator=gen)[:2].tolist()
            rows.append((question, kept, evidence))
        entries = torch.stack([question_entries(q, t) for q, _, _ in rows])
        reach = propagate(lambda l: edges[l], entries, [k for _, k, _ in rows], [e for _, _, e in rows])
        for r, (question, kept, evidence) in enumerate(rows):
            assert reach.reachable_def2[r] == float(_naive(edges, question, kept, evidence)), (trial, r)
            assert reach.reachable_prefill[r] == float(_naive(edges, question, None, evidence)), (trial, r)


def test_erased_evidence_is_never_reachable_under_definition_2():
    gen = torch.Generator().manual_seed(1)
    layers, heads, t = 3, 2, 10
    evidence = [4, 5]
    hits = 0
    for _ in range(30):
        edges = (torch.rand(layers, heads, t, t, generator=gen) < 0.4).tril()
        kept = [torch.rand(heads, t, generator=gen) < 0.6 for _ in range(layers)]
        for k in kept:
            k[:, evidence] = False  # erased: no layer and head keeps T_ans
        question = [torch.rand(1, t + 1, generator=gen) < 0.5 for _ in range(layers)]
        for q in question:
            q[:, evidence] = False  # the question reads the compressed cache, where T_ans is gone
        entries = question_entries(question, t)
        reach = propagate(lambda l: edges[l], entries[None], [kept], [evidence])
        assert reach.reachable_def2.tolist() == [0.0]
        hits += int(reach.reachable_prefill.item())
    assert hits > 0, "dense prefill graphs do leak erased evidence to the query"


@pytest.mark.parametrize("threshold", [0.02, 0.1])
def test_prefill_edges_match_eager_attention(eager, passage, threshold):
    model, _ = eager
    _, _, _, pre = passage
    with torch.inference_mode():
        out = model(input_ids=pre.context_ids, output_attentions=True)
    n_kv = pre.keys[0].shape[1]
    for layer in (0, len(pre.keys) // 2, len(pre.keys) - 1):
        got = reachability.head_edges(pre.layer_inputs[layer], pre.keys[layer], threshold)
        weights = out.attentions[layer][0]  # (q_heads, T, T)
        want = (weights.view(n_kv, -1, *weights.shape[1:]) > threshold).any(1)
        # Weights within rounding of the threshold may fall either side.
        near = ((weights - threshold).abs() < 1e-5).view(n_kv, -1, *weights.shape[1:]).any(1)
        assert torch.equal(got & ~near, want & ~near), layer
        assert not got.triu(1).any(), "prefill edges are causal"


def _without(pre, dropped: list[int]) -> engine.Cell:
    """A cache that keeps every context position but ``dropped``, in every layer and head."""
    keep = torch.tensor([p for p in range(pre.length) if p not in set(dropped)])
    n_heads, n_layers = pre.keys[0].shape[1], len(pre.keys)
    kept = torch.ones(n_heads, pre.length, dtype=torch.bool)
    kept[:, dropped] = False
    return engine.Cell("drop", 0.5, [k[:, :, keep] for k in pre.keys], [v[:, :, keep] for v in pre.values],
                       [None] * n_layers, [kept] * n_layers, [keep.expand(n_heads, -1)] * n_layers)


def _reach(model, tokenizer, pre, cells, question_ids, t_ans, threshold=0.02):
    entries, kept, evidence = [], [], []
    for cell in cells:
        ans = engine.answer(model, tokenizer, cell, pre.length, question_ids, 1, routing=True, evidence=t_ans,
                            reach_threshold=threshold)
        entries.append(ans.routing.entries)
        kept += [cell.kept] * len(question_ids)
        evidence += t_ans
    return reachability.walk(pre, threshold, torch.cat(entries), kept, evidence)


def test_reachability_on_a_real_model(smollm2, passage):
    model, tokenizer = smollm2
    _, question_ids, t_ans, pre = passage
    pre = engine.prefill(model, pre.context_ids)  # AdaKV refuses the eager model
    n = len(question_ids)
    for name, ratio in (("chunk_ea", 0.9), ("adakv_ea", 0.9), ("chunk_ea", 0.5)):
        cells = [engine.uncompressed_cell(pre),
                 engine.compress_cell(pre, name, SPECS[name], ratio, engine.decided_bank(SPECS[name], pre, [0.25, 0.9]))]
        reach = _reach(model, tokenizer, pre, cells, question_ids, t_ans)
        full_def2, full_prefill = reach.reachable_def2[:n], reach.reachable_prefill[:n]
        assert torch.equal(full_def2, full_prefill), "uncompressed, the two variants are one graph"
        assert (full_def2 == 1).all(), "uncompressed, the query reaches every question's evidence"
        def2, prefill = reach.reachable_def2[n:], reach.reachable_prefill[n:]
        assert (def2 <= prefill).all(), "the Definition-2 graph is a subgraph of the prefill graph"
        assert ((reach.reach_fraction_def2 >= 0) & (reach.reach_fraction_def2 <= 1)).all()


def test_erased_evidence_on_a_real_model_is_unreachable_but_may_leak(smollm2, passage):
    model, tokenizer = smollm2
    _, question_ids, t_ans, pre = passage
    pre = engine.prefill(model, pre.context_ids)  # AdaKV refuses the eager model
    reach = _reach(model, tokenizer, pre, [_without(pre, t_ans[0])], question_ids, t_ans)
    assert reach.reachable_def2[0] == 0, "Definition 2: erased T_ans is never reachable"
    assert reach.reachable_prefill[0] == 1, "the surviving context read T_ans during prefill"
    # Another question's evidence is untouched and stays reachable.
    others = [q for q in range(1, len(t_ans)) if not set(t_ans[q]) & set(t_ans[0])]
    assert all(reach.reachable_def2[q] == 1 for q in others)


def test_a_threshold_above_every_weight_reaches_nothing(smollm2, passage):
    model, tokenizer = smollm2
    _, question_ids, t_ans, pre = passage
    pre = engine.prefill(model, pre.context_ids)  # AdaKV refuses the eager model
    reach = _reach(model, tokenizer, pre, [engine.uncompressed_cell(pre)], question_ids, t_ans, threshold=0.999999)
    assert (reach.reachable_def2 == 0).all() and (reach.reachable_prefill == 0).all()
