import numpy as np
import pandas as pd
import pytest

from kvroute.stats import cliff_location, rate_curves, susceptibility, wilson_interval

from builders import simulate_items


def make_scores(h_by_ratio, n_passages=8, n_q=10, model="m", press="adakv_ea", regime="agnostic",
                jitter=None):
    """Scores table with exactly round(h * n_q) hallucinations per passage and ratio.

    jitter moves one hallucination between passage pairs, so passages differ
    (non-degenerate bootstrap) while each ratio's total stays exact:
    "passage" keeps a passage's offset fixed across ratios, "alternate" flips
    it from one ratio to the next (so per-passage differences vary too).
    """
    rows = []
    for p in range(n_passages):
        for i, (r, h) in enumerate(h_by_ratio.items()):
            k = int(round(h * n_q))
            if jitter and 0 < k < n_q:
                flip = p + (i if jitter == "alternate" else 0)
                k += 1 if flip % 2 else -1
            for q in range(n_q):
                cls = "hallucination" if q < k else ("unknown" if q == n_q - 1 else "correct")
                rows.append(dict(model=model, press=press, regime=regime, ratio=r, passage_id=f"p{p}",
                                 qid=f"p{p}q{q}", error_class=cls, f1=1.0 if cls == "correct" else 0.0))
    return pd.DataFrame(rows)


CLIFF_H = {0.0: 0.1, 0.25: 0.1, 0.5: 0.1, 0.75: 0.1, 0.8: 0.1, 0.9: 0.7, 0.95: 0.8}


def test_wilson_hand_checked():
    # 8/10 at 95%: centre 0.7167, half-width 0.2266 (Wilson 1927 formula by hand)
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4)
    assert hi == pytest.approx(0.9433, abs=1e-4)
    assert all(np.isnan(wilson_interval(0, 0)))


def test_rate_curves_known_rates():
    scores = pd.concat([
        make_scores({0.0: 0.2, 0.5: 0.6}, n_passages=3, n_q=5),
        make_scores({0.0: 0.4, 0.5: 0.4}, n_passages=2, n_q=5, regime="aware"),
    ])
    c = rate_curves(scores, n_boot=200).set_index(["regime", "ratio"])
    row = c.loc[("agnostic", 0.5)]
    assert row["n"] == 15 and row["n_passages"] == 3
    assert row["hallucination_rate"] == pytest.approx(0.6)
    assert row["unknown_rate"] == pytest.approx(0.2)  # the last question of each passage
    assert row["correct_rate"] == pytest.approx(0.2)
    assert row["f1_mean"] == pytest.approx(0.2)
    assert c.loc[("agnostic", 0.0), "hallucination_rate"] == pytest.approx(0.2)
    assert c.loc[("aware", 0.0), "n"] == 10
    lo, hi = wilson_interval(9, 15)
    assert row["hallucination_wilson_lo"] == pytest.approx(lo)
    assert row["hallucination_wilson_hi"] == pytest.approx(hi)
    # identical passages: every resample gives the same rate
    assert row["hallucination_boot_lo"] == pytest.approx(0.6)
    assert row["hallucination_boot_hi"] == pytest.approx(0.6)
    rates = c[["hallucination_rate", "unknown_rate", "correct_rate"]].sum(axis=1)
    assert np.allclose(rates, 1.0)


def test_bootstrap_resamples_passages_not_questions():
    # passage 0 always hallucinates, passage 1 never: 2 clusters of 50 questions.
    rows = [dict(model="m", press="p", regime="agnostic", ratio=0.0, passage_id=f"p{p}", qid=f"{p}-{q}",
                 error_class="hallucination" if p == 0 else "correct", f1=0.0) for p in range(2) for q in range(50)]
    c = rate_curves(pd.DataFrame(rows), n_boot=500)
    # a question bootstrap would give roughly 0.4-0.6; clusters give 0 or 1 extremes
    assert c["hallucination_boot_lo"].iloc[0] == 0.0
    assert c["hallucination_boot_hi"].iloc[0] == 1.0


def test_bootstrap_deterministic_given_seed():
    s = make_scores(CLIFF_H, jitter="alternate")
    a, b = rate_curves(s, n_boot=200, seed=3), rate_curves(s, n_boot=200, seed=3)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(susceptibility(s, n_boot=200, seed=3), susceptibility(s, n_boot=200, seed=3))
    c = rate_curves(s, n_boot=200, seed=4)
    assert not np.allclose(a["hallucination_boot_lo"], c["hallucination_boot_lo"]) or not np.allclose(
        a["hallucination_boot_hi"], c["hallucination_boot_hi"])
    # shuffling rows does not change anything
    pd.testing.assert_frame_equal(a, rate_curves(s.sample(frac=1, random_state=1), n_boot=200, seed=3))


