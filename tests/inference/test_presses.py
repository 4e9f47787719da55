"""Every kvpress press that evicts tokens, through kvroute's engine, against stock kvpress (SmolLM2-135M).

For each studied press (``kvroute.press_specs``) at two ratios: the
kept set of every layer and KV head equals the one a stock kvpress prefill
keeps (recovered here by brute-force key matching, independent of the
engine's ledger), and the greedy answers equal kvpress's pipeline. The engine
decides per passage whether the press's scores can be replayed across ratios;
a test checks that decision against the scores themselves.
"""

from __future__ import annotations

import pytest
import torch
from kvpress import ChunkPress, ComposedPress, DecodingPress, KnormPress, PyramidKVPress, ThinKPress
from transformers import DynamicCache, pipeline

from kvroute import press_specs
from kvroute.config import ConfigError, validate, with_defaults
from kvroute.inference import engine, presses

from passages import ready

PASSAGE = (
    "Torvald Imbrecht is a Norwegian sculptor born in the coastal town of Vesterhavn. "
    "He received his first commission in 1987 from the Ostmark Maritime Museum, a bronze figure of a diver. "
    "Later he co-founded the Saltlight Cooperative, a collective of eleven artists who share a studio near the harbour. "
    "His favourite subjects are seabirds and otters, which he carves from driftwood collected on winter walks. "
    "Each spring he exhibits new work in the old customs house, and the proceeds fund a sailing school for children."
)
QUESTIONS = ["In which town was Torvald Imbrecht born?", "Who gave Torvald Imbrecht his first commission?"]
RATIOS = (0.3, 0.75)
# kvpress 0.5.5's own pipeline cannot answer from these presses' caches (kept sets are still compared):
# ChunkKV keeps whole chunks, so its cache is not the length the pipeline sizes the question's mask for
# (a 131 vs 128 size mismatch on this passage).
PIPELINE_FAILS = {"ChunkKVPress"}


def spec_of(name: str) -> dict:
    """A studied press entry: scorers alone, wrappers and CriticalKV around ExpectedAttention."""
    spec = {"press": name}
    if name in press_specs.TAKE_SCORER:
        spec["scorer"] = "ExpectedAttentionPress"
    if name == "ChunkPress":
        spec["args"] = {"chunk_length": 48}
    if name == "ChunkKVPress":
        spec["args"] = {"chunk_length": 8}
    if name == "BlockPress":
        spec["args"] = {"block_size": 32}
    return spec


@pytest.fixture(scope="module")
def passage(smollm2):
    r = ready(*smollm2, PASSAGE, QUESTIONS)
    return r.context, r.questions, r.question_ids, r.pre


def stock_kept(model, pre, press) -> list[torch.Tensor]:
    """Kept (kv_heads, T) per layer after a stock kvpress prefill, by comparing every key with every key."""
    cache = DynamicCache()
    with torch.inference_mode(), press(model):
        model.model(input_ids=pre.context_ids, past_key_values=cache)
    kept = []
    for i, module in enumerate(engine.attention_modules(model)):
        full, comp = pre.keys[i][0], cache.layers[i].keys[0]
        mask = torch.zeros(full.shape[0], full.shape[1], dtype=torch.bool)
        for h in range(full.shape[0]):
            same = (comp[h][:, None, :] == full[h][None, :, :]).all(-1)
            assert bool((same.sum(1) == 1).all()), "each kept key equals exactly one uncompressed key"
            mask[h, same.float().argmax(1)] = True
        idx = getattr(module, "masked_key_indices", None)
        if idx is not None:  # masked (AdaKV-style) keys stay in the cache but are not kept
            mask[idx[1], idx[2]] = False
            module.masked_key_indices = None
        kept.append(mask)
    return kept


def seeded(seed: int = 7):
    # Random presses draw from torch's generator: both sides start from the same state.
    torch.manual_seed(seed)


