"""Oracle presses: steered selection at the base press's budget, on a real cache (SmolLM2-135M)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from kvpress.utils import compute_n_kept

from kvroute import config as kvconfig
from kvroute.inference import passage
from kvroute.inference import engine, oracle, prompts
from kvroute.datasets import generate
from kvroute.inference.presses import chunk_bounds

from test_engine import PASSAGE, QUESTIONS

SPECS = {
    "adakv_ea": {"press": "AdaKVPress", "scorer": "ExpectedAttentionPress", "args": {"alpha_safeguard": 0.2}},
    "chunk_ea": {"press": "ChunkPress", "scorer": "ExpectedAttentionPress", "args": {"chunk_length": 48}},
}
# Two evidence spans inside the passage (positions in the templated context).
EVIDENCE = [40, 41, 42, 43, 70, 71]


# --- which positions each variant steers (no model) ---------------------------------------------

def pool(n=300, start=20, end=280, sinks=(0, 1, 2, 3)):
    p = np.zeros(n, dtype=bool)
    p[start:end] = True
    p[list(sinks)] = False
    return p


def runs(positions):
    return sorted(oracle.spans_of(sorted(positions)))


def test_placebo_spans_have_the_evidence_shape_and_never_overlap_it():
    for qid in ("q1", "q2", "q3"):
        steering = oracle.steered_positions("placebo", EVIDENCE, pool(), oracle.rng_for(7, "p0", qid))
        positions = steering.positions
        assert steering.direction == 1 and not steering.second
        assert not set(positions) & set(EVIDENCE)
        assert all(20 <= p < 280 for p in positions)
        # same number of tokens; runs may touch each other, so compare token counts and the multiset when apart
        assert len(positions) == len(EVIDENCE)
        if len(oracle.spans_of(positions)) == 2:
            assert runs(positions) == runs(EVIDENCE)


def test_random_spans_are_seeded_by_seed_and_question():
    draw = lambda seed, qid, v="placebo": oracle.steered_positions(v, EVIDENCE, pool(),
                                                                   oracle.rng_for(seed, "p0", qid)).positions
    assert draw(7, "q1") == draw(7, "q1")
    assert draw(7, "q1") != draw(7, "q2") or draw(7, "q1") != draw(8, "q1")
    # protect_diluted = evidence + placebo's set + two more sets, none overlapping
    diluted = draw(7, "q1", "protect_diluted")
    placebo = draw(7, "q1")
    assert set(EVIDENCE) <= set(diluted) and set(placebo) <= set(diluted)
    assert len(diluted) == len(EVIDENCE) * (1 + oracle.DILUTION_SETS) == len(set(diluted))


def test_protect_and_target_steer_the_evidence_itself():
    steer = lambda v, ev=EVIDENCE: oracle.steered_positions(v, ev, pool(), oracle.rng_for(1, "p", "q"))
    assert steer("protect") == oracle.Steering(EVIDENCE, [], 1)
    assert steer("target") == oracle.Steering(EVIDENCE, [], -1)
    assert steer("placebo", []) == oracle.Steering([], [], 1)
    diluted = steer("protect_diluted")  # the evidence first, the dilution spans next
    assert diluted.first == EVIDENCE and len(diluted.second) == 3 * len(EVIDENCE) and diluted.direction == 1
    with pytest.raises(ValueError, match="allowed values: protect, target"):
        oracle.steered_positions("boost", EVIDENCE, pool(), oracle.rng_for(1, "p", "q"))


def test_a_span_that_fits_nowhere_is_skipped():
    tight = pool(n=60, start=20, end=30)  # 10 free tokens, evidence needs 4 + 2 per set
    positions = oracle.steered_positions("protect_diluted", [22, 23, 24, 25, 27, 28], tight,
                                         oracle.rng_for(1, "p", "q")).positions
    assert set(positions) >= {22, 23, 24, 25, 27, 28} and len(positions) < 6 * 4


# --- the config -------------------------------------------------------------------------------

def test_default_config_runs_the_oracle_in_the_agnostic_regime_only(default_config):
    kvconfig.validate(default_config)
    plan = kvconfig.oracle_plan(default_config, "agnostic")
    assert {o["base"] for o in plan["presses"].values()} == {"adakv_ea", "chunk_ea"}
    assert {o["variant"] for o in plan["presses"].values()} == set(oracle.VARIANTS)
    assert kvconfig.oracle_plan(default_config, "aware") == {}


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["study"]["presses"].append("adakv_ea_protect"), r"study\.presses\[2\]: .* is an oracle press"),
    (lambda c: c["presses"].update(kn={"press": "BlockPress", "scorer": "KnormPress", "oracle": "protect"}),
     r"presses\.kn\.oracle: .*BlockPress"),
    (lambda c: c["presses"]["adakv_ea_target"].update(oracle="boost"), r"presses\.adakv_ea_target\.oracle: 'boost'"),
    (lambda c: c["study"]["oracle"].update(ratios=[0.33]), r"study\.oracle\.ratios\[0\]: 0\.33 is not in study"),
    (lambda c: c["study"]["oracle"].update(regimes=["aware"]) or c["study"].update(regimes=["agnostic"]),
     r"study\.oracle\.regimes\[0\]"),
    (lambda c: c["presses"]["chunk_ea_protect"]["args"].update(chunk_length=32), r"chunk_ea_protect.* has no base"),
    (lambda c: c["study"]["oracle"]["presses"].append("chunk_ea"), r"study\.oracle\.presses\[8\]: 'chunk_ea'"),
])
def test_bad_oracle_configs_name_the_key(default_config, edit, message):
    config = copy.deepcopy(default_config)
    edit(config)
    with pytest.raises(kvconfig.ConfigError, match=message):
        kvconfig.validate(config)


# --- steered cells on a real cache --------------------------------------------------------------

@pytest.fixture(scope="module")
def prefill(smollm2):
    model, tokenizer = smollm2
    context = prompts.build_context(PASSAGE, QUESTIONS, "agnostic")
    context_ids, _, _ = engine.tokenize(tokenizer, context, [])
    return engine.prefill(model, context_ids)


def cells(pre, name, ratio, positions, direction):
    bank = engine.decided_bank(SPECS[name], pre, [0.25, 0.9])
    base = engine.compress_cell(pre, name, SPECS[name], ratio, bank)
    steered = engine.compress_cell(pre, name, SPECS[name], ratio, bank, engine.Steer(tuple(positions), direction))
    return base, steered


def chunk_counts(kept: torch.Tensor, T: int) -> list[torch.Tensor]:
    return [kept[:, a:b].sum(1) for a, b in chunk_bounds(T, 48, 4)]


@pytest.mark.parametrize("name", ["adakv_ea", "chunk_ea"])
@pytest.mark.parametrize("ratio", [0.5, 0.8, 0.95])
@pytest.mark.parametrize("direction", [1, -1])
def test_an_oracle_spends_exactly_the_base_budget(prefill, name, ratio, direction):
    base, steered = cells(prefill, name, ratio, EVIDENCE, direction)
    moved = False
    for b, s in zip(base.kept, steered.kept):
        if name == "adakv_ea":  # the layer's total; per-head counts may move
            assert int(s.sum()) == int(b.sum())
        else:  # every (head, chunk) keeps as many as the base
            for cb, cs in zip(chunk_counts(b, prefill.length), chunk_counts(s, prefill.length)):
                assert torch.equal(cb, cs)
        moved |= not torch.equal(b, s)
    ev = torch.tensor(EVIDENCE)
    # Steering can only leave the base cell as it is when the base already did what it asks.
    already = all(bool(b[:, ev].all()) if direction == 1 else not bool(b[:, ev].any()) for b in base.kept)
    assert moved or already, "steering changed nothing although the evidence was not yet where it asks"


@pytest.mark.parametrize("ratio", [0.5, 0.8, 0.9])
def test_protect_keeps_and_target_evicts_the_evidence_everywhere_the_budget_allows(prefill, ratio):
    T, ev = prefill.length, torch.tensor(EVIDENCE)
    n_kept = compute_n_kept(T, ratio)
    _, protect = cells(prefill, "adakv_ea", ratio, EVIDENCE, 1)
    _, target = cells(prefill, "adakv_ea", ratio, EVIDENCE, -1)
    if len(EVIDENCE) <= n_kept:
        assert all(bool(k[:, ev].all()) for k in protect.kept)
    if T - n_kept >= len(EVIDENCE):
        assert not any(bool(k[:, ev].any()) for k in target.kept)
    # Chunk: per chunk, when the chunk's evidence fits in what it keeps
    _, protect = cells(prefill, "chunk_ea", ratio, EVIDENCE, 1)
    _, target = cells(prefill, "chunk_ea", ratio, EVIDENCE, -1)
    for a, b in chunk_bounds(T, 48, 4):
        inside = ev[(ev >= a) & (ev < b)]
        kept_here = max(1, int((b - a) * (1 - ratio)))
        if len(inside) and len(inside) <= kept_here:
            assert all(bool(k[:, inside].all()) for k in protect.kept), (a, b)
        if len(inside) and (b - a) - kept_here >= len(inside):
            assert not any(bool(k[:, inside].any()) for k in target.kept), (a, b)


@pytest.mark.parametrize("name", ["adakv_ea", "chunk_ea"])
def test_protect_diluted_keeps_the_evidence_before_its_dilution(prefill, name):
    """At a ratio that cannot keep every protected token, the evidence stays and part of the dilution goes."""
    T, ev = prefill.length, torch.tensor(EVIDENCE)
    dilution = [p for p in range(80, 130) if p not in EVIDENCE]  # more than a 0.9 budget keeps
    bank = engine.decided_bank(SPECS[name], prefill, [0.25, 0.9])
    cell = engine.compress_cell(prefill, name, SPECS[name], 0.9, bank, engine.Steer(tuple(EVIDENCE), 1, tuple(dilution)))
    assert all(bool(k[:, ev].all()) for k in cell.kept)
    kept_dilution = torch.stack([k[:, dilution] for k in cell.kept]).float().mean()
    assert 0 < kept_dilution < 1


@pytest.mark.parametrize("name", ["adakv_ea", "chunk_ea"])
def test_an_oracle_with_no_positions_is_the_base_cell(prefill, name):
    base, steered = cells(prefill, name, 0.8, [], 1)
    assert all(torch.equal(b, s) for b, s in zip(base.kept, steered.kept))
    assert all(torch.equal(b, s) for b, s in zip(base.keys, steered.keys))


# --- oracle rows through the passage loop --------------------------------------------------------

def plan(variants=oracle.VARIANTS, ratios=(0.8,)):
    return {"presses": {f"{base}_{v}": {"spec": {**SPECS[base], "oracle": v}, "variant": v, "base": base}
                        for base in SPECS for v in variants},
            "ratios": list(ratios), "seed": 3}


def test_oracle_rows_join_the_passage_without_changing_base_rows_or_adding_a_prefill(smollm2):
    model, tokenizer = smollm2
    record = {**generate("knowledge_manipulation", 1, 5)[0], "dataset": "knowledge_manipulation"}
    args = (model, tokenizer, record, "agnostic", SPECS, [0.0, 0.5, 0.8], 4, 16, [15, 30])
    prefills = []

    def count_prefills(module, a, kwargs):
        cache = kwargs.get("past_key_values")
        if cache is None or cache.get_seq_length() == 0:
            prefills.append(kwargs["input_ids"].shape[1])

    handle = model.model.register_forward_pre_hook(count_prefills, with_kwargs=True)
    try:
        plain = passage.answer_passage(*args, reach_threshold=0.02)
        n_plain = len(prefills)
        steered = passage.answer_passage(*args, reach_threshold=0.02, oracle=plan())
    finally:
        handle.remove()
    n_q = len(record["questions"])
    base_rows = [r for r in steered.rows if r["oracle"] == oracle.NONE]
    oracle_rows = [r for r in steered.rows if r["oracle"] != oracle.NONE]
    assert len(oracle_rows) == 2 * len(oracle.VARIANTS) * n_q
    assert [r["prediction"] for r in base_rows] == [r["prediction"] for r in plain.rows]
    assert all(r["base_press"] == r["press"] for r in base_rows)
    assert {(r["base_press"], r["oracle"], r["ratio"]) for r in oracle_rows} == {
        (b, v, 0.8) for b in SPECS for v in oracle.VARIANTS}
    # protect steers exactly the evidence; each oracle row has its own per-question ledger row
    for r in oracle_rows:
        if r["oracle"] in ("protect", "target"):
            assert r["oracle_positions"] == sorted(r["evidence_positions"])
    ledger_q = [e for e in steered.ledger if e["qid"] is not None]
    assert len(ledger_q) == len(oracle_rows)
    assert all(e["oracle"] != oracle.NONE for e in ledger_q)
    # the same prefills either way: oracle cells reuse the base press's memoised scores
    assert prefills[n_plain:] == prefills[:n_plain]
    n_rows = len(steered.rows)
    assert all(len(v) == n_rows for v in steered.arrays.values())
