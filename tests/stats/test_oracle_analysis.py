"""Oracle presses downstream of inference: base vs oracle rows, the per-question ledger join,
evidence_evicted_mean, stats/oracle.csv, stats/evidence_predictors.csv and figures/oracle.pdf.

Planted tables only (no model): every grid table must be the same with or without oracle rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kvroute.frames import POOLED, base_ledger_rows, base_press_of, base_rows, oracle_rows
from kvroute.metrics import build_metrics, eviction_per_question
from kvroute.stats import evidence_predictors, oracle_table, per_dataset
from kvroute.stats.bootstrap import passage_weights

from builders import KEPT, ledger_row, predictions, simulate_items

ORACLE_GROUP = ("model", "regime", "base_press")


# --- which rows are the grid's ---------------------------------------------------------------------

def test_base_rows_leave_out_oracle_rows_and_take_old_tables_whole():
    df = pd.DataFrame({"press": ["a", "a_protect", "a", "a_target"], "oracle": ["none", "protect", None, "target"],
                       "base_press": ["a", "a", None, "a"]})
    assert base_rows(df)["press"].tolist() == ["a", "a"]  # a missing oracle value is a base row
    assert oracle_rows(df)["press"].tolist() == ["a_protect", "a_target"]
    assert base_press_of(df).tolist() == ["a", "a", "a", "a"]
    old = df.drop(columns=["oracle", "base_press"])  # results from before oracle presses
    assert len(base_rows(old)) == 4 and oracle_rows(old).empty
    assert base_press_of(old).tolist() == old["press"].tolist()


def test_base_ledger_rows_are_the_shared_caches():
    ledger = pd.DataFrame({"press": ["a", "a_protect", "a_protect"], "oracle": ["none", "protect", "protect"],
                           "qid": [None, "q0", "q1"]})
    assert base_ledger_rows(ledger)["press"].tolist() == ["a"]
    assert len(base_ledger_rows(ledger.drop(columns=["oracle", "qid"]))) == 3


# --- the ledger join and evidence_evicted_mean ----------------------------------------------------

@pytest.mark.parametrize("oracle_press", ["adakv_protect", "adakv"])
def test_oracle_rows_find_their_own_per_question_ledger_row(oracle_press):
    """Base rows read the shared cache, each oracle row its own question's: whether the oracle press has a
    name of its own or only the oracle column tells it apart."""
    half = np.zeros((2, 2, 6), dtype=bool)
    half[0, 0, 4] = True  # one head keeps position 4: GER of [4, 5] = 0.5
    ledger = pd.DataFrame([
        {**ledger_row(KEPT), "oracle": "none", "qid": None},  # 4, 5 globally evicted
        {**ledger_row(np.ones_like(KEPT), press=oracle_press), "oracle": "protect", "qid": "p0-q0"},
        {**ledger_row(half, press=oracle_press), "oracle": "protect", "qid": "p0-q1"},
    ])
    base = predictions([[4, 5], [4, 5], [4, 5]]).assign(oracle="none", base_press="adakv")
    oracle = base.assign(press=oracle_press, oracle="protect")
    q, _ = eviction_per_question(pd.concat([base, oracle], ignore_index=True), ledger)
    assert q["ger"].tolist()[:3] == [1.0, 1.0, 1.0]
    assert q["ger"].tolist()[3:5] == [0.0, 0.5]
    # q2 has no oracle ledger row of its own: not the base's shared cache, but no entry at all.
    assert q["ledger_found"].tolist() == [True] * 5 + [False] and np.isnan(q["ger"][5])


def test_evidence_evicted_mean_on_a_hand_made_ledger():
    # KEPT (2 layers x 2 KV heads x 6 tokens): token 0 kept by 3 of the 4 (layer, head) pairs, 1, 2, 3 by one
    # each, 4 and 5 by none.
    q, _ = eviction_per_question(predictions([[0, 3], [1, 2], [4, 5], []]), pd.DataFrame([ledger_row(KEPT)]))
    assert q["evidence_evicted_mean"][0] == pytest.approx((1 / 4 + 3 / 4) / 2)
    assert q["evidence_evicted_mean"][1] == pytest.approx(3 / 4)
    assert q["evidence_evicted_mean"][2] == 1.0
    assert q["ger"].tolist()[:3] == [0.0, 0.0, 1.0]  # GER sees none of the partial eviction
    assert np.isnan(q["evidence_evicted_mean"][3])  # no evidence: undefined


def test_correct_at_0_of_an_oracle_row_is_its_items_base_answer():
    from kvroute.scoring import correct_at_0

    base0 = predictions([[1], [1]], ratio=0.0, classes=["correct", "hallucination"]).assign(oracle="none")
    oracle = predictions([[1], [1]], ratio=0.9, press="adakv_protect",
                         classes=["hallucination", "correct"]).assign(oracle="protect")
    stray = oracle.iloc[:1].assign(ratio=0.0)  # an oracle row at ratio 0 answers from no uncompressed cache
    flags = correct_at_0(pd.concat([base0, oracle, stray], ignore_index=True))
    assert flags.tolist() == [True, False, True, False, True]


# --- stats/oracle.csv -----------------------------------------------------------------------------

def planted(rates: dict, n_passages: int = 6, n_q: int = 10, datasets=("a",), base_press: str = "adakv_ea"):
    """Answers with round(H * n_q) hallucinations per passage for each (oracle, ratio): H of ``rates``.

    Each passage gets one more or one fewer (alternating from passage to passage, in a phase set by the
    arm's place in ``rates``), so the totals stay exact while the passages differ: the bootstrap is not
    degenerate, and arms in another phase differ from passage to passage too. Question qi hallucinates
    when qi < k, so H_cond is known by construction.
    """
    rows = []
    for d in datasets:
        for p in range(n_passages):
            for i, ((oracle, ratio), h) in enumerate(rates.items()):
                k = int(round(h * n_q))
                if 0 < k < n_q:
                    k += 1 if (p + i) % 2 else -1
                press = base_press if oracle == "none" else f"{base_press}_{oracle}"
                for qi in range(n_q):
                    cls = "hallucination" if qi < k else "correct"
                    rows.append(dict(model="m", dataset=d, regime="agnostic", press=press, base_press=base_press,
                                     oracle=oracle, ratio=ratio, passage_id=f"p{p}", qid=f"p{p}q{qi}",
                                     error_class=cls, f1=float(cls == "correct"),
                                     evidence_evicted_mean={"protect": 0.0, "target": 1.0}.get(oracle, 0.5)))
    return pd.DataFrame(rows)


RISE = {("none", 0.0): 0.1, ("none", 0.9): 0.5, ("protect_diluted", 0.9): 0.2, ("protect", 0.9): 0.1,
        ("target", 0.9): 0.9}


def _get(table: pd.DataFrame, measure: str, arm: str | None = None, ratio: float = 0.9, dataset=POOLED) -> pd.Series:
    rows = table[(table["measure"] == measure) & (table["ratio"] == ratio) & (table["dataset"] == dataset)]
    if arm is not None:
        rows = rows[rows["arm"] == arm]
    assert len(rows) == 1, (measure, arm, ratio, dataset)
    return rows.iloc[0]


def test_rise_removed_is_the_planted_share_and_effects_are_the_planted_differences():
    q = planted(RISE, datasets=("a", "b"))
    # Base answers to questions the oracle did not run on (e.g. other ratios, other items) stay out.
    other = planted({("none", 0.0): 1.0, ("none", 0.5): 1.0, ("none", 0.9): 1.0}, datasets=("a", "b"))
    other = other.assign(qid=other["qid"] + "x")
    t = per_dataset(oracle_table, pd.concat([q, other], ignore_index=True), ORACLE_GROUP, n_boot=300)
    assert set(t["ratio"]) == {0.0, 0.9}
    for dataset in ("a", "b", POOLED):
        rise = _get(t, "rise", dataset=dataset)
        assert rise["estimate"] == pytest.approx(0.4) and rise["ci_lo"] > 0
        removed = _get(t, "rise_removed", dataset=dataset)
        # (0.5 - 0.2) / (0.5 - 0.1): protect_diluted removes three quarters of the rise.
        assert removed["estimate"] == pytest.approx(0.75) and removed["note"] == ""
        assert removed["ci_lo"] < 0.75 < removed["ci_hi"]
    expected = {"effect_survival": -0.3, "effect_singling_out": -0.1, "effect_target": 0.4}
    for name, value in expected.items():
        assert _get(t, name)["estimate"] == pytest.approx(value), name
    assert _get(t, "effect_target")["ci_lo"] > 0 and _get(t, "effect_survival")["ci_hi"] < 0
    placebo = _get(t, "effect_placebo")  # not in this run
    assert np.isnan(placebo["estimate"]) and "no placebo" in placebo["note"]
    zero = t[(t["ratio"] == 0) & (t["dataset"] == POOLED)]
    assert set(zero["arm"]) == {"base"} and set(zero["measure"]) == {"H", "H_cond", "F1", "evidence_evicted"}
    assert _get(t, "H", "base", ratio=0.0)["estimate"] == pytest.approx(0.1)
    assert _get(t, "H", "base")["n"] == 120 and _get(t, "H", "base")["n_passages"] == 12
    assert _get(t, "evidence_evicted", "protect")["estimate"] == 0.0  # the oracle did what it says
    assert _get(t, "evidence_evicted", "target")["estimate"] == 1.0


def test_a_flat_base_curve_has_no_rise_to_remove():
    flat = {("none", 0.0): 0.3, ("none", 0.9): 0.3, ("protect_diluted", 0.9): 0.1}
    t = per_dataset(oracle_table, planted(flat), ORACLE_GROUP, n_boot=300)
    rise = _get(t, "rise")
    assert rise["estimate"] == pytest.approx(0.0) and rise["ci_lo"] <= 0 <= rise["ci_hi"]
    removed = _get(t, "rise_removed")
    assert np.isnan(removed["estimate"]) and np.isnan(removed["ci_lo"])
    assert "does not exclude 0" in removed["note"]
    assert _get(t, "effect_survival")["estimate"] == pytest.approx(-0.2)  # effects do not need a rise


def test_effect_intervals_are_paired_passage_bootstraps():
    n_boot, seed = 400, 7
    q = planted(RISE)
    table = oracle_table(q, group=("model", "dataset", "regime", "base_press"), n_boot=n_boot, seed=seed)
    table = table.assign(dataset="a")
    # By hand: per-passage counts, the same passage resamples for both arms, percentile interval of the difference.
    h = q["error_class"].eq("hallucination")
    at = lambda oracle: h[(q["oracle"] == oracle) & (q["ratio"] == 0.9)].groupby(q["passage_id"]).agg(  # noqa: E731
        ["sum", "size"])
    pd_, base = at("protect_diluted"), at("none")
    w = passage_weights(len(base), n_boot, seed)
    boot = (w @ pd_["sum"]) / (w @ pd_["size"]) - (w @ base["sum"]) / (w @ base["size"])
    row = _get(table, "effect_survival", dataset="a")
    assert (row["ci_lo"], row["ci_hi"]) == pytest.approx(tuple(np.quantile(boot, [0.025, 0.975])))
    # A placebo that answers exactly as the base press: every resample's difference is 0, although each
    # arm's own interval is wide; an unpaired interval would not be 0.
    same = q[(q["oracle"] == "none") & (q["ratio"] == 0.9)].assign(oracle="placebo", press="adakv_ea_placebo")
    t = oracle_table(pd.concat([q, same], ignore_index=True), n_boot=n_boot).assign(dataset=POOLED)
    placebo = _get(t, "effect_placebo")
    assert (placebo["estimate"], placebo["ci_lo"], placebo["ci_hi"]) == (0.0, 0.0, 0.0)
    assert _get(t, "H", "base")["ci_hi"] - _get(t, "H", "base")["ci_lo"] > 0.05


def test_h_cond_of_oracle_arms_counts_items_correct_at_ratio_0():
    q = planted(RISE)
    t = oracle_table(q, n_boot=50).assign(dataset=POOLED)
    ok0 = q[(q["oracle"] == "none") & (q["ratio"] == 0)].set_index("qid")["error_class"].eq("correct")
    for arm, oracle in (("protect_diluted", "protect_diluted"), ("target", "target"), ("base", "none")):
        rows = q[(q["oracle"] == oracle) & (q["ratio"] == 0.9)]
        cond = rows[ok0.reindex(rows["qid"]).to_numpy()]
        row = _get(t, "H_cond", arm)
        assert row["n"] == len(cond)
        assert row["estimate"] == pytest.approx(cond["error_class"].eq("hallucination").mean()), arm


def test_no_oracle_rows_give_the_header_only():
    q = planted({("none", 0.0): 0.1, ("none", 0.9): 0.5}).drop(columns=["oracle", "base_press"])
    t = per_dataset(oracle_table, q, ORACLE_GROUP, n_boot=20)
    assert t.empty
    assert list(t.columns) == ["model", "dataset", "regime", "base_press", "ratio", "measure", "arm", "estimate",
                               "ci_lo", "ci_hi", "n", "n_passages", "note"]


# --- stats/evidence_predictors.csv ---------------------------------------------------------------

def _predictor_items(n_passages=30, n_q=8, seed=0, datasets=("a", "b"), perfect=True):
    """Base answers at ratios 0, 0.5 and 0.9 (no evidence eviction at 0).

    perfect: hallucination iff evidence_evicted_mean > 0.6, and GER carries nothing: questions come in
    pairs of one hallucination and one correct answer sharing a GER value, so within every passage both
    outcomes have the same GER values and any passage resample gives a GER AUC of exactly 0.5.
    Else evidence_evicted_mean and GER are independent uniforms, logit H = -1.5 + 3 evidence_evicted_mean
    + a passage effect.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_passages):
        shift = rng.normal(0, 0.3)
        for ratio in (0.0, 0.5, 0.9):
            for qi in range(n_q):
                if perfect:
                    h = qi % 2 == 0
                    ee = rng.uniform(0.61, 1.0) if h else rng.uniform(0.0, 0.6)
                    ger = rng.uniform() if h else rows[-1]["ger"]  # the pair's GER
                else:
                    ee, ger = rng.uniform(), rng.uniform()
                    h = rng.random() < 1 / (1 + np.exp(1.5 - 3 * ee - shift))
                if ratio == 0:
                    ee, ger = 0.0, 0.0
                rows.append(dict(model="m", dataset=datasets[p % len(datasets)], regime="agnostic", press="adakv_ea",
                                 oracle="none", ratio=ratio, passage_id=f"p{p}", qid=f"p{p}q{qi}",
                                 evidence_evicted_mean=ee, ger=ger,
                                 error_class="hallucination" if h else "correct"))
    return pd.DataFrame(rows)


