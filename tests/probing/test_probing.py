"""Probes: honest splits, baselines (majority, control, question-only), targets, pooling, drift, tiny data."""

import json

import numpy as np
import pandas as pd
import pytest

from kvroute.probing import control_tags, drift_probes, load_states, masked_question, probe_cv, run_probes
from kvroute.probing.core import splits

from builders import CLASSES, TEMPLATES, synthetic, write_unit

def test_splits_are_passage_disjoint():
    table, _, _ = synthetic()
    groups = table["passage_id"].to_numpy()
    folds = splits(table["answer_type"].to_numpy(), groups, 5, 0)
    assert len(folds) == 5
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])


def test_rotation_onto_the_training_rows_leaves_the_probe_unchanged():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from kvroute.probing.core import fit

    table, X, _ = synthetic(n_passages=6, signal=1.0, dim=64)  # rows (36) < hidden (64), classes overlap
    X, y = X[:, 0], table["answer_type"].to_numpy()
    train, test = np.arange(len(y)) < 24, np.arange(len(y)) >= 24
    plain = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", tol=1e-10, max_iter=10_000))
    plain.fit(X[train], y[train])
    rotated = fit(X[train], y[train], C=1.0)
    assert rotated[-2].n_components_ == 24  # one direction per training row, none of the hidden size beyond
    assert np.abs(rotated.predict_proba(X[test]) - plain.predict_proba(X[test])).max() < 2e-3


def test_selectivity_high_on_separable_features_and_zero_on_noise():
    table, X, _ = synthetic(signal=3.0)
    y, g = table["answer_type"].to_numpy(), table["passage_id"].to_numpy()
    ctrl = control_tags(table, seed=1)
    good = probe_cv(X[:, 0], y, g, ctrl)
    assert good["macro_f1"] > 0.9 and good["accuracy"] > good["majority_accuracy"] + 0.4
    # The states carry the label, not the template the control tags are keyed on.
    assert good["selectivity"] > 0.4 and good["reason"] == ""
    assert set(good["tag_f1"]) == set(CLASSES)

    table, X, _ = synthetic(signal=0.0)
    noise = probe_cv(X[:, 0], y, g, ctrl)
    assert noise["macro_f1"] < 0.6 and abs(noise["selectivity"]) < 0.3


def test_masked_question_is_the_template():
    assert masked_question("Where did Anna Berg study in 1990?") == "where did [X] study in [X]?"
    assert masked_question("Who was born on June 17, 1949?") == "who was born on [X]?"
    assert masked_question("1824 saw which event?") == "[X] saw which event?"
    # The passage's answer strings are masked even when lowercase.
    assert masked_question("Who works as a cooper?", ["cooper"]) == "who works as a [X]?"
    assert masked_question("What is her occupation?", ["I don't know"]) == "what is her occupation?"


def test_masked_control_key_recurs_across_passages_and_is_learnable():
    table, _, _ = synthetic(n_passages=12)
    from kvroute.probing.control import type_keys

    keys = type_keys(table)
    # Different names and years, same template: one key, one control tag, in every passage.
    assert keys[0] == keys[6] == "who founded [X]?" and keys[2] == "when did [X] open in [X]?"
    assert len(set(keys)) == len(TEMPLATES)
    tags = control_tags(table, seed=3)
    assert (pd.Series(tags).groupby(keys).nunique() == 1).all()
    assert len(set(type_keys(table, "question"))) == len(table)  # full strings: one passage per key

    # States that encode the wording: the masked control is learnable across passages,
    # the full-question control (every key in one passage only) is not.
    rng = np.random.default_rng(0)
    wording = {k: rng.normal(size=16) for k in set(keys)}
    X = np.array([3 * wording[k] for k in keys]) + rng.normal(size=(len(keys), 16))
    y, g = table["answer_type"].to_numpy(), table["passage_id"].to_numpy()
    masked = probe_cv(X, y, g, control_tags(table, by="masked_question", seed=3))
    full = probe_cv(X, y, g, control_tags(table, by="question", seed=3))
    assert masked["control_accuracy"] > 0.95 and full["control_accuracy"] < 0.6


def test_control_tags_are_consistent_per_question_wording():
    table, _, _ = synthetic(ratios=(0.0, 0.5))
    tags = control_tags(table, by="question", seed=3)
    # Same wording -> same tag at every ratio; and a subset of rows gets the same tags.
    per_question = pd.Series(tags).groupby(table["question"].to_numpy()).nunique()
    assert (per_question == 1).all()
    assert set(tags) <= set(CLASSES)
    sub = table[table["ratio"] == 0.5]
    for by in ("question", "masked_question"):
        assert (control_tags(sub, by=by, seed=3) == control_tags(table, by=by, seed=3)[sub.index]).all()
    assert (control_tags(table, by="question", seed=4) != tags).any()
    by_passage = control_tags(table, by="passage", seed=3)
    assert (pd.Series(by_passage).groupby(table["passage_id"].to_numpy()).nunique() == 1).all()
    with pytest.raises(ValueError, match="answers"):
        control_tags(table.drop(columns="answers"))


