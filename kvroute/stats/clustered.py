"""Logistic models of per-answer outcomes with errors clustered by passage.

One fitting path for every item-level model (GER -> hallucination,
consensus -> failure): GEE with an exchangeable working correlation within
passages, or a cluster-robust GLM when GEE fails. Cluster-robust errors need
many clusters per estimated parameter; below ``MIN_CLUSTERS_PER_PARAM`` the
estimate and its interval are still reported, but the p-value is not (NaN,
with a ``note`` saying why).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf

from kvroute.stats.bootstrap import cluster_ids

MIN_CLUSTERS_PER_PARAM = 5
# A log-odds this large (odds ratio e^30 per unit of a predictor, or a ratio level's intercept) is not an
# estimate: the optimiser ran off along a direction that (quasi-)separates the outcome.
DIVERGED_LOGODDS = 30.0
CONTROLS = {"C(ratio_level)": "ratio_level", "press": "press", "C(dataset)": "dataset"}
COEF_COLUMNS = ("coef", "se", "z", "p", "ci_lo", "ci_hi", "odds_ratio", "odds_ratio_lo", "odds_ratio_hi")


def model_frame(sub: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``columns`` of ``sub`` plus the passage cluster and the ratio as a category label."""
    data = sub[[c for c in columns if c in sub.columns]].copy()
    data["cluster"] = cluster_ids(sub).to_numpy()
    data["ratio_level"] = sub["ratio"].astype(float).round(10).astype(str).to_numpy()
    return data


def drop_separated_ratios(data: pd.DataFrame, outcome: str) -> tuple[pd.DataFrame, int]:
    """Rows of ratio levels where the outcome varies, and how many rows were dropped.

    A level where every answer (or none) has the outcome is perfectly
    separated by its own intercept: it carries no information on the other
    terms and makes the fit diverge.
    """
    varies = data.groupby("ratio_level")[outcome].transform("nunique") > 1
    return data[varies], int((~varies).sum())


def controls(data: pd.DataFrame, candidates: Mapping[str, str] = CONTROLS) -> list[str]:
    """The formula terms whose column varies in ``data`` (a constant term is not estimable)."""
    return [term for term, col in candidates.items() if col in data and data[col].nunique() > 1]


class NotEstimable(ValueError):
    """Neither fit gave finite, bounded coefficients: the outcome is (quasi-)separated by the terms."""


def converged(res) -> bool:
    """Finite coefficients and standard errors, every coefficient below DIVERGED_LOGODDS in size."""
    params, bse = np.asarray(res.params, float), np.asarray(res.bse, float)
    return bool(np.all(np.isfinite(params)) and np.all(np.isfinite(bse))
                and np.all(np.abs(params) < DIVERGED_LOGODDS))


def fit_logit(data: pd.DataFrame, formula: str):
    """(result, method): GEE (exchangeable) with ``data["cluster"]`` groups; cluster-robust GLM if GEE fails
    or diverges. Raises NotEstimable when the GLM diverges too."""
    groups = pd.factorize(data["cluster"])[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = smf.gee(formula, groups=groups, data=data, family=sm.families.Binomial(),
                          cov_struct=sm.cov_struct.Exchangeable()).fit(maxiter=100)
            if converged(res):
                return res, "gee_exchangeable"
        except Exception:  # noqa: BLE001 - any numerical failure falls back to the GLM
            pass
        try:
            res = smf.glm(formula, data=data, family=sm.families.Binomial()).fit(
                cov_type="cluster", cov_kwds={"groups": groups})
        except Exception as err:  # noqa: BLE001 - e.g. a perfect-separation error: say so, do not crash
            raise NotEstimable(f"not estimable: the fit failed ({type(err).__name__})") from err
        if not converged(res):
            raise NotEstimable(f"not estimable: the fit diverged (a coefficient of size >= {DIVERGED_LOGODDS:g} "
                               f"log-odds or no finite standard error: separation)")
        return res, "glm_cluster_robust"


def clusters_note(n_clusters: int, n_params: int) -> str:
    """Empty when there are enough clusters per parameter for a p-value, else why not."""
    if n_clusters >= MIN_CLUSTERS_PER_PARAM * n_params:
        return ""
    return f"{n_clusters} clusters for {n_params} parameters: p-value not reported"


def coef_rows(res, terms: Sequence[str], note: str) -> list[dict]:
    """Per term: coef, se, z, p (NaN when ``note`` says too few clusters), 95% CI and odds ratios."""
    conf = res.conf_int()
    rows = []
    for t in terms:
        lo, hi = float(conf.loc[t, 0]), float(conf.loc[t, 1])
        rows.append({"term": t, "coef": float(res.params[t]), "se": float(res.bse[t]), "z": float(res.tvalues[t]),
                     "p": np.nan if note else float(res.pvalues[t]), "ci_lo": lo, "ci_hi": hi,
                     "odds_ratio": float(np.exp(res.params[t])), "odds_ratio_lo": float(np.exp(lo)),
                     "odds_ratio_hi": float(np.exp(hi))})
    return rows