def test_auc_of_a_perfect_predictor_against_an_empty_one():
    q = _predictor_items()
    t = per_dataset(evidence_predictors, q, ("model", "regime"), n_boot=60).set_index(["dataset", "term"])
    for dataset in ("a", "b", POOLED):
        ee, ger = t.loc[(dataset, "evidence_evicted_mean")], t.loc[(dataset, "ger")]
        assert (ee["auc"], ee["auc_lo"], ee["auc_hi"]) == pytest.approx((1.0, 1.0, 1.0))
        assert (ger["auc"], ger["auc_lo"], ger["auc_hi"]) == pytest.approx((0.5, 0.5, 0.5))
        assert (ee["auc_diff"], ee["auc_diff_lo"], ee["auc_diff_hi"]) == pytest.approx((0.5, 0.5, 0.5))
        assert ger["auc_diff"] == ee["auc_diff"]  # one difference per group, on both rows
        assert ee["n"] == (q["dataset"].eq(dataset) | (dataset == POOLED)).sum() * 2 / 3  # ratio > 0 only
        assert "not estimable" in ee["reason"]  # a perfect separator has no finite coefficient
    # Oracle rows (here: the same answers with the outcome flipped) do not enter.
    flipped = q[q["ratio"] > 0].assign(oracle="target", error_class=lambda d: np.where(
        d["error_class"] == "correct", "hallucination", "correct"))
    again = per_dataset(evidence_predictors, pd.concat([q, flipped], ignore_index=True), ("model", "regime"),
                        n_boot=60).set_index(["dataset", "term"])
    pd.testing.assert_frame_equal(t, again)


