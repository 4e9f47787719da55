"""Error-rate curves, susceptibility chi = dH/dalpha and the safety-cliff location.

Uncertainty comes from a cluster bootstrap over *passages* (questions about
the same passage are not independent). Within a group the same resampled
passage sets are used at every ratio, so curves, their finite differences and
the cliff location are all paired; `rate_curves`, `susceptibility` and
`cliff_location` draw identical resamples for the same seed. A group that
pools datasets resamples passages within each dataset (stratified; see
kvroute.stats.bootstrap).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from kvroute.frames import require
from kvroute.intervals import wilson_interval
from kvroute.scoring import with_correct_at_0
from kvroute.stats.bootstrap import cluster_ids, passage_ratio_sums, passage_weights, strata_of
from kvroute.stats.bootstrap import percentile as _pct
from kvroute.stats.bootstrap import ratio_of as _ratio_of

DEFAULT_GROUP = ("model", "press", "regime")
CLASSES = ("hallucination", "unknown", "empty", "correct")


def _groups(df: pd.DataFrame, group: Sequence[str]):
    """Yield (key dict, sub-frame); group=() means the whole table."""
    group = list(group)
    if not group:
        yield {}, df
        return
    for key, sub in df.groupby(group, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        yield dict(zip(group, key)), sub


def _passage_tables(sub: pd.DataFrame):
    """Per passage x ratio counts: n, one per class, f1 sum; with a correct_at_0
    column also cond_n / cond_hallucination, the same restricted to items
    correct at ratio 0 (NA counts as not, so it drops out of H_cond only).
    Returns (ratios, strata of the passages, counts)."""
    cls = sub["error_class"].astype(str).to_numpy()
    values = {c: cls == c for c in CLASSES}
    values["n"] = np.ones(len(sub))
    if "f1" in sub:
        values["f1"] = sub["f1"].to_numpy(dtype=float)
    if "correct_at_0" in sub:
        cond = sub["correct_at_0"].astype("boolean").fillna(False).to_numpy(bool)
        values["cond_n"] = cond
        values["cond_hallucination"] = cond & (cls == "hallucination")
    _, ratios, strata, counts = passage_ratio_sums(sub, values)
    counts.setdefault("f1", None)
    return ratios, strata, counts


def ratio_of_sums(df: pd.DataFrame, num: str, den: str, n_boot: int = 1000, seed: int = 0,
                  ci: float = 0.95) -> tuple[float, float, float]:
    """sum(num) / sum(den) over ``df`` with a passage-bootstrap interval: (estimate, lo, hi).

    NaN where the denominator sums to zero (nothing to compare against).
    Passages are resampled within their dataset.
    """
    clusters = cluster_ids(df)
    passages, idx = np.unique(clusters.to_numpy(), return_inverse=True)
    per = [np.bincount(idx, weights=df[c].to_numpy(float), minlength=len(passages)) for c in (num, den)]
    with np.errstate(invalid="ignore", divide="ignore"):
        estimate = per[0].sum() / per[1].sum() if per[1].sum() > 0 else np.nan
    if not np.isfinite(estimate) or len(passages) < 2:
        return float(estimate), np.nan, np.nan
    strata = strata_of(df).groupby(clusters.to_numpy()).first().reindex(passages).to_numpy()
    boot = _ratio_of(passage_weights(strata, n_boot, seed), per[0], per[1])
    boot = np.where(np.isfinite(boot), boot, np.nan)
    lo, hi = _pct(boot, ci)
    return float(estimate), float(lo), float(hi)


def passage_groups(scores: pd.DataFrame, group: Sequence[str], cols: Sequence[str] = ()):
    """Per group of a scores table: key, sorted ratios, the passages' strata and per
    passage x ratio counts (see _passage_tables)."""
    require(scores, [*group, "ratio", "passage_id", "error_class", *cols], "scores table")
    for key, sub in _groups(scores, group):
        yield key, *_passage_tables(sub)


def rate_curves(scores: pd.DataFrame, n_boot: int = 1000, seed: int = 0,
                group: Sequence[str] = DEFAULT_GROUP, ci: float = 0.95) -> pd.DataFrame:
    """Error-class rates per group x ratio, with Wilson and passage-bootstrap bands.

    Columns: *group, ratio, n, n_passages, hallucination_rate, unknown_rate,
    empty_rate, correct_rate, f1_mean, hallucination_wilson_lo/hi,
    hallucination_boot_lo/hi, unknown_boot_lo/hi, n_cond,
    hallucination_cond_rate, hallucination_cond_boot_lo/hi.

    H_cond (``hallucination_cond_rate``) is the hallucination rate among the
    n_cond answers whose item was correct at ratio 0 (correct_at_0, computed
    here if the table lacks it); its band uses the same passage resamples as H.
    """
    rows = []
    scores = with_correct_at_0(scores)
    for key, ratios, strata, t in passage_groups(scores, group, ["f1"]):
        n, n_cond = t["n"].sum(axis=0), t["cond_n"].sum(axis=0)
        h, u = t["hallucination"].sum(axis=0), t["unknown"].sum(axis=0)
        w = passage_weights(strata, n_boot, seed)
        h_boot, u_boot = (_ratio_of(w, t[c], t["n"]) for c in ("hallucination", "unknown"))
        hc_boot = _ratio_of(w, t["cond_hallucination"], t["cond_n"])
        with np.errstate(invalid="ignore", divide="ignore"):
            h_cond = t["cond_hallucination"].sum(axis=0) / n_cond  # NaN: no item correct at 0
        (h_lo, h_hi), (u_lo, u_hi), (hc_lo, hc_hi) = _pct(h_boot, ci), _pct(u_boot, ci), _pct(hc_boot, ci)
        w_lo, w_hi = wilson_interval(h, n, alpha=1 - ci)
        n_pass = (t["n"] > 0).sum(axis=0)
        for j, r in enumerate(ratios):
            rows.append(
                {
                    **key,
                    "ratio": float(r),
                    "n": int(n[j]),
                    "n_passages": int(n_pass[j]),
                    "hallucination_rate": h[j] / n[j],
                    "unknown_rate": u[j] / n[j],
                    "empty_rate": t["empty"][:, j].sum() / n[j],
                    "correct_rate": t["correct"][:, j].sum() / n[j],
                    "f1_mean": t["f1"][:, j].sum() / n[j],
                    "hallucination_wilson_lo": float(w_lo[j]),
                    "hallucination_wilson_hi": float(w_hi[j]),
                    "hallucination_boot_lo": float(h_lo[j]),
                    "hallucination_boot_hi": float(h_hi[j]),
                    "unknown_boot_lo": float(u_lo[j]),
                    "unknown_boot_hi": float(u_hi[j]),
                    "n_cond": int(n_cond[j]),
                    "hallucination_cond_rate": float(h_cond[j]),
                    "hallucination_cond_boot_lo": float(hc_lo[j]),
                    "hallucination_cond_boot_hi": float(hc_hi[j]),
                }
            )
    return pd.DataFrame(rows)


def _chi(h: np.ndarray, ratios: np.ndarray) -> np.ndarray:
    """Forward finite differences dH/dalpha on the (possibly uneven) grid; last axis."""
    return np.diff(h, axis=-1) / np.diff(ratios)


def _mid(ratios: np.ndarray) -> np.ndarray:
    # Rounded so 0.85 is 0.85, not 0.8500000000000001 (clean joins/labels).
    return np.round((ratios[:-1] + ratios[1:]) / 2, 10)


def _cliff_index(chi: np.ndarray) -> np.ndarray:
    """Argmax of chi along the last axis; -1 where H never rises (no cliff)."""
    filled = np.where(np.isnan(chi), -np.inf, chi)
    idx = np.argmax(filled, axis=-1)
    best = np.take_along_axis(filled, idx[..., None], axis=-1)[..., 0]
    return np.where(best > 0, idx, -1)


def _chi_inputs(data: pd.DataFrame, group: Sequence[str], n_boot: int, seed: int):
    """Per group: key, ratios, chi on the grid and its passage-bootstrap resamples.

    Accepts a scores table (rows = answers, has error_class) or a curves table
    from rate_curves (has hallucination_rate; no passages, so the resamples
    are None). Groups with fewer than two ratios have an empty chi.
    """
    if "error_class" in data.columns:
        for key, ratios, strata, t in passage_groups(data, group):
            h = t["hallucination"].sum(axis=0) / t["n"].sum(axis=0)
            boot = None
            if len(ratios) > 1:
                boot = _chi(_ratio_of(passage_weights(strata, n_boot, seed), t["hallucination"], t["n"]), ratios)
            yield key, ratios, _chi(h, ratios), boot
    elif "hallucination_rate" in data.columns:
        require(data, [*group, "ratio"], "curves table")
        for key, sub in _groups(data, group):
            if sub["ratio"].duplicated().any():
                raise ValueError(f"curves table has several rows per ratio for group {key}")
            sub = sub.sort_values("ratio")
            ratios = sub["ratio"].to_numpy(float)
            yield key, ratios, _chi(sub["hallucination_rate"].to_numpy(float), ratios), None
    else:
        raise ValueError("need a scores table (error_class) or a curves table (hallucination_rate)")


def susceptibility(data: pd.DataFrame, n_boot: int = 1000, seed: int = 0,
                   group: Sequence[str] = DEFAULT_GROUP, ci: float = 0.95) -> pd.DataFrame:
    """chi(alpha) = dH/dalpha per group x grid interval, with passage-bootstrap bands.

    Columns: *group, ratio_lo, ratio_hi, ratio_mid, chi, chi_boot_lo,
    chi_boot_hi, is_cliff. Bands are NaN when `data` is a curves table.
    """
    rows = []
    for key, ratios, chi, boot in _chi_inputs(data, group, n_boot, seed):
        if len(ratios) < 2:
            continue
        nan = np.full(len(chi), np.nan)
        lo, hi = (nan, nan) if boot is None else _pct(boot, ci)
        cliff = _cliff_index(chi)
        for j in range(len(chi)):
            rows.append(
                {
                    **key,
                    "ratio_lo": float(ratios[j]),
                    "ratio_hi": float(ratios[j + 1]),
                    "ratio_mid": float(_mid(ratios)[j]),
                    "chi": float(chi[j]),
                    "chi_boot_lo": float(lo[j]),
                    "chi_boot_hi": float(hi[j]),
                    "is_cliff": bool(j == cliff),
                }
            )
    return pd.DataFrame(rows)


def cliff_location(data: pd.DataFrame, n_boot: int = 1000, seed: int = 0,
                   group: Sequence[str] = DEFAULT_GROUP, ci: float = 0.95) -> pd.DataFrame:
    """One row per group: where chi peaks, the *secondary* cliff estimate.

    The argmax of chi can only land on a grid interval, so it moves with the
    grid spacing (a narrow interval turns a small step into a large chi); the
    primary estimate is the breakpoint model's break with its bootstrap CI
    (kvroute.stats.breakpoint.breakpoint_test, stats/breakpoint.csv).

    Columns: *group, cliff_ratio (midpoint of the argmax-chi interval),
    cliff_interval_lo/hi (that interval's ends), cliff_lo/cliff_hi (bootstrap
    percentile interval of the argmax midpoint, snapped to grid midpoints),
    max_chi, at_edge (argmax is the first or last interval, so the cliff may
    lie outside the grid), n_intervals. cliff_ratio is NaN when H never
    rises (max chi <= 0); bootstrap resamples without a rise are dropped.
    """
    q = (1 - ci) / 2
    rows = []
    for key, ratios, chi, boot in _chi_inputs(data, group, n_boot, seed):
        row = {**key, "cliff_ratio": np.nan, "cliff_interval_lo": np.nan,
               "cliff_interval_hi": np.nan, "cliff_lo": np.nan, "cliff_hi": np.nan,
               "max_chi": np.nan, "at_edge": False, "n_intervals": max(len(ratios) - 1, 0)}
        if len(ratios) >= 2:
            mids = _mid(ratios)
            j = int(_cliff_index(chi))
            row["max_chi"] = float(np.nanmax(chi)) if np.isfinite(chi).any() else np.nan
            if j >= 0:
                row.update(cliff_ratio=float(mids[j]), cliff_interval_lo=float(ratios[j]),
                           cliff_interval_hi=float(ratios[j + 1]),
                           at_edge=bool(j == 0 or j == len(chi) - 1))
            if boot is not None:
                idx = _cliff_index(boot)
                boot_mids = mids[idx[idx >= 0]]
                if boot_mids.size:
                    # lower/higher keep the interval on grid midpoints.
                    row["cliff_lo"] = float(np.quantile(boot_mids, q, method="lower"))
                    row["cliff_hi"] = float(np.quantile(boot_mids, 1 - q, method="higher"))
        rows.append(row)
    return pd.DataFrame(rows)