@pytest.mark.parametrize("name", press_specs.STUDIED)
def test_every_studied_press_keeps_what_stock_kvpress_keeps_and_answers_alike(smollm2, passage, name):
    model, tokenizer = smollm2
    context, questions, question_ids, pre = passage
    spec = spec_of(name)
    presses.validate_spec(name, spec)
    bank = engine.decided_bank(spec, pre, list(RATIOS), model)
    assert bank.mode in (engine.MEMO, engine.REPLAY), bank.reason  # every studied press uses the one prefill
    for ratio in RATIOS:
        seeded()
        cell = engine.press_cell(model, pre, name, spec, ratio, bank)
        seeded()
        expected = stock_kept(model, pre, presses.build(spec, ratio))
        for layer, (mine, ref) in enumerate(zip(cell.kept, expected)):
            assert torch.equal(mine, ref), f"{name} at {ratio}, layer {layer}: kept sets differ"
        assert 0 < torch.stack(cell.kept).float().mean() < 1, "the press evicted something and kept something"
    if name in PIPELINE_FAILS:
        return
    # Answers at the higher ratio (the lower one's cache differs from it only in what is kept).
    pipe = pipeline("kv-press-text-generation", model=model, tokenizer=tokenizer)
    seeded()
    stock = pipe(context, questions=questions, press=presses.build(spec, RATIOS[-1]), max_new_tokens=6)["answers"]
    mine = [engine.answer(model, tokenizer, cell, pre.length, [q], 6).texts[0] for q in question_ids]
    assert mine == stock, f"{name} at {RATIOS[-1]}"


@pytest.mark.parametrize("name", press_specs.SCORERS)
def test_scores_are_replayed_across_ratios_exactly_when_they_do_not_depend_on_the_ratio(smollm2, passage, name):
    model, _ = smollm2
    *_, pre = passage
    spec = spec_of(name)
    module, hidden, kwargs = pre.layer_inputs[3]
    scores = []
    seeded()  # once: a random scorer draws twice, as the engine's check does
    for ratio in RATIOS:
        press = presses.build(spec, ratio)
        press.post_init_from_model(model)
        with torch.inference_mode():
            scores.append(press.score(module, hidden, pre.keys[3], pre.values[3], None, kwargs))
    mode = engine.decided_bank(spec, pre, list(RATIOS), model).mode
    assert (mode == engine.MEMO) == torch.equal(*scores), f"{name}: {mode}"


def test_the_decision_is_not_a_list(smollm2, passage):
    """StreamingLLM's scores read the ratio (it used to be listed as ratio-free); Knorm's do not."""
    model, _ = smollm2
    *_, pre = passage
    assert engine.decided_bank({"press": "KnormPress"}, pre, list(RATIOS), model).mode == engine.MEMO
    streaming = engine.decided_bank({"press": "AdaKVPress", "scorer": "StreamingLLMPress"}, pre, list(RATIOS), model)
    assert streaming.mode == engine.REPLAY and "differ between ratios" in streaming.reason


def test_a_memo_bank_scores_each_span_once_and_a_bare_scorer_press_uses_it(smollm2, passage):
    """PyramidKV selects in its own compress (per-layer budgets): its scores come from the memo all the same."""
    model, _ = smollm2
    *_, pre = passage
    bank = engine.decided_bank({"press": "PyramidKVPress"}, pre, list(RATIOS), model)
    assert bank.mode == engine.MEMO and len(bank.memo) == len(pre.keys)
    calls = []
    real = PyramidKVPress.score
    PyramidKVPress.score = lambda self, *a: (calls.append(1), real(self, *a))[1]
    try:
        for ratio in RATIOS:
            engine.compress_cell(pre, "pyramid", {"press": "PyramidKVPress"}, ratio, bank)
    finally:
        PyramidKVPress.score = real
    assert calls == [] and len(bank.memo) == len(pre.keys)


# --- the ledger's key matching, without a model -----------------------------------------------

def test_source_positions_recover_a_gather_and_refuse_rewritten_keys():
    torch.manual_seed(0)
    full = torch.randn(1, 2, 50, 8)
    picks = torch.stack([torch.randperm(50)[:20], torch.randperm(50)[:20]])
    kept = full.gather(2, picks[None, :, :, None].expand(-1, -1, -1, 8))
    assert torch.equal(engine.source_positions(full, kept, "p"), picks)
    assert torch.equal(engine.source_positions(full.bfloat16(), kept.bfloat16(), "p"), picks)
    with pytest.raises(RuntimeError, match="'p' rewrites keys"):
        engine.source_positions(full, kept * 1.0001, "p")
    # a key of head 0 found only in head 1 is not a match
    swapped = kept.clone()
    swapped[0, 0, 0] = full[0, 1, 3]
    with pytest.raises(RuntimeError):
        engine.source_positions(full, swapped, "p")