def test_item_model_separates_partial_eviction_from_ger():
    t = evidence_predictors(_predictor_items(n_passages=80, perfect=False, datasets=("a",)), n_boot=20)
    ee, ger = (t[t["term"] == term].iloc[0] for term in ("evidence_evicted_mean", "ger"))
    assert ee["ci_lo"] > 0 and ee["p"] < 0.01 and ee["note"] == ""
    assert ger["ci_lo"] < 0 < ger["ci_hi"]
    assert ee["formula"] == "hallucination ~ evidence_evicted_mean + ger + C(ratio_level)"
    few = evidence_predictors(_predictor_items(n_passages=12, perfect=False, datasets=("a",)), n_boot=20)
    assert few["p"].isna().all() and few["note"].str.contains("p-value not reported").all()
    assert few["coef"].notna().all()


def test_questions_without_evidence_evicted_mean_give_the_header_only():
    q = _predictor_items().drop(columns="evidence_evicted_mean")
    t = evidence_predictors(q, n_boot=10)
    assert t.empty and {"term", "auc", "auc_diff", "coef", "p", "note"} <= set(t.columns)


# --- grid tables are blind to oracle rows -------------------------------------------------------

def _with_oracle_rows(table: pd.DataFrame, press: str, ratios=(0.8, 0.9)) -> pd.DataFrame:
    """``table`` (base rows, oracle columns set) plus protect rows of ``press`` at ``ratios`` that answer
    the opposite way: any leak into a grid table changes it."""
    src = table[(table["press"] == press) & table["ratio"].round(10).isin(ratios)]
    flipped = np.where(src["error_class"] == "hallucination", "correct", "hallucination")
    oracle = src.assign(press=f"{press}_protect", oracle="protect", error_class=flipped)
    return pd.concat([table, oracle], ignore_index=True)


