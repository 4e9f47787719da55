"""The shared-prefill engine against stock kvpress on a real model (SmolLM2-135M).

kvroute evaluates every ratio from one prefill by replaying kvpress's own
selection code on memoised scores; these tests check that this gives the same
kept KV entries and the same greedy answers as stock kvpress.
"""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from kvpress import AdaKVPress, ChunkPress, ExpectedAttentionPress
from transformers import DynamicCache, pipeline

from kvroute.inference import engine, ledger, presses, prompts
from kvroute.inference.presses import RemainderSafeChunkPress
from kvroute.metrics import chunks

from passages import ready

PASSAGE = (
    "Torvald Imbrecht is a Norwegian sculptor born in the coastal town of Vesterhavn. "
    "He received his first commission in 1987 from the Ostmark Maritime Museum, a bronze figure of a diver. "
    "Later he co-founded the Saltlight Cooperative, a collective of eleven artists who share a studio near the harbour. "
    "His favourite subjects are seabirds and otters, which he carves from driftwood collected on winter walks."
)
QUESTIONS = [
    "What is Torvald Imbrecht's nationality?",
    "In which town was Torvald Imbrecht born?",
    "Who gave Torvald Imbrecht his first commission?",
]
SPECS = {
    "adakv_ea": {"press": "AdaKVPress", "scorer": "ExpectedAttentionPress"},
    "chunk_ea": {"press": "ChunkPress", "scorer": "ExpectedAttentionPress", "args": {"chunk_length": 48}},
}


def stock_press(name: str, ratio: float):
    if name == "adakv_ea":
        return AdaKVPress(ExpectedAttentionPress(compression_ratio=ratio))
    return ChunkPress(ExpectedAttentionPress(compression_ratio=ratio), chunk_length=48)


@pytest.fixture(scope="module")
def prepared(smollm2):
    model, tokenizer = smollm2
    r = ready(model, tokenizer, PASSAGE, QUESTIONS)
    if r.context_ids.shape[1] % 48 in range(1, 5):
        pytest.skip("context length would crash stock ChunkPress; adjust the passage")
    return model, tokenizer, r.context, r.questions, r.context_ids, r.question_ids, r.pre


def stock_kept(model, context_ids, press) -> list[torch.Tensor]:
    """Kept positions per layer from a stock kvpress prefill, recovered by matching keys."""
    full, compressed = DynamicCache(), DynamicCache()
    with torch.inference_mode():
        model.model(input_ids=context_ids, past_key_values=full)
        with press(model):
            model.model(input_ids=context_ids, past_key_values=compressed)
    modules = engine.attention_modules(model)
    kept = []
    for i, module in enumerate(modules):
        k_full = full.layers[i].keys[0]
        mask = torch.zeros(k_full.shape[0], k_full.shape[1], dtype=torch.bool)
        idx = getattr(module, "masked_key_indices", None)
        if idx is not None:  # AdaKV: everything kept except masked entries
            mask[:] = True
            mask[idx[1], idx[2]] = False
            module.masked_key_indices = None
        else:
            k_comp = compressed.layers[i].keys[0]
            for h in range(k_full.shape[0]):
                # each surviving key equals exactly one uncompressed key
                eq = (k_comp[h][:, None, :] == k_full[h][None, :, :]).all(-1)
                assert (eq.sum(1) == 1).all()
                mask[h, eq.float().argmax(1)] = True
        kept.append(mask)
    return kept


@pytest.mark.parametrize("name", list(SPECS))
@pytest.mark.parametrize("ratio", [0.25, 0.5, 0.8])
def test_kept_sets_equal_stock_kvpress(prepared, name, ratio):
    model, _, _, _, context_ids, _, pre = prepared
    cell = engine.compress_cell(pre, name, SPECS[name], ratio, engine.decided_bank(SPECS[name], pre, [0.25, 0.8]))
    expected = stock_kept(model, context_ids, stock_press(name, ratio))
    for layer, (mine, ref) in enumerate(zip(cell.kept, expected)):
        assert torch.equal(mine, ref), f"layer {layer}: kept sets differ"
    # The press removes the share of entries the ratio asks for.
    assert abs(1 - torch.stack(cell.kept).float().mean().item() - ratio) < 0.05


