"""Partial eviction as a predictor: does evidence_evicted_mean say more about hallucination than GER?

GER counts an evidence token as gone only when no layer and no KV head keeps
it; evidence_evicted_mean is the share of (layer, KV head) pairs that drop it,
averaged over T_ans, so it also sees evidence that most heads lost. Among base
answers at ratio > 0 whose evidence is known (both measures finite), per
(model, regime) and dataset (and pooled):

- the AUC of each measure for hallucination (sklearn roc_auc_score) and their
  difference, with 95% percentile intervals from one set of passage resamples
  (stratified by dataset when pooled; each resample weights every answer by
  how often its passage was drawn), so the difference is paired;
- one item-level logistic model ``hallucination ~ evidence_evicted_mean + ger
  + C(ratio)`` (+ press and C(dataset) when they vary), errors clustered by
  passage (kvroute.stats.clustered); p is NaN, with a note, below 5 passage
  clusters per estimated parameter.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from kvroute.frames import base_rows, present, require
from kvroute.stats.bootstrap import cluster_ids, passage_weights, percentile, strata_of
from kvroute.stats.clustered import (COEF_COLUMNS, clusters_note, coef_rows, controls, drop_separated_ratios,
                                     NotEstimable, fit_logit, model_frame)
from kvroute.stats.curves import _groups

GROUP = ("model", "regime")
PREDICTORS = ("evidence_evicted_mean", "ger")
AUC_COLUMNS = ("auc", "auc_lo", "auc_hi", "auc_diff", "auc_diff_lo", "auc_diff_hi")
INFO_COLUMNS = ("n", "n_hallucinations", "n_clusters", "n_params", "n_dropped", "method", "formula", "reason", "note")


def usable(questions: pd.DataFrame) -> pd.DataFrame:
    """Base answers at ratio > 0 with both predictors known, and hallucination as 0/1."""
    q = base_rows(questions)
    known = np.isfinite(q[list(PREDICTORS)].to_numpy(float)).all(axis=1)
    q = q[known & (q["ratio"].to_numpy(float) > 0)]
    return q.assign(hallucination=(q["error_class"].astype(str) == "hallucination").astype(float))


def _auc(y: np.ndarray, x: np.ndarray, weight: np.ndarray | None = None) -> float:
    keep = slice(None) if weight is None else weight > 0
    y, x = y[keep], x[keep]
    if len(np.unique(y)) < 2:
        return np.nan  # AUC needs both outcomes
    return float(roc_auc_score(y, x, sample_weight=None if weight is None else weight[keep]))


def auc_table(sub: pd.DataFrame, n_boot: int, seed: int, ci: float = 0.95) -> dict[str, dict]:
    """Per predictor: auc with its interval, and the paired difference evidence_evicted_mean - ger."""
    y = sub["hallucination"].to_numpy()
    xs = {p: sub[p].to_numpy(float) for p in PREDICTORS}
    clusters = cluster_ids(sub).to_numpy()
    passages, idx = np.unique(clusters, return_inverse=True)
    strata = strata_of(sub).groupby(clusters).first().reindex(passages).to_numpy()
    boot = {p: np.full(n_boot, np.nan) for p in PREDICTORS}
    for b, w in enumerate(passage_weights(strata, n_boot, seed)):
        for p, x in xs.items():
            boot[p][b] = _auc(y, x, w[idx])
    first, second = PREDICTORS
    diff = _auc(y, xs[first]) - _auc(y, xs[second])
    diff_lo, diff_hi = percentile(boot[first] - boot[second], ci)
    out = {}
    for p, x in xs.items():
        lo, hi = percentile(boot[p], ci)
        out[p] = {"auc": _auc(y, x), "auc_lo": float(lo), "auc_hi": float(hi), "auc_diff": diff,
                  "auc_diff_lo": float(diff_lo), "auc_diff_hi": float(diff_hi)}
    return out


def item_model(sub: pd.DataFrame, min_clusters: int) -> tuple[dict[str, dict], dict]:
    """(coefficients per predictor, fit info) of the clustered logistic model."""
    data = model_frame(sub, ["hallucination", *PREDICTORS, "press", "dataset"])
    data, n_dropped = drop_separated_ratios(data, "hallucination")
    formula = "hallucination ~ " + " + ".join([*PREDICTORS, *controls(data)])
    info = {"n_clusters": data["cluster"].nunique(), "n_params": np.nan, "n_dropped": n_dropped, "method": "",
            "formula": formula, "reason": "", "note": ""}
    constant = [p for p in PREDICTORS if data[p].nunique() < 2]
    if info["n_clusters"] < min_clusters:
        info["reason"] = f"{info['n_clusters']} passage clusters (need {min_clusters})"
    elif data["hallucination"].nunique() < 2:
        info["reason"] = "hallucination is constant"
    elif constant:
        info["reason"] = f"{', '.join(constant)} is constant"
    if info["reason"]:
        return {}, info
    try:  # a predictor that separates the outcomes (or copies the other) has no finite estimate
        res, info["method"] = fit_logit(data, formula)
    except NotEstimable as err:
        info["reason"] = str(err)
        return {}, info
    info["n_params"] = len(res.params)
    info["note"] = clusters_note(info["n_clusters"], info["n_params"])
    return {r.pop("term"): r for r in coef_rows(res, PREDICTORS, info["note"])}, info


def evidence_predictors(questions: pd.DataFrame, group: Sequence[str] = GROUP, n_boot: int = 1000, seed: int = 0,
                        min_clusters: int = 5, ci: float = 0.95) -> pd.DataFrame:
    """Two rows per group, one per term (evidence_evicted_mean, ger). Columns: *group, term, auc, auc_lo,
    auc_hi, auc_diff, auc_diff_lo, auc_diff_hi (evidence_evicted_mean - ger: the same on both rows), coef,
    se, z, p, ci_lo, ci_hi, odds_ratio (+ _lo/_hi; per unit of the measure: all of T_ans evicted vs
    none), n, n_hallucinations, n_clusters, n_params, n_dropped (ratio levels without variation), method,
    formula, reason, note. A questions table from before evidence_evicted_mean gives the header only.
    """
    require(questions, ["ratio", "error_class", "passage_id", "ger"], "questions table")
    group = present(questions, group)
    columns = [*group, "term", *AUC_COLUMNS, *COEF_COLUMNS, *INFO_COLUMNS]
    if "evidence_evicted_mean" not in questions:
        return pd.DataFrame(columns=columns)
    rows = []
    for key, sub in _groups(usable(questions), group):
        aucs = auc_table(sub, n_boot, seed, ci)
        coefs, info = item_model(sub, min_clusters)
        counts = {"n": len(sub), "n_hallucinations": int(sub["hallucination"].sum())}
        for term in PREDICTORS:
            rows.append({**key, "term": term, **aucs[term], **coefs.get(term, {}), **counts, **info})
    return pd.DataFrame(rows, columns=columns)