def test_stats_tables_are_the_same_with_oracle_rows_appended():
    from kvroute.stats import build_stats

    q = simulate_items(ger_effect=1.0, n_passages=8, n_q=3, presses=("a", "b"), datasets=("d1", "d2"))
    q = q.assign(f1=0.0, erased=(q["ger"] == 1).astype(float), consensus_mean=0.5, rho_mean=0.5,
                 answer_type="Person", evidence_evicted_mean=np.clip(q["ger"] + 0.1, 0, 1), oracle="none",
                 base_press=q["press"])
    q = pd.concat([q, q.assign(regime="aware")], ignore_index=True)
    both = _with_oracle_rows(q, "a")
    kw = dict(n_boot=20, n_boot_breakpoint=5)
    without, with_oracle = build_stats(q, q, **kw), build_stats(both, both, **kw)
    for name, table in without.items():
        if name != "oracle":
            pd.testing.assert_frame_equal(table, with_oracle[name], obj=name)
    assert without["oracle"].empty
    oracle = with_oracle["oracle"]
    assert set(oracle["base_press"]) == {"a"} and set(oracle.loc[oracle["measure"] == "H", "arm"]) == {"base",
                                                                                                        "protect"}
    assert set(oracle["ratio"]) == {0.0, 0.8, 0.9} and set(oracle["dataset"]) == {"d1", "d2", POOLED}


