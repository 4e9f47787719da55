"""First-decoding-step routing recomputed from queries and cached keys, checked
against the attention weights eager attention materialises."""

from __future__ import annotations

import pytest
import torch
from transformers import DynamicCache

from kvroute import models
from kvroute.inference import engine, evidence, prompts
from kvroute.datasets import generate

SPECS = {
    "adakv_ea": {"press": "AdaKVPress", "scorer": "ExpectedAttentionPress"},
    "chunk_ea": {"press": "ChunkPress", "scorer": "ExpectedAttentionPress", "args": {"chunk_length": 48}},
}


@pytest.fixture(scope="module")
def eager(smollm2_manifest):
    return models.load(smollm2_manifest, device="cpu", dtype="float32", attn_implementation="eager")


@pytest.fixture(scope="module")
def passage(eager):
    model, tokenizer = eager
    record = generate("base", 1, 3)[0]
    questions = [q["question"] for q in record["questions"]][:3]
    context = prompts.build_context(record["passage"], questions, "agnostic")
    context_ids, question_ids, text = engine.tokenize(tokenizer, context, [prompts.build_question(q) for q in questions])
    t_ans = [evidence.token_positions(tokenizer, text, record["passage"], q["evidence"])
             for q in record["questions"][:3]]
    return context_ids, question_ids, t_ans, engine.prefill(model, context_ids)


@torch.inference_mode()
def eager_first_step(model, cell: engine.Cell, context_length: int, question_ids: torch.Tensor):
    """(layers, q_heads, slots) attention of the last prompt token, and slot -> position maps."""
    cache = DynamicCache()
    for layer, (k, v) in enumerate(zip(cell.keys, cell.values)):
        cache.update(k, v, layer)
    n = question_ids.shape[1]
    pos = torch.arange(context_length, context_length + n)[None]
    out = model(input_ids=question_ids, position_ids=pos, past_key_values=cache, output_attentions=True)
    return torch.stack([a[0, :, -1, :] for a in out.attentions])


def slot_position(cell, layer, kv_head, slot, context_length):
    n_cached = cell.positions[layer].shape[1]
    return int(cell.positions[layer][kv_head, slot]) if slot < n_cached else context_length + slot - n_cached


@pytest.mark.parametrize("which", ["none", "chunk_ea"])
def test_routing_matches_eager_attention(eager, passage, which):
    model, tokenizer = eager
    context_ids, question_ids, t_ans, pre = passage
    cell = (engine.uncompressed_cell(pre) if which == "none"
            else engine.compress_cell(pre, which, SPECS[which], 0.6, engine.decided_bank(SPECS[which], pre, [0.25, 0.9])))
    # Batched (left-padded) capture, compared row by row with an unpadded eager forward.
    got = engine.answer(model, tokenizer, cell, pre.length, question_ids, 1, routing=True, evidence=t_ans).routing
    groups = model.config.num_attention_heads // model.config.num_key_value_heads
    for row, q_ids in enumerate(question_ids):
        weights = eager_first_step(model, cell, pre.length, q_ids)
        n_layers, n_heads, _ = weights.shape
        for layer in range(n_layers):
            for head in range(n_heads):
                slot = int(weights[layer, head].argmax())
                expected = slot_position(cell, layer, head // groups, slot, pre.length)
                assert int(got.argmax[row, layer, head]) == expected, (row, layer, head)
                n_cached = cell.positions[layer].shape[1]
                on_answer = torch.isin(cell.positions[layer][head // groups], torch.tensor(t_ans[row]))
                mass = float(weights[layer, head, :n_cached][on_answer].sum())
                assert abs(float(got.answer_mass[row, layer, head]) - mass) < 1e-4


def test_adakv_routing_never_lands_on_a_masked_key(smollm2, passage):
    model, tokenizer = smollm2  # AdaKV refuses eager attention: check the invariant instead
    _, question_ids, t_ans, pre = passage
    pre = engine.prefill(model, pre.context_ids)
    cell = engine.compress_cell(pre, "adakv_ea", SPECS["adakv_ea"], 0.8, engine.decided_bank(SPECS["adakv_ea"], pre, [0.25, 0.9]))
    routing = engine.answer(model, tokenizer, cell, pre.length, question_ids, 1, routing=True, evidence=t_ans).routing
    groups = model.config.num_attention_heads // model.config.num_key_value_heads
    for layer, kept in enumerate(cell.kept):
        for head in range(routing.argmax.shape[2]):
            for row in range(len(question_ids)):
                position = int(routing.argmax[row, layer, head])
                if position < pre.length:
                    assert kept[head // groups, position], (layer, head, position)
    assert ((routing.answer_mass >= 0) & (routing.answer_mass <= 1 + 1e-3)).all()


# Fixtures asked for by name are not in the test's fixturenames: conftest cannot see they load a model file.
@pytest.mark.slow
@pytest.mark.parametrize("which", ["smollm2", "qwen_tokenizer"])
def test_evidence_positions_decode_to_the_answer(which, request):
    """For every registered tokenizer, the tokens mapped from an evidence span cover its text."""
    loaded = request.getfixturevalue(which)
    tokenizer = loaded[1] if isinstance(loaded, tuple) else loaded
    from kvroute.datasets import GENERATORS

    for name in GENERATORS:
        for record in generate(name, 3, 11):
            questions = [q["question"] for q in record["questions"]]
            for regime in ("agnostic", "aware"):
                context = prompts.build_context(record["passage"], questions, regime)
                ids, _, text = engine.tokenize(tokenizer, context, [])
                for q in record["questions"]:
                    for start, end in q["evidence"]:
                        positions = evidence.token_positions(tokenizer, text, record["passage"], [[start, end]])
                        assert positions == list(range(positions[0], positions[-1] + 1)), "a span is contiguous"
                        assert positions[-1] < ids.shape[1]
                        decoded = tokenizer.decode(ids[0, positions[0]:positions[-1] + 1])
                        assert record["passage"][start:end].strip().lower() in decoded.lower(), (q["qid"], decoded)
