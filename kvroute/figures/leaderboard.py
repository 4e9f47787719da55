"""The press leaderboard: every studied press side by side, ranked by the F1 it keeps.

From results/leaderboard.csv (kvroute.stats.leaderboard): one row of panels
per model (and the regime it is ranked in), one panel per measure, presses on
the y axis in one shared order (F1 retained at the leaderboard's ratio, best on
top), each estimate a dot with its 95% passage-bootstrap interval as a
horizontal bar. Dotted lines mark what a harmless press would show (F1
retained 1, H as uncompressed, AUC 0.5; rise removed 0 and 1). A press
whose value is not estimable shows "n/a" (the CSV's note says why).
Monochrome on purpose: with twenty presses, colours would repeat and mean nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.transforms import blended_transform_factory

from kvroute.figures.common import NoData, grid, legend_below, require, save, short
from kvroute.figures.style import FULL_WIDTH
from kvroute.stats.ranking import LONG_COLUMNS, at_ratio_of, rank_table

DOT, BAR, STRIPE = "#222222", "0.45", "0.94"
UNIT_RANGE = (-0.03, 1.03)
# wide column, panel title (at-ratio ones get "at α"), x range (None: fit the data), reference lines
PANELS = (
    ("f1_retained_at", "F1 retained", None, (1.0,)),
    ("H_at", "H", UNIT_RANGE, ()),  # reference: H uncompressed, per model
    ("ger_at", "GER", UNIT_RANGE, ()),
    ("evidence_evicted_at", "evidence evicted", UNIT_RANGE, ()),
    ("rise_removed", "rise removed", None, (0.0, 1.0)),
    ("auc", "AUC of evidence\nevicted for H", UNIT_RANGE, (0.5,)),
)
AT_RATIO_PANELS = {"f1_retained_at", "H_at", "ger_at", "evidence_evicted_at", "rise_removed"}


def _h_uncompressed(long: pd.DataFrame, model: str, regime: str) -> float:
    """H at ratio 0: the same cache under every press name."""
    rows = long[(long["model"] == model) & (long["regime"] == regime) & (long["measure"] == "H")
                & np.isclose(long["ratio"].fillna(-1).to_numpy(float), 0.0)]
    return float(rows["estimate"].mean()) if len(rows) else np.nan


def _fitted_range(wide: pd.DataFrame, column: str, refs) -> tuple[float, float]:
    """Every model's values and the reference lines, with 0 and 1 in view (F1 retained and rise removed can
    leave [0, 1]: compression may help, the oracle may overshoot)."""
    values = wide[[column, f"{column}_lo", f"{column}_hi"]].to_numpy(float).ravel()
    values = np.concatenate([values[np.isfinite(values)], [0.0, 1.0], list(refs)])
    pad = 0.04 * (values.max() - values.min())
    return values.min() - pad, values.max() + pad


def _draw_panel(ax, sub: pd.DataFrame, column: str, refs) -> None:
    y = np.arange(len(sub))[::-1]  # best press on top
    for k in range(0, len(sub), 2):
        ax.axhspan(y[k] - 0.5, y[k] + 0.5, color=STRIPE, lw=0, zorder=0)
    for ref in refs:
        if np.isfinite(ref):
            ax.axvline(ref, color="0.3", ls=":", lw=0.8, zorder=1)
    est, lo, hi = (sub[c].to_numpy(float) for c in (column, f"{column}_lo", f"{column}_hi"))
    known = np.isfinite(est)
    with_ci = known & np.isfinite(lo) & np.isfinite(hi)
    ax.hlines(y[with_ci], lo[with_ci], hi[with_ci], color=BAR, lw=1.4, zorder=2)
    ax.plot(est[known], y[known], "o", color=DOT, ms=3, zorder=3)
    across = blended_transform_factory(ax.transAxes, ax.transData)
    for yy in y[~known]:
        ax.text(0.5, yy, "n/a", transform=across, fontsize=5.5, color="0.5", ha="center", va="center",
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.4})  # readable over a reference line
    ax.set_ylim(-0.6, len(sub) - 0.4)
    ax.grid(axis="y", visible=False)


def plot_leaderboard(leaderboard: pd.DataFrame, out_pdf) -> tuple[Path, Path]:
    """The figure from results/leaderboard.csv; an empty table raises NoData."""
    if leaderboard.empty:
        raise NoData("the leaderboard table is empty")
    require(leaderboard, LONG_COLUMNS, "leaderboard")
    at_ratio = at_ratio_of(leaderboard)
    wide = rank_table(leaderboard)
    blocks = list(wide.groupby(["model", "regime"], sort=True))
    # The same height per press in every block; at least room for the block's label.
    heights = [max(0.35 + 0.14 * len(sub), 1.0 if len(blocks) > 1 else 0.0) for _, sub in blocks]
    fig, axes = grid(len(blocks), len(PANELS), panel_h=float(np.mean(heights)), sharex="col", sharey="row",
                     width=FULL_WIDTH, gridspec_kw={"height_ratios": heights})
    for i, ((model, regime), sub) in enumerate(blocks):
        for j, (column, title, limits, refs) in enumerate(PANELS):
            ax = axes[i, j]
            if column == "H_at":
                refs = (_h_uncompressed(leaderboard, model, regime),)
            _draw_panel(ax, sub, column, refs)
            ax.set_xlim(*(limits or _fitted_range(wide, column, refs)))
            if i == 0:
                ax.set_title(f"{title}\nat α = {at_ratio:g}" if column in AT_RATIO_PANELS else title, fontsize=7)
        axes[i, 0].set_yticks(np.arange(len(sub))[::-1], sub["press"].tolist(), fontsize=6)
        axes[i, 0].set_ylabel(f"{short(model)} · {regime}" if len(blocks) > 1 else "")
    legend_below(fig, [[Line2D([], [], color=DOT, marker="o", ms=3, ls="none", label="estimate"),
                        Line2D([], [], color=BAR, lw=1.4, label="95% passage-bootstrap interval"),
                        Line2D([], [], color="0.3", ls=":", lw=0.8,
                               label="harmless press (F1 kept, H uncompressed, AUC 0.5)")]])
    return save(fig, out_pdf)