def test_metric_summaries_are_the_same_with_oracle_rows_appended():
    preds = pd.concat([predictions([[3, 4, 5], [4, 5]], ratio=0.0, classes=["correct", "correct"]),
                       predictions([[3, 4, 5], [4, 5]], ratio=0.5)], ignore_index=True)
    preds = preds.assign(oracle="none", base_press="adakv")
    ledger = pd.DataFrame([{**ledger_row(np.ones_like(KEPT), ratio=0.0), "oracle": "none", "qid": None},
                           {**ledger_row(KEPT), "oracle": "none", "qid": None}])
    both = _with_oracle_rows(preds, "adakv", ratios=(0.5,))
    oracle_ledger = pd.DataFrame([{**ledger_row(np.ones_like(KEPT), press="adakv_protect"), "oracle": "protect",
                                   "qid": qid} for qid in preds["qid"].unique()])
    rng = np.random.default_rng(0)
    argmax = rng.integers(0, 6, size=(len(both), 2, 4)).astype(np.int32)

    def routing(n):
        return {"argmax": argmax[:n], "argmax_content": argmax[:n], "answer_mass": np.zeros((n, 2, 4), np.float16),
                "qid": both["qid"].to_numpy(str)[:n]}

    without = build_metrics(preds, ledger, routing(len(preds)))
    with_oracle = build_metrics(both, pd.concat([ledger, oracle_ledger], ignore_index=True), routing(len(both)))
    for name in ("answers", "eviction", "layer_ger", "routing", "reachability", "leakage"):
        pd.testing.assert_frame_equal(without[name], with_oracle[name], obj=name)
    # The per-answer tables keep the oracle rows, with the metrics of their own caches.
    q = with_oracle["questions"]
    assert len(q) == len(both) and (q.loc[q["oracle"] == "protect", "ger"] == 0.0).all()
    pd.testing.assert_frame_equal(without["questions"], q[q["oracle"] == "none"])
    assert set(with_oracle["layers"]["oracle"]) == {"none", "protect"}


