"""The press leaderboard: every studied press's accuracy, cliff and evidence handling, in one long table.

One group per (model, press) over the base rows (the study grid; oracle rows
enter only rise_removed), in one regime per model: agnostic where the model ran
it, the paper's default regime and the one a press is deployed in (the
question is not known when the cache is compressed); a model run only aware is
ranked in that. Datasets are pooled; every interval is a 95% percentile
interval over passage resamples drawn within each dataset
(kvroute.stats.bootstrap), and no interval is given for a group of one passage.

Measures (``measure`` column; ``ratio`` is NaN where the measure is not per ratio):

- f1, H, H_cond at each ratio (H_cond: hallucination among items correct at
  ratio 0); f1_retained = F1(ratio) / F1(0) at each ratio > 0, its resamples
  the ratio of the resampled means (the same resamples for every ratio).
- break: the break of H(alpha) from the breakpoint test (kvroute.stats.breakpoint),
  its interval from that test's refitting bootstrap; NaN, with a note, when the
  line fits as well (no rise) or the grid has too few ratios.
- at ``at_ratio``: ger, evidence_evicted_mean (means over answers whose
  evidence is known) and enrichment = sum(ger) / sum(null_ger_span), each a
  ratio of sums with a passage-bootstrap interval (kvroute.stats.curves.ratio_of_sums).
- rise_removed at ``at_ratio``: the share of the base press's rise in H that
  its protect_diluted oracle takes away (kvroute.stats.oracle), NaN with
  "no oracle run" for a press without oracle rows.
- auc: AUC of evidence_evicted_mean for hallucination over the press's base
  answers at every ratio > 0 (kvroute.stats.predictors.auc_table). Pooled
  over ratios, it holds the common trend in alpha too.

Ratio 0 is the same uncompressed cache under every press name, so its rows repeat per press.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from kvroute.frames import base_press_of, base_rows, oracle_of, require
from kvroute.scoring import with_correct_at_0
from kvroute.stats.bootstrap import cluster_ids, passage_weights, percentile, ratio_of
from kvroute.stats.breakpoint import breakpoint_test
from kvroute.stats.curves import passage_groups, ratio_of_sums
from kvroute.stats.oracle import oracle_table
from kvroute.stats.predictors import PREDICTORS, auc_table, usable

log = logging.getLogger(__name__)

GROUP = ("model", "regime", "press")
PREFERRED_REGIME = "agnostic"  # the paper's default; a press is deployed without the question
PER_RATIO = ("f1", "H", "H_cond", "f1_retained")
AT_RATIO = ("ger", "evidence_evicted_mean", "enrichment", "rise_removed")
MEASURES = (*PER_RATIO, "break", *AT_RATIO, "auc")  # the row order of the table
COLUMNS = (*GROUP, "measure", "ratio", "estimate", "ci_lo", "ci_hi", "n", "n_passages", "note")
REQUIRED = ("model", "regime", "dataset", "press", "ratio", "passage_id", "qid", "error_class", "f1")
# Columns the leaderboard reads when a table has them (the CLI reads only these from each parquet file).
OPTIONAL = ("oracle", "base_press", "correct_at_0", "ger", "evidence_evicted_mean", "null_ger_span")
NO_ORACLE_RUN = "no oracle run"
ONE_PASSAGE = "one passage: no interval"


def _row(key: dict, measure: str, ratio=np.nan, estimate=np.nan, lo=np.nan, hi=np.nan, n=0, n_passages=0,
         note: str = "") -> dict:
    return {**key, "measure": measure, "ratio": float(ratio), "estimate": float(estimate), "ci_lo": float(lo),
            "ci_hi": float(hi), "n": int(n), "n_passages": int(n_passages), "note": note}


def ranked_rows(questions: pd.DataFrame) -> pd.DataFrame:
    """Each model's rows in the regime it is ranked in (module docstring), ratios rounded for joins."""
    parts = []
    for model, sub in questions.groupby("model", sort=True):
        regimes = sorted(sub["regime"].astype(str).unique())
        chosen = PREFERRED_REGIME if PREFERRED_REGIME in regimes else regimes[0]
        if len(regimes) > 1:
            log.info("%s: ranked in the %s regime (the table also has %s)", model, chosen,
                     ", ".join(r for r in regimes if r != chosen))
        parts.append(sub[sub["regime"].astype(str) == chosen])
    out = pd.concat(parts, ignore_index=True)
    return out.assign(ratio=out["ratio"].astype(float).round(10))


