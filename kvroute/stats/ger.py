"""Does global eviction of the evidence (GER) explain hallucination?

Two views, reported side by side because they can disagree:

- ger_aggregate: the paper's view (Fig. 24). Per (press, ratio) cell, mean GER
  and hallucination rate H; Pearson and Spearman correlation across cells
  with Fisher-z confidence intervals. Both GER and H rise with alpha, so a
  strong correlation here can be nothing but a common trend in alpha.
- ger_item_model: one row per answer. Logistic regression of hallucination
  on GER with ratio as a covariate (categorical by default, which absorbs any
  shape of the alpha trend), errors clustered by passage (GEE, exchangeable;
  cluster-robust GLM if GEE fails). GER's coefficient is then identified
  only from variation in GER *at the same ratio* (across questions, presses).
- ger_verdict: joins both and flags ``common_trend_only`` when the aggregate
  correlation is significant but the item-level GER effect is not.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats as st

from kvroute.frames import present
from kvroute.stats.curves import _groups, cluster_ids

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


def ger_aggregate(questions: pd.DataFrame, group=GROUP, cell=CELL, ci: float = 0.95) -> pd.DataFrame:
    """Columns: *group, n_cells, n_questions, pearson_r, pearson_lo, pearson_hi, pearson_p,
    spearman_rho, spearman_lo, spearman_hi, spearman_p, reason.

    Spearman's interval uses the Bonett-Wright standard error sqrt((1 + rho^2/2)/(n-3)).
    """
    rows = []
    for key, sub in _keyed(_usable(questions), group):
        cells = sub.groupby(list(cell), sort=True).agg(ger=("ger", "mean"), h=("hallucination", "mean"))
        row = {**key, "n_cells": len(cells), "n_questions": len(sub), "reason": ""}
        for name in ("pearson_r", "pearson_lo", "pearson_hi", "pearson_p",
                     "spearman_rho", "spearman_lo", "spearman_hi", "spearman_p"):
            row[name] = np.nan
        if len(cells) < 4:
            row["reason"] = f"only {len(cells)} cells (need 4 for a Fisher-z interval)"
        elif cells["ger"].nunique() < 2 or cells["h"].nunique() < 2:
            row["reason"] = "GER or hallucination rate is constant across cells"
        else:
            r, p = st.pearsonr(cells["ger"], cells["h"])
            rho, ps = st.spearmanr(cells["ger"], cells["h"])
            lo, hi = _fisher_ci(r, len(cells), ci)
            slo, shi = _fisher_ci(rho, len(cells), ci, np.sqrt(1 + rho**2 / 2))
            row.update(pearson_r=float(r), pearson_lo=lo, pearson_hi=hi, pearson_p=float(p),
                       spearman_rho=float(rho), spearman_lo=slo, spearman_hi=shi, spearman_p=float(ps))
        rows.append(row)
    return pd.DataFrame(rows)


def _fit(data: pd.DataFrame, formula: str):
    """GEE (exchangeable) with passage clusters; cluster-robust GLM if GEE fails."""
    groups = pd.factorize(data["cluster"])[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = smf.gee(formula, groups=groups, data=data, family=sm.families.Binomial(),
                          cov_struct=sm.cov_struct.Exchangeable()).fit(maxiter=100)
            if np.all(np.isfinite(res.params)) and np.all(np.isfinite(res.bse)):
                return res, "gee_exchangeable"
        except Exception:  # noqa: BLE001 - any numerical failure falls back to the GLM
            pass
        res = smf.glm(formula, data=data, family=sm.families.Binomial()).fit(
            cov_type="cluster", cov_kwds={"groups": groups})
        return res, "glm_cluster_robust"


def _item_one(sub: pd.DataFrame, ratio_term: str, min_clusters: int) -> tuple[list[dict], dict]:
    data = sub[["hallucination", "ger", "ratio"]].copy()
    data["cluster"] = cluster_ids(sub).to_numpy()
    data["ratio_level"] = data["ratio"].round(10).astype(str)
    info = {"n": len(data), "n_dropped": 0, "n_clusters": data["cluster"].nunique(), "method": "", "reason": ""}
    if ratio_term == "categorical":
        # A ratio level where every answer is (or none is) a hallucination is
        # perfectly separated by its own intercept: it carries no information
        # on GER and makes the fit diverge, so it is left out.
        varies = data.groupby("ratio_level")["hallucination"].transform("nunique") > 1
        info["n_dropped"] = int((~varies).sum())
        data = data[varies]
        rhs = "ger + C(ratio_level)" if data["ratio_level"].nunique() > 1 else "ger"
        terms = ["ger"]
    else:
        rhs, terms = "ger + ratio", ["ger", "ratio"]
    info["n"], info["n_clusters"] = len(data), data["cluster"].nunique()
    if info["n_clusters"] < min_clusters:
        info["reason"] = f"{info['n_clusters']} passage clusters (need {min_clusters})"
    elif data["hallucination"].nunique() < 2:
        info["reason"] = "hallucination is constant"
    elif data["ger"].nunique() < 2:
        info["reason"] = "GER is constant"
    if info["reason"]:
        return [{"term": t} for t in terms], info
    res, info["method"] = _fit(data, f"hallucination ~ {rhs}")
    conf = res.conf_int()
    out = []
    for t in terms:
        out.append({"term": t, "coef": float(res.params[t]), "se": float(res.bse[t]),
                    "z": float(res.tvalues[t]), "p": float(res.pvalues[t]),
                    "ci_lo": float(conf.loc[t, 0]), "ci_hi": float(conf.loc[t, 1]),
                    "odds_ratio": float(np.exp(res.params[t]))})
    return out, info


def ger_item_model(questions: pd.DataFrame, group=GROUP, ratio_term: str = "categorical",
                   min_clusters: int = 5) -> pd.DataFrame:
    """Columns: *group, term, coef, se, z, p, ci_lo, ci_hi, odds_ratio (per unit GER:
    all of T_ans evicted vs none), n, n_dropped, n_clusters, ratio_term, method, reason.

    ratio_term: "categorical" (fixed effect per grid ratio) or "linear".
    """
    if ratio_term not in ("categorical", "linear"):
        raise ValueError(f"ratio_term must be categorical or linear, not {ratio_term!r}")
    rows = []
    for key, sub in _keyed(_usable(questions), group):
        terms, info = _item_one(sub, ratio_term, min_clusters)
        for t in terms:
            blank = {c: np.nan for c in ("coef", "se", "z", "p", "ci_lo", "ci_hi", "odds_ratio")}
            rows.append({**key, "term": t["term"], **blank, **t, **info, "ratio_term": ratio_term})
    return pd.DataFrame(rows)


def ger_verdict(aggregate: pd.DataFrame, item: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """``aggregate`` plus item_ger_coef/p/ci, item_method, aggregate_significant,
    item_significant, common_trend_only and a one-line verdict."""
    group = [c for c in GROUP if c in aggregate.columns and c in item.columns]
    ger = item[item["term"] == "ger"][[*group, "coef", "p", "ci_lo", "ci_hi", "method", "reason"]].rename(
        columns={"coef": "item_ger_coef", "p": "item_ger_p", "ci_lo": "item_ger_ci_lo", "ci_hi": "item_ger_ci_hi",
                 "method": "item_method", "reason": "item_reason"})
    out = aggregate.merge(ger, on=group, how="left") if group else pd.concat([aggregate, ger], axis=1)
    out["aggregate_significant"] = (out["pearson_p"] < alpha) & (out["pearson_r"] > 0)
    out["item_significant"] = (out["item_ger_p"] < alpha) & (out["item_ger_coef"] > 0)
    out["common_trend_only"] = out["aggregate_significant"] & ~out["item_significant"]

    def verdict(r) -> str:
        if not r["aggregate_significant"]:
            return "no significant aggregate correlation"
        if r["item_significant"]:
            return "GER predicts hallucination beyond the ratio trend"
        if pd.isna(r["item_ger_p"]):
            return "aggregate correlation; item-level model not estimable"
        return "aggregate correlation is only a common trend in ratio"

    out["verdict"] = out.apply(verdict, axis=1) if len(out) else pd.Series(dtype=str)
    return out
