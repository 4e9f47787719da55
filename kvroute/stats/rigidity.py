"""Rigidity, measured: does routing consensus predict failure when the evidence survives?

Paper 6.3 (Prop. 3) explains failures with intact evidence by routing: heads
agree on few tokens and the answer is never read. Here that is a model, not
a label. Among answers whose item was correct at alpha = 0
(``correct_at_0``), whose evidence is not erased (``erased`` == 0) and whose
ratio is > 0, a logistic model per routing measure

    failure ~ x + C(ratio) + press + C(dataset)

with failure = error_class != "correct" and x the answer's consensus or rho
at the first answer step (mean over layers), errors clustered by passage
(kvroute.stats.clustered). Consensus and rho are two readings of the same
argmax distribution (high rho <=> low consensus), so each gets its own model
rather than sharing one where they would cancel. ``measure`` = all_tokens
uses every attended position; content (when the questions table has
consensus_content_mean / rho_content_mean) leaves sink and question tokens
out of the argmax.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kvroute.frames import present, require
from kvroute.scoring import with_correct_at_0
from kvroute.stats.clustered import (COEF_COLUMNS, clusters_note, coef_rows, controls, drop_separated_ratios,
                                     NotEstimable, fit_logit, model_frame)
from kvroute.stats.curves import _groups

GROUP = ("model", "regime")
# measure -> (consensus column, rho column) of metrics/questions.parquet
MEASURES = {"all_tokens": ("consensus_mean", "rho_mean"), "content": ("consensus_content_mean", "rho_content_mean")}
SD_COLUMNS = ("sd", "odds_ratio_per_sd", "odds_ratio_per_sd_lo", "odds_ratio_per_sd_hi")


def eligible(questions: pd.DataFrame) -> pd.DataFrame:
    """Answers at ratio > 0 whose item was correct at 0 and whose evidence survives, with failure 0/1."""
    q = with_correct_at_0(questions)
    keep = (q["correct_at_0"].astype("boolean").fillna(False).to_numpy(bool)
            & (q["erased"].to_numpy(float) == 0) & (q["ratio"].to_numpy(float) > 0))
    q = q[keep]
    return q.assign(failure=(q["error_class"].astype(str) != "correct").astype(float))


def _fit_one(sub: pd.DataFrame, term: str, column: str, min_clusters: int) -> dict:
    data = model_frame(sub, ["failure", column, "press", "dataset"]).rename(columns={column: term})
    data = data[np.isfinite(data[term].to_numpy(float))]
    data, n_dropped = drop_separated_ratios(data, "failure")
    formula = "failure ~ " + " + ".join([term, *controls(data)])
    row = {"term": term, "column": column, **dict.fromkeys(COEF_COLUMNS + SD_COLUMNS, np.nan), "n": len(data),
           "n_failures": int(data["failure"].sum()), "n_dropped": n_dropped, "n_clusters": data["cluster"].nunique(),
           "n_params": np.nan, "method": "", "formula": formula, "reason": "", "note": ""}
    if row["n_clusters"] < min_clusters:
        row["reason"] = f"{row['n_clusters']} passage clusters (need {min_clusters})"
    elif data["failure"].nunique() < 2:
        row["reason"] = "failure is constant"
    elif data[term].nunique() < 2:
        row["reason"] = f"{term} is constant"
    if row["reason"]:
        return row
    try:
        res, row["method"] = fit_logit(data, formula)
    except NotEstimable as err:
        row["reason"] = str(err)
        return row
    row["n_params"] = len(res.params)
    row["note"] = clusters_note(row["n_clusters"], row["n_params"])
    row.update(coef_rows(res, [term], row["note"])[0])
    # Per SD of the measure among these answers: consensus spans [1/H, 1], so "per unit" is its whole range.
    sd = float(data[term].std())
    row.update(sd=sd, odds_ratio_per_sd=float(np.exp(row["coef"] * sd)),
               odds_ratio_per_sd_lo=float(np.exp(row["ci_lo"] * sd)),
               odds_ratio_per_sd_hi=float(np.exp(row["ci_hi"] * sd)))
    return row


def rigidity_model(questions: pd.DataFrame, group=GROUP, min_clusters: int = 5) -> pd.DataFrame:
    """One row per group x measure x term. Columns: *group, measure, term (consensus /
    rho), column (the questions-table column), coef, se, z, p, ci_lo, ci_hi,
    odds_ratio (+ _lo/_hi: per unit of the measure), sd, odds_ratio_per_sd (+ _lo/_hi:
    per standard deviation of the measure among the fitted answers), n,
    n_failures, n_dropped (ratio levels without variation), n_clusters,
    n_params, method, formula, reason, note (p is NaN when there are fewer
    than 5 passage clusters per parameter).

    Measures whose columns the table lacks are left out; with none, the table is empty.
    """
    require(questions, ["ratio", "error_class", "erased", "passage_id"], "questions table")
    measures = {m: cols for m, cols in MEASURES.items() if set(cols) <= set(questions.columns)}
    rows = []
    for key, sub in _groups(questions, present(questions, group)):
        sub = eligible(sub)
        for measure, cols in measures.items():
            for term, column in zip(("consensus", "rho"), cols):
                rows.append({**key, "measure": measure, **_fit_one(sub, term, column, min_clusters)})
    return pd.DataFrame(rows)