def test_one_bank_serves_every_ratio(prepared):
    """Memoised scores are computed once per layer and chunk, whatever the number of ratios."""
    _, _, _, _, _, _, pre = prepared
    bank = engine.decided_bank(SPECS["chunk_ea"], pre, [0.25, 0.9])
    engine.compress_cell(pre, "chunk_ea", SPECS["chunk_ea"], 0.3, bank)
    n_scores = len(bank.memo)
    engine.compress_cell(pre, "chunk_ea", SPECS["chunk_ea"], 0.7, bank)
    assert len(bank.memo) == n_scores
    n_chunks = -(-pre.length // 48)
    # one score per layer and chunk, plus the whole-layer scores the memo check compared across ratios
    assert n_scores == len(pre.keys) * (n_chunks + 1)


@pytest.mark.parametrize("name", list(SPECS))
def test_answers_equal_stock_pipeline(prepared, name):
    model, tokenizer, context, questions, _, question_ids, pre = prepared
    pipe = pipeline("kv-press-text-generation", model=model, tokenizer=tokenizer)
    bank = engine.decided_bank(SPECS[name], pre, [0.25, 0.9])
    for ratio in (0.3, 0.7):
        stock = pipe(context, questions=questions, press=stock_press(name, ratio), max_new_tokens=10)["answers"]
        cell = engine.compress_cell(pre, name, SPECS[name], ratio, bank)
        mine = engine.answer(model, tokenizer, cell, pre.length, question_ids, 10).texts
        assert mine == stock, f"{name} at {ratio}"


def test_one_batch_across_presses_and_ratios_equals_stock_pipeline(prepared):
    """Rows of differently compressed caches share a batch: padding and AdaKV masks stay per row."""
    model, tokenizer, context, questions, _, question_ids, pre = prepared
    pipe = pipeline("kv-press-text-generation", model=model, tokenizer=tokenizer)
    banks = {name: engine.decided_bank(spec, pre, [0.3, 0.7]) for name, spec in SPECS.items()}
    cells = [("none", 0.0, engine.uncompressed_cell(pre))]
    cells += [(name, r, engine.compress_cell(pre, name, SPECS[name], r, banks[name]))
              for name, r in [("chunk_ea", 0.7), ("adakv_ea", 0.7), ("chunk_ea", 0.3)]]
    assert len({engine.layer_uniform_length(c) for _, _, c in cells}) == 3  # caches of three lengths
    row_cells = [c for _, _, c in cells for _ in question_ids]
    out = engine.answer(model, tokenizer, row_cells, pre.length, question_ids * len(cells), 10, routing=True)
    for i, (name, ratio, cell) in enumerate(cells):
        press = stock_press(name, ratio) if ratio else None
        stock = pipe(context, questions=questions, press=press, max_new_tokens=10)["answers"]
        rows = slice(i * len(question_ids), (i + 1) * len(question_ids))
        assert out.texts[rows] == stock, f"{name} at {ratio}"
        alone = engine.answer(model, tokenizer, cell, pre.length, question_ids, 1, routing=True).routing
        assert torch.equal(out.routing.argmax[rows], alone.argmax), f"{name} at {ratio}: routing moved"


def _ragged(cell: engine.Cell) -> engine.Cell:
    """``cell`` with layer 0's first slot dropped: layers of two lengths, as ChunkKV's partial chunks give."""
    kept = cell.kept[0].clone()
    kept[torch.arange(kept.shape[0]), cell.positions[0][:, 0]] = False
    return engine.Cell(cell.press, cell.ratio, [cell.keys[0][:, :, 1:], *cell.keys[1:]],
                       [cell.values[0][:, :, 1:], *cell.values[1:]], cell.masked, [kept, *cell.kept[1:]],
                       [cell.positions[0][:, 1:], *cell.positions[1:]])


def _token_by_token(model, tokenizer, cell: engine.Cell, context_length: int, question: torch.Tensor, n: int) -> str:
    """The reference for any cache: question and answer fed one token at a time (no attention mask is needed,
    so each layer attends to exactly the keys it holds, whatever its length)."""
    cache = DynamicCache()
    for layer, (k, v) in enumerate(zip(cell.keys, cell.values)):
        cache.update(k.clone(), v.clone(), layer)
    pos, tokens = context_length, []
    with torch.inference_mode():
        for t in question[0]:
            logits = model(input_ids=t.view(1, 1), position_ids=torch.tensor([[pos]]), past_key_values=cache).logits
            pos += 1
        for _ in range(n):
            token = logits[0, -1].argmax()
            if int(token) in engine.eos_ids(model):
                break
            tokens.append(int(token))
            logits = model(input_ids=token.view(1, 1), position_ids=torch.tensor([[pos]]), past_key_values=cache).logits
            pos += 1
    return tokenizer.decode(tokens, skip_special_tokens=True)


def test_a_cache_whose_layers_differ_in_length_is_evened_and_answers_as_read_token_by_token(prepared):
    """PyramidKV's budgets and ChunkKV's partial chunks leave layers of different lengths; one attention mask
    serves every layer, so kvroute evens them (the added slots hidden like AdaKV's) and batches them with any
    other cache. Every row equals the reference that needs no mask. (A leaderboard run failed inside SDPA on
    ChunkKV's ragged caches before.)"""
    model, tokenizer, *_, question_ids, pre = prepared
    spec = SPECS["chunk_ea"]
    even = engine.compress_cell(pre, "chunk_ea", spec, 0.5, engine.decided_bank(spec, pre, [0.5]))
    ragged = _ragged(even)
    assert engine.layer_uniform_length(ragged) is None and len({q.shape[1] for q in question_ids}) > 1
    evened = engine.evened(ragged)
    assert engine.layer_uniform_length(evened) == engine.layer_uniform_length(even)
    assert all(torch.equal(a, b) for a, b in zip(evened.kept, ragged.kept))
    assert int((evened.positions[0] == -1).sum()) == evened.keys[0].shape[1]  # one hidden slot per head
    rows = [ragged] * 3 + [even] * 3  # answer() evens what it stacks
    asked = question_ids * 2
    out = engine.answer(model, tokenizer, rows, pre.length, asked, 6)
    reference = [_token_by_token(model, tokenizer, c, pre.length, q, 6) for c, q in zip([ragged] * 3 + [even] * 3, asked)]
    assert out.texts == reference


def test_uncompressed_answers_equal_stock_pipeline(prepared):
    model, tokenizer, context, questions, _, question_ids, pre = prepared
    pipe = pipeline("kv-press-text-generation", model=model, tokenizer=tokenizer)
    stock = pipe(context, questions=questions, max_new_tokens=10)["answers"]
    mine = engine.answer(model, tokenizer, engine.uncompressed_cell(pre), pre.length, question_ids, 10).texts
    assert mine == stock


@torch.inference_mode()
def test_remainder_safe_chunk_press_matches_stock_when_stock_works(prepared):
    model, _, _, _, context_ids, _, pre = prepared
    for (module, hidden, kwargs), k, v in zip(pre.layer_inputs[:4], pre.keys, pre.values):
        ours = RemainderSafeChunkPress(ExpectedAttentionPress(compression_ratio=0.5), chunk_length=48)
        stock = ChunkPress(ExpectedAttentionPress(compression_ratio=0.5), chunk_length=48)
        assert torch.equal(ours.compress(module, hidden, k, v, None, kwargs)[0],
                           stock.compress(module, hidden, k, v, None, kwargs)[0])


@torch.inference_mode()
def test_remainder_safe_chunk_press_handles_a_tiny_last_chunk(prepared):
    """Stock ChunkPress(EA) crashes when the last chunk has <= n_sink tokens; ours folds it in."""
    _, _, _, _, _, _, pre = prepared
    module, hidden, kwargs = pre.layer_inputs[0]
    length = pre.length
    chunk = length - 3 if length > 10 else 5  # leaves a 3-token tail
    stock = ChunkPress(ExpectedAttentionPress(compression_ratio=0.5), chunk_length=chunk)
    with pytest.raises(AssertionError, match="n_sink"):
        stock.compress(module, hidden, pre.keys[0], pre.values[0], None, kwargs)
    ours = RemainderSafeChunkPress(ExpectedAttentionPress(compression_ratio=0.5), chunk_length=chunk)
    assert ours.chunk_bounds(length) == [(0, length)]
    keys, _ = ours.compress(module, hidden, pre.keys[0], pre.values[0], None, kwargs)
    assert keys.shape[2] == int(length * 0.5)


@pytest.mark.parametrize("name", list(SPECS))
def test_kept_sets_equal_stock_in_bfloat16_on_a_long_context(smollm2_manifest, name):
    """bf16 keys cannot label positions above 256; the ledger must still be exact."""
    from kvroute import models
    from kvroute.datasets import generate

    model, tokenizer = models.load(smollm2_manifest, device="cpu", dtype="bfloat16")
    record = generate("base", 1, 7)[0]
    questions = [q["question"] for q in record["questions"]]
    context_ids, _, _ = engine.tokenize(tokenizer, prompts.build_context(record["passage"], questions, "aware"), [])
    assert context_ids.shape[1] > 300
    pre = engine.prefill(model, context_ids)
    cell = engine.compress_cell(pre, name, SPECS[name], 0.6, engine.decided_bank(SPECS[name], pre, [0.25, 0.9]))
    expected = stock_kept(model, context_ids, stock_press(name, 0.6))
    for layer, (mine, ref) in enumerate(zip(cell.kept, expected)):
        assert torch.equal(mine, ref), f"layer {layer}: kept sets differ"


@pytest.mark.parametrize("ratio", [0.5, 0.95])
def test_sink_share_of_stock_chunk_press(prepared, ratio):
    """The ledger's sink share, on stock kvpress's kept set: each chunk keeps its 4 sinks first."""
    model, _, _, _, context_ids, _, _ = prepared
    kept = stock_kept(model, context_ids, stock_press("chunk_ea", ratio))
    length = context_ids.shape[1]
    entry = {"model": "m", "dataset": "d", "regime": "agnostic", "press": "chunk_ea", "ratio": ratio, "passage_id": 0,
             "oracle": None, "sink_positions": presses.sink_positions(SPECS["chunk_ea"], length), **ledger.pack(kept)}
    table = chunks.sink_share(pd.DataFrame([entry]))
    per_chunk = [max(1, int((end - start) * (1 - ratio))) for start, end in presses.chunk_bounds(length, 48, 4)]
    expected = sum(min(4, k) for k in per_chunk) / sum(per_chunk)
    assert table["sink_share"].item() == pytest.approx(expected)
    if ratio == 0.95:  # 2 entries per chunk of 48: nothing but sinks
        assert table["sink_share"].item() == 1.0

