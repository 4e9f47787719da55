"""The claims report on planted results: verdicts where the truth is known, `not run` where inputs are missing.

No model runs: answers tables are synthesised with a known hallucination or F1 pattern, the stats tables
the claims read are computed from them by the stats stage's own functions (or planted where the claim
only reads numbers), and the verdict must follow from what was planted.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import run_snakemake
from scipy.special import expit

from kvroute.claims import base as R
from kvroute.claims.registry import CLAIMS
from kvroute.claims.inputs import ModelInputs
from kvroute.claims.report import COLUMNS, render
from kvroute.frames import POOLED
from kvroute.scoring import correct_at_0
from kvroute.stats import breakpoint_test, oracle_table, per_dataset

GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.925, 0.95, 0.975)
FAST = R.Settings(n_boot=200, n_boot_breakpoint=50, seed=0)


def plant(hallucinates, passages=12, questions=6, ratios=GRID, dataset="base", regimes=("agnostic",),
          presses=("adakv_ea",), seed=0, model="m", **columns) -> pd.DataFrame:
    """A questions table (one row per answer) where ``hallucinates(p, q, ratio, u, regime)`` decides each
    answer (u: a uniform draw); a correct answer has F1 1, a hallucination F1 0. ``columns``: per-question
    tag columns as functions of q."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(passages):
        for q in range(questions):
            draws = rng.random(len(ratios))
            for regime in regimes:
                for press in presses:
                    for r, u in zip(ratios, draws):
                        bad = bool(hallucinates(p, q, r, u, regime))
                        rows.append({"model": model, "dataset": dataset, "regime": regime, "press": press,
                                     "ratio": float(r), "passage_id": f"p{p}", "qid": f"q{q}",
                                     "answers": json.dumps(["x"]), "error_class": "hallucination" if bad else "correct",
                                     "f1": 0.0 if bad else 1.0, "oracle": "none", "base_press": press,
                                     "evidence_evicted_mean": float(r),  # any share: no claim reads it
                                     **{k: f(q) for k, f in columns.items()}})
    table = pd.DataFrame(rows)
    return table.assign(correct_at_0=correct_at_0(table))


def sigmoid_cliff(at: float, low: float = 0.05, high: float = 0.75, steep: float = 80.0):
    return lambda p, q, r, u, regime: u < low + (high - low) * expit(steep * (r - at))


def inputs(answers: pd.DataFrame, family: str = "qwen2", layers: pd.DataFrame | None = None,
           oracle_answers: pd.DataFrame | None = None, **stats) -> ModelInputs:
    return ModelInputs(answers["model"].iloc[0], family, answers,
                       answers.iloc[0:0] if oracle_answers is None else oracle_answers,
                       pd.DataFrame() if layers is None else layers, stats)


def with_breakpoint(answers: pd.DataFrame) -> ModelInputs:
    """The model's inputs with breakpoint.csv as the stats stage computes it (per dataset and pooled)."""
    table = per_dataset(breakpoint_test, answers, ("model", "press", "regime"), n_boot=100, seed=0)
    return inputs(answers, breakpoint=table)


def one(rows: list[dict], **where) -> dict:
    found = [r for r in rows if all(r[k] == v for k, v in where.items())]
    assert len(found) == 1, (where, found)
    return found[0]


# --- C3: the cliff ----------------------------------------------------------------------------------------------

def test_planted_cliff_at_0_9_is_supported():
    answers = plant(sigmoid_cliff(0.9), passages=16)
    row = one(CLAIMS["C3"].evaluate(with_breakpoint(answers), FAST), items=R.ALL)
    assert row["verdict"] == R.SUPPORTED, row
    assert 0.85 <= row["estimate"] <= 0.95 and 0.8 <= row["ci_lo"] <= row["ci_hi"] <= 0.95


def test_planted_cliff_at_0_5_is_contradicted():
    answers = plant(sigmoid_cliff(0.5), passages=16)
    row = one(CLAIMS["C3"].evaluate(with_breakpoint(answers), FAST), items=R.ALL)
    assert row["verdict"] == R.CONTRADICTED and row["ci_hi"] < 0.8, row