def test_bootstrap_is_paired_across_ratios():
    # each passage has the same H at both ratios, but passages differ: a paired
    # bootstrap gives chi exactly 0 in every resample; unpaired would not.
    s = make_scores({0.5: 0.5, 0.6: 0.5}, jitter="passage")
    chi = susceptibility(s, n_boot=300)
    assert chi["chi"].iloc[0] == 0.0
    assert chi["chi_boot_lo"].iloc[0] == 0.0 and chi["chi_boot_hi"].iloc[0] == 0.0
    curves = rate_curves(s, n_boot=300)
    assert (curves["hallucination_boot_hi"] > curves["hallucination_boot_lo"]).all()


def test_susceptibility_finds_planted_jump():
    # n_q=20: jitter of +-0.05 per passage, small next to the 0.6 jump (a
    # coarser table lets the narrow 0.9-0.95 interval win some resamples)
    s = make_scores(CLIFF_H, n_q=20, jitter="alternate")
    chi = susceptibility(s, n_boot=300)
    assert list(chi["ratio_mid"]) == pytest.approx([0.125, 0.375, 0.625, 0.775, 0.85, 0.925])
    jump = chi.set_index("ratio_mid").loc[0.85]  # midpoints are rounded, so exact
    assert jump["chi"] == pytest.approx(6.0)  # (0.7 - 0.1) / 0.1
    assert jump["is_cliff"] and chi["is_cliff"].sum() == 1
    assert jump["chi_boot_lo"] < 6.0 < jump["chi_boot_hi"]
    cl = cliff_location(s, n_boot=300).iloc[0]
    assert 0.8 <= cl["cliff_ratio"] <= 0.9
    assert (cl["cliff_interval_lo"], cl["cliff_interval_hi"]) == (0.8, 0.9)
    assert cl["cliff_lo"] <= cl["cliff_ratio"] <= cl["cliff_hi"]
    assert 0.8 <= cl["cliff_lo"] and cl["cliff_hi"] <= 0.9
    assert cl["max_chi"] == pytest.approx(6.0)
    assert not cl["at_edge"]


@pytest.mark.parametrize("jump_at, edge", [(0.95, True), (0.25, True), (0.5, False)])
def test_cliff_at_grid_edge_flag(jump_at, edge):
    h = {r: (0.1 if r < jump_at else 0.7) for r in [0.0, 0.25, 0.5, 0.75, 0.95]}
    cl = cliff_location(make_scores(h), n_boot=50).iloc[0]
    assert bool(cl["at_edge"]) is edge


def test_no_rise_means_no_cliff():
    cl = cliff_location(make_scores({0.0: 0.3, 0.5: 0.3, 0.9: 0.2}), n_boot=50).iloc[0]
    assert np.isnan(cl["cliff_ratio"]) and not cl["at_edge"]


def test_groups_are_separate_rows():
    s = pd.concat([make_scores(CLIFF_H, model="a"),
                   make_scores({0.0: 0.1, 0.25: 0.1, 0.5: 0.9, 0.75: 0.9, 0.95: 0.9}, model="b")])
    cl = cliff_location(s, n_boot=50).set_index("model")
    assert cl.loc["a", "cliff_ratio"] == pytest.approx(0.85)
    assert cl.loc["b", "cliff_ratio"] == pytest.approx(0.375)


def test_susceptibility_from_curves_has_points_but_no_bands():
    s = make_scores(CLIFF_H)
    from_curves = susceptibility(rate_curves(s, n_boot=20))
    from_scores = susceptibility(s, n_boot=20)
    assert np.allclose(from_curves["chi"], from_scores["chi"])
    assert from_curves["chi_boot_lo"].isna().all()
    assert cliff_location(rate_curves(s, n_boot=20))["cliff_ratio"].iloc[0] == pytest.approx(0.85)


def test_small_inputs_do_not_crash():
    s = make_scores({0.0: 0.0, 0.9: 1.0}, n_passages=1, n_q=2)
    c = rate_curves(s, n_boot=10)
    assert len(c) == 2
    chi = susceptibility(s, n_boot=10)
    assert len(chi) == 1 and chi["chi"].iloc[0] == pytest.approx(1 / 0.9)
    cl = cliff_location(s, n_boot=10).iloc[0]
    assert cl["at_edge"]  # the only interval is both first and last
    one_ratio = make_scores({0.5: 0.5}, n_passages=2)
    assert susceptibility(one_ratio, n_boot=10).empty
    assert np.isnan(cliff_location(one_ratio, n_boot=10)["cliff_ratio"].iloc[0])


def test_missing_ratio_for_some_passages():
    s = make_scores(CLIFF_H, jitter="alternate")
    s = s[~((s["passage_id"] == "p0") & (s["ratio"] == 0.9))]
    c = rate_curves(s, n_boot=100).set_index("ratio")
    assert c.loc[0.9, "n_passages"] == 7
    assert c[["hallucination_boot_lo", "hallucination_boot_hi"]].notna().all().all()


