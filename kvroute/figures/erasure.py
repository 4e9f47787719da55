"""Erasure vs rigidity, and reachability, vs compression ratio.

- plot_erasure: the decomposition of failure F (hallucination) by erasure E
  (the whole evidence span T_ans globally evicted): Pr(E), Pr(F | E) and
  Pr(F | not E) with Wilson intervals, from the pooled rows of
  stats/erasure.csv. Failures with the evidence intact (Pr(F | not E)
  rising) point to rigidity - routing broken although the evidence is still
  in the cache - rather than erasure.
- plot_reachability: share of answers whose evidence is reachable from the
  query through the attention graph, one panel per variant: paper Definition 2
  (pruned positions lose their in-edges) and kvroute's prefill variant (context
  edges as the uncompressed prefill computed them: the leakage route), from
  metrics/reachability.csv or any table with model, press, regime, ratio and a
  reachability column (optional *_lo / *_hi columns give a band).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kvroute.figures.common import NoData, pooled_rows, require, save
from kvroute.figures.facets import facet_curves

ERASURE_COLS = ["model", "regime", "press", "ratio", "p_E", "p_E_lo", "p_E_hi", "p_F_given_E", "p_F_given_E_lo",
                "p_F_given_E_hi", "p_F_given_notE", "p_F_given_notE_lo", "p_F_given_notE_hi"]
QUANTITIES = {"p_E": "Pr(E): evidence erased", "p_F_given_E": "Pr(F | E)", "p_F_given_notE": "Pr(F | not E)"}
# Reachability columns and their panel titles; the first two are metrics/reachability.csv's variants.
REACH_COLUMNS = {"reachable_def2_rate": "Definition 2 (paper)", "reachable_prefill_rate": "prefill edges (leakage route)",
                 "reachable_rate": "reachable", "reachability": "reachable", "reachable": "reachable"}


def plot_erasure(erasure: pd.DataFrame, out_pdf) -> tuple[Path, Path]:
    require(erasure, ERASURE_COLS, "erasure")
    keys = ["model", "regime", "press", "ratio"]
    erasure = pooled_rows(erasure, "erasure")
    parts = []
    for col, label in QUANTITIES.items():
        parts.append(erasure[keys].assign(quantity=label, value=erasure[col], lo=erasure[f"{col}_lo"],
                                          hi=erasure[f"{col}_hi"]))
    long = pd.concat(parts, ignore_index=True)
    fig, _, _ = facet_curves(long, "quantity", "ratio", "value", ylabel="probability", lo="lo", hi="hi",
                             facets=list(QUANTITIES.values()), max_cols=3)
    return save(fig, out_pdf)


def reachability_columns(df: pd.DataFrame, column: str | None = None) -> list[str]:
    """The reachability columns to draw: ``column`` if given and present, else every REACH_COLUMNS one present."""
    if column is not None:
        return [column] if column in df.columns else []
    return [c for c in REACH_COLUMNS if c in df.columns]


def plot_reachability(reachability: pd.DataFrame, out_pdf, column: str | None = None) -> tuple[Path, Path]:
    reach = reachability
    cols = reachability_columns(reach, column)
    if not cols:
        raise ValueError(f"no reachability column ({column or ' / '.join(REACH_COLUMNS)}) in the table")
    if reach.empty or reach[cols].isna().all().all():
        raise NoData("no reachability was measured (inference.reachability_threshold is null?)")
    require(reach, ["model", "press", "regime", "ratio", *cols], "reachability")
    several = "dataset" in reach and reach["dataset"].nunique() > 1
    parts = []
    for col in cols:
        part = reach.assign(value=reach[col], lo=reach.get(f"{col}_lo"), hi=reach.get(f"{col}_hi"))
        title = REACH_COLUMNS.get(col, col)
        part["panel"] = title + (" · " + part["dataset"].astype(str) if several else "")
        parts.append(part)
    long = pd.concat(parts, ignore_index=True)
    banded = long["lo"].notna().any()
    facet = "panel" if len(cols) > 1 or several else None
    # One row per variant, one column per dataset.
    columns = {"max_cols": reach["dataset"].nunique()} if several else {}
    fig, _, _ = facet_curves(long, facet, "ratio", "value", ylabel="evidence reachable",
                             lo="lo" if banded else None, hi="hi" if banded else None, **columns)
    return save(fig, out_pdf)
