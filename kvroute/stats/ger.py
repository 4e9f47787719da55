"""Does global eviction of the evidence (GER) explain hallucination?

Two views, reported side by side because they can disagree:

- ger_aggregate: the paper's view (Fig. 24). Per (press, ratio) cell, mean GER
  and hallucination rate H; Pearson and Spearman correlation across cells
  with passage-bootstrap confidence intervals. Ratio 0 is one uncompressed cache that
  every press shares, so it is one cell, not one per press. Both GER and H
  rise with alpha, so a strong correlation here can be nothing but a common
  trend in alpha.
- ger_item_model: one row per answer at ratio > 0. Logistic regression
  ``hallucination ~ ger + C(ratio) + press + C(dataset) + failed_at_0``
  (kvroute.stats.clustered: errors clustered by passage). The categorical
  ratio absorbs any shape of the alpha trend, so GER's coefficient is
  identified only from variation in GER *at the same ratio* (across
  questions, presses); failed_at_0 (the item was not correct uncompressed)
  separates what the model never knew from what compression did. Items whose
  gold is "I don't know" have no evidence to lose and are left out.
- ger_verdict: joins both and flags ``common_trend_only`` when the aggregate
  correlation is significant but the item-level GER effect is not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as st

from kvroute.frames import present, require
from kvroute.scoring import is_idk_gold, parse_answers, with_correct_at_0
from kvroute.stats.bootstrap import cluster_ids, passage_weights, percentile, ratio_of, strata_of
from kvroute.stats.clustered import (COEF_COLUMNS, clusters_note, coef_rows, controls, drop_separated_ratios,
                                     NotEstimable, fit_logit, model_frame)
from kvroute.stats.curves import _groups

GROUP = ("model", "regime")
CELL = ("press", "ratio")


def _keyed(df: pd.DataFrame, group):
    # Grouping columns the table lacks are dropped, not an error.
    return _groups(df, present(df, group))


def _fisher_ci(r: float, n: int, ci: float, se_scale: float = 1.0) -> tuple[float, float]:
    if n <= 3 or not np.isfinite(r) or abs(r) >= 1:
        return np.nan, np.nan
    z = st.norm.ppf(0.5 + ci / 2) * se_scale / np.sqrt(n - 3)
    return float(np.tanh(np.arctanh(r) - z)), float(np.tanh(np.arctanh(r) + z))


def _usable(questions: pd.DataFrame) -> pd.DataFrame:
    q = questions[np.isfinite(questions["ger"].to_numpy(float))].copy()
    q["hallucination"] = (q["error_class"].astype(str) == "hallucination").astype(float)
    return q


def ratio0_once(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with the ratio-0 rows of one press only: every press shares the uncompressed cache."""
    if "press" not in df or df.empty:
        return df
    zero = np.isclose(df["ratio"].to_numpy(float), 0.0)
    if not zero.any():
        return df
    first = sorted(df.loc[zero, "press"].astype(str).unique())[0]
    return df[~zero | (df["press"].astype(str) == first).to_numpy()]


def ger_aggregate(questions: pd.DataFrame, group=GROUP, cell=CELL, ci: float = 0.95, n_boot: int = 1000,
                  seed: int = 0) -> pd.DataFrame:
    """Columns: *group, n_cells, n_questions, pearson_r, pearson_lo, pearson_hi, pearson_p,
    spearman_rho, spearman_lo, spearman_hi, spearman_p, ci_method, reason.

    Cells are press x ratio with ratio 0 counted once (n_questions counts its
    answers once too). The cells are not independent (they share passages), so
    both correlations' intervals come from a passage bootstrap (stratified by
    dataset) that recomputes every cell's mean GER and H per resample; with
    ``n_boot`` 0 they are Fisher-z intervals over the cells (Spearman's with
    the Bonett-Wright standard error sqrt((1 + rho^2/2)/(n-3))).
    """
    rows = []
    for key, sub in _keyed(_usable(questions), group):
        sub = ratio0_once(sub)
        cells = sub.groupby(list(cell), sort=True).agg(ger=("ger", "mean"), h=("hallucination", "mean"))
        row = {**key, "n_cells": len(cells), "n_questions": len(sub), "ci_method": "", "reason": ""}
        for name in ("pearson_r", "pearson_lo", "pearson_hi", "pearson_p",
                     "spearman_rho", "spearman_lo", "spearman_hi", "spearman_p"):
            row[name] = np.nan
        if len(cells) < 4:
            row["reason"] = f"only {len(cells)} cells (need 4 for an interval)"
        elif cells["ger"].nunique() < 2 or cells["h"].nunique() < 2:
            row["reason"] = "GER or hallucination rate is constant across cells"
        else:
            r, p = st.pearsonr(cells["ger"], cells["h"])
            rho, ps = st.spearmanr(cells["ger"], cells["h"])
            row.update(pearson_r=float(r), pearson_p=float(p), spearman_rho=float(rho), spearman_p=float(ps))
            if n_boot > 0 and cluster_ids(sub).nunique() > 1:
                (lo, hi), (slo, shi) = _bootstrap_correlations(sub, list(cell), n_boot, seed, ci)
                row["ci_method"] = f"passage bootstrap ({n_boot})"
            else:
                lo, hi = _fisher_ci(r, len(cells), ci)
                slo, shi = _fisher_ci(rho, len(cells), ci, np.sqrt(1 + rho**2 / 2))
                row["ci_method"] = "Fisher z over cells"
            row.update(pearson_lo=lo, pearson_hi=hi, spearman_lo=slo, spearman_hi=shi)
        rows.append(row)
    return pd.DataFrame(rows)