def test_flat_curve_is_contradicted():
    # Exactly one question in six hallucinates at every ratio: H is the same everywhere, so the line wins.
    answers = plant(lambda p, q, r, u, regime: q == 0)
    row = one(CLAIMS["C3"].evaluate(with_breakpoint(answers), FAST), items=R.ALL)
    assert row["verdict"] == R.CONTRADICTED and "line is preferred" in row["note"], row


def test_noisy_cliff_is_inconclusive():
    # Half the passages break at 0.5, half at 0.9: a nonlinear curve wins, but where the break lies
    # swings between resamples, so its interval spans the edge of [0.8, 0.95].
    def mixed(p, q, r, u, regime):
        return sigmoid_cliff(0.5 if p % 2 else 0.9)(p, q, r, u, regime)

    row = one(CLAIMS["C3"].evaluate(with_breakpoint(plant(mixed, passages=10)), FAST), items=R.ALL)
    assert row["verdict"] == R.INCONCLUSIVE, row
    assert row["ci_lo"] < 0.8 < row["ci_hi"]


def test_cliff_on_h_cond_is_stated_too():
    # Items the model never knew hallucinate at every ratio; the ones it knew break at 0.9. H_cond's row
    # reads only the known items and finds the same cliff.
    def weak_model(p, q, r, u, regime):
        return q < 2 or sigmoid_cliff(0.9)(p, q, r, u, regime)

    rows = CLAIMS["C3"].evaluate(with_breakpoint(plant(weak_model, passages=16)), FAST)
    cond = one(rows, items=R.COND)
    assert cond["n"] < one(rows, items=R.ALL)["n"]
    assert cond["verdict"] == R.SUPPORTED, cond


@pytest.mark.parametrize("delta_aic, lo, hi, expected", [
    (25.0, 0.86, 0.92, R.SUPPORTED),
    (1.0, 0.86, 0.92, R.CONTRADICTED),  # the line is preferred
    (25.0, 0.40, 0.60, R.CONTRADICTED),  # a clear break, elsewhere
    (25.0, 0.96, 0.97, R.CONTRADICTED),
    (6.0, 0.86, 0.92, R.INCONCLUSIVE),  # between the two AIC bars
    (25.0, 0.70, 0.93, R.INCONCLUSIVE),  # the interval straddles 0.8
    (25.0, np.nan, np.nan, R.INCONCLUSIVE),
])
def test_c3_rule(delta_aic, lo, hi, expected):
    assert CLAIMS["C3"].decide(delta_aic, lo, hi)[0] == expected


# --- C1: accuracy at 0.5 -----------------------------------------------------------------------------------------

def test_c1_no_drop_is_supported_and_a_large_drop_contradicted():
    intact = plant(lambda p, q, r, u, regime: u < 0.1, passages=40)  # the same error rate at every ratio
    row = one(CLAIMS["C1"].evaluate(inputs(intact), FAST), dataset=POOLED, items=R.ALL)
    assert row["verdict"] == R.SUPPORTED and row["ci_hi"] < 0.05, row

    dropping = plant(lambda p, q, r, u, regime: u < (0.1 if r < 0.5 else 0.5), passages=20)
    row = one(CLAIMS["C1"].evaluate(inputs(dropping), FAST), dataset=POOLED, items=R.ALL)
    assert row["verdict"] == R.CONTRADICTED and 0.25 < row["estimate"] < 0.55, row


def test_c1_with_too_few_passages_is_inconclusive_not_supported():
    intact = plant(lambda p, q, r, u, regime: False, passages=3)  # no drop at all, but three passages
    row = one(CLAIMS["C1"].evaluate(inputs(intact), FAST), dataset=POOLED, items=R.ALL)
    assert row["estimate"] == 0 and row["verdict"] == R.INCONCLUSIVE and "passages" in row["note"]