def test_probes_read_the_same_rows_and_states_with_oracle_rows_appended(tmp_path):
    from kvroute.probing import load_states, run_probes

    from builders import synthetic, write_unit

    table, X, Q = synthetic(n_passages=6, ratios=(0.0, 0.5))
    table = table.assign(oracle="none")
    oracle = table[table["ratio"] == 0.5].assign(press="adakv_protect", oracle="protect")
    noise = np.random.default_rng(1).normal(size=(len(oracle), *X.shape[1:])).astype(np.float32)
    plain = write_unit(tmp_path / "plain", table, X, Q)
    mixed = write_unit(tmp_path / "mixed", pd.concat([table, oracle], ignore_index=True),
                        np.concatenate([X, noise]), np.concatenate([Q, noise.astype(np.float16)]))
    rows, states, qonly = load_states([plain[0]], [plain[1]])
    rows2, states2, qonly2 = load_states([mixed[0]], [mixed[1]])
    pd.testing.assert_frame_equal(rows, rows2)
    np.testing.assert_array_equal(states, states2)
    np.testing.assert_array_equal(qonly, qonly2)
    a = run_probes(rows, states, n_splits=3, question_only=qonly)[0]
    b = run_probes(rows2, states2, n_splits=3, question_only=qonly2)[0]
    pd.testing.assert_frame_equal(a, b)
    assert set(a["press"]) == {"adakv"}


