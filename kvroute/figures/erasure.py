"""Erasure vs rigidity, and reachability, vs compression ratio.

- plot_erasure: the decomposition of failure F (hallucination) by erasure E
  (the whole evidence span T_ans globally evicted): Pr(E), Pr(F | E) and
  Pr(F | not E) with Wilson intervals, from stats/erasure.csv. Failures with
  the evidence intact (Pr(F | not E) rising) point to rigidity - routing
  broken although the evidence is still in the cache - rather than erasure.
- plot_reachability: share of answers whose evidence is reachable from the
  query through the attention graph (paper Definitions 1-2; kvroute's variant
  takes context edges from the uncompressed prefill: docs/definitions.md), for
  any table with model, press, regime, ratio and a reachability column
  (optional *_lo / *_hi columns give a band), such as metrics/reachability.csv.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kvroute.figures.common import NoData, require, save
from kvroute.figures.facets import facet_curves

ERASURE_COLS = ["model", "regime", "press", "ratio", "p_E", "p_E_lo", "p_E_hi", "p_F_given_E", "p_F_given_E_lo",
                "p_F_given_E_hi", "p_F_given_notE", "p_F_given_notE_lo", "p_F_given_notE_hi"]
QUANTITIES = {"p_E": "Pr(E): evidence erased", "p_F_given_E": "Pr(F | E)", "p_F_given_notE": "Pr(F | not E)"}
REACH_COLUMNS = ("reachable_rate", "reachability", "reachable")


def plot_erasure(erasure: pd.DataFrame, out_pdf) -> tuple[Path, Path]:
    require(erasure, ERASURE_COLS, "erasure")
    keys = ["model", "regime", "press", "ratio"]
    if "dataset" in erasure and erasure["dataset"].nunique() > 1:
        raise ValueError("erasure has several datasets; use the pooled stats/erasure.csv (one row per cell)")
    parts = []
    for col, label in QUANTITIES.items():
        parts.append(erasure[keys].assign(quantity=label, value=erasure[col], lo=erasure[f"{col}_lo"],
                                          hi=erasure[f"{col}_hi"]))
    long = pd.concat(parts, ignore_index=True)
    fig, _, _ = facet_curves(long, "quantity", "ratio", "value", ylabel="probability", lo="lo", hi="hi",
                             facets=list(QUANTITIES.values()), max_cols=3)
    return save(fig, out_pdf)


def reachability_column(df: pd.DataFrame, column: str | None = None) -> str | None:
    """The reachability column of ``df`` (given or one of REACH_COLUMNS), or None if there is none."""
    if column is not None:
        return column if column in df.columns else None
    return next((c for c in REACH_COLUMNS if c in df.columns), None)


def plot_reachability(reachability: pd.DataFrame, out_pdf, column: str | None = None) -> tuple[Path, Path]:
    reach = reachability
    col = reachability_column(reach, column)
    if col is None:
        raise ValueError(f"no reachability column ({column or ' / '.join(REACH_COLUMNS)}) in the table")
    if reach.empty or reach[col].isna().all():
        raise NoData("no reachability was measured (inference.reachability_threshold is null?)")
    require(reach, ["model", "press", "regime", "ratio", col], "reachability")
    facet = "dataset" if "dataset" in reach and reach["dataset"].nunique() > 1 else None
    lo, hi = f"{col}_lo", f"{col}_hi"
    fig, _, _ = facet_curves(reach, facet, "ratio", col, ylabel="evidence reachable", lo=lo if lo in reach else None,
                             hi=hi if hi in reach else None)
    return save(fig, out_pdf)