def _interval(boot: np.ndarray, ci: float):
    """Percentile interval per column of resamples; resamples with nothing to divide by drop out."""
    return percentile(np.where(np.isfinite(boot), boot, np.nan), ci)


def per_ratio_measures(base: pd.DataFrame, n_boot: int, seed: int, ci: float) -> list[dict]:
    """f1, H, H_cond at every ratio and f1_retained at every ratio > 0, per group, from one set of
    passage resamples per group (so F1(ratio) / F1(0) is paired)."""
    rows = []
    for key, ratios, strata, t in passage_groups(with_correct_at_0(base), GROUP, ["f1"]):
        w = passage_weights(strata, n_boot, seed)
        several = len(strata) > 1
        for measure, (num, den) in {"f1": ("f1", "n"), "H": ("hallucination", "n"),
                                    "H_cond": ("cond_hallucination", "cond_n")}.items():
            with np.errstate(invalid="ignore", divide="ignore"):
                estimate = t[num].sum(axis=0) / t[den].sum(axis=0)
            lo, hi = _interval(ratio_of(w, t[num], t[den]), ci)
            for j, r in enumerate(ratios):
                n = t[den][:, j]
                note = "" if several else ONE_PASSAGE
                if measure == "H_cond" and n.sum() == 0:
                    note = "no item of this press was correct at ratio 0"
                rows.append(_row(key, measure, r, estimate[j], *((lo[j], hi[j]) if several else (np.nan, np.nan)),
                                 n.sum(), (n > 0).sum(), note))
        rows += f1_retained(key, ratios, t, w, several, ci)
    return rows