def test_group_all_and_missing_columns():
    s = make_scores(CLIFF_H)
    assert len(rate_curves(s, n_boot=10, group=())) == len(CLIFF_H)
    with pytest.raises(ValueError, match="passage_id"):
        rate_curves(s.drop(columns="passage_id"), n_boot=10)
    with pytest.raises(ValueError, match="dataset"):
        rate_curves(s, n_boot=10, group=("model", "dataset"))
    with pytest.raises(ValueError, match="scores table is empty"):
        susceptibility(s.iloc[:0], n_boot=10)


# --- breakpoint, GER-hallucination, McNemar, BH, tag tests -------------------------------------------------

from kvroute.stats import (bh_adjust, breakpoint_test, ger_aggregate, ger_item_model, ger_verdict,  # noqa: E402
                           mcnemar_table, tag_tests)


def counts_table(k_by_ratio, n=100, model="m", press="p", regime="agnostic"):
    """Scores with exactly k hallucinations of n answers per ratio (10 passages)."""
    rows = []
    for r, k in k_by_ratio.items():
        for i in range(n):
            rows.append(dict(model=model, press=press, regime=regime, ratio=r, passage_id=f"p{i % 10}",
                             qid=f"q{i}", error_class="hallucination" if i < k else "correct", f1=0.0))
    return pd.DataFrame(rows)


def test_breakpoint_finds_a_planted_cliff():
    grid = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
    k = {r: (10 if r <= 0.7 else 60 if r == 0.8 else 85) for r in grid}
    row = breakpoint_test(counts_table(k)).iloc[0]
    assert row["cliff"] and row["lr_p"] < 0.01 and row["delta_aic"] > 2
    assert 0.65 <= row["cliff_ratio"] <= 0.85
    assert not row["at_edge"] and row["warning"] == ""


def test_breakpoint_finds_none_in_a_straight_line():
    grid = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    row = breakpoint_test(counts_table({r: 10 + round(50 * r) for r in grid})).iloc[0]
    assert not row["cliff"] and np.isnan(row["cliff_ratio"])
    assert row["lr_p"] > 0.5 and row["best_model"] == "line"


def test_breakpoint_warns_when_the_cliff_is_at_the_grid_edge():
    grid = [0.0, 0.2, 0.4, 0.6, 0.8, 0.9]
    row = breakpoint_test(counts_table({r: 90 if r == 0.9 else 5 for r in grid})).iloc[0]
    assert row["cliff"] and row["at_edge"] and "extend the grid" in row["warning"]


def test_a_hinge_on_a_curve_that_starts_at_0_beats_a_line_that_is_never_negative():
    # H_cond's shape: nothing hallucinates up to 0.6, then the rate climbs. A line clipped at 0 could run below
    # 0 over the flat part and fit it for free; bounded, it must pay for the flat part.
    from kvroute.stats.breakpoint import fit_line

    grid = [0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95]
    k = {r: 0 if r <= 0.6 else round(20 * (r - 0.6)) for r in grid}  # 0 ... 0, 2, 4, 5, 6, 7 of 100
    row = breakpoint_test(counts_table(k), n_boot=0).iloc[0]
    # Clipped, the line scored dAIC 8.1 here (C3: inconclusive); bounded, the hinge clears 10.
    assert row["cliff_model"] == "hinge" and row["delta_aic"] > 10, row
    assert 0.5 <= row["cliff_ratio"] <= 0.7
    x = np.array(grid)
    line = fit_line(x, np.array([k[r] for r in grid], float), np.full(len(grid), 100.0))
    assert line["pred"].min() >= -1e-9  # the line stays a rate


