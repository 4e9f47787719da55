"""Evidence beyond one span, the span null on a real-shaped ledger, reachability and leakage tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kvroute.metrics import build_metrics, eviction_per_question
from kvroute.metrics.build import leakage_table, reachability_summary
from kvroute.metrics.eviction import eviction_summary, span_null, spans_of

from builders import ledger_row, predictions

T = 40


def _ledger(kept, start=10, end=40, sinks=(0, 1, 2, 3), **kw):
    return {**ledger_row(kept, **kw), "passage_start": start, "passage_end": end, "sink_positions": list(sinks)}


def _kept(evicted: list[int]) -> np.ndarray:
    kept = np.ones((2, 2, T), dtype=bool)
    kept[:, :, evicted] = False
    return kept


def test_spans_of_splits_runs():
    assert spans_of(np.array([3, 4, 5, 9, 12, 13])) == [3, 1, 2]
    assert spans_of(np.array([], dtype=int)) == []


def test_span_null_is_exact_on_a_known_ledger():
    # Passage 10..39; positions 20..29 evicted: a 2-token span starting at s is
    # evicted in share (#evicted of s, s+1) / 2. Starts 10..38 (29 of them).
    evicted = np.zeros(T, dtype=bool)
    evicted[20:30] = True
    pool = np.zeros(T, dtype=bool)
    pool[10:40] = True
    starts = np.arange(10, 39)
    want_ger = np.mean([(int(evicted[s]) + int(evicted[s + 1])) / 2 for s in starts])
    want_erased = np.mean([evicted[s] and evicted[s + 1] for s in starts])
    ger, erased = span_null(evicted, pool, [2], np.random.default_rng(0), draws=20000)
    assert ger == pytest.approx(want_ger, abs=0.01) and erased == pytest.approx(want_erased, abs=0.01)
    # Spans never cover positions outside the pool: an evicted run outside it is invisible.
    outside = np.zeros(T, dtype=bool)
    outside[:10] = True
    assert span_null(outside, pool, [3], np.random.default_rng(0)) == (0.0, 0.0)
    # A span longer than any run of the pool fits nowhere.
    assert all(np.isnan(span_null(evicted, pool, [31], np.random.default_rng(0))))


def test_evidence_evicted_against_its_span_null_and_all_mentions():
    # Evidence 20, 21 (evicted); a second mention of the answer at 35, 36 survives.
    table = predictions([[20, 21]]).assign(mention_positions=[[35, 36]], n_context_tokens=T)
    q, _ = eviction_per_question(table, pd.DataFrame([_ledger(_kept([20, 21, 22, 23]))]))
    assert q["ger"][0] == 1.0 and q["erased"][0] == 1.0
    assert q["ger_all_mentions"][0] == pytest.approx(0.5), "the surviving copy halves all-mention GER"
    # Span null: 2-token spans in 10..39, 4 evicted positions 20..23.
    starts = np.arange(10, 39)
    evicted = np.isin(np.arange(T), [20, 21, 22, 23])
    want = np.mean([(int(evicted[s]) + int(evicted[s + 1])) / 2 for s in starts])
    assert q["null_ger_span"][0] == pytest.approx(want, abs=0.025)  # 1000 draws: SE < 0.01
    assert q["eviction_rate_passage"][0] == pytest.approx(4 / 30)
    assert q["eviction_rate"][0] == pytest.approx(4 / T)
    # Independent heads that each drop 4 of 40 almost never agree: (4/40)^4, far below the span null.
    assert q["null_ger_indep"][0] == pytest.approx((4 / T) ** 4)


def test_span_null_avoids_sinks_and_repeats_across_ratios():
    kept = _kept(list(range(10, 14)))  # the four passage tokens at a chunk start are evicted...
    sinks = [0, 1, 2, 3, 10, 11, 12, 13]  # ...but a press can never evict its sinks, so they are no null
    table = predictions([[30]]).assign(mention_positions=[[]], n_context_tokens=T)
    q, _ = eviction_per_question(table, pd.DataFrame([_ledger(kept, sinks=sinks)]))
    assert q["null_ger_span"][0] == 0.0
    # Same question at another ratio: the same draws, so the same null on the same ledger.
    two = pd.concat([predictions([[30]], ratio=0.5), predictions([[30]], ratio=0.7)], ignore_index=True)
    ledgers = pd.DataFrame([_ledger(_kept([25, 26, 30]), ratio=0.5), _ledger(_kept([25, 26, 30]), ratio=0.7)])
    q2, _ = eviction_per_question(two.assign(mention_positions=[[], []]), ledgers)
    assert q2["null_ger_span"][0] == q2["null_ger_span"][1]


def test_enrichment_and_its_interval():
    rows, ledgers = [], []
    for p in range(6):  # evidence always evicted, the passage mostly kept
        rows.append(predictions([[20]], passage=f"p{p}").assign(mention_positions=[[]]))
        ledgers.append(_ledger(_kept([20, 30 + p % 3]), passage=f"p{p}"))
    q, _ = eviction_per_question(pd.concat(rows, ignore_index=True), pd.DataFrame(ledgers))
    table = eviction_summary(q, ["model", "press", "ratio"], n_boot=200)
    row = table.iloc[0]
    assert row["enrichment"] == pytest.approx(1 / q["null_ger_span"].mean())
    assert row["enrichment_lo"] <= row["enrichment"] <= row["enrichment_hi"]
    assert row["enrichment"] > 5, "evidence is evicted far more than passage text of its shape"


def _reach_table():
    # One cell, 6 erased answers: 4 still connected through the prefill graph (3 of them correct), 2 not (0 correct).
    return pd.DataFrame({
        "model": "m", "dataset": "d", "regime": "agnostic", "press": "p", "ratio": 0.9,
        "erased": [1.0] * 6 + [0.0, np.nan],
        "error_class": ["correct", "correct", "correct", "hallucination", "hallucination", "unknown",
                        "correct", "correct"],
        "reachable_def2": pd.array([False] * 6 + [True, None], dtype="boolean"),
        "reachable_prefill": pd.array([True] * 4 + [False] * 2 + [True, None], dtype="boolean"),
        "reach_fraction_def2": [0.0] * 6 + [0.5, np.nan], "reach_fraction_prefill": [0.5] * 4 + [0.0] * 2 + [1, np.nan]})


def test_leakage_splits_erased_accuracy_by_the_prefill_route():
    row = leakage_table(_reach_table(), ["model", "dataset", "regime", "press", "ratio"]).iloc[0]
    assert row["n_erased"] == 6
    assert (row["n_reachable_prefill"], row["accuracy_reachable_prefill"]) == (4, 0.75)
    assert (row["n_unreachable_prefill"], row["accuracy_unreachable_prefill"]) == (2, 0.0)
    assert row["accuracy_reachable_prefill_lo"] < 0.75 < row["accuracy_reachable_prefill_hi"]


def test_reachability_summary_leaves_unknown_rows_out():
    row = reachability_summary(_reach_table(), ["model", "dataset", "regime", "press", "ratio"]).iloc[0]
    assert row["n_unknown_def2"] == 1 and row["reachable_def2_rate"] == pytest.approx(1 / 7)
    assert row["reachable_prefill_rate"] == pytest.approx(5 / 7)


def test_reachability_off_is_unknown_not_false():
    from builders import KEPT

    scores = predictions([[4, 5]])
    routing = {"argmax": np.zeros((1, 2, 2), dtype=int), "argmax_content": np.zeros((1, 2, 2), dtype=int),
               "answer_mass": np.zeros((1, 2, 2)),
               "reachable_def2": np.array([np.nan]), "reachable_prefill": np.array([np.nan]),
               "reach_fraction_def2": np.array([np.nan]), "reach_fraction_prefill": np.array([np.nan])}
    for given in (routing, None):
        q = build_metrics(scores, pd.DataFrame([ledger_row(KEPT)]), given)["questions"]
        assert q["reachable_def2"].isna().all() and q["reachable_prefill"].isna().all()
        assert str(q["reachable_def2"].dtype) == "boolean"
