"""Question-aware vs question-agnostic compression, paired by question.

The same question is answered under both regimes, so the comparison is a
McNemar test on discordant pairs (exact binomial when fewer than 25), per
model, dataset, press and ratio; Benjamini-Hochberg across the whole table
per model and outcome. Pairs are matched on dataset, passage and qid, so a
table that pools datasets still pairs each question with itself.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.contingency_tables import mcnemar

from kvroute.frames import present, require
from kvroute.stats.multiple import bh_adjust

GROUP = ("model", "dataset", "press", "ratio")
# What names one question across the regimes; dataset and passage keep ids apart when datasets are pooled.
ITEM = ("dataset", "passage_id", "qid")
OUTCOMES = ("hallucination", "correct")
COLUMNS = ("outcome", "rate_agnostic", "rate_aware", "diff", "n_pairs", "both", "agnostic_only", "aware_only",
           "neither", "statistic", "p", "exact", "p_bh", "reject_bh")


def item_keys(scores: pd.DataFrame, group) -> list[str]:
    """The ITEM columns of ``scores`` not already in ``group``: with them a row names one question."""
    return [c for c in present(scores, ITEM) if c not in group]


def mcnemar_counts(agnostic: np.ndarray, aware: np.ndarray) -> dict:
    """2x2 paired table of booleans and its McNemar test."""
    a, w = np.asarray(agnostic, bool), np.asarray(aware, bool)
    both, agn_only, awr_only, neither = (a & w).sum(), (a & ~w).sum(), (~a & w).sum(), (~a & ~w).sum()
    discordant = int(agn_only + awr_only)
    exact = discordant < 25
    res = mcnemar([[both, agn_only], [awr_only, neither]], exact=exact, correction=True)
    return {"n_pairs": len(a), "both": int(both), "agnostic_only": int(agn_only), "aware_only": int(awr_only),
            "neither": int(neither), "statistic": float(res.statistic), "p": float(res.pvalue), "exact": exact}


def mcnemar_table(scores: pd.DataFrame, group=GROUP, outcomes=OUTCOMES, alpha: float = 0.05) -> pd.DataFrame:
    """Columns: *group, outcome, n_pairs, rate_agnostic, rate_aware, diff (aware -
    agnostic), both, agnostic_only, aware_only, neither, statistic, p, exact,
    p_bh, reject_bh. Empty if the table lacks one of the two regimes.
    """
    require(scores, ["regime", "qid", "error_class"], "scores table")
    group = present(scores, group)
    if not {"agnostic", "aware"} <= set(scores["regime"].astype(str)):
        # Header only, so a one-regime study still writes a readable CSV.
        return pd.DataFrame(columns=[*group, *COLUMNS])
    keys = [*group, *item_keys(scores, group)]
    rows = []
    for outcome in outcomes:
        flag = (scores["error_class"].astype(str) == outcome).rename("y")
        wide = pd.concat([scores[keys + ["regime"]], flag], axis=1).pivot_table(
            index=keys, columns="regime", values="y", aggfunc="first").dropna(subset=["agnostic", "aware"])
        for key, sub in wide.groupby(level=list(range(len(group))), sort=True):
            key = dict(zip(group, key if isinstance(key, tuple) else (key,)))
            a, w = sub["agnostic"].astype(bool).to_numpy(), sub["aware"].astype(bool).to_numpy()
            rows.append({**key, "outcome": outcome, "rate_agnostic": a.mean(), "rate_aware": w.mean(),
                         "diff": w.mean() - a.mean(), **mcnemar_counts(a, w)})
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame(columns=[*group, *COLUMNS])
    out["p_bh"], out["reject_bh"] = np.nan, False
    family = [c for c in ("model",) if c in out.columns] + ["outcome"]
    for _, idx in out.groupby(family).groups.items():
        out.loc[idx, "p_bh"], out.loc[idx, "reject_bh"] = bh_adjust(out.loc[idx, "p"], alpha)
    return out
