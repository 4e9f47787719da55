"""The safety cliff: nonlinear vs straight-line fits of H(alpha), and where the break lies.

This is the *primary* cliff estimate (the argmax of chi in
kvroute.stats.curves.cliff_location is secondary: it can only land on a grid
interval and moves with the grid spacing). Per group, the hallucination
counts k_j of n_j answers at each grid ratio x_j are fitted by binomial
maximum likelihood (identity link, so "linear" really means a straight line
in H) with three curves, all on one bounded scale: a fit whose rate leaves
[0, 1] at a grid ratio is refused, so the line cannot dip below 0 where no
answer hallucinates (H_cond starts at exactly 0) and win there for free:

- line:    H = a + b x                                   (2 parameters)
- hinge:   H = a + b x + c (x - k)+, k profiled over the  (4, counting k)
           interior grid points and grid midpoints (broken stick)
- sigmoid: H = lo + (hi - lo) / (1 + exp(-(x - x0) / s))  (4; x0 within the grid,
           s in [1e-4, 10]: a step to a near-line)

The better nonlinear curve (lower AIC) gives the break: the hinge's kink k
(onset of the rise) or the sigmoid's midpoint x0. A curve *shows a rise*
when it rises (slope steeper after the kink / hi > lo) and beats the line by
at least 2 AIC points; ``cliff_ratio`` is its break when it does (a tiny
bend of a straight line is no cliff). Its 95% interval comes from a passage
bootstrap (stratified by dataset): each resample refits all three curves,
warm-started from the full-data solution, and takes the break of its better
nonlinear curve; resamples that show no rise are dropped from the interval
and counted in ``share_no_rise``.

Whether there is a cliff at all is a test: the better nonlinear curve
against the line by AIC and by a likelihood-ratio test on 2 degrees of
freedom. Answers of one passage are correlated, so counts are overdispersed;
the LR statistic and the AIC difference (a quasi-AIC) are divided by a
Pearson dispersion estimate (>= 1) of the nonlinear fit over passage x ratio
cells, so inference is clustered by passage. k and x0 are estimated,
so the chi-square p-value is approximate (Davies' problem); read it with the
AIC difference. ``cliff`` needs all of: nonlinear AIC at least 2 below the
line's, LR p < alpha, and a rise. ``at_edge`` warns when the break sits in
the first or last grid interval, where the grid cannot show both sides of it.

All fits use one batched binomial ML routine (damped Fisher scoring), so a
bootstrap refits every resample and every hinge kink at once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as st
from scipy.special import expit

from kvroute.stats.bootstrap import passage_weights, percentile
from kvroute.stats.curves import DEFAULT_GROUP, passage_groups

EPS = 1e-9
BOUND_TOL = 1e-9  # how far outside [0, 1] a fitted rate may stray (rounding) before the fit is refused
MIN_DELTA_AIC = 2.0  # a nonlinear curve must beat the line by this much to show a rise
LOG_S = (np.log(1e-4), np.log(10.0))  # sigmoid scale bounds: a step to a near-line


def _loglik(p: np.ndarray, k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Binomial log-likelihood per row; -inf where the curve leaves [0, 1] at a grid ratio.

    The bound is what makes a line comparable with the curves: clipped instead, a line could dip below 0
    wherever no answer hallucinates (H_cond starts at exactly 0) and fit those points perfectly there.
    The binomial coefficient is left out: it is the same for every curve.
    """
    outside = ((p < -BOUND_TOL) | (p > 1 + BOUND_TOL)).any(axis=-1)
    p = np.clip(p, EPS, 1 - EPS)
    ll = (k * np.log(p) + (n - k) * np.log1p(-p)).sum(axis=-1)
    return np.where(outside, -np.inf, ll)


def _linear(X: np.ndarray):
    """H = X @ theta per row; X is (B, J, P): one design per fit."""
    return lambda theta, rows: (np.einsum("bjp,bp->bj", X[rows], theta), X[rows])


def _sigmoid(x: np.ndarray):
    """H = lo + (hi - lo) expit((x - x0) / s), theta = (lo, hi, x0, log s) per row."""
    def curve(theta, rows=None):  # one x for every row
        lo, hi, x0 = theta[:, :1], theta[:, 1:2], theta[:, 2:3]
        s = np.exp(theta[:, 3:])
        z = (x - x0) / s
        e = expit(z)
        d, de = hi - lo, e * (1 - e)
        return lo + d * e, np.stack([1 - e, e, -d * de / s, -d * de * z], axis=-1)
    return curve


