"""GER vs hallucination rate (paper Figs. 24, 44), with the item-level check.

One point per (press, ratio) cell, datasets pooled, one panel per model x
regime; grey line: least-squares fit over the cells. Each title carries the
aggregate correlation (Pearson r with its Fisher-z interval) and the
item-level logistic-regression coefficient of GER with ratio, press, dataset
and failure at alpha = 0 as covariates (kvroute.stats.ger_verdict, its
"pooled" rows): when only the aggregate is significant the correlation is a
common trend in alpha, which the title says.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from kvroute.figures.common import grid, legend_below, models_of, ordered, pooled_rows, require, save, short
from kvroute.figures.style import press_color, regime_linestyle
from kvroute.frames import base_rows

CELL_COLS = ["model", "regime", "press", "ratio", "ger", "hallucination_rate"]
VERDICT_COLS = ["model", "regime", "pearson_r", "pearson_lo", "pearson_hi", "item_ger_coef", "item_ger_p"]


def ger_cells(questions: pd.DataFrame) -> pd.DataFrame:
    """Per-answer rows (metrics/questions.parquet) -> mean GER and hallucination rate per cell.

    Same cells as kvroute.stats.ger_aggregate: base answers only (no oracle press), answers without
    evidence (GER NaN) drop out, and ratio 0 (the uncompressed cache every press shares) is one cell,
    drawn in the first press's colour.
    """
    from kvroute.stats.ger import ratio0_once

    require(questions, ["model", "regime", "press", "ratio", "ger", "error_class"], "questions")
    questions = base_rows(questions)
    q = ratio0_once(questions[np.isfinite(questions["ger"].to_numpy(float))])
    q = q.assign(h=(q["error_class"].astype(str) == "hallucination").astype(float),
                 ratio=q["ratio"].astype(float).round(10))
    return (q.groupby(["model", "regime", "press", "ratio"], sort=True)
            .agg(ger=("ger", "mean"), hallucination_rate=("h", "mean"), n=("h", "size")).reset_index())


def _fmt_p(p) -> str:
    return "n/a" if not np.isfinite(p) else ("< 0.001" if p < 0.001 else f"= {p:.2g}")


def _title(regime: str, v: pd.Series | None) -> str:
    if v is None:
        return regime
    r = float(v["pearson_r"]) if pd.notna(v["pearson_r"]) else np.nan
    if np.isfinite(r):
        agg = f"r = {r:.2f} [{v['pearson_lo']:.2f}, {v['pearson_hi']:.2f}]"
    else:
        agg = "r: n/a"
    coef = float(v["item_ger_coef"]) if pd.notna(v["item_ger_coef"]) else np.nan
    note = v.get("item_note")
    p = "n/a (too few clusters)" if isinstance(note, str) and note else _fmt_p(float(v["item_ger_p"]))
    item = f"item β = {coef:.2f}, p {p}" if np.isfinite(coef) else "item β: n/a"
    lines = [regime, agg, item]
    if "common_trend_only" in v and bool(v["common_trend_only"]):
        lines.append("→ common trend in α only")
    elif "item_significant" in v and bool(v["item_significant"]):
        lines.append("→ GER predicts beyond the α trend")
    return "\n".join(lines)


def plot_ger(questions: pd.DataFrame, out_pdf, verdict: pd.DataFrame | None = None) -> tuple[Path, Path]:
    """The figure from per-answer rows (metrics/questions.parquet) and the stats verdict table."""
    return plot_ger_hallucination(ger_cells(questions), verdict, out_pdf)


def plot_ger_hallucination(cells: pd.DataFrame, verdict: pd.DataFrame | None, out_pdf) -> tuple[Path, Path]:
    require(cells, CELL_COLS, "cells")
    if verdict is not None:
        require(verdict, VERDICT_COLS, "verdict")
        verdict = pooled_rows(verdict, "verdict")  # the cells pool every dataset too
    if cells.duplicated(["model", "regime", "press", "ratio"]).any():
        raise ValueError("cells has several rows per model/regime/press/ratio; pool datasets first "
                         "(kvroute.figures.ger.ger_cells)")
    models, regimes = models_of(cells), ordered(cells["regime"])
    fig, axes = grid(len(models), len(regimes), panel_h=2.2, sharex=True, sharey=True)
    for i, model in enumerate(models):
        for j, regime in enumerate(regimes):
            ax = axes[i, j]
            sub = cells[(cells["model"] == model) & (cells["regime"] == regime)]
            for press, s in sub.groupby("press"):
                s = s.sort_values("ratio")
                # marker size grows with the ratio: the trajectory through the grid stays readable
                ax.scatter(s["ger"], s["hallucination_rate"], s=6 + 30 * s["ratio"], color=press_color(press),
                           alpha=0.8, edgecolor="white", linewidth=0.3, zorder=3)
            x, y = sub["ger"].to_numpy(float), sub["hallucination_rate"].to_numpy(float)
            ok = np.isfinite(x) & np.isfinite(y)
            if ok.sum() >= 2 and np.ptp(x[ok]) > 0:
                slope, icpt = np.polyfit(x[ok], y[ok], 1)
                xs = np.linspace(x[ok].min(), x[ok].max(), 20)
                ax.plot(xs, icpt + slope * xs, color="0.35", ls=regime_linestyle(regime), lw=1, zorder=2)
            v = None
            if verdict is not None:
                vs = verdict[(verdict["model"] == model) & (verdict["regime"] == regime)]
                v = vs.iloc[0] if len(vs) else None
            ax.set_title(_title(str(regime), v), fontsize=7)
            ax.set_xlim(-0.03, 1.03)
            ax.set_ylim(-0.03, 1.03)
            ax.set_xlabel("GER (evidence globally evicted)" if i == len(models) - 1 else "")
            ax.set_ylabel(f"{short(model)}\nhallucination rate" if j == 0 else "")
    presses = ordered(cells["press"])
    handles = [[Line2D([], [], color=press_color(p), marker="o", ls="none", label=p) for p in presses],
               [Line2D([], [], color="0.35", ls=regime_linestyle(r), label=f"OLS fit ({r})") for r in regimes],
               [Line2D([], [], color="0.4", marker="o", ms=2, ls="none", label="low α"),
                Line2D([], [], color="0.4", marker="o", ms=5.5, ls="none", label="high α")]]
    legend_below(fig, handles)
    return save(fig, out_pdf)