def test_oracle_rows_never_enter_the_grid_claims(tmp_path):
    from kvroute.claims.inputs import load_model

    grid = plant(lambda p, q, r, u, regime: u < 0.1, passages=8)
    # An oracle press that always hallucinates at 0.5: were it read as grid rows, F1(0.5) would collapse.
    steered = grid[np.isclose(grid["ratio"], 0.5)].assign(press="adakv_ea_target", oracle="target",
                                                          error_class="hallucination", f1=0.0)
    path = tmp_path / "questions.parquet"
    pd.concat([grid, steered], ignore_index=True).to_parquet(path)
    m = load_model("m", "qwen2", [str(path)], [], {})
    assert (m.answers["oracle"] == "none").all() and len(m.oracle_answers) == len(grid) + len(steered)
    with_oracle = one(CLAIMS["C1"].evaluate(m, FAST), dataset=POOLED, items=R.ALL)
    without = one(CLAIMS["C1"].evaluate(inputs(grid), FAST), dataset=POOLED, items=R.ALL)
    assert with_oracle["estimate"] == without["estimate"]


# --- gates and the jackknife ----------------------------------------------------------------------------------------

def test_an_outlier_dataset_that_alone_drives_a_pooled_effect_is_not_robust():
    # Five datasets keep their accuracy at 0.5; one loses everything. Resampling passages within datasets
    # never drops the outlier, so the pooled bootstrap interval excludes 0.05; leaving it out removes the effect.
    held = [plant(lambda p, q, r, u, regime: u < 0.1, passages=8, ratios=(0.0, 0.5), dataset=f"d{i}", seed=i)
            for i in range(5)]
    outlier = plant(lambda p, q, r, u, regime: r > 0, passages=8, ratios=(0.0, 0.5), dataset="outlier", seed=9)
    rows = CLAIMS["C1"].evaluate(inputs(pd.concat([*held, outlier], ignore_index=True)), FAST)
    pooled = one(rows, dataset=POOLED, items=R.ALL)
    assert pooled["ci_lo"] > 0.05, pooled  # the bootstrap alone would call it contradicted
    assert pooled["verdict"] == R.NOT_ROBUST and pooled["jk_by"] == "dataset", pooled
    assert pooled["jk_lo"] < 0.05 < pooled["jk_hi"] and "leave-one-dataset-out" in pooled["note"]
    assert one(rows, dataset="outlier", items=R.ALL)["verdict"] == R.CONTRADICTED  # there, it is real


def test_a_pooled_row_is_gated_on_its_smallest_dataset():
    big = [plant(lambda p, q, r, u, regime: u < 0.1 or r > 0, passages=10, ratios=(0.0, 0.5), dataset=f"d{i}",
                 seed=i) for i in range(4)]
    small = plant(lambda p, q, r, u, regime: u < 0.1 or r > 0, passages=2, ratios=(0.0, 0.5), dataset="small")
    rows = CLAIMS["C1"].evaluate(inputs(pd.concat([*big, small], ignore_index=True)), FAST)
    pooled = one(rows, dataset=POOLED, items=R.ALL)
    assert pooled["n_passages"] == 42 and pooled["min_passages"] == 2
    assert pooled["verdict"] == R.INCONCLUSIVE and "2 passages in the smallest dataset" in pooled["note"], pooled
    assert one(rows, dataset="d0", items=R.ALL)["verdict"] == R.CONTRADICTED  # 10 passages: decided
    # The thin dataset's own row is one dataset: its note counts its passages, with no "smallest dataset".
    thin = one(rows, dataset="small", items=R.ALL)
    assert thin["verdict"] == R.INCONCLUSIVE and thin["note"].startswith("2 passages (need 5"), thin
    # claims.min_passages sets the bar.
    lenient = R.Settings(n_boot=200, min_passages=2)
    rows = CLAIMS["C1"].evaluate(inputs(pd.concat([*big, small], ignore_index=True)), lenient)
    assert one(rows, dataset=POOLED, items=R.ALL)["verdict"] != R.INCONCLUSIVE


