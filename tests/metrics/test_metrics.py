"""Metric tables from hand-built ledgers, routing arrays and answer tables."""

import argparse
from math import comb

import numpy as np
import pandas as pd
import pytest

from kvroute.metrics import (answer_breakdown, build_metrics, eviction_per_question, head_agreement,
                             null_evicted_probability, routing_per_question)
from kvroute.metrics.eviction import null_erased_probability
from kvroute.stats import erasure_table

from builders import KEPT, ledger_row, predictions

def test_ger_eviction_rate_and_erasure_from_a_hand_built_ledger():
    q, layers = eviction_per_question(predictions([[3, 4, 5], [4, 5], [], [0]]), pd.DataFrame([ledger_row(KEPT)]))
    assert q["eviction_rate"].tolist() == pytest.approx([2 / 6] * 4)
    assert q["ger"].tolist()[:2] == pytest.approx([2 / 3, 1.0])
    assert np.isnan(q["ger"][2]) and np.isnan(q["erased"][2])  # no evidence: undefined, not 0
    assert q["erased"].tolist()[:2] == [0.0, 1.0] and q["erased"][3] == 0.0
    assert q["n_evidence"].tolist() == [3, 2, 0, 1]
    assert q["ledger_found"].all()
    # Per layer: layer 0 evicts {3, 4, 5}, layer 1 evicts {1, 2, 4, 5}.
    first = layers[layers["row"] == 0].set_index("layer")["ger_layer"]
    assert first.tolist() == pytest.approx([1.0, 2 / 3])


def test_null_model_ger_is_hand_computed():
    # k = 2, 2 in layer 0 and 1, 1 in layer 1 of T = 6: (4/6)^2 (5/6)^2.
    expected = (4 / 6) ** 2 * (5 / 6) ** 2
    assert null_evicted_probability(KEPT.sum(axis=2), 6) == pytest.approx(expected)
    q, layers = eviction_per_question(predictions([[4, 5]]), pd.DataFrame([ledger_row(KEPT)]))
    assert q["null_ger_indep"][0] == pytest.approx(expected)
    # Both of 2 positions missed by every head: prod C(T-2, k) / C(T, k).
    erased = (comb(4, 2) / comb(6, 2)) ** 2 * (comb(4, 1) / comb(6, 1)) ** 2
    assert q["null_erased"][0] == pytest.approx(erased)
    assert layers["null_ger_layer_indep"].tolist() == pytest.approx([(4 / 6) ** 2, (5 / 6) ** 2])


def test_null_model_matches_simulation():
    rng = np.random.default_rng(0)
    counts = np.array([[3, 1], [2, 4]])
    T, trials, hits, both = 8, 20000, 0, 0
    for _ in range(trials):
        kept = np.zeros((2, 2, T), dtype=bool)
        for (l, h), k in np.ndenumerate(counts):
            kept[l, h, rng.choice(T, size=k, replace=False)] = True
        gone = ~kept.any(axis=(0, 1))
        hits += gone[0]
        both += gone[0] and gone[1]
    assert hits / trials == pytest.approx(null_evicted_probability(counts, T), abs=0.01)
    assert both / trials == pytest.approx(null_erased_probability(counts, T, 2), abs=0.01)


def test_unmatched_ledger_gives_nan_not_a_crash():
    q, _ = eviction_per_question(predictions([[1]], ratio=0.9), pd.DataFrame([ledger_row(KEPT)]))
    assert not q["ledger_found"][0] and np.isnan(q["ger"][0])


def test_consensus_and_rho_from_hand_built_argmaxes():
    argmax = np.array([[[5, 5, 5, 7], [1, 2, 3, 4], [9, 9, 9, 9], [2, 2, 8, 8]]])  # 1 row, 4 layers, 4 heads
    consensus, rho = head_agreement(argmax)
    assert consensus[0].tolist() == pytest.approx([0.5, 1.0, 0.25, 0.5])
    assert rho[0].tolist() == pytest.approx([0.75, 0.25, 1.0, 0.5])


def test_routing_per_question_shares():
    preds = predictions([[5], [2, 3]])
    argmax = np.array([[[5, 5, 6, 7]], [[2, 3, 0, 9]]], dtype=np.int32)  # question tokens are >= 6
    mass = np.array([[[0.5, 0.5, 0.1, 0.1]], [[0.2, 0.2, 0.2, 0.2]]], dtype=np.float16)
    r = routing_per_question(preds, {"argmax": argmax, "argmax_content": argmax, "answer_mass": mass,
                                     "qid": preds["qid"].to_numpy()})
    assert r["on_answer"].tolist() == pytest.approx([0.5, 0.5])
    assert r["on_question"].tolist() == pytest.approx([0.5, 0.25])
    assert r["answer_mass"].tolist() == pytest.approx([0.3, 0.2], abs=1e-3)
    with pytest.raises(ValueError, match="aligned"):
        routing_per_question(preds, {"argmax": argmax, "argmax_content": argmax, "answer_mass": mass,
                                     "qid": np.array(["x", "y"])})


def test_content_consensus_ignores_heads_parked_on_the_sink():
    preds = predictions([[5]])
    # All four heads on the sink token 0: full agreement; over content tokens they spread out.
    argmax = np.array([[[0, 0, 0, 0]]], dtype=np.int32)
    content = np.array([[[4, 5, 4, 1]]], dtype=np.int32)
    r = routing_per_question(preds, {"argmax": argmax, "argmax_content": content, "answer_mass": np.zeros((1, 1, 4))})
    assert (r["consensus"][0], r["rho"][0]) == (0.25, 1.0)
    assert (r["consensus_content"][0], r["rho_content"][0]) == (0.75, 0.5)