def test_tiny_data_returns_nan_with_a_reason():
    table, X, _ = synthetic(n_passages=1)
    y, g = table["answer_type"].to_numpy(), table["passage_id"].to_numpy()
    one_passage = probe_cv(X[:, 0], y, g)
    assert np.isnan(one_passage["macro_f1"]) and "passage" in one_passage["reason"]
    one_class = probe_cv(X[:2, 0], np.array(["Person", "Person"]), np.array(["a", "b"]))
    assert np.isnan(one_class["macro_f1"]) and "one class" in one_class["reason"]


def test_class_missing_from_training_does_not_crash():
    table, X, _ = synthetic(n_passages=3, per_passage=3)
    y = np.array(["Person", "Location"] * len(table), dtype=object)[:len(table)]
    y[:2] = "Event"  # Event lives in passage p0 only: whenever p0 is tested, no fold trained on it
    res = probe_cv(X[:, 0], y.astype(str), table["passage_id"].to_numpy(), control_tags(table))
    assert res["reason"] == "" and "Event" in res["note"]
    assert res["tag_f1"]["Event"] == 0.0 and np.isfinite(res["macro_f1"])


def _answer_type(scores: pd.DataFrame) -> pd.DataFrame:
    return scores[scores["target"] == "answer_type"].set_index("ratio")


def test_question_only_baseline_matches_when_the_question_gives_the_label_away():
    table, X, Q = synthetic(label_by="question")
    row = _answer_type(run_probes(table, X, n_splits=4, question_only=Q)[0]).iloc[0]
    assert row["macro_f1"] > 0.9 and row["question_only_f1"] > 0.9
    assert abs(row["selectivity_over_question"]) < 0.1 and row["question_only_reason"] == ""


def test_question_only_baseline_at_chance_when_only_the_context_carries_the_label():
    table, X, Q = synthetic(label_by="passage")
    row = _answer_type(run_probes(table, X, n_splits=4, question_only=Q)[0]).iloc[0]
    assert row["macro_f1"] > 0.9 and row["question_only_f1"] < 0.5
    assert row["selectivity_over_question"] > 0.4


def test_question_only_baseline_absent_is_nan_with_a_reason():
    table, X, Q = synthetic()
    scores = run_probes(table, X, n_splits=4)[0]
    assert scores["question_only_f1"].isna().all() and scores["selectivity_over_question"].isna().all()
    assert scores["question_only_reason"].str.contains("no question_only").all()
    Q[:3] = np.nan  # an older hidden.npz among newer ones (load_states fills NaN)
    partial = run_probes(table, X, n_splits=4, question_only=Q)[0]
    assert partial["question_only_f1"].isna().all() and partial["question_only_reason"].str.contains("some").all()


def test_correctness_probe_on_planted_separable_states():
    table, _, Q = synthetic(n_passages=12)
    rng = np.random.default_rng(2)
    correct = rng.random(len(table)) < 0.5
    table["error_class"] = np.where(correct, "correct", rng.choice(["hallucination", "unknown"], len(table)))
    X = (4.0 * correct[:, None] * np.eye(16)[0] + rng.normal(size=(len(table), 16)))[:, None, :].astype(np.float32)
    scores, tags, passages = run_probes(table, X, n_splits=4, question_only=Q)
    row = scores[scores["target"] == "correct"].iloc[0]
    assert row["macro_f1"] > 0.85 and row["n_classes"] == 2
    # Per passage, the out-of-fold confusion counts add up to the scored rows and agree with the accuracy.
    cell = passages[(passages["ratio"] == row["ratio"]) & (passages["layer"] == row["layer"])
                    & (passages["press"] == row["press"]) & (passages["regime"] == row["regime"])]
    assert len(cell) == 12 and cell[["tp", "fn", "tn", "fp"]].to_numpy().sum() == row["n_scored"]
    assert (cell["tp"] + cell["tn"]).sum() / row["n_scored"] == pytest.approx(row["accuracy"])
    assert row["question_only_f1"] < 0.65 and row["selectivity_over_question"] > 0.25  # the question does not know
    assert np.isfinite(row["control_macro_f1"]) and row["majority_macro_f1"] < 0.5
    assert set(tags.loc[tags["target"] == "correct", "tag"]) == {"correct", "incorrect"}
    # Unscored predictions: no correctness rows.
    assert set(run_probes(table.drop(columns="error_class"), X, n_splits=4)[0]["target"]) == {"answer_type"}