def confusion(answers: pd.DataFrame, balanced_at: dict[float, float], seed: int = 0) -> pd.DataFrame:
    """probe_passages.csv: per passage, out-of-fold counts of a probe whose balanced accuracy is about as planted."""
    rng = np.random.default_rng(seed)
    rows = []
    for (dataset, passage), sub in answers.groupby(["dataset", "passage_id"]):
        for ratio, acc in balanced_at.items():
            cell = sub[np.isclose(sub["ratio"], ratio)]
            right = (cell["error_class"] == "correct").to_numpy()
            hit = rng.random(len(cell)) < acc
            rows.append({"model": "m", "regime": "agnostic", "press": "adakv_ea", "ratio": ratio, "dataset": "all",
                         "target": "correct", "layer": "pooled", "passage": f"{dataset}/{passage}",
                         "tp": int((right & hit).sum()), "fn": int((right & ~hit).sum()),
                         "tn": int((~right & hit).sum()), "fp": int((~right & ~hit).sum())})
    return pd.DataFrame(rows)


def test_c2_pairs_the_probe_with_the_answers_by_passage():
    answers = plant(lambda p, q, r, u, regime: u < 0.4, passages=20, questions=10, ratios=(0.0, 0.5))
    probe = probe_scores({0.0: 0.9, 0.5: 0.6}, majority=0.6)
    degrading = inputs(answers, probe=probe, probe_passages=confusion(answers, {0.0: 0.95, 0.5: 0.6}))
    row = one(CLAIMS["C2"].evaluate(degrading, FAST), press="adakv_ea")
    assert row["verdict"] == R.SUPPORTED and "paired by passage" in row["note"], row
    assert 0.2 < row["estimate"] < 0.5 and row["jk_by"] == "passage" and row["jk_lo"] > 0
    # A probe that holds as well as the answers do: nothing beyond the accuracy drop.
    steady = inputs(answers, probe=probe, probe_passages=confusion(answers, {0.0: 0.9, 0.5: 0.9}))
    row = one(CLAIMS["C2"].evaluate(steady, FAST), press="adakv_ea")
    assert row["verdict"] != R.SUPPORTED and row["ci_lo"] < 0 < row["ci_hi"], row


# --- C4: GER against H over cells ----------------------------------------------------------------------------------

def test_c4_needs_pearson_and_spearman_from_the_passage_bootstrap():
    from kvroute.stats import ger_aggregate

    def with_ger(table, ger_of_ratio):
        return table.assign(ger=table["ratio"].map(ger_of_ratio).astype(float))

    # H and GER rise together with the ratio, in every passage.
    rising = with_ger(plant(sigmoid_cliff(0.6, steep=12), passages=12), lambda r: r ** 2)
    ger = per_dataset(ger_aggregate, rising, ("model", "regime"), n_boot=200)
    (row,) = [r for r in CLAIMS["C4"].evaluate(inputs(rising, ger=ger), FAST) if r["items"] == R.ALL]
    assert row["verdict"] == R.SUPPORTED and row["estimate"] > 0.8, row
    assert "Spearman rho" in row["note"] and row["jk_by"] == "passage"
    # GER flat while H rises: no correlation, and the bootstrap says so.
    unrelated = with_ger(plant(sigmoid_cliff(0.6, steep=12), passages=12), lambda r: 0.3 + 0.01 * ((r * 10) % 3))
    ger = per_dataset(ger_aggregate, unrelated, ("model", "regime"), n_boot=200)
    (row,) = [r for r in CLAIMS["C4"].evaluate(inputs(unrelated, ger=ger), FAST) if r["items"] == R.ALL]
    assert row["verdict"] != R.SUPPORTED and not row["estimate"] > 0.8, row


# --- C12: hops, a passage-clustered model ---------------------------------------------------------------------------