def test_erasure_probabilities_on_a_constructed_table():
    erased = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, np.nan]
    classes = ["hallucination"] * 3 + ["correct"] + ["hallucination"] + ["correct"] * 4 + ["unknown", "hallucination"]
    q = pd.DataFrame({"model": "m", "regime": "agnostic", "press": "p", "ratio": 0.9, "erased": erased,
                      "error_class": classes})
    row = erasure_table(q).iloc[0]
    assert row["n"] == 10 and row["n_no_evidence"] == 1
    assert row["p_E"] == pytest.approx(0.4)
    assert row["p_F_given_E"] == pytest.approx(0.75)
    assert row["p_F_given_notE"] == pytest.approx(1 / 6)
    # The decomposition of paper 6.4 holds exactly.
    assert row["p_F"] == pytest.approx(row["p_F_given_E"] * row["p_E"] + row["p_F_given_notE"] * (1 - row["p_E"]))
    assert row["erasure_share"] == pytest.approx(0.75)
    assert row["p_F_given_E_lo"] < 0.75 < row["p_F_given_E_hi"]


def test_answer_breakdown_by_tag():
    s = predictions([[1]] * 4, classes=["correct", "hallucination", "unknown", "hallucination"])
    s["answer_type"] = ["Person", "Person", "Event", "Event"]
    s["f1"] = [1.0, 0.0, 0.0, 0.5]
    s["recall"] = [1.0, 0.0, 0.0, 1.0]
    b = answer_breakdown(s).set_index(["tag_kind", "tag"])
    assert b.loc[("all", "all"), "hallucination_rate"] == 0.5 and b.loc[("all", "all"), "n"] == 4
    assert b.loc[("answer_type", "Event"), "f1_mean"] == pytest.approx(0.25)
    assert b.loc[("answer_type", "Event"), "recall_mean"] == pytest.approx(0.5)
    assert b.loc[("answer_type", "Person"), "correct_rate"] == 0.5
    assert "hop" not in b.index.get_level_values("tag_kind")  # all-null tag: no "nan" row


def test_answer_breakdown_h_cond_and_empty():
    # 4 items; at ratio 0 q0, q1 are correct. At 0.5 q0 hallucinates, q2 hallucinates,
    # q3 generated nothing: H = 2/4 but H_cond = 1/2 over the 2 items correct at 0.
    at0 = predictions([[1]] * 4, ratio=0.0, classes=["correct", "correct", "hallucination", "unknown"])
    at5 = predictions([[1]] * 4, ratio=0.5, classes=["hallucination", "correct", "hallucination", "empty"])
    s = pd.concat([at0, at5], ignore_index=True).assign(correct_f1=[True, False, False, False] * 2)
    b = answer_breakdown(s).set_index(["ratio", "tag_kind", "tag"])
    row = b.loc[(0.5, "all", "all")]
    assert row["hallucination_rate"] == 0.5 and row["empty_rate"] == 0.25 and row["unknown_rate"] == 0.0
    assert row["n_cond"] == 2 and row["hallucination_cond_rate"] == 0.5
    assert row["correct_rate"] == 0.25 and row["correct_f1_rate"] == 0.25
    assert b.loc[(0.0, "all", "all"), "hallucination_cond_rate"] == 0.0


def test_build_metrics_and_cli_write_every_table(tmp_path):
    from kvroute.cli import main
    from kvroute.metrics.build import OUTPUTS

    preds = predictions([[3, 4, 5], [4, 5]])
    argmax = np.zeros((2, 2, 4), dtype=np.int32)
    routing = {"argmax": argmax, "argmax_content": argmax, "answer_mass": np.zeros((2, 2, 4), np.float16),
               "qid": preds["qid"].to_numpy(str)}
    tables = build_metrics(preds, pd.DataFrame([ledger_row(KEPT)]), routing)
    ev = tables["eviction"].iloc[0]
    assert ev["ger"] == pytest.approx((2 / 3 + 1) / 2) and ev["erased_rate"] == 0.5
    assert tables["routing"]["consensus"].tolist() == pytest.approx([0.25, 0.25])
    assert set(tables["layers"].columns) >= {"qid", "layer", "ger_layer", "consensus", "rho"}
    assert len(tables["layer_ger"]) == 2

    preds.to_parquet(tmp_path / "scores.parquet")
    pd.DataFrame([ledger_row(KEPT)]).to_parquet(tmp_path / "ledger.parquet")
    np.savez(tmp_path / "routing.npz", **routing)
    main(["metrics", "--scores", str(tmp_path / "scores.parquet"), "--ledger",
          str(tmp_path / "ledger.parquet"), "--routing", str(tmp_path / "routing.npz"),
          "--out-dir", str(tmp_path / "metrics")])
    for name in OUTPUTS.values():
        assert (tmp_path / "metrics" / name).exists(), name


def test_add_parsers_registers_the_analysis_commands():
    from kvroute.cli.analysis import add_parsers

    p = argparse.ArgumentParser()
    add_parsers(p.add_subparsers(dest="command"))
    for cmd in ("metrics", "probe", "stats"):
        with pytest.raises(SystemExit):  # required arguments missing, but the command exists
            p.parse_args([cmd])
    with pytest.raises(SystemExit):
        p.parse_args(["nonsense"])