def test_passage_clustering_shrinks_the_evidence_of_correlated_answers():
    # Whole passages hallucinate together: the same counts as independent answers, but 10 passages of evidence.
    grid = [0.0, 0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 0.95]
    k = {r: 10 if r <= 0.6 else 50 if r < 0.9 else 70 for r in grid}
    spread = counts_table(k)  # hallucinations spread over the passages
    together = spread.copy()
    together["passage_id"] = "p" + (together["qid"].str[1:].astype(int) // 10).astype(str)  # by hallucination rank
    a, b = breakpoint_test(spread, n_boot=0).iloc[0], breakpoint_test(together, n_boot=0).iloc[0]
    assert b["dispersion"] > 3 * a["dispersion"] and b["delta_aic"] < a["delta_aic"]


def test_breakpoint_tiny_grid_gives_a_reason():
    row = breakpoint_test(counts_table({0.0: 5, 0.5: 50})).iloc[0]
    assert not row["cliff"] and "need 5" in row["reason"]


def test_item_model_recovers_a_planted_ger_effect():
    # beta = 1.5 with every control of the model in play: two presses, two datasets, failed_at_0,
    # and "I don't know" items whose coin-flip hallucinations carry no GER signal.
    q = simulate_items(ger_effect=1.5, presses=("a", "b"), datasets=("d1", "d2"), idk_share=0.1)
    item = ger_item_model(q)
    ger = item[item["term"] == "ger"].iloc[0]
    assert ger["formula"] == "hallucination ~ ger + C(ratio_level) + press + C(dataset) + failed_at_0"
    assert ger["method"] == "gee_exchangeable" and ger["n_clusters"] == 80 and ger["note"] == ""
    assert ger["n_params"] == 13  # intercept, ger, 8 ratio levels above 0, press, dataset, failed_at_0
    idk = q["answers"].str.contains("know")
    assert ger["n_idk"] == (idk & (q["ratio"] > 0)).sum() > 0
    assert ger["n"] == (~idk & (q["ratio"] > 0)).sum()  # ratio 0 and "I don't know" items are out
    assert ger["ci_lo"] < 1.5 < ger["ci_hi"] and ger["ci_lo"] > 0 and ger["p"] < 1e-3
    verdict = ger_verdict(ger_aggregate(q), item).iloc[0]
    assert verdict["item_significant"] and not verdict["common_trend_only"]


def test_item_model_reports_no_p_value_with_few_clusters_per_parameter():
    q = simulate_items(ger_effect=1.5, n_passages=30)
    ger = ger_item_model(q).set_index("term").loc["ger"]
    # 11 parameters (intercept, ger, 8 ratio levels, failed_at_0) need 55 passages
    assert ger["n_params"] == 11 and ger["n_clusters"] == 30
    assert ger["note"] == "30 clusters for 11 parameters: p-value not reported"
    assert np.isnan(ger["p"]) and np.isfinite(ger["coef"]) and ger["ci_lo"] < ger["coef"] < ger["ci_hi"]
    verdict = ger_verdict(ger_aggregate(q), ger_item_model(q)).iloc[0]
    assert not verdict["common_trend_only"] and "too few passage clusters" in verdict["verdict"]


def test_item_model_drops_items_without_a_ratio0_answer():
    q = simulate_items(ger_effect=0.0, n_passages=12)
    q = q[~((q["qid"] == "p0q0") & (q["ratio"] == 0))]
    ger = ger_item_model(q).set_index("term").loc["ger"]
    assert ger["n_no_ratio0"] == 9 and ger["n"] == 12 * 5 * 9 - 9


def test_item_model_flags_a_common_trend_in_ratio():
    q = simulate_items(ger_effect=0.0)
    agg = ger_aggregate(q)
    assert agg["pearson_r"].iloc[0] > 0.8 and agg["pearson_p"].iloc[0] < 0.001  # the paper's Fig. 24 view
    assert agg["pearson_lo"].iloc[0] < agg["pearson_r"].iloc[0] < agg["pearson_hi"].iloc[0]
    item = ger_item_model(q)
    ger = item[item["term"] == "ger"].iloc[0]
    assert ger["p"] > 0.05 and ger["ci_lo"] < 0 < ger["ci_hi"]
    verdict = ger_verdict(agg, item).iloc[0]
    assert verdict["common_trend_only"] and "common trend" in verdict["verdict"]
    # A linear ratio term also absorbs this trend (it is linear on the logit scale).
    lin = ger_item_model(q, ratio_term="linear").set_index("term")
    assert lin.loc["ratio", "p"] < 0.001 and lin.loc["ger", "p"] > 0.05


def test_item_model_says_not_estimable_when_ger_separates_hallucination():
    # Every answer with GER above 0.5 hallucinates and none below: the likelihood has no maximum, and an
    # optimiser that stops anywhere reports an arbitrary, huge coefficient (seen: -1e8 on a real run).
    q = simulate_items(ger_effect=0.0, n_passages=30)
    q.loc[(q["ratio"] > 0) & (q["ger"] > 0.5), "error_class"] = "hallucination"
    q.loc[(q["ratio"] > 0) & (q["ger"] <= 0.5), "error_class"] = "correct"
    ger = ger_item_model(q).set_index("term").loc["ger"]
    assert np.isnan(ger["coef"]) and np.isnan(ger["ci_lo"]) and "not estimable" in ger["reason"]


def test_item_model_tiny_data_gives_reasons():
    q = simulate_items(ger_effect=0.0, n_passages=2, n_q=2)
    item = ger_item_model(q)
    assert item["coef"].isna().all() and "passage clusters" in item["reason"].iloc[0]
    agg = ger_aggregate(q[q["ratio"] < 0.25])
    assert np.isnan(agg["pearson_r"].iloc[0]) and "cells" in agg["reason"].iloc[0]


def test_ger_aggregate_matches_scipy_with_ratio0_counted_once():
    from scipy import stats as st

    q = simulate_items(ger_effect=2.0, n_passages=10, presses=("a", "b"))
    agg = ger_aggregate(q).iloc[0]
    # 9 ratios above 0 per press plus one shared ratio-0 cell, not one per press
    assert agg["n_cells"] == 2 * 9 + 1 and agg["n_questions"] == 10 * 5 * (2 * 9 + 1)
    one = q[(q["ratio"] > 0) | (q["press"] == "a")]
    cells = one.assign(h=one["error_class"] == "hallucination").groupby(["press", "ratio"]).agg(
        g=("ger", "mean"), h=("h", "mean"))
    assert len(cells) == 19
    assert agg["pearson_r"] == pytest.approx(st.pearsonr(cells["g"], cells["h"])[0])
    assert agg["spearman_rho"] == pytest.approx(st.spearmanr(cells["g"], cells["h"])[0])
    # The intervals resample passages and recompute every cell (the cells share passages: not 19 independent
    # points); without a bootstrap they fall back to Fisher z over the cells.
    assert agg["ci_method"] == "passage bootstrap (1000)"
    assert agg["pearson_lo"] < agg["pearson_r"] < agg["pearson_hi"]
    assert agg["spearman_lo"] < agg["spearman_rho"] < agg["spearman_hi"]
    fisher = ger_aggregate(q, n_boot=0).iloc[0]
    z = np.arctanh(fisher["pearson_r"])
    assert fisher["ci_method"] == "Fisher z over cells"
    assert fisher["pearson_hi"] == pytest.approx(np.tanh(z + 1.959964 / np.sqrt(19 - 3)), rel=1e-5)
    # Fewer passages, wider band; the Fisher band does not notice.
    few = q[q["passage_id"].isin(sorted(q["passage_id"].unique())[:3])]
    narrow = ger_aggregate(few).iloc[0]
    assert narrow["pearson_hi"] - narrow["pearson_lo"] > agg["pearson_hi"] - agg["pearson_lo"]


def test_mcnemar_on_a_constructed_table():
    # both 5, agnostic only 10, aware only 2, neither 13.
    agn = [1] * 5 + [1] * 10 + [0] * 2 + [0] * 13
    awr = [1] * 5 + [0] * 10 + [1] * 2 + [0] * 13
    rows = []
    for regime, flags in (("agnostic", agn), ("aware", awr)):
        for i, f in enumerate(flags):
            rows.append(dict(model="m", dataset="d", press="p", ratio=0.5, regime=regime, qid=f"q{i}",
                             error_class="hallucination" if f else "correct"))
    table = mcnemar_table(pd.DataFrame(rows)).set_index("outcome")
    h = table.loc["hallucination"]
    assert (h["both"], h["agnostic_only"], h["aware_only"], h["neither"]) == (5, 10, 2, 13)
    # Exact two-sided binomial on 12 discordant pairs, 2 of one kind: 2 * (1 + 12 + 66) / 4096.
    assert h["exact"] and h["p"] == pytest.approx(158 / 4096)
    assert h["diff"] == pytest.approx((7 - 15) / 30)
    one_regime = mcnemar_table(pd.DataFrame(rows)[lambda d: d["regime"] == "aware"])
    assert one_regime.empty and "p_bh" in one_regime.columns


def test_bh_adjust_hand_checked():
    q, reject = bh_adjust([0.01, 0.02, 0.03, 0.5, np.nan])
    assert q[:4] == pytest.approx([0.04, 0.04, 0.04, 0.5])
    assert np.isnan(q[4]) and reject.tolist() == [True, True, True, False, False]


def test_tag_tests_with_bh_across_tags():
    rows = []
    for ratio in (0.0, 0.5):
        for tag in ("Event", "Person", "Location"):
            for i in range(20):
                h = ratio == 0.5 and tag == "Event" and i < 18
                rows.append(dict(model="m", dataset="d", regime="agnostic", press="p", ratio=ratio,
                                 qid=f"{tag}{i}", answer_type=tag, question_type="Standard",
                                 error_class="hallucination" if h else "correct"))
    t = tag_tests(pd.DataFrame(rows), tags=("answer_type",))
    row = t[(t["ratio"] == 0.5) & (t["tag"] == "Event")].iloc[0]
    assert row["hallucination_rate"] == 0.9 and row["rest_rate"] == 0.0
    assert row["reject_vs_rest"] and row["q_vs_rest"] < 1e-6
    assert row["rate_ratio0"] == 0.0 and row["reject_vs_ratio0"]
    person = t[(t["ratio"] == 0.5) & (t["tag"] == "Person")].iloc[0]
    assert not person["reject_vs_ratio0"] and person["p_vs_ratio0"] == 1.0
    assert t[t["ratio"] == 0.0]["p_vs_ratio0"].isna().all()


def planted_cond():
    """4 items under 2 presses. At ratio 0 (shared cache) q1, q2 are correct, q3
    hallucinates, q4 abstains. At 0.5 under adakv q1 and q3 hallucinate and q4
    gives nothing; q5 was never asked at ratio 0 and hallucinates."""
    at0 = {"q1": "correct", "q2": "correct", "q3": "hallucination", "q4": "unknown"}
    at5 = {"q1": "hallucination", "q2": "correct", "q3": "hallucination", "q4": "empty", "q5": "hallucination"}
    rows = [dict(model="m", press=press, regime="agnostic", ratio=r, passage_id=f"p{q[-1]}", qid=q,
                 error_class=c, f1=float(c == "correct"))
            for press in ("adakv", "chunk") for r, classes in ((0.0, at0), (0.5, at5)) for q, c in classes.items()]
    return pd.DataFrame(rows)


def test_h_cond_on_a_planted_table():
    c = rate_curves(planted_cond(), n_boot=200).set_index(["press", "ratio"])
    row = c.loc[("adakv", 0.5)]
    assert row["hallucination_rate"] == pytest.approx(3 / 5)
    # among q1, q2 (correct at 0) only q1 hallucinates; q5 (no ratio-0 row) is left out of H_cond only
    assert row["n_cond"] == 2 and row["hallucination_cond_rate"] == pytest.approx(0.5)
    assert row["empty_rate"] == pytest.approx(1 / 5) and row["unknown_rate"] == 0.0
    # an empty answer is neither a hallucination nor an abstention: the classes add up
    assert row[["hallucination_rate", "unknown_rate", "empty_rate", "correct_rate"]].sum() == pytest.approx(1)
    zero = c.loc[("adakv", 0.0)]
    assert zero["hallucination_rate"] == pytest.approx(0.25)
    assert zero["n_cond"] == 2 and zero["hallucination_cond_rate"] == 0.0  # by construction
    # the other press shares the ratio-0 cache, so it conditions on the same items
    assert c.loc[("chunk", 0.5), "n_cond"] == 2


def test_h_cond_band_brackets_the_estimate_and_shares_the_resamples():
    s = make_scores(CLIFF_H, jitter="alternate")
    c = rate_curves(s, n_boot=300)
    assert (c["n_cond"] > 0).all()
    point, lo, hi = c["hallucination_cond_rate"], c["hallucination_cond_boot_lo"], c["hallucination_cond_boot_hi"]
    assert ((lo <= point + 1e-12) & (point <= hi + 1e-12)).all()
    assert (hi > lo).any()
    # H_cond differs from H: items that fail uncompressed are out of the denominator
    assert not np.allclose(point, c["hallucination_rate"])
    # every item correct at 0: H_cond is H, and the same passage resamples give the same band
    same = make_scores({0.0: 0.0, 0.5: 0.5}, jitter="passage")
    same.loc[same["ratio"] == 0.0, "error_class"] = "correct"
    c = rate_curves(same, n_boot=300)
    for a, b in (("hallucination_cond_rate", "hallucination_rate"), ("hallucination_cond_boot_lo",
                 "hallucination_boot_lo"), ("hallucination_cond_boot_hi", "hallucination_boot_hi")):
        assert np.allclose(c[a], c[b])


def test_h_cond_uses_a_stored_correct_at_0_column():
    s = planted_cond()
    s["correct_at_0"] = pd.array([pd.NA] * len(s), dtype="boolean")  # e.g. a table without ratio-0 rows
    c = rate_curves(s, n_boot=50)
    assert (c["n_cond"] == 0).all() and c["hallucination_cond_rate"].isna().all()
    assert c["hallucination_rate"].notna().all()


def test_tag_tests_report_h_cond():
    t = tag_tests(planted_cond().assign(dataset="d", answer_type="Person"), tags=("answer_type",))
    row = t[(t["ratio"] == 0.5) & (t["press"] == "adakv")].iloc[0]
    assert row["hallucination_rate"] == pytest.approx(3 / 5)
    assert row["n_cond"] == 2 and row["hallucination_cond_rate"] == pytest.approx(0.5)


# --- per dataset and pooled: stratified bootstrap, breakpoint CI, rigidity, consensus --------------------------

from kvroute.stats import POOLED, consensus_curves, per_dataset, rigidity_model  # noqa: E402
from kvroute.stats.bootstrap import passage_weights  # noqa: E402


def test_stratified_weights_keep_each_datasets_passage_count():
    strata = np.array(["a"] * 3 + ["b"] * 12 + ["c"] * 1)
    w = passage_weights(strata, n_boot=400, seed=7)
    for s, count in (("a", 3), ("b", 12), ("c", 1)):
        assert (w[:, strata == s].sum(axis=1) == count).all()
    # one stratum: the draws of an unstratified resample (same seed, same weights)
    assert np.array_equal(passage_weights(5, 50, 1), passage_weights(np.zeros(5), 50, 1))


def test_single_passage_datasets_are_resampled_together():
    """One passage per dataset would give every resample the same passages: a zero-width band."""
    strata = np.array(["a", "b", "c", "d", "d", "d"])
    w = passage_weights(strata, n_boot=400, seed=7)
    assert (w[:, 3:].sum(axis=1) == 3).all()  # d still keeps its count
    alone = w[:, :3]
    assert (alone.sum(axis=1) == 3).all() and alone.std(axis=0).min() > 0.3  # a, b, c drawn from together


def two_datasets(n_a=10, n_b=30, n_q=4):
    """Dataset a always hallucinates at ratio 0.5, dataset b never; same passage ids in both."""
    rows = [dict(model="m", press="p", regime="agnostic", dataset=d, ratio=r, passage_id=f"p{i}", qid=f"q{i}-{j}",
                 error_class="hallucination" if (d == "a" and r == 0.5) else "correct", f1=0.0)
            for d, n in (("a", n_a), ("b", n_b)) for i in range(n) for j in range(n_q) for r in (0.0, 0.5)]
    return pd.DataFrame(rows)


def test_pooled_band_is_stratified_by_dataset():
    s = two_datasets()
    c = per_dataset(rate_curves, s, ("model", "press", "regime"), n_boot=300)
    assert list(c.columns[:2]) == ["model", "dataset"] and set(c["dataset"]) == {"a", "b", POOLED}
    pooled = c[(c["dataset"] == POOLED) & (c["ratio"] == 0.5)].iloc[0]
    assert pooled["n"] == 160 and pooled["hallucination_rate"] == pytest.approx(0.25)
    # Every resample keeps 10 passages of a and 30 of b: the pooled rate cannot move.
    assert pooled["hallucination_boot_lo"] == pytest.approx(0.25)
    assert pooled["hallucination_boot_hi"] == pytest.approx(0.25)
    # An unstratified resample of the same 40 passages mixes datasets at random: a wide band.
    mixed = rate_curves(s.assign(passage_id=s["dataset"] + s["passage_id"]).drop(columns="dataset"), n_boot=300)
    row = mixed[mixed["ratio"] == 0.5].iloc[0]
    assert row["hallucination_boot_hi"] - row["hallucination_boot_lo"] > 0.15
    # Passage ids repeat across datasets, yet pooled passages stay apart.
    assert pooled["n_passages"] == 40


def test_pooled_mcnemar_pairs_questions_within_their_dataset():
    s = two_datasets(n_a=3, n_b=3).assign(qid=lambda d: d["qid"].str.split("-").str[1])  # qids repeat
    both = pd.concat([s, s.assign(regime="aware", error_class="correct")])
    t = per_dataset(mcnemar_table, both, ("model", "press", "ratio"))
    pooled = t[(t["dataset"] == POOLED) & (t["ratio"] == 0.5) & (t["outcome"] == "hallucination")].iloc[0]
    assert pooled["n_pairs"] == 24 and pooled["agnostic_only"] == 12


def planted_cliff(h_of, n_passages=(30, 12), n_q=10, seed=3):
    """Scores with binomial hallucinations at chance h_of(ratio) + a passage offset, two datasets."""
    rng = np.random.default_rng(seed)
    grid = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.925, 0.95, 0.975]
    rows = []
    for d, n in zip(("a", "b"), n_passages):
        for p in range(n):
            off = rng.normal(0, 0.03)
            for r in grid:
                k = rng.binomial(n_q, float(np.clip(h_of(r) + off, 0, 1)))
                rows += [dict(model="m", press="p", regime="agnostic", dataset=d, ratio=r, passage_id=f"p{p}",
                              error_class="hallucination" if q < k else "correct") for q in range(n_q)]
    return pd.DataFrame(rows)