def test_c12_faster_decline_with_more_hops_is_supported_and_checked_by_the_jackknife():
    # One-hop questions barely notice compression; three-hop ones fall with it.
    hops = plant(lambda p, q, r, u, regime: u < 0.1 + 0.35 * r * (q % 3), passages=20, questions=6,
                 ratios=(0.0, 0.25, 0.5, 0.75, 0.9), dataset="hops", hop=lambda q: 1 + q % 3)
    rows = CLAIMS["C12"].evaluate(inputs(hops), R.Settings(n_boot=50, generators={"hops": "hops"}))
    row = one(rows, items=R.ALL, press="adakv_ea")
    assert row["verdict"] == R.SUPPORTED and row["estimate"] < 0, row
    assert row["jk_by"] == "passage" and row["jk_hi"] < 0, row


# --- C2: the probe against the answers ------------------------------------------------------------------------------

def probe_scores(accuracy_at: dict[float, float], n_scored: int = 400, majority: float = 0.5) -> pd.DataFrame:
    """probe_scores.csv rows; balanced accuracy as planted, accuracy too (balanced classes unless ``majority``)."""
    return pd.DataFrame([{"model": "m", "dataset": "all", "regime": "agnostic", "press": "adakv_ea", "ratio": r,
                          "target": "correct", "layer": layer, "n_scored": n_scored, "accuracy": max(a, majority),
                          "balanced_accuracy": a, "majority_accuracy": majority, "reason": ""}
                         for r, a in accuracy_at.items() for layer in ("3", "pooled")])


def test_c2_probe_degrading_while_answers_hold_is_supported():
    answers = plant(lambda p, q, r, u, regime: u < 0.2, passages=20, ratios=(0.0, 0.5))  # accuracy flat
    row = one(CLAIMS["C2"].evaluate(inputs(answers, probe=probe_scores({0.0: 0.9, 0.5: 0.6})), FAST), press="adakv_ea")
    assert row["verdict"] == R.SUPPORTED and 0.2 < row["estimate"] < 0.4, row
    # The answers fall as far as the probe: no representational loss beyond the accuracy drop.
    falling = plant(lambda p, q, r, u, regime: u < (0.1 if r == 0 else 0.4), passages=20, ratios=(0.0, 0.5))
    row = one(CLAIMS["C2"].evaluate(inputs(falling, probe=probe_scores({0.0: 0.9, 0.5: 0.6})), FAST), press="adakv_ea")
    assert row["verdict"] == R.INCONCLUSIVE and row["ci_lo"] < 0 < row["ci_hi"], row


def test_c2_a_probe_at_its_majority_baseline_is_inconclusive():
    # 82% of the answers are correct at ratio 0: a probe scoring 0.80 there is worse than always saying "correct".
    answers = plant(lambda p, q, r, u, regime: u < 0.18, passages=20, ratios=(0.0, 0.5))
    probe = probe_scores({0.0: 0.5, 0.5: 0.5}, majority=0.82)
    probe["accuracy"] = np.where(probe["ratio"] == 0.0, 0.80, 0.78)
    row = one(CLAIMS["C2"].evaluate(inputs(answers, probe=probe), FAST), press="adakv_ea")
    assert row["verdict"] == R.INCONCLUSIVE and "majority class" in row["note"] and "0.800 vs 0.820" in row["note"]
    # The same accuracies with a majority of 0.6 beat the baseline, and the rule decides again.
    probe = probe_scores({0.0: 0.9, 0.5: 0.6}, majority=0.6)
    row = one(CLAIMS["C2"].evaluate(inputs(answers, probe=probe), FAST), press="adakv_ea")
    assert row["verdict"] == R.SUPPORTED, row


# --- C6: the oracle presses ---------------------------------------------------------------------------------------

def oracle_answers(target_h: float, diluted_h: float, base_h: float = 0.3, passages: int = 16) -> pd.DataFrame:
    """Base rows at 0 and 0.9 plus the four oracle arms at 0.9, each hallucinating at its planted rate."""
    rates = {"none": base_h, "target": target_h, "protect": diluted_h, "protect_diluted": diluted_h,
             "placebo": base_h}
    frames = []
    for variant, h in rates.items():
        t = plant(lambda p, q, r, u, regime, h=h: u < (0.0 if r == 0 else h), passages=passages, ratios=(0.0, 0.9))
        if variant != "none":
            t = t[t["ratio"] == 0.9].assign(press=f"adakv_ea_{variant}", oracle=variant)
        frames.append(t)
    table = pd.concat(frames, ignore_index=True)
    return table.assign(correct_at_0=correct_at_0(table))


