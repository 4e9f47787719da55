"""Task performance vs compression ratio (paper Figs. 2-9, 27-28).

Input: the per-unit answer tables (metrics/answers.csv of every model x
dataset x regime, concatenated). Three views:

- plot_performance: mean token F1 (or gold-token recall) per dataset, one
  panel per model x dataset.
- plot_direction: forward vs reverse questions, for datasets that have both.
- plot_hops: one panel per hop of multi-hop questions (datasets with a hop tag).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kvroute.figures.common import NoData, require, save
from kvroute.figures.facets import facet_curves

ANSWER_COLS = ["model", "dataset", "regime", "press", "ratio", "tag_kind", "tag", "n"]
METRICS = {"f1_mean": "token F1", "recall_mean": "gold-token recall", "correct_rate": "correct rate",
           "hallucination_rate": "hallucination rate", "unknown_rate": "unknown rate",
           "hallucination_cond_rate": "H_cond (correct at α=0)"}


def _check(answers: pd.DataFrame, metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    require(answers, [*ANSWER_COLS, metric], "answers")


def _kind(answers: pd.DataFrame, kind: str) -> pd.DataFrame:
    return answers[answers["tag_kind"].astype(str) == kind]


def _with_n(label: str, sub: pd.DataFrame) -> str:
    """Facet title with the number of answers per cell (the largest over cells)."""
    n = int(sub["n"].max()) if len(sub) else 0
    return f"{label} (n={n})"


def plot_performance(answers: pd.DataFrame, out_pdf, metric: str = "f1_mean",
                     datasets: list[str] | None = None) -> tuple[Path, Path]:
    """One panel per model x dataset: ``metric`` of all answers vs ratio."""
    _check(answers, metric)
    df = _kind(answers, "all")
    if datasets is not None:
        df = df[df["dataset"].isin(datasets)]
    if df.empty:
        raise ValueError("answers has no tag_kind 'all' rows for the requested datasets")
    fig, _, _ = facet_curves(df, "dataset", "ratio", metric, ylabel=METRICS[metric], facets=datasets,
                             facet_title=lambda f, s: _with_n(str(f), s))
    return save(fig, out_pdf)


def plot_direction(answers: pd.DataFrame, out_pdf, metric: str = "f1_mean") -> tuple[Path, Path]:
    """Forward vs reverse questions side by side, for every dataset that has both."""
    _check(answers, metric)
    df = _kind(answers, "direction").copy()
    df["tag"] = df["tag"].astype(str).str.upper()
    both = [d for d, s in df.groupby("dataset") if {"FWD", "REV"} <= set(s["tag"])]
    if not both:
        raise NoData("no dataset has both forward (FWD) and reverse (REV) questions")
    df = df[df["dataset"].isin(both) & df["tag"].isin(["FWD", "REV"])]
    names = {"FWD": "forward", "REV": "reverse"}
    df["facet"] = df["dataset"].astype(str) + " · " + df["tag"].map(names)
    facets = [f"{d} · {names[t]}" for d in sorted(both) for t in ("FWD", "REV")]
    fig, _, _ = facet_curves(df, "facet", "ratio", metric, ylabel=METRICS[metric], facets=facets,
                             facet_title=lambda f, s: _with_n(str(f), s), max_cols=4 if len(both) > 1 else 2)
    return save(fig, out_pdf)


def plot_hops(answers: pd.DataFrame, out_pdf, metric: str = "f1_mean") -> tuple[Path, Path]:
    """One panel per dataset x hop index (multi-hop datasets only)."""
    _check(answers, metric)
    df = _kind(answers, "hop").copy()
    df = df[pd.to_numeric(df["tag"], errors="coerce").notna()]
    if df.empty:
        raise NoData("answers has no hop tags (no multi-hop dataset such as 'hops' in the study)")
    df["hop"] = pd.to_numeric(df["tag"]).astype(int)
    df["facet"] = df["dataset"].astype(str) + " · hop " + df["hop"].astype(str)
    facets = [f"{d} · hop {h}" for d, h in df[["dataset", "hop"]].drop_duplicates().sort_values(
        ["dataset", "hop"]).itertuples(index=False)]
    fig, _, _ = facet_curves(df, "facet", "ratio", metric, ylabel=METRICS[metric], facets=facets,
                             facet_title=lambda f, s: _with_n(str(f), s))
    return save(fig, out_pdf)