def test_breakpoint_cliff_estimate_and_ci_on_a_planted_cliff():
    s = planted_cliff(lambda r: 0.1 + 0.7 / (1 + np.exp(-(r - 0.85) / 0.01)))
    bp = per_dataset(breakpoint_test, s, ("model", "press", "regime"), n_boot=200)
    row = bp[bp["dataset"] == POOLED].iloc[0]
    assert row["cliff"] and row["n_boot"] == 200
    assert abs(row["cliff_ratio"] - 0.85) <= 0.05  # within one grid step
    assert row["cliff_lo"] <= 0.85 <= row["cliff_hi"] and row["cliff_hi"] - row["cliff_lo"] < 0.1
    assert row["share_no_rise"] < 0.05
    assert (bp["dataset"] == "b").sum() == 1 and bp["cliff"].all()


def test_breakpoint_flat_curve_shows_no_rise():
    s = planted_cliff(lambda r: 0.3)
    row = breakpoint_test(s, n_boot=200).iloc[0]
    assert not row["cliff"] and np.isnan(row["cliff_ratio"])
    assert row["share_no_rise"] > 0.6
    assert breakpoint_test(s, n_boot=0).iloc[0]["n_boot"] == 0


def planted_routing(effect: float, n_passages=60, n_q=6, seed=5):
    """Answers at ratios 0.5-0.9 (two presses, two datasets) with consensus ~ U(0.2, 0.8);
    failure chance expit(-1 + effect * (consensus - 0.5)). Some are erased or failed at 0."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_passages):
        shift = rng.normal(0, 0.3)
        for q in range(n_q):
            for press in ("a", "b"):
                for r in (0.5, 0.7, 0.8, 0.9):
                    c = rng.uniform(0.2, 0.8)
                    fail = rng.random() < 1 / (1 + np.exp(1 - effect * (c - 0.5) - shift))
                    rows.append(dict(model="m", regime="agnostic", dataset="d1" if p % 2 else "d2", press=press,
                                     ratio=r, passage_id=f"p{p}", qid=f"p{p}q{q}", consensus_mean=c,
                                     rho_mean=1 - c + rng.normal(0, 0.05), erased=float(rng.random() < 0.1),
                                     correct_at_0=q != 0, error_class="hallucination" if fail else "correct"))
    q = pd.DataFrame(rows)
    q["correct_at_0"] = q["correct_at_0"].astype("boolean")
    return q


def test_rigidity_detects_a_planted_consensus_effect():
    q = planted_routing(effect=4.0)
    out = rigidity_model(q).set_index("term")
    row = out.loc["consensus"]
    assert row["measure"] == "all_tokens"
    assert row["formula"] == "failure ~ consensus + C(ratio_level) + press + C(dataset)"
    assert row["n"] == ((q["erased"] == 0) & q["correct_at_0"]).sum()  # erased and failed-at-0 answers are out
    assert row["note"] == "" and row["p"] < 1e-3
    assert row["odds_ratio_lo"] > 1 and row["odds_ratio_lo"] < np.exp(4.0) < row["odds_ratio_hi"]
    assert row["odds_ratio_per_sd"] == pytest.approx(np.exp(row["coef"] * row["sd"]))
    assert out.loc["rho", "odds_ratio_hi"] < 1  # rho moves against consensus
    # A content measure is fitted when the table has its columns.
    both = rigidity_model(q.assign(consensus_content_mean=q["consensus_mean"], rho_content_mean=q["rho_mean"]))
    assert list(both["measure"]) == ["all_tokens", "all_tokens", "content", "content"]


def test_rigidity_without_an_effect_covers_one():
    row = rigidity_model(planted_routing(effect=0.0)).set_index("term").loc["consensus"]
    assert row["odds_ratio_lo"] < 1 < row["odds_ratio_hi"]


def test_consensus_curves_have_bootstrap_bands():
    q = planted_routing(effect=0.0, n_passages=12)
    c = per_dataset(consensus_curves, q, ("model", "press", "regime"), n_boot=200)
    assert set(c["dataset"]) == {"d1", "d2", POOLED} and set(c["measure"]) == {"all_tokens"}
    pooled = c[(c["dataset"] == POOLED) & (c["press"] == "a") & (c["ratio"] == 0.5)].iloc[0]
    sub = q[(q["press"] == "a") & (q["ratio"] == 0.5)]
    assert pooled["consensus"] == pytest.approx(sub["consensus_mean"].mean()) and pooled["n"] == len(sub)
    assert pooled["consensus_lo"] < pooled["consensus"] < pooled["consensus_hi"]
    assert pooled["rho_lo"] < pooled["rho"] < pooled["rho_hi"]


def test_stats_command_writes_every_table_per_dataset_and_pooled(tmp_path):
    from kvroute.cli import main

    q = simulate_items(ger_effect=1.0, n_passages=8, n_q=3, presses=("a", "b"), datasets=("d1", "d2"))
    q = q.assign(f1=0.0, erased=(q["ger"] == 1).astype(float), consensus_mean=0.5, rho_mean=0.5,
                 answer_type="Person", evidence_evicted_mean=q["ger"])
    pd.concat([q, q.assign(regime="aware")], ignore_index=True).to_parquet(tmp_path / "q.parquet")
    from kvroute.paths import STATS_FILES

    main(["stats", "--scores", str(tmp_path / "q.parquet"), "--questions", str(tmp_path / "q.parquet"),
          "--n-boot", "20", "--n-boot-breakpoint", "5", "--out-dir", str(tmp_path)])
    for name, file in STATS_FILES.items():
        if name != "oracle":
            assert set(pd.read_csv(tmp_path / file)["dataset"]) == {"d1", "d2", POOLED}, name
    assert (pd.read_csv(tmp_path / "breakpoint.csv")["n_boot"] == 5).all()
    oracle = pd.read_csv(tmp_path / "oracle.csv")  # no oracle press studied: the header only
    assert oracle.empty and {"dataset", "base_press", "measure", "arm", "estimate", "note"} <= set(oracle.columns)