def c6_row(answers: pd.DataFrame) -> dict:
    table = per_dataset(oracle_table, answers, ("model", "regime", "base_press"), n_boot=200, seed=0)
    rows = CLAIMS["C6"].evaluate(inputs(answers[answers["oracle"] == "none"], oracle_answers=answers, oracle=table), FAST)
    return one(rows, items=R.ALL)


def test_c6_erasure_causing_hallucination_is_supported():
    row = c6_row(oracle_answers(target_h=0.8, diluted_h=0.05))
    assert row["verdict"] == R.SUPPORTED and row["estimate"] > 0.3, row


def test_c6_protection_that_raises_hallucination_is_contradicted():
    # Targeting the evidence hurts, but keeping it (diluted) hurts too: H(base) - H(protect_diluted) < 0.
    row = c6_row(oracle_answers(target_h=0.8, diluted_h=0.7))
    assert row["verdict"] == R.CONTRADICTED, row


def test_c6_pooled_over_a_thin_dataset_is_gated_and_says_where_the_passages_are_missing():
    # A large planted effect, but one of the two datasets has 2 passages: the pooled row counts 18 passages,
    # the gate counts the thin dataset's 2, and the note must say which count it used.
    thick = oracle_answers(target_h=0.8, diluted_h=0.05)
    thin = oracle_answers(target_h=0.8, diluted_h=0.05, passages=2).assign(dataset="thin")
    row = c6_row(pd.concat([thick, thin], ignore_index=True))
    assert row["n_passages"] == 18 and row["min_passages"] == 2, row
    assert row["verdict"] == R.INCONCLUSIVE and "2 passages in the smallest dataset" in row["note"], row


@pytest.mark.parametrize("target, diluted, expected", [
    ((0.1, 0.3), (0.05, 0.2), R.SUPPORTED),
    ((0.1, 0.3), (-0.05, 0.2), R.INCONCLUSIVE),
    ((0.1, 0.3), (-0.3, -0.1), R.CONTRADICTED),
    ((-0.3, -0.1), (0.05, 0.2), R.CONTRADICTED),
])
def test_c6_rule_needs_both_effects(target, diluted, expected):
    assert CLAIMS["C6"].decide(*target, *diluted)[0] == expected


def test_c6_without_oracle_rows_is_not_run():
    grid = plant(lambda p, q, r, u, regime: u < 0.1)
    (row,) = CLAIMS["C6"].evaluate(inputs(grid, oracle=pd.DataFrame()), FAST)
    assert row["verdict"] == R.NOT_RUN and "oracle" in row["note"]


# --- C9, C11, C14: signs and directions ---------------------------------------------------------------------------