def test_presses_that_replace_the_forward_hook_are_named():
    assert presses.own_forward_hooks(KnormPress(0.5)) == []
    assert presses.own_forward_hooks(ChunkPress(KnormPress(0.5), chunk_length=8)) == []
    assert presses.own_forward_hooks(ComposedPress([KnormPress(0.5), ThinKPress(0.5)])) == ["ComposedPress"]
    assert "DecodingPress" in presses.own_forward_hooks(DecodingPress(base_press=KnormPress(0.5)))


# --- what is refused, and how it is said --------------------------------------------------------

def test_the_press_list_is_kvpress_s_own():
    import inspect

    import kvpress
    from kvpress.presses.base_press import BasePress
    from kvpress.presses.scorer_press import ScorerPress

    exported = {n: c for n, c in vars(kvpress).items() if inspect.isclass(c) and issubclass(c, BasePress)}
    assert set(exported) == set(press_specs.CATALOG)
    for name in press_specs.SCORERS:
        assert issubclass(exported[name], ScorerPress), name
    for name in press_specs.WRAPPERS:
        assert not issubclass(exported[name], ScorerPress) and "press" in presses.arguments(exported[name]), name


@pytest.mark.parametrize("name", [n for n, p in press_specs.CATALOG.items() if p.kind == "refused" and n != "BasePress"])
def test_a_press_that_does_not_evict_tokens_is_refused_naming_the_key_and_the_reason(default_config, name):
    config = with_defaults({**default_config, "presses": {**default_config["presses"], "mine": {"press": name}}})
    with pytest.raises(ConfigError) as err:
        validate(config)
    message = str(err.value)
    assert message.startswith("config key presses.mine.press:")
    assert press_specs.CATALOG[name].note in message and "allowed values: AdaKVPress" in message


def test_a_wrapper_needs_a_scorer_and_a_scorer_is_not_a_wrapper(default_config):
    for spec, key, words in (({"press": "ChunkKVPress"}, "presses.mine.scorer", "selects with a scorer"),
                             ({"press": "KnormPress", "scorer": "KnormPress"}, "presses.mine.scorer", "only"),
                             ({"press": "AdaKVPress", "scorer": "ChunkPress"}, "presses.mine.scorer", "not a scorer"),
                             ({"press": "AdaKVPress", "scorer": "ThinKPress"}, "presses.mine.scorer", "key channels")):
        config = with_defaults({**default_config, "presses": {**default_config["presses"], "mine": spec}})
        with pytest.raises(ConfigError, match=f"config key {key}: .*{words}"):
            validate(config)


def test_block_press_takes_no_oracle(default_config):
    spec = {"press": "BlockPress", "scorer": "KnormPress", "oracle": "protect"}
    config = with_defaults({**default_config, "presses": {**default_config["presses"], "mine": spec}})
    with pytest.raises(ConfigError, match="presses.mine.oracle: .*BlockPress"):
        validate(config)


# --- oracles around any steerable press ---------------------------------------------------------

@pytest.mark.parametrize("name", ["SnapKVPress", "PyramidKVPress", "CriticalKVPress", "StreamingLLMPress",
                                  "ChunkKVPress", "CriticalAdaKVPress", "KnormPress"])
def test_an_oracle_steers_any_press_at_its_own_budget(smollm2, passage, name):
    """protect keeps the evidence in every layer and head, target evicts it, and both keep the base's count."""
    model, _ = smollm2
    *_, pre = passage
    spec, ratio = spec_of(name), 0.75
    evidence = tuple(range(pre.length // 2, pre.length // 2 + 4))  # inside the passage, away from the sinks
    bank = engine.decided_bank(spec, pre, list(RATIOS), model)
    seeded()
    base = engine.press_cell(model, pre, name, spec, ratio, bank)
    arms = {}
    for arm, direction in (("protect", 1), ("target", -1)):
        seeded()
        arms[arm] = engine.press_cell(model, pre, name, spec, ratio, bank, engine.Steer(evidence, direction))
    ev = list(evidence)

    def budget(kept):
        # ChunkKV's budget is whole chunks (a short tail chunk counts as one), the same in every head.
        if name == "ChunkKVPress":
            return len(torch.unique(kept[0].nonzero().flatten() // spec["args"]["chunk_length"]))
        return int(kept.sum())

    for layer, kept in enumerate(base.kept):
        for arm in ("protect", "target"):
            assert budget(arms[arm].kept[layer]) == budget(kept), f"layer {layer}: {arm} changed the budget"
        assert bool(arms["protect"].kept[layer][:, ev].all()), f"layer {layer}: protected evidence evicted"
        assert not bool(arms["target"].kept[layer][:, ev].any()), f"layer {layer}: targeted evidence kept"