def _bootstrap_correlations(sub: pd.DataFrame, cell: list[str], n_boot: int, seed: int, ci: float):
    """Percentile intervals of Pearson r and Spearman rho over cells whose means are recomputed in each
    passage resample."""
    clusters = cluster_ids(sub).to_numpy()
    passages, p_idx = np.unique(clusters, return_inverse=True)
    c_idx = sub.groupby(cell, sort=True).ngroup().to_numpy()
    shape = (len(passages), c_idx.max() + 1)
    sums = {name: np.zeros(shape) for name in ("ger", "h", "n")}
    np.add.at(sums["ger"], (p_idx, c_idx), sub["ger"].to_numpy(float))
    np.add.at(sums["h"], (p_idx, c_idx), sub["hallucination"].to_numpy(float))
    np.add.at(sums["n"], (p_idx, c_idx), 1.0)
    strata = strata_of(sub).groupby(clusters).first().reindex(passages).to_numpy()
    w = passage_weights(strata, n_boot, seed)
    ger, h = ratio_of(w, sums["ger"], sums["n"]), ratio_of(w, sums["h"], sums["n"])  # (n_boot, cells)
    ok = np.isfinite(ger).all(axis=1) & np.isfinite(h).all(axis=1)
    pearson = _row_corr(ger[ok], h[ok])
    spearman = _row_corr(st.rankdata(ger[ok], axis=1), st.rankdata(h[ok], axis=1))
    return percentile(pearson, ci), percentile(spearman, ci)