def depth_profile(rising: bool, passages: int = 8, layers: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = [{"model": "m", "dataset": "base", "regime": "agnostic", "press": "adakv_ea", "ratio": 0.0,
             "oracle": "none", "passage_id": f"p{p}", "qid": f"q{q}", "layer": layer,
             "consensus": (0.2 + 0.5 * layer / (layers - 1) if rising else 0.7 - 0.5 * layer / (layers - 1))
             + rng.normal(0, 0.05)}
            for p in range(passages) for q in range(4) for layer in range(layers)]
    return pd.DataFrame(rows)


def test_c9_sign_follows_the_family():
    grid = plant(lambda p, q, r, u, regime: False, ratios=(0.0,))
    rising = depth_profile(rising=True)
    assert one(CLAIMS["C9"].evaluate(inputs(grid, "llama", rising), FAST), model="m")["verdict"] == R.SUPPORTED
    assert one(CLAIMS["C9"].evaluate(inputs(grid, "qwen2", rising), FAST), model="m")["verdict"] == R.CONTRADICTED
    falling = inputs(grid, "qwen2", depth_profile(rising=False))
    assert one(CLAIMS["C9"].evaluate(falling, FAST), model="m")["verdict"] == R.SUPPORTED


def test_c11_aware_abstaining_less_is_supported():
    # "I don't know" items: the agnostic regime abstains correctly, the aware one often answers anyway.
    def aware_commits(p, q, r, u, regime):
        return regime == "aware" and r > 0 and u < 0.6

    table = plant(aware_commits, passages=10, dataset="coreference", regimes=("agnostic", "aware"),
                  ratios=(0.0, 0.5, 0.9))
    table["answers"] = json.dumps(["I don't know"])
    (row,) = CLAIMS["C11"].evaluate(inputs(table), FAST)
    assert row["verdict"] == R.SUPPORTED and row["estimate"] < 0, row


def test_c11_says_how_many_discordant_pairs_mcnemar_needs():
    from kvroute.claims.c11_aware_abstention import MIN_DISCORDANT
    from scipy.stats import binomtest

    # The bound is exact: d pairs all one way reach p < 0.05 from 6 on, never below.
    assert MIN_DISCORDANT == 6
    assert binomtest(5, 5).pvalue >= 0.05 > binomtest(6, 6).pvalue
    # Three "I don't know" items, all abstaining agnostic and committing aware: three discordant pairs.
    table = plant(lambda p, q, r, u, regime: regime == "aware" and r > 0, passages=3, questions=1,
                  dataset="coreference", regimes=("agnostic", "aware"), ratios=(0.0, 0.5, 0.9))
    table["answers"] = json.dumps(["I don't know"])
    (row,) = CLAIMS["C11"].evaluate(inputs(table), FAST)
    assert row["verdict"] == R.INCONCLUSIVE and ">= 6 discordant pairs" in row["note"] and "3 at 0.5" in row["note"]


def test_c14_gain_is_supported_and_a_flat_curve_contradicted():
    # Half the questions fail, except at ratio 0.3, where most of them are answered.
    gains = plant(lambda p, q, r, u, regime: q < 3 and not (r == 0.3 and u < 0.8), passages=10,
                  ratios=(0.0, 0.1, 0.3, 0.5))
    rows = CLAIMS["C14"].evaluate(inputs(gains), FAST)
    assert one(rows, dataset="base")["verdict"] == R.SUPPORTED and "0.3" in one(rows, dataset="base")["quantity"]
    assert one(rows, dataset=POOLED)["verdict"] == R.SUPPORTED  # the summary: one dataset's spike is enough

    flat = plant(lambda p, q, r, u, regime: q < 3, passages=10, ratios=(0.0, 0.1, 0.3, 0.5))
    row = one(CLAIMS["C14"].evaluate(inputs(flat), FAST), dataset=POOLED)
    assert row["verdict"] == R.CONTRADICTED, row


def test_c14_a_spike_in_one_dataset_is_not_averaged_away_and_is_tested_over_datasets_x_ratios():
    # base gains at 0.3 (most failing questions answered); five flat datasets dilute it in a pooled mean.
    spike = plant(lambda p, q, r, u, regime: q < 3 and not (r == 0.3 and u < 0.8), passages=10,
                  ratios=(0.0, 0.3, 0.5))
    flat = [plant(lambda p, q, r, u, regime: q < 3, passages=10, ratios=(0.0, 0.3, 0.5), dataset=f"d{i}", seed=i)
            for i in range(5)]
    rows = CLAIMS["C14"].evaluate(inputs(pd.concat([spike, *flat], ignore_index=True)), FAST)
    assert one(rows, dataset="base")["verdict"] == R.SUPPORTED
    assert "BH over 12 tests" in one(rows, dataset="base")["note"]  # 6 datasets x 2 ratios
    assert {one(rows, dataset=f"d{i}")["verdict"] for i in range(5)} == {R.CONTRADICTED}
    assert one(rows, dataset=POOLED)["verdict"] == R.SUPPORTED


# --- not run, never dropped ---------------------------------------------------------------------------------------

def test_missing_inputs_are_not_run_and_every_claim_is_listed():
    from kvroute.claims.registry import evaluate_model, missing_families

    grid = plant(lambda p, q, r, u, regime: u < 0.1, passages=6, ratios=(0.0, 0.8))  # ci_small's grid
    rows = evaluate_model(inputs(grid, "llama"), FAST) + missing_families({"m": "llama"})
    assert {r["claim"] for r in rows if r["model"] == "m"} == set(CLAIMS)
    verdict = {c: {r["verdict"] for r in rows if r["claim"] == c and r["model"] == "m"} for c in CLAIMS}
    for claim in ("C1", "C2", "C6", "C7", "C9", "C11", "C12", "C13", "C14"):
        assert verdict[claim] == {R.NOT_RUN}, (claim, verdict[claim])
    missing_family = one(rows, claim="C9", model="(no qwen2 model)")
    assert missing_family["verdict"] == R.NOT_RUN
    assert all(r["note"] for r in rows if r["verdict"] == R.NOT_RUN), "a not-run row says why"


def test_cli_writes_csv_and_report(tmp_path):
    from kvroute.cli import main

    grid = plant(lambda p, q, r, u, regime: u < 0.1, passages=6, ratios=(0.0, 0.8), regimes=("agnostic", "aware"))
    grid = grid.assign(ger=grid["ratio"], evidence_evicted_mean=grid["ratio"], erased=0.0)
    questions = []
    for regime, t in grid.groupby("regime"):
        questions.append(tmp_path / f"{regime}.parquet")
        t.to_parquet(questions[-1])
    empty = tmp_path / "oracle.csv"  # what the stats stage writes when no oracle press ran: the header only
    empty.write_text("model,dataset,regime,base_press,ratio,measure,arm,estimate,ci_lo,ci_hi,n,n_passages,note\n")
    out, md = tmp_path / "claims.csv", tmp_path / "replication.md"
    main(["claims", "--questions", *map(str, questions), "--oracle", str(empty), "--families", "m=qwen2",
          "--generators", "base=base", "--n-boot", "50", "--out", str(out), "--report", str(md)])
    claims = pd.read_csv(out, keep_default_na=False)
    assert tuple(claims.columns) == COLUMNS
    assert set(claims.loc[claims["model"] == "m", "claim"]) == set(CLAIMS)
    assert set(claims["verdict"]) <= set(R.VERDICTS)
    text = md.read_text()
    for claim in CLAIMS.values():
        assert f"### {claim.id}." in text and claim.rule in text
    assert "| claim | statement | m |" in text


def test_report_verdict_table_counts_pooled_rows():
    rows = [CLAIMS["C1"].row("m", R.SUPPORTED, dataset=POOLED), CLAIMS["C1"].row("m", R.CONTRADICTED, dataset="base"),
            CLAIMS["C3"].row("m", R.SUPPORTED, press="a"), CLAIMS["C3"].row("m", R.INCONCLUSIVE, press="b")]
    from kvroute.claims.report import claims_frame

    text = render(claims_frame(rows), {"config": "test"}, ["m"])
    table = text.split("## Verdicts (all items)")[1].split("## ")[0]
    c1 = next(line for line in table.splitlines() if line.startswith("| **C1**"))
    c3 = next(line for line in table.splitlines() if line.startswith("| **C3**"))
    assert c1.endswith("| supported |")  # the per-dataset row is in C1's section, not the headline
    assert "supported 1" in c3 and "inconclusive 1" in c3


# --- the workflow ---------------------------------------------------------------------------------------------------

def test_default_dry_run_plans_the_claims_report(repo):
    out = run_snakemake("-n", cwd=repo)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "rule claims:" in out.stdout
    block = out.stdout.split("rule claims:")[1].split("\n\n")[0]
    assert "results/claims.csv" in block and "results/replication.md" in block
    assert "stats/breakpoint.csv" in block and "probe/probe_scores.csv" in block and "layers.parquet" in block
