"""The quantities the claims rule on, each with a passage-bootstrap interval where the stats stage has none.

Everything resamples passages through kvroute.stats.bootstrap (stratified by
dataset when datasets are pooled); clustered logistic models go through
kvroute.stats.clustered. ``CellMeans`` is the workhorse: the mean of a value
per cell (a ratio, a direction x ratio, an answer type x ratio ...), point
and resampled, so any difference of cell means gets a paired interval from
one set of resamples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as st

from kvroute.stats.bootstrap import cluster_ids, passage_weights, percentile, ratio_of, strata_of
from kvroute.stats.clustered import NotEstimable, clusters_note, coef_rows, fit_logit, model_frame

CI = 0.95


def ratio_key(ratio) -> float:
    # Ratios are floats written by different jobs: round before matching them.
    return round(float(ratio), 10)


@dataclass
class Estimate:
    estimate: float
    ci_lo: float
    ci_hi: float
    n: int  # answers behind the estimate
    n_passages: int
    min_stratum: float = np.nan  # passages in the smallest dataset behind it (the bootstrap's smallest stratum)
    jk_lo: float = np.nan  # the jackknife's 95% interval (kvroute.claims.robust)
    jk_hi: float = np.nan
    jk_by: str = ""  # what the jackknife left out: "passage" or "dataset"


def jackknife_interval(point: float, thetas) -> tuple[float, float]:
    """point +- t(n-1) * jackknife SE from leave-one-out estimates (NaN with fewer than 2 finite ones)."""
    thetas = np.asarray(thetas, dtype=float)
    thetas = thetas[np.isfinite(thetas)]
    n = len(thetas)
    if n < 2 or not np.isfinite(point):
        return np.nan, np.nan
    se = float(np.sqrt((n - 1) / n * np.sum((thetas - thetas.mean()) ** 2)))
    t = float(st.t.ppf(0.5 + CI / 2, n - 1))
    return point - t * se, point + t * se


def leave_one_out(table: pd.DataFrame) -> tuple[str, list[pd.DataFrame]]:
    """("dataset", the table without each dataset) when it pools several datasets, else ("passage", the table
    without each passage): the units a jackknife leaves out."""
    datasets = table["dataset"].astype(str) if "dataset" in table else pd.Series("", index=table.index)
    by, labels = ("dataset", datasets) if datasets.nunique() > 1 else ("passage", cluster_ids(table))
    return by, [table[(labels != u).to_numpy()] for u in pd.unique(labels)]


def jackknife(table: pd.DataFrame, statistic: Callable[[pd.DataFrame], float], point: float
              ) -> tuple[str, float, float]:
    """(what was left out, jackknife 95% interval) of ``statistic`` around ``point``, recomputed on the table
    without each unit (``leave_one_out``); a unit whose statistic fails counts as missing."""
    by, subsets = leave_one_out(table)
    thetas = []
    for sub in subsets:
        try:
            thetas.append(float(statistic(sub)))
        except (ValueError, KeyError, IndexError, ZeroDivisionError, np.linalg.LinAlgError):
            thetas.append(np.nan)
    return (by, *jackknife_interval(point, thetas))


def smallest_stratum(table: pd.DataFrame) -> int:
    """Passages in the dataset with the fewest of them (the whole table's count without a dataset column)."""
    if table.empty:
        return 0
    if "dataset" not in table:
        return int(table["passage_id"].nunique())
    return int(table.groupby(table["dataset"].astype(str))["passage_id"].nunique().min())


class CellMeans:
    """Mean of ``value`` per cell of ``table`` (cells: the distinct rows of ``table[cells]``), with passage
    resamples shared by every cell, so differences between cells are paired by passage."""

    def __init__(self, table: pd.DataFrame, value: np.ndarray, cells: Sequence[str], n_boot: int, seed: int):
        keys = table[list(cells)].copy()
        if "ratio" in keys:
            keys["ratio"] = keys["ratio"].map(ratio_key)
        codes, uniques = pd.MultiIndex.from_frame(keys).factorize()
        self.cells = {k: i for i, k in enumerate(uniques)}
        clusters = cluster_ids(table).to_numpy()
        passages, p_idx = np.unique(clusters, return_inverse=True)
        shape = (len(passages), len(uniques))
        self.num, self.den = np.zeros(shape), np.zeros(shape)
        np.add.at(self.num, (p_idx, codes), np.asarray(value, dtype=float))
        np.add.at(self.den, (p_idx, codes), 1.0)
        strata = strata_of(table).groupby(clusters).first().reindex(passages).to_numpy()
        self.strata = strata.astype(str)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.point = self.num.sum(axis=0) / self.den.sum(axis=0)
        self.boot = ratio_of(passage_weights(strata, n_boot, seed), self.num, self.den)  # (n_boot, cells)

    def _index(self, key) -> int:
        return self.cells[key if isinstance(key, tuple) else (key,)]

    def has(self, *keys) -> bool:
        return all((k if isinstance(k, tuple) else (k,)) in self.cells for k in keys)

    def values(self, keys: Sequence) -> tuple[list[float], list[np.ndarray]]:
        """(point means, resampled means) of the cells ``keys``."""
        idx = [self._index(k) for k in keys]
        return [float(self.point[i]) for i in idx], [self.boot[:, i] for i in idx]

    def counts(self, keys: Sequence) -> tuple[int, int]:
        """(answers in these cells, passages with an answer in any of them)."""
        den = self.den[:, [self._index(k) for k in keys]]
        return int(den.sum()), int((den > 0).any(axis=1).sum())

    def estimate(self, keys: Sequence, f: Callable[..., float]) -> Estimate:
        """f(mean of keys[0], mean of keys[1], ...) with its percentile interval (f must broadcast over arrays),
        the smallest dataset's passages behind it, and its jackknife interval (``jackknife``)."""
        point, boot = self.values(keys)
        with np.errstate(invalid="ignore", divide="ignore"):
            b = np.asarray(f(*boot), dtype=float)
        lo, hi = percentile(np.where(np.isfinite(b), b, np.nan), CI)
        est = Estimate(float(f(*point)), float(lo), float(hi), *self.counts(keys))
        behind = (self.den[:, [self._index(k) for k in keys]] > 0).any(axis=1)
        est.min_stratum = float(pd.Series(self.strata[behind]).value_counts().min()) if behind.any() else 0.0
        est.jk_by, thetas = self.jackknife(keys, f)
        est.jk_lo, est.jk_hi = jackknife_interval(est.estimate, thetas)
        return est

    def jackknife(self, keys: Sequence, f: Callable[..., float]) -> tuple[str, np.ndarray]:
        """(what was left out, f of the cell means without it): one dataset at a time where the cells pool
        several datasets, else one passage at a time."""
        idx = [self._index(k) for k in keys]
        num, den = self.num[:, idx], self.den[:, idx]
        behind = (den > 0).any(axis=1)
        by = "dataset" if len(np.unique(self.strata[behind])) > 1 else "passage"
        labels = self.strata if by == "dataset" else np.arange(len(self.strata)).astype(str)
        thetas = []
        for label in np.unique(labels[behind]):
            keep = labels != label
            with np.errstate(invalid="ignore", divide="ignore"):
                means = num[keep].sum(axis=0) / den[keep].sum(axis=0)
                thetas.append(float(f(*means)))
        return by, np.asarray(thetas)

    def per_passage(self, keys: Sequence, f: Callable[..., np.ndarray]) -> np.ndarray:
        """f of each passage's own cell means, for passages with an answer in every cell of ``keys``."""
        idx = [self._index(k) for k in keys]
        den = self.den[:, idx]
        ok = (den > 0).all(axis=1)
        means = self.num[ok][:, idx] / den[ok]
        return np.asarray(f(*means.T), dtype=float)


def drop(a, b):
    """Mean at the first cell minus the second (a drop when the first is the uncompressed one)."""
    return a - b


def spearman_with(ranks: np.ndarray, values: Sequence[float], boot: Sequence[np.ndarray]) -> tuple[float, float, float]:
    """Spearman rho of ``values`` against fixed ``ranks``, and its percentile interval over the resamples
    (resamples where a value is missing or constant are left out)."""
    point = float(st.spearmanr(values, ranks).statistic)
    matrix = np.column_stack(boot)
    rhos = np.full(len(matrix), np.nan)
    for b, row in enumerate(matrix):
        if np.isfinite(row).all() and np.ptp(row) > 0:
            rhos[b] = st.spearmanr(row, ranks).statistic
    lo, hi = percentile(rhos, CI)
    return point, float(lo), float(hi)


def gain_pvalues(means: CellMeans, base_key, keys: Sequence) -> np.ndarray:
    """Two-sided one-sample t-test p per key of the per-passage gain mean(key) - mean(base_key).

    The passage is the independent unit, so its mean gain is what is tested (NaN below two passages).
    """
    out = np.full(len(keys), np.nan)
    for i, key in enumerate(keys):
        gains = means.per_passage([key, base_key], drop)
        if len(gains) >= 2 and np.ptp(gains) > 0:
            out[i] = st.ttest_1samp(gains, 0.0).pvalue
    return out


def normal_interval(estimate: float, ses: Sequence[float]) -> tuple[float, float]:
    """estimate +- z * sqrt(sum of squared standard errors): independent parts added in quadrature."""
    se = float(np.sqrt(np.sum(np.square(ses))))
    z = st.norm.ppf(0.5 + CI / 2)
    return estimate - z * se, estimate + z * se


def binomial_se(p: float, n: int) -> float:
    return float(np.sqrt(p * (1 - p) / n)) if n > 0 else np.nan


def interaction(table: pd.DataFrame, outcome: str, a: str, b: str, min_clusters: int = 5) -> dict:
    """The a x b interaction of a passage-clustered logistic model ``outcome ~ a * b``: coef, ci_lo, ci_hi, p
    and fit info (n, n_clusters, n_params, method, reason, note) as kvroute.stats.clustered reports them."""
    data = model_frame(table, [outcome, a, b])
    data = data[np.isfinite(data[[a, b]].to_numpy(float)).all(axis=1)].astype({a: float, b: float})
    term = f"{a}:{b}"
    info = {"term": term, "coef": np.nan, "ci_lo": np.nan, "ci_hi": np.nan, "p": np.nan, "n": len(data),
            "n_clusters": data["cluster"].nunique(), "n_params": np.nan, "method": "", "reason": "", "note": ""}
    if info["n_clusters"] < min_clusters:
        info["reason"] = f"{info['n_clusters']} passage clusters (need {min_clusters})"
    elif data[outcome].nunique() < 2:
        info["reason"] = f"{outcome} is constant"
    elif data[a].nunique() < 2 or data[b].nunique() < 2:
        info["reason"] = f"{a} or {b} is constant"
    if info["reason"]:
        return info
    try:
        res, info["method"] = fit_logit(data, f"{outcome} ~ {a} * {b}")
    except NotEstimable as err:
        info["reason"] = str(err)
        return info
    info["n_params"] = len(res.params)
    info["note"] = clusters_note(info["n_clusters"], info["n_params"])
    info.update({k: v for k, v in coef_rows(res, [term], info["note"])[0].items() if k in info})
    return info