def _row_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r of each row of ``a`` with the same row of ``b`` (NaN for a constant row)."""
    a, b = a - a.mean(axis=1, keepdims=True), b - b.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))


def item_rows(questions: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """The answers the item model uses (ratio > 0, GER known, gold not "I don't know",
    correct_at_0 known) with hallucination and failed_at_0 as 0/1, and how many were left out."""
    q = with_correct_at_0(_usable(questions))
    q = q[q["ratio"].to_numpy(float) > 0]
    idk = np.array([is_idk_gold(parse_answers(a)) for a in q["answers"]], dtype=bool)
    base = q["correct_at_0"].astype("boolean")
    keep = ~idk & base.notna().to_numpy()
    q = q[keep].assign(failed_at_0=(~base[keep].astype(bool)).astype(float))
    return q, {"n_idk": int(idk.sum()), "n_no_ratio0": int((~idk & base.isna().to_numpy()).sum())}


def _item_one(sub: pd.DataFrame, ratio_term: str, min_clusters: int) -> tuple[list[dict], dict]:
    data = model_frame(sub, ["hallucination", "ger", "ratio", "press", "dataset", "failed_at_0"])
    n_dropped = 0
    if ratio_term == "categorical":
        data, n_dropped = drop_separated_ratios(data, "hallucination")
        terms, rhs = ["ger"], ["ger", *controls(data)]
    else:
        terms, rhs = ["ger", "ratio"], ["ger", "ratio", *controls(data, {"press": "press", "C(dataset)": "dataset"})]
    if data["failed_at_0"].nunique() > 1:
        rhs.append("failed_at_0")
    formula = "hallucination ~ " + " + ".join(rhs)
    info = {"n": len(data), "n_dropped": n_dropped, "n_clusters": data["cluster"].nunique(), "n_params": np.nan,
            "method": "", "formula": formula, "reason": "", "note": ""}
    if info["n_clusters"] < min_clusters:
        info["reason"] = f"{info['n_clusters']} passage clusters (need {min_clusters})"
    elif data["hallucination"].nunique() < 2:
        info["reason"] = "hallucination is constant"
    elif data["ger"].nunique() < 2:
        info["reason"] = "GER is constant"
    if info["reason"]:
        return [{"term": t} for t in terms], info
    try:
        res, info["method"] = fit_logit(data, formula)
    except NotEstimable as err:
        info["reason"] = str(err)
        return [{"term": t} for t in terms], info
    info["n_params"] = len(res.params)
    info["note"] = clusters_note(info["n_clusters"], info["n_params"])
    return coef_rows(res, terms, info["note"]), info


def ger_item_model(questions: pd.DataFrame, group=GROUP, ratio_term: str = "categorical",
                   min_clusters: int = 5) -> pd.DataFrame:
    """Columns: *group, term, coef, se, z, p, ci_lo, ci_hi, odds_ratio (+ _lo/_hi; per unit
    GER: all of T_ans evicted vs none), n, n_dropped (ratio levels without variation),
    n_idk ("I don't know" golds left out), n_no_ratio0 (no ratio-0 answer, so no
    failed_at_0), n_clusters, n_params, ratio_term, method, formula, reason, note.

    ratio_term: "categorical" (C(ratio): a fixed effect per grid ratio) or
    "linear". Controls that do not vary within a group (one press, one
    dataset) are left out of its formula. p is NaN, with a note, when there
    are fewer than 5 passage clusters per estimated parameter.
    """
    if ratio_term not in ("categorical", "linear"):
        raise ValueError(f"ratio_term must be categorical or linear, not {ratio_term!r}")
    require(questions, ["ratio", "ger", "error_class", "answers", "passage_id"], "questions table")
    rows = []
    for key, sub in _keyed(questions, group):
        usable, left_out = item_rows(sub)
        terms, info = _item_one(usable, ratio_term, min_clusters)
        for t in terms:
            rows.append({**key, "term": t["term"], **dict.fromkeys(COEF_COLUMNS, np.nan), **t, **info, **left_out,
                         "ratio_term": ratio_term})
    return pd.DataFrame(rows)


def ger_verdict(aggregate: pd.DataFrame, item: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """``aggregate`` plus item_ger_coef/p/ci, item_method, item_reason, item_note,
    aggregate_significant, item_significant, common_trend_only and a one-line verdict.

    common_trend_only needs an item-level p-value: without one (too few
    clusters, or no fit) the item level cannot say the correlation is a trend.
    """
    group = [c for c in ("model", "dataset", "regime") if c in aggregate.columns and c in item.columns]
    cols = {"coef": "item_ger_coef", "p": "item_ger_p", "ci_lo": "item_ger_ci_lo", "ci_hi": "item_ger_ci_hi",
            "method": "item_method", "reason": "item_reason", "note": "item_note"}
    ger = item[item["term"] == "ger"]
    ger = ger[[*group, *present(ger, cols)]].rename(columns=cols)
    out = aggregate.merge(ger, on=group, how="left") if group else pd.concat([aggregate, ger], axis=1)
    if "item_note" not in out:
        out["item_note"] = ""
    out["aggregate_significant"] = (out["pearson_p"] < alpha) & (out["pearson_r"] > 0)
    out["item_significant"] = (out["item_ger_p"] < alpha) & (out["item_ger_coef"] > 0)
    out["common_trend_only"] = out["aggregate_significant"] & out["item_ger_p"].notna() & ~out["item_significant"]

    def verdict(r) -> str:
        if not r["aggregate_significant"]:
            return "no significant aggregate correlation"
        if r["item_significant"]:
            return "GER predicts hallucination beyond the ratio trend"
        if isinstance(r["item_note"], str) and r["item_note"]:
            return "aggregate correlation; too few passage clusters for an item-level p-value"
        if pd.isna(r["item_ger_p"]):
            return "aggregate correlation; item-level model not estimable"
        return "aggregate correlation is only a common trend in ratio"

    out["verdict"] = out.apply(verdict, axis=1) if len(out) else pd.Series(dtype=str)
    return out