def test_figures_read_base_rows_only(tmp_path):
    from kvroute.figures import registry
    from kvroute.figures.eviction_maps import plot_eviction_maps
    from kvroute.figures.ger import ger_cells

    q = simulate_items(ger_effect=1.0, n_passages=4, n_q=3).assign(oracle="none")
    pd.testing.assert_frame_equal(ger_cells(q), ger_cells(_with_oracle_rows(q, "p")))
    # The registry reads the oracle column beside a figure's columns where a file has it, and only there.
    new, old = tmp_path / "new.parquet", tmp_path / "old.parquet"
    _with_oracle_rows(q, "p").to_parquet(new)
    q.drop(columns="oracle").to_parquet(old)
    fam = registry.family("ger")
    frame = registry.read_frames([new, old], fam.inputs[0].columns, registry.ORACLE_KEYS["questions"])
    assert "oracle" in frame and len(base_rows(frame)) == 2 * len(q)
    # Eviction maps: an oracle cache of the same passage and ratio draws nothing more.
    evidence = pd.DataFrame({"passage_id": ["p0"], "qid": ["p0-q0"], "evidence_positions": [[4, 5]]})
    ledger = pd.DataFrame([{**ledger_row(KEPT, ratio=0.9), "model": "m", "oracle": "none", "qid": None}])
    oracle = pd.DataFrame([{**ledger_row(np.ones_like(KEPT), press="adakv_protect", ratio=0.9), "model": "m",
                            "oracle": "protect", "qid": "p0-q0"}])
    plot_eviction_maps(ledger, evidence, tmp_path / "plain" / "m.pdf", ratios=(0.9,))
    plot_eviction_maps(pd.concat([ledger, oracle], ignore_index=True), evidence, tmp_path / "mixed" / "m.pdf",
                       ratios=(0.9,))
    assert (tmp_path / "plain" / "m.png").read_bytes() == (tmp_path / "mixed" / "m.png").read_bytes()


# --- figures/oracle.pdf and the CLI ---------------------------------------------------------------

def _assert_written(pdf):
    png = pdf.with_suffix(".png")
    assert pdf.read_bytes()[:4] == b"%PDF" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_oracle_figure_and_its_placeholder(tmp_path):
    from kvroute.cli import main
    from kvroute.figures.common import NoData
    from kvroute.figures.oracle import plot_oracle

    rates = {**RISE, ("none", 0.8): 0.3, ("protect_diluted", 0.8): 0.2, ("placebo", 0.9): 0.5}
    two = pd.concat([planted(rates, datasets=("a", "b")), planted(rates, base_press="chunk_ea")], ignore_index=True)
    table = per_dataset(oracle_table, two, ORACLE_GROUP, n_boot=50)
    table.to_csv(tmp_path / "oracle.csv", index=False)
    main(["figure", "oracle", "--oracle", str(tmp_path / "oracle.csv"), "--out", str(tmp_path / "f" / "o.pdf")])
    _assert_written(tmp_path / "f" / "o.pdf")
    empty = tmp_path / "empty.csv"
    table.iloc[:0].to_csv(empty, index=False)
    with pytest.raises(NoData, match="no oracle presses"):
        plot_oracle(pd.read_csv(empty), tmp_path / "x.pdf")
    main(["figure", "oracle", "--oracle", str(empty), "--placeholder-if-empty", "--out", str(tmp_path / "e.pdf")])
    _assert_written(tmp_path / "e.pdf")
    with pytest.raises(ValueError, match="estimate"):
        plot_oracle(table.drop(columns="estimate"), tmp_path / "y.pdf")


def test_stats_command_writes_the_oracle_and_predictor_tables(tmp_path):
    from kvroute.cli import main

    q = planted(RISE, datasets=("a", "b")).assign(ger=lambda d: d["evidence_evicted_mean"], answer_type="Person",
                                                 erased=0.0, answers='["Paris"]')
    q.to_parquet(tmp_path / "q.parquet")
    main(["stats", "--scores", str(tmp_path / "q.parquet"), "--questions", str(tmp_path / "q.parquet"),
          "--n-boot", "20", "--n-boot-breakpoint", "0", "--out-dir", str(tmp_path)])
    oracle = pd.read_csv(tmp_path / "oracle.csv", keep_default_na=False, na_values=[""])
    assert _get(oracle, "rise_removed")["estimate"] == pytest.approx(0.75)
    curves = pd.read_csv(tmp_path / "curves.csv")
    assert set(curves["press"]) == {"adakv_ea"}  # the grid's curves leave the oracle presses out