def f1_retained(key: dict, ratios: np.ndarray, t: dict, w: np.ndarray, several: bool, ci: float) -> list[dict]:
    """F1(ratio) / F1(0) at every ratio > 0; the resamples divide the resampled means."""
    zero = np.flatnonzero(np.isclose(ratios, 0.0))
    above = [j for j, r in enumerate(ratios) if r > 0]
    counts = [(t["n"][:, j].sum(), (t["n"][:, j] > 0).sum()) for j in range(len(ratios))]
    if not zero.size:
        return [_row(key, "f1_retained", ratios[j], n=counts[j][0], n_passages=counts[j][1],
                     note="no answers at ratio 0") for j in above]
    j0 = int(zero[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = t["f1"].sum(axis=0) / t["n"].sum(axis=0)
        boot = ratio_of(w, t["f1"], t["n"])
        retained = boot / boot[:, [j0]]
    lo, hi = _interval(retained, ci)
    rows = []
    for j in above:
        if not f1[j0] > 0:
            rows.append(_row(key, "f1_retained", ratios[j], n=counts[j][0], n_passages=counts[j][1],
                             note="F1 at ratio 0 is 0: nothing to retain"))
            continue
        interval = (lo[j], hi[j]) if several else (np.nan, np.nan)
        rows.append(_row(key, "f1_retained", ratios[j], f1[j] / f1[j0], *interval, *counts[j],
                         "" if several else ONE_PASSAGE))
    return rows


def _break_note(b: pd.Series) -> str:
    """Why a break is missing or weak, in words."""
    if b["reason"]:
        return b["reason"]
    parts = []
    if np.isnan(b["cliff_ratio"]):
        parts.append(f"no rise: the line fits as well (line preferred; delta AIC {b['delta_aic']:.1f})")
    elif not b["cliff"]:
        parts.append(f"rise not significant (LR p = {b['lr_p']:.2g})")
    if b["warning"]:
        parts.append(b["warning"])
    if np.isfinite(b["cliff_ratio"]) and b["n_boot"] and b["share_no_rise"] > 0:
        parts.append(f"{b['share_no_rise']:.0%} of resamples show no rise")
    return "; ".join(parts)


def break_rows(base: pd.DataFrame, n_boot: int, seed: int, ci: float) -> list[dict]:
    """The break of H(alpha) per group, with the breakpoint test's bootstrap interval."""
    tests = breakpoint_test(base, group=GROUP, n_boot=n_boot, seed=seed, ci=ci)
    by = [base[g] for g in GROUP]
    answers, passages = base.groupby(by).size(), cluster_ids(base).groupby(by).nunique()
    rows = []
    for _, b in tests.iterrows():
        key = {g: b[g] for g in GROUP}
        k = tuple(key.values())
        rows.append(_row(key, "break", np.nan, b["cliff_ratio"], b["cliff_lo"], b["cliff_hi"], answers.loc[k],
                         passages.loc[k], _break_note(b)))
    return rows


def _ratio_of_sums_row(key: dict, measure: str, at_ratio: float, sub: pd.DataFrame, num, den, n_boot: int,
                       seed: int, ci: float, zero_note: str) -> dict:
    """One at-ratio measure as sum(num) / sum(den) over ``sub`` (num, den: arrays per row)."""
    if sub.empty:
        return _row(key, measure, at_ratio, note="no answer with a known evidence span")
    frame = sub.assign(_num=num, _den=den)
    estimate, lo, hi = ratio_of_sums(frame, "_num", "_den", n_boot=n_boot, seed=seed, ci=ci)
    n_passages = cluster_ids(frame).nunique()
    note = ""
    if np.isnan(estimate):
        note = zero_note
    elif n_passages < 2:
        note = ONE_PASSAGE
    return _row(key, measure, at_ratio, estimate, lo, hi, len(frame), n_passages, note)


def at_ratio_measures(base: pd.DataFrame, at_ratio: float, n_boot: int, seed: int, ci: float) -> list[dict]:
    """ger, evidence_evicted_mean and enrichment at ``at_ratio`` per group, over answers whose evidence is known."""
    rows = []
    for key_values, group in base.groupby(list(GROUP), sort=True):
        key = dict(zip(GROUP, key_values))
        sub = group[np.isclose(group["ratio"].to_numpy(float), at_ratio)]
        for measure in ("ger", "evidence_evicted_mean"):
            if measure not in sub or sub.empty:
                note = f"no {measure} column in the questions table" if measure not in sub else \
                    f"no answers at ratio {at_ratio:g}"
                rows.append(_row(key, measure, at_ratio, note=note))
                continue
            v = sub[measure].to_numpy(float)
            known = np.isfinite(v)
            rows.append(_ratio_of_sums_row(key, measure, at_ratio, sub[known], v[known], np.ones(known.sum()),
                                           n_boot, seed, ci, ""))
        if sub.empty or not {"ger", "null_ger_span"} <= set(sub.columns):
            note = f"no answers at ratio {at_ratio:g}" if sub.empty else "no ger or null_ger_span column"
            rows.append(_row(key, "enrichment", at_ratio, note=note))
            continue
        ger, null = sub["ger"].to_numpy(float), sub["null_ger_span"].to_numpy(float)
        known = np.isfinite(ger) & np.isfinite(null)
        rows.append(_ratio_of_sums_row(
            key, "enrichment", at_ratio, sub[known], ger[known], null[known], n_boot, seed, ci,
            "null_ger_span is 0: no random span shaped like the evidence is evicted, so GER has no null to "
            "be enriched over"))
    return rows


def rise_removed_rows(questions: pd.DataFrame, base: pd.DataFrame, at_ratio: float, n_boot: int, seed: int,
                      ci: float) -> list[dict]:
    """rise_removed at ``at_ratio`` per group from the protect_diluted oracle (kvroute.stats.oracle)."""
    oracle = oracle_of(questions) != "none"
    # The groups whose press some oracle steered, at any ratio: the others were never run with one.
    ran = set(zip(questions.loc[oracle, "model"], questions.loc[oracle, "regime"], base_press_of(questions)[oracle]))
    table = None
    if ran:
        table = oracle_table(questions, group=("model", "regime", "base_press"), n_boot=n_boot, seed=seed, ci=ci)
        table = table[np.isclose(table["ratio"].to_numpy(float), at_ratio)]
    rows = []
    for key_values in _keys(base):
        key = dict(zip(GROUP, key_values))
        if key_values not in ran:
            rows.append(_row(key, "rise_removed", at_ratio, note=NO_ORACLE_RUN))
            continue
        mine = table[(table["model"] == key["model"]) & (table["regime"] == key["regime"])
                     & (table["base_press"] == key["press"])]
        found = mine[mine["measure"] == "rise_removed"]
        if found.empty:
            rows.append(_row(key, "rise_removed", at_ratio, note=f"no oracle answers at ratio {at_ratio:g}"))
            continue
        r = found.iloc[0]
        # The answers behind it: the protect_diluted arm's (its base answers are the same items).
        arm = mine[(mine["measure"] == "H") & (mine["arm"] == "protect_diluted")]
        n, n_passages = (arm["n"].iloc[0], arm["n_passages"].iloc[0]) if len(arm) else (0, 0)
        rows.append(_row(key, "rise_removed", at_ratio, r["estimate"], r["ci_lo"], r["ci_hi"], n, n_passages,
                         r["note"] if isinstance(r["note"], str) else ""))
    return rows


def auc_rows(questions: pd.DataFrame, base: pd.DataFrame, n_boot: int, seed: int, ci: float) -> list[dict]:
    """AUC of evidence_evicted_mean for hallucination per group, over its base answers at ratio > 0."""
    missing = [p for p in PREDICTORS if p not in questions]
    if missing:
        return [_row(dict(zip(GROUP, k)), "auc", note=f"no {', '.join(missing)} column in the questions table")
                for k in _keys(base)]
    answers = dict(list(usable(questions).groupby(list(GROUP))))
    rows = []
    for key_values in _keys(base):
        key = dict(zip(GROUP, key_values))
        sub = answers.get(key_values)
        if sub is None:
            rows.append(_row(key, "auc", note="no answer at ratio > 0 with a known evidence span"))
            continue
        n_passages = cluster_ids(sub).nunique()
        if sub["hallucination"].nunique() < 2:  # AUC needs both outcomes; skip its (slow) bootstrap
            note = "every answer hallucinates" if sub["hallucination"].iloc[0] else "no answer hallucinates"
            rows.append(_row(key, "auc", n=len(sub), n_passages=n_passages, note=note))
            continue
        found = auc_table(sub, n_boot, seed, ci)["evidence_evicted_mean"]
        interval = (found["auc_lo"], found["auc_hi"]) if n_passages > 1 else (np.nan, np.nan)
        rows.append(_row(key, "auc", np.nan, found["auc"], *interval, len(sub), n_passages,
                         "" if n_passages > 1 else ONE_PASSAGE))
    return rows


def _keys(base: pd.DataFrame) -> list[tuple]:
    """Every group of the base rows, sorted."""
    return sorted(set(zip(*(base[g] for g in GROUP))))


def check_at_ratio(base: pd.DataFrame, at_ratio: float) -> None:
    ratios = sorted(base["ratio"].unique())
    if not np.isclose(ratios, at_ratio).any():
        raise ValueError(f"at_ratio {at_ratio:g} is not a ratio of the questions table (config key "
                         f"leaderboard.at_ratio, --at-ratio); allowed values: {', '.join(f'{r:g}' for r in ratios)}")


def leaderboard_table(questions: pd.DataFrame, at_ratio: float = 0.9, n_boot: int = 1000, seed: int = 0,
                      n_boot_breakpoint: int = 200, ci: float = 0.95) -> pd.DataFrame:
    """The long leaderboard: one row per (model, regime, press) x measure [x ratio]. Columns: model, regime,
    press, measure, ratio, estimate, ci_lo, ci_hi, n (answers behind the estimate), n_passages, note (module
    docstring; docs/outputs.md). ``questions``: metrics/questions.parquet rows of any units, oracle rows too.
    """
    require(questions, REQUIRED, "questions table")
    q = ranked_rows(questions)
    base = base_rows(q)
    if base.empty:
        raise ValueError("questions table has only oracle rows: the leaderboard ranks the base presses")
    check_at_ratio(base, at_ratio)
    at_ratio = float(min(base["ratio"].unique(), key=lambda r: abs(r - at_ratio)))  # the table's own float
    rows = [*per_ratio_measures(base, n_boot, seed, ci), *break_rows(base, n_boot_breakpoint, seed, ci),
            *at_ratio_measures(base, at_ratio, n_boot, seed, ci),
            *rise_removed_rows(q, base, at_ratio, n_boot, seed, ci), *auc_rows(q, base, n_boot, seed, ci)]
    out = pd.DataFrame(rows, columns=COLUMNS)
    order = out["measure"].map({m: i for i, m in enumerate(MEASURES)})
    out = out.assign(_order=order).sort_values([*GROUP, "_order", "ratio"], kind="stable", na_position="first")
    return out.drop(columns="_order").reset_index(drop=True)
