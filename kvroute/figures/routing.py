"""First-decode-step routing vs layer (paper Figs. 16-18, 33-35).

Consensus(l) = distinct argmax positions over heads / heads (lower = more
agreement); rho_l = the largest share of heads agreeing on one position.
Input: metrics/routing.csv of every model x dataset x regime (datasets are
pooled, weighted by answers). Panels: the uncompressed model (alpha = 0),
then the grid ratios nearest to the requested compression levels
(default ~10/50/90%), one row per model; the alpha = 0 curve is repeated in
grey in every panel for reference.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.lines import Line2D

from kvroute.figures.common import nearest, pool, require, save
from kvroute.figures.facets import facet_curves
from kvroute.figures.style import regime_linestyle

ROUTING_COLS = ["model", "regime", "press", "ratio", "layer", "n"]
MEASURES = {"consensus": "consensus", "rho": r"agreement $\rho_l$",
            "on_answer": "share of heads on evidence", "answer_mass": "attention mass on evidence"}


def _label(ratio: float) -> str:
    return "uncompressed (α = 0)" if ratio == 0 else f"α = {ratio:g}"


def plot_consensus(routing: pd.DataFrame, out_pdf, targets=(0.1, 0.5, 0.9),
                   measure: str = "consensus") -> tuple[Path, Path]:
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {', '.join(MEASURES)}, got {measure!r}")
    require(routing, [*ROUTING_COLS, measure], "routing")
    if not len(targets) or any(not 0 <= float(t) <= 1 for t in targets):
        raise ValueError(f"targets must be compression ratios in [0, 1], got {list(targets)}")
    df = pool(routing.assign(ratio=routing["ratio"].astype(float).round(10)),
              ["model", "press", "regime", "ratio", "layer"], [measure])
    ratios = sorted(df["ratio"].unique())
    compressed = [r for r in ratios if r > 0] or ratios
    chosen = nearest(compressed, targets)
    shown = ([0.0] if 0.0 in ratios else []) + [r for r in chosen if r != 0.0]
    df = df[df["ratio"].isin(shown)].copy()
    df["level"] = df["ratio"].map(_label)
    base = df[df["ratio"] == 0.0]

    def hook(ax, model, level, sub):
        if level == _label(0.0) or base.empty:
            return
        ref = base[base["model"] == model].groupby(["regime", "layer"], as_index=False)[measure].mean()
        for regime, s in ref.groupby("regime"):
            ax.plot(s["layer"], s[measure], color="0.55", ls=regime_linestyle(regime), lw=0.8, zorder=1)

    extra = [Line2D([], [], color="0.55", lw=0.8, label="α = 0 (reference)")] if not base.empty else None
    fig, _, _ = facet_curves(df, "level", "layer", measure, ylabel=MEASURES[measure], xlabel="layer",
                             facets=[_label(r) for r in shown], hook=hook, extra_legend=extra, marker=".",
                             ylim=(0, 1.03) if measure != "answer_mass" else None)
    return save(fig, out_pdf)