def test_layer_pooled_probe_matches_hand_pooled_states():
    table, X, Q = synthetic()
    rng = np.random.default_rng(4)
    two = np.concatenate([X, X + rng.normal(size=X.shape).astype(np.float32)], axis=1)
    table.attrs["layers"] = [3, 7]
    scores, tags, _ = run_probes(table, two, n_splits=4, question_only=np.concatenate([Q, Q], axis=1))
    assert list(scores["layer"]) == ["3", "7", "pooled"] and set(tags["layer"]) == {"3", "7", "pooled"}
    hand = table.copy()
    hand.attrs["layers"] = [0]
    alone = run_probes(hand, two.mean(axis=1, keepdims=True), n_splits=4, question_only=Q)[0]
    pooled = scores.set_index("layer").loc["pooled"]
    for col in ("macro_f1", "control_macro_f1", "question_only_f1", "accuracy"):
        assert pooled[col] == pytest.approx(alone[col].iloc[0]), col
    assert "pooled" in set(drift_probes(table, two, n_splits=4)["layer"])


def test_run_probes_and_drift_over_a_grid():
    table, X, _ = synthetic(ratios=(0.0, 0.5, 0.9))
    # The signal fades at high ratio: noise states at 0.9.
    high = table["ratio"].to_numpy() == 0.9
    X[high] = np.random.default_rng(5).normal(size=X[high].shape)
    scores, tags, _ = run_probes(table, X, n_splits=4)
    assert set(scores["ratio"]) == {0.0, 0.5, 0.9} and (scores["dataset"] == "all").all()
    assert list(scores.columns[:8]) == ["model", "dataset", "regime", "press", "ratio", "target", "layer", "n"]
    by_ratio = _answer_type(scores)
    assert by_ratio.loc[0.0, "macro_f1"] > 0.9 > by_ratio.loc[0.9, "macro_f1"]
    assert set(tags.columns) >= {"tag", "f1", "support", "layer", "target"} and len(tags) == 9
    drift = drift_probes(table, X, n_splits=4).set_index("ratio")
    assert drift.loc[0.0, "macro_f1"] == pytest.approx(by_ratio.loc[0.0, "macro_f1"])
    assert drift.loc[0.9, "macro_f1"] < 0.6 and (drift["train_ratio"] == 0.0).all()
    no_zero = drift_probes(table[table["ratio"] > 0], X[table["ratio"].to_numpy() > 0])
    assert no_zero["macro_f1"].isna().all() and no_zero["reason"].str.contains("no rows").all()


def test_run_probes_survives_a_degenerate_cell():
    table, X, Q = synthetic(n_passages=1, ratios=(0.0, 0.5))
    scores, tags, _ = run_probes(table, X, question_only=Q)
    assert scores["macro_f1"].isna().all() and scores["reason"].str.len().gt(0).all()
    assert scores["question_only_f1"].isna().all() and scores["question_only_reason"].str.len().gt(0).all()
    assert tags["f1"].isna().all()


def test_load_states_reads_question_only_and_checks_alignment(tmp_path):
    table, X, Q = synthetic(n_passages=4, ratios=(0.0, 0.5))
    half = len(table) // 2
    new = write_unit(tmp_path / "new", table.iloc[:half].reset_index(drop=True), X[:half], Q[:half])
    old = write_unit(tmp_path / "old", table.iloc[half:].reset_index(drop=True), X[half:])
    rows, states, qonly = load_states([new[0], old[0]], [new[1], old[1]])
    assert len(rows) == len(table) and "error_class" in rows and states.dtype == np.float32
    assert qonly.dtype == np.float16 and np.isnan(qonly[half:]).all() and not np.isnan(qonly[:half]).any()
    assert load_states([old[0]], [old[1]])[2] is None
    table.iloc[half:].reset_index(drop=True).assign(ratio=0.9).to_parquet(old[1])  # same qids, other ratio
    with pytest.raises(ValueError, match="ratio differs"):
        load_states([old[0]], [old[1]])


def test_cli_probe_writes_every_output(tmp_path):
    from kvroute.cli import main

    table, X, Q = synthetic(n_passages=6, ratios=(0.0, 0.5))
    hidden, scores = write_unit(tmp_path / "u", table, X, Q)
    from kvroute.paths import PROBE_FILES

    out = {k: tmp_path / "probe" / name for k, name in PROBE_FILES.items()}
    main(["probe", "--hidden", hidden, "--scores", scores, "--n-splits", "3", "--out-dir", str(tmp_path / "probe")])
    probes = pd.read_csv(out["scores"])
    assert {"question_only_f1", "selectivity_over_question", "target"} <= set(probes.columns)
    assert set(probes["target"]) == {"answer_type", "correct"}
    assert probes.loc[probes["target"] == "answer_type", "question_only_f1"].notna().all()
    assert all(p.exists() for p in out.values())
    # Every answer is scored correct here: the correctness probe has one class, so no confusion rows.
    assert {"passage", "tp", "fn", "tn", "fp"} <= set(pd.read_csv(out["passages"]).columns)
