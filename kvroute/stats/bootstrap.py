"""Passage cluster bootstrap, stratified by dataset.

Questions about one passage are not independent, so every band resamples
*passages*. Datasets differ in size (up to 80x), so a resample of a table that
pools datasets draws each dataset's passages from that dataset only: every
resample keeps each dataset's passage count, and the pooled estimate's band
reflects variation within datasets, not a random dataset mix.

A dataset with a single passage cannot be resampled within itself (every
draw is that passage: no variation at all, a zero-width band). Such datasets
are resampled together, as one stratum, so a run of one passage per dataset
gets the between-passage band of an unstratified resample instead of a
false certainty.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd


def cluster_ids(df: pd.DataFrame) -> pd.Series:
    """The passage each answer is about: the unit of resampling and of clustered errors."""
    # passage_id may repeat across datasets; the cluster is the passage itself.
    if "dataset" in df.columns:
        return df["dataset"].astype(str) + "\x1f" + df["passage_id"].astype(str)
    return df["passage_id"].astype(str)


def strata_of(df: pd.DataFrame) -> pd.Series:
    """Each answer's bootstrap stratum: its dataset (one stratum for a table without one)."""
    if "dataset" in df.columns:
        return df["dataset"].astype(str)
    return pd.Series("", index=df.index)


def passage_weights(strata, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n_passages) multiplicities of a passage resample, drawn with replacement
    within each stratum (``strata``: one label per passage, or an int for one stratum).

    Seeded per call, so a group's resamples do not depend on which other groups
    are in the table; with one stratum the draws are those of an unstratified
    resample.
    """
    strata = np.zeros(strata, dtype=int) if np.ndim(strata) == 0 else np.asarray(strata)
    labels, counts = np.unique(strata.astype(str), return_counts=True)
    alone = set(labels[counts == 1])
    if len(alone) > 1:  # single-passage strata are drawn from together (module docstring)
        strata = np.where(np.isin(strata.astype(str), list(alone)), "\x00alone", strata.astype(str))
    n = len(strata)
    rng = np.random.default_rng(seed)
    out = np.zeros(n_boot * n)
    rows = (np.arange(n_boot) * n)[:, None]
    for s in pd.unique(strata):
        members = np.flatnonzero(strata == s)
        draws = members[rng.integers(0, len(members), size=(n_boot, len(members)))]
        out += np.bincount((rows + draws).ravel(), minlength=n_boot * n)
    return out.reshape(n_boot, n)


def percentile(x: np.ndarray, ci: float, axis: int = 0):
    """(lo, hi) percentile interval, NaN-tolerant."""
    q = (1 - ci) / 2
    with warnings.catch_warnings():
        # All-NaN columns (ratio missing from every resample) are expected in
        # tiny groups; they give NaN bands, not a warning.
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanquantile(x, q, axis=axis), np.nanquantile(x, 1 - q, axis=axis)


def ratio_of(w: np.ndarray, num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Resampled ratios of sums: (weights @ numerator) / (weights @ denominator)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w @ num) / (w @ den)


def passage_ratio_sums(sub: pd.DataFrame, values: Mapping[str, np.ndarray]):
    """Per passage x ratio sums of each array in ``values`` (one entry per row of ``sub``).

    Returns (passages, ratios, strata, sums): sorted passage ids, sorted
    ratios, each passage's stratum and {name: (n_passages, n_ratios) array}.
    """
    clusters = cluster_ids(sub).to_numpy()
    passages, p_idx = np.unique(clusters, return_inverse=True)
    ratios, r_idx = np.unique(sub["ratio"].to_numpy(float), return_inverse=True)
    strata = strata_of(sub).groupby(clusters).first().reindex(passages).to_numpy()
    shape = (len(passages), len(ratios))
    sums = {}
    for name, v in values.items():
        sums[name] = np.zeros(shape)
        np.add.at(sums[name], (p_idx, r_idx), np.asarray(v, dtype=float))
    return passages, ratios, strata, sums
