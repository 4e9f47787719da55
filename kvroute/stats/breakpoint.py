"""Is there a cliff? Nonlinear vs straight-line fits of H(alpha).

Per group, the hallucination counts k_j of n_j answers at each grid ratio
x_j are fitted by binomial maximum likelihood (identity link, so "linear"
really means a straight line in H) with three curves:

- line:    H = a + b x                                   (2 parameters)
- hinge:   H = a + b x + c (x - k)+, k profiled over the  (4, counting k)
           interior grid points and grid midpoints (broken stick)
- sigmoid: H = lo + (hi - lo) / (1 + exp(-(x - x0) / s))  (4)

The better nonlinear curve is compared with the line by AIC and by a
likelihood-ratio test on 2 degrees of freedom. Answers of one passage are
correlated, so counts are overdispersed; the LR statistic is divided by a
Pearson dispersion estimate (>= 1) from the nonlinear fit, as a quasi-
likelihood F test would. k and x0 are estimated, so the chi-square p-value
is approximate (Davies' problem); read it with the AIC difference.
``cliff`` needs all of: nonlinear AIC at least 2 below the line's,
LR p < alpha, and a rise (slope steeper after the break / hi > lo).
``at_edge`` warns when the break sits in the first or last grid interval,
where the grid cannot show both sides of it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import optimize
from scipy import stats as st
from scipy.special import expit

from kvroute.frames import require
from kvroute.stats.curves import DEFAULT_GROUP, _groups

EPS = 1e-9


def _loglik(p: np.ndarray, k: np.ndarray, n: np.ndarray) -> float:
    # The binomial coefficient is left out: it is the same for every curve.
    p = np.clip(p, EPS, 1 - EPS)
    return float((k * np.log(p) + (n - k) * np.log1p(-p)).sum())


def _fit_linear_design(X: np.ndarray, k: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, float]:
    """ML fit of H = X @ beta (identity link), started from weighted least squares."""
    y = k / n
    beta0, *_ = np.linalg.lstsq(X * np.sqrt(n)[:, None], y * np.sqrt(n), rcond=None)
    res = optimize.minimize(lambda b: -_loglik(X @ b, k, n), beta0, method="Nelder-Mead",
                            options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 4000})
    best = res.x if res.fun <= -_loglik(X @ beta0, k, n) else beta0
    return best, _loglik(X @ best, k, n)


def fit_line(x, k, n) -> dict:
    beta, ll = _fit_linear_design(np.column_stack([np.ones_like(x), x]), k, n)
    return {"ll": ll, "params": beta, "pred": np.column_stack([np.ones_like(x), x]) @ beta}


def _candidates(x: np.ndarray) -> np.ndarray:
    mids = (x[:-1] + x[1:]) / 2
    return np.unique(np.round(np.concatenate([x[1:-1], mids]), 10))


def fit_hinge(x, k, n) -> dict:
    best = None
    for kink in _candidates(x):
        X = np.column_stack([np.ones_like(x), x, np.clip(x - kink, 0, None)])
        beta, ll = _fit_linear_design(X, k, n)
        if best is None or ll > best["ll"]:
            best = {"ll": ll, "params": beta, "break": float(kink), "pred": X @ beta,
                    "rise": bool(beta[2] > 0)}
    return best


def fit_sigmoid(x, k, n) -> dict:
    y = k / n
    span = float(x[-1] - x[0])

    def curve(theta):
        lo, hi, x0, log_s = theta
        return lo + (hi - lo) * expit((x - x0) / np.exp(log_s))

    best = None
    for x0 in (x[:-1] + x[1:]) / 2:
        start = np.array([y.min(), y.max(), x0, np.log(span / 20)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            res = optimize.minimize(lambda t: -_loglik(curve(t), k, n), start, method="Nelder-Mead",
                                    options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 4000})
        if best is None or -res.fun > best["ll"]:
            lo, hi, x0_hat, log_s = res.x
            best = {"ll": -res.fun, "params": res.x, "break": float(x0_hat), "pred": curve(res.x),
                    "rise": bool(hi > lo), "scale": float(np.exp(log_s))}
    return best


def _pearson_dispersion(pred, k, n, n_params: int) -> float:
    p = np.clip(pred, EPS, 1 - EPS)
    df = len(k) - n_params
    if df <= 0:
        return 1.0
    return max(1.0, float((((k - n * p) ** 2) / (n * p * (1 - p))).sum() / df))


def _one(x, k, n, alpha: float, min_ratios: int) -> dict:
    row = {"n_ratios": len(x), "aic_line": np.nan, "aic_hinge": np.nan, "aic_sigmoid": np.nan,
           "best_model": "", "delta_aic": np.nan, "dispersion": np.nan, "lr_stat": np.nan, "lr_p": np.nan,
           "cliff": False, "cliff_ratio": np.nan, "at_edge": False, "hinge_break": np.nan,
           "sigmoid_x0": np.nan, "sigmoid_scale": np.nan, "reason": "", "warning": ""}
    if len(x) < min_ratios:
        row["reason"] = f"{len(x)} ratios (need {min_ratios})"
        return row
    line, hinge, sig = fit_line(x, k, n), fit_hinge(x, k, n), fit_sigmoid(x, k, n)
    aic = {"line": 4 - 2 * line["ll"], "hinge": 8 - 2 * hinge["ll"], "sigmoid": 8 - 2 * sig["ll"]}
    alt_name = "hinge" if aic["hinge"] <= aic["sigmoid"] else "sigmoid"
    alt = hinge if alt_name == "hinge" else sig
    phi = _pearson_dispersion(alt["pred"], k, n, 4)
    lr = max(0.0, 2 * (alt["ll"] - line["ll"])) / phi
    row.update(aic_line=aic["line"], aic_hinge=aic["hinge"], aic_sigmoid=aic["sigmoid"],
               best_model=min(aic, key=aic.get), delta_aic=aic["line"] - aic[alt_name], dispersion=phi,
               lr_stat=lr, lr_p=float(st.chi2.sf(lr, 2)), hinge_break=hinge["break"],
               sigmoid_x0=sig["break"], sigmoid_scale=sig["scale"])
    row["cliff"] = bool(row["delta_aic"] >= 2 and row["lr_p"] < alpha and alt["rise"])
    if row["cliff"]:
        where = alt["break"]
        row["cliff_ratio"] = where
        # The first/last interval shows only one side of the break.
        row["at_edge"] = bool(where <= x[1] or where >= x[-2])
        if row["at_edge"]:
            row["warning"] = (f"cliff at {where:.3g} lies in the first or last grid interval "
                              f"[{x[0]:.3g}, {x[1]:.3g}] / [{x[-2]:.3g}, {x[-1]:.3g}]; extend the grid")
    return row


def breakpoint_test(scores: pd.DataFrame, group=DEFAULT_GROUP, alpha: float = 0.05,
                    min_ratios: int = 5) -> pd.DataFrame:
    """One row per group. Columns: *group, n_ratios, aic_line, aic_hinge, aic_sigmoid,
    best_model, delta_aic (line minus better nonlinear), dispersion, lr_stat, lr_p,
    cliff, cliff_ratio, at_edge, hinge_break, sigmoid_x0, sigmoid_scale, reason, warning.

    ``scores`` is a scores table (error_class per answer).
    """
    require(scores, [*group, "ratio", "error_class"], "scores table")
    rows = []
    for key, sub in _groups(scores, group):
        h = (sub["error_class"].astype(str) == "hallucination").astype(float)
        counts = h.groupby(sub["ratio"].to_numpy(float)).agg(["sum", "count"]).sort_index()
        x = counts.index.to_numpy(float)
        rows.append({**key, **_one(x, counts["sum"].to_numpy(float), counts["count"].to_numpy(float),
                                   alpha, min_ratios)})
    return pd.DataFrame(rows)