def _sigmoid_bounds(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Levels are rates (in [0, 1]); x0 inside the grid: beyond it the likelihood is flat and the data cannot
    # place a break.
    return np.array([0.0, 0.0, x[0], LOG_S[0]]), np.array([1.0, 1.0, x[-1], LOG_S[1]])


def _fit(curve, theta: np.ndarray, k: np.ndarray, n: np.ndarray, bounds=None, max_iter: int = 100):
    """Binomial ML of H = curve(theta), batched over rows: theta (B, P), k and n (B, J).

    Damped Fisher scoring (Levenberg-Marquardt), each step projected into
    ``bounds`` (lower, upper arrays of length P): a step is taken only if it
    raises the likelihood, so every row ends at least as good as its start.
    A fit that touches H = 0 or 1 creeps towards that edge; after 100 steps it
    lies within ~0.002 log-likelihood of a 2000-step fit (measured on the
    default run), far below any AIC difference read from it.
    Returns (theta, loglik per row).
    """
    theta = np.array(theta, dtype=float)
    p, jac = curve(theta, np.arange(len(theta)))
    ll = _loglik(p, k, n)
    lam = np.full(len(theta), 1e-3)
    active = np.arange(len(theta))  # rows still improving
    eye = np.eye(theta.shape[1])
    for _ in range(max_iter):
        a = active
        pc = np.clip(p[a], EPS, 1 - EPS)
        v = pc * (1 - pc)
        score = np.einsum("bjp,bj->bp", jac[a], (k[a] - n[a] * pc) / v)
        info = np.einsum("bjp,bj,bjq->bpq", jac[a], n[a] / v, jac[a])
        diag = np.diagonal(info, axis1=1, axis2=2)
        ridge = diag + 1e-9 * (1 + diag.max(axis=1, keepdims=True))  # keeps flat directions solvable
        step = np.linalg.solve(info + lam[a, None, None] * ridge[:, :, None] * eye, score[..., None])[..., 0]
        trial = theta[a] + step if bounds is None else np.clip(theta[a] + step, *bounds)
        p_new, jac_new = curve(trial, a)
        ll_new = _loglik(p_new, k[a], n[a])
        better = ll_new > ll[a]
        # Converged: a near-Newton step (small damping) gains nothing more.
        done = better & (ll_new - ll[a] < 1e-10) & (lam[a] <= 1)
        up = a[better]
        theta[up], p[up], ll[up], jac[up] = trial[better], p_new[better], ll_new[better], jac_new[better]
        lam[a] = np.where(better, np.maximum(lam[a] / 10, 1e-8), lam[a] * 10)  # floor: keeps the solve regular
        # Huge damping: no step raises the likelihood any more.
        active = a[~done & (lam[a] < 1e10)]
        if not len(active):
            break
    return theta, ll


def _hinge_design(x: np.ndarray, kinks: np.ndarray) -> np.ndarray:
    """(n_kinks, J, 3) designs [1, x, (x - k)+]."""
    ones = np.ones((len(kinks), len(x)))
    return np.stack([ones, ones * x, np.clip(x[None, :] - kinks[:, None], 0, None)], axis=-1)


def _wls_start(X: np.ndarray, k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Weighted least squares of k/n on each design (B, J, P): where ML starts. A design whose least-squares
    line leaves [0, 1] on the grid starts flat at the mean rate instead (the fit must start inside)."""
    y = np.divide(k, n, out=np.zeros_like(k, dtype=float), where=n > 0)
    A = np.einsum("bjp,j,bjq->bpq", X, n, X) + 1e-12 * np.eye(X.shape[2])
    theta = np.linalg.solve(A, np.einsum("bjp,j->bp", X, n * y)[..., None])[..., 0]
    pred = np.einsum("bjp,bp->bj", X, theta)
    outside = ((pred < 0) | (pred > 1)).any(axis=1)
    flat = np.zeros_like(theta)
    flat[:, 0] = np.clip(k.sum() / max(n.sum(), 1), EPS, 1 - EPS)  # design column 0 is the intercept
    return np.where(outside[:, None], flat, theta)


def _line_design(x: np.ndarray) -> np.ndarray:
    return np.stack([np.ones_like(x), x], axis=-1)[None]


def fit_line(x, k, n) -> dict:
    X = _line_design(x)
    theta, ll = _fit(_linear(X), _wls_start(X, k, n), k[None], n[None])
    return {"ll": float(ll[0]), "params": theta[0], "pred": X[0] @ theta[0]}


def _delta_aic(ll_nonlinear, ll_line, dispersion: float = 1.0):
    """Quasi-AIC of the line minus that of a 4-parameter curve (positive: the curve is better): the
    log-likelihoods are divided by the passage-level dispersion, so correlated answers of one passage do not
    count as independent evidence."""
    return 2 * (np.asarray(ll_nonlinear) - ll_line) / dispersion - 4


def _candidates(x: np.ndarray) -> np.ndarray:
    mids = (x[:-1] + x[1:]) / 2
    return np.unique(np.round(np.concatenate([x[1:-1], mids]), 10))


def fit_hinge(x, k, n) -> dict:
    """Best kink of the profile; keeps every kink's fit as warm starts for the bootstrap."""
    kinks = _candidates(x)
    X = _hinge_design(x, kinks)
    theta, ll = _fit(_linear(X), _wls_start(X, k, n), np.broadcast_to(k, (len(kinks), len(x))),
                     np.broadcast_to(n, (len(kinks), len(x))))
    j = int(np.argmax(ll))
    return {"ll": float(ll[j]), "params": theta[j], "break": float(kinks[j]), "pred": X[j] @ theta[j],
            "rise": bool(theta[j, 2] > 0), "kinks": kinks, "profile": theta}


def fit_sigmoid(x, k, n) -> dict:
    """Multi-start: one start per grid midpoint, all fitted at once."""
    y = np.divide(k, n, out=np.zeros_like(k, dtype=float), where=n > 0)
    mids = (x[:-1] + x[1:]) / 2
    starts = np.column_stack([np.full_like(mids, y.min()), np.full_like(mids, y.max()), mids,
                              np.full_like(mids, np.log(float(x[-1] - x[0]) / 20))])
    shape = (len(mids), len(x))
    theta, ll = _fit(_sigmoid(x), starts, np.broadcast_to(k, shape), np.broadcast_to(n, shape), _sigmoid_bounds(x))
    j = int(np.argmax(ll))
    lo, hi, x0, log_s = theta[j]
    return {"ll": float(ll[j]), "params": theta[j], "break": float(x0), "pred": _sigmoid(x)(theta[j:j + 1])[0][0],
            "rise": bool(hi > lo), "scale": float(np.exp(log_s))}


def bootstrap_breaks(x, K, N, strata, line: dict, hinge: dict, sig: dict, n_boot: int, seed: int,
                     dispersion: float = 1.0):
    """(breaks, rises) of the better nonlinear curve in each passage resample
    (rises: it shows a rise, as the module docstring defines).

    K, N: (n_passages, J) hallucination and answer counts. Every hinge kink
    starts from its full-data fit and the sigmoid from the full-data optimum,
    so a resample needs only a few scoring steps.
    """
    w = passage_weights(strata, n_boot, seed)
    k, n = w @ K, w @ N
    kinks = hinge["kinks"]
    X = np.repeat(_hinge_design(x, kinks), n_boot, axis=0)  # kink-major: row = kink * n_boot + b
    theta_h, ll_h = _fit(_linear(X), np.repeat(hinge["profile"], n_boot, axis=0), np.tile(k, (len(kinks), 1)),
                         np.tile(n, (len(kinks), 1)))
    ll_h, theta_h = ll_h.reshape(len(kinks), n_boot), theta_h.reshape(len(kinks), n_boot, -1)
    best = np.argmax(ll_h, axis=0)
    cols = np.arange(n_boot)
    theta_s, ll_s = _fit(_sigmoid(x), np.repeat(sig["params"][None], n_boot, axis=0), k, n, _sigmoid_bounds(x))
    _, ll_line = _fit(_linear(np.repeat(_line_design(x), n_boot, axis=0)),
                      np.repeat(line["params"][None], n_boot, axis=0), k, n)
    use_hinge = ll_h[best, cols] >= ll_s
    breaks = np.where(use_hinge, kinks[best], theta_s[:, 2])
    rises = np.where(use_hinge, theta_h[best, cols, 2] > 0, theta_s[:, 1] > theta_s[:, 0])
    rises &= _delta_aic(np.maximum(ll_h[best, cols], ll_s), ll_line, dispersion) >= MIN_DELTA_AIC
    return breaks, rises


def _pearson_dispersion(pred, K, N, n_params: int) -> float:
    """Pearson dispersion (>= 1) over passage x ratio cells: how much more one passage's answers vary
    together than independent answers would. K, N: (n_passages, J) counts; pred: the fitted rate per ratio."""
    p = np.clip(pred, EPS, 1 - EPS)[None, :]
    cells = N > 0
    df = int(cells.sum()) - n_params
    if df <= 0:
        return 1.0
    resid = np.where(cells, (K - N * p) ** 2 / np.where(cells, N * p * (1 - p), 1.0), 0.0)
    return max(1.0, float(resid.sum() / df))


def _one(x, K, N, strata, alpha: float, min_ratios: int, n_boot: int, seed: int, ci: float) -> dict:
    row = {"n_ratios": len(x), "aic_line": np.nan, "aic_hinge": np.nan, "aic_sigmoid": np.nan,
           "best_model": "", "cliff_model": "", "delta_aic": np.nan, "dispersion": np.nan, "lr_stat": np.nan,
           "lr_p": np.nan, "cliff": False, "cliff_ratio": np.nan, "cliff_lo": np.nan, "cliff_hi": np.nan,
           "share_no_rise": np.nan, "n_boot": 0, "at_edge": False, "hinge_break": np.nan,
           "sigmoid_x0": np.nan, "sigmoid_scale": np.nan, "reason": "", "warning": ""}
    if len(x) < min_ratios:
        row["reason"] = f"{len(x)} ratios (need {min_ratios})"
        return row
    k, n = K.sum(axis=0), N.sum(axis=0)
    line, hinge, sig = fit_line(x, k, n), fit_hinge(x, k, n), fit_sigmoid(x, k, n)
    aic = {"line": 4 - 2 * line["ll"], "hinge": 8 - 2 * hinge["ll"], "sigmoid": 8 - 2 * sig["ll"]}
    alt_name = "hinge" if aic["hinge"] <= aic["sigmoid"] else "sigmoid"
    alt = hinge if alt_name == "hinge" else sig
    phi = _pearson_dispersion(alt["pred"], K, N, 4)
    lr = max(0.0, 2 * (alt["ll"] - line["ll"])) / phi
    row.update(aic_line=aic["line"], aic_hinge=aic["hinge"], aic_sigmoid=aic["sigmoid"],
               best_model=min(aic, key=aic.get), cliff_model=alt_name,
               delta_aic=float(_delta_aic(alt["ll"], line["ll"], phi)),
               dispersion=phi, lr_stat=lr, lr_p=float(st.chi2.sf(lr, 2)), hinge_break=hinge["break"],
               sigmoid_x0=sig["break"], sigmoid_scale=sig["scale"])
    shows_rise = bool(alt["rise"] and row["delta_aic"] >= MIN_DELTA_AIC)
    row["cliff"] = shows_rise and row["lr_p"] < alpha
    if shows_rise:
        where = alt["break"]
        row["cliff_ratio"] = where
        # The first/last interval shows only one side of the break.
        row["at_edge"] = bool(where <= x[1] or where >= x[-2])
        if row["at_edge"]:
            row["warning"] = (f"break at {where:.3g} lies in the first or last grid interval "
                              f"[{x[0]:.3g}, {x[1]:.3g}] / [{x[-2]:.3g}, {x[-1]:.3g}]; extend the grid")
    if n_boot > 0 and len(K) > 1:
        breaks, rises = bootstrap_breaks(x, K, N, strata, line, hinge, sig, n_boot, seed, phi)
        row.update(n_boot=n_boot, share_no_rise=float(1 - rises.mean()))
        if rises.any():
            lo, hi = percentile(breaks[rises], ci)
            row.update(cliff_lo=float(lo), cliff_hi=float(hi))
    return row


def breakpoint_test(scores: pd.DataFrame, group=DEFAULT_GROUP, alpha: float = 0.05, min_ratios: int = 5,
                    n_boot: int = 200, seed: int = 0, ci: float = 0.95) -> pd.DataFrame:
    """One row per group. Columns: *group, n_ratios, aic_line, aic_hinge, aic_sigmoid,
    best_model, cliff_model (the better nonlinear curve), delta_aic (line minus
    better nonlinear), dispersion, lr_stat, lr_p, cliff (the test), cliff_ratio
    (break of cliff_model, NaN unless it shows a rise), cliff_lo / cliff_hi
    (passage-bootstrap percentile interval of the break over resamples that
    show a rise), share_no_rise (share of resamples that do not), n_boot (0:
    no bootstrap), at_edge, hinge_break, sigmoid_x0, sigmoid_scale, reason,
    warning.

    ``scores`` is a scores table (error_class per answer).
    """
    rows = []
    for key, ratios, strata, t in passage_groups(scores, group):
        rows.append({**key, **_one(ratios, t["hallucination"], t["n"], strata, alpha, min_ratios, n_boot, seed,
                                   ci)})
    return pd.DataFrame(rows)
