"""Oracle presses: hallucination of the base press and its four oracle variants vs ratio.

One column per model x base press x regime, from the pooled rows of
stats/oracle.csv (kvroute.stats.oracle_table): top row H, bottom row H_cond
(hallucination among items correct at alpha = 0), each arm with its
passage-bootstrap interval (arms side by side at each ratio); the dotted line is the base press at alpha = 0, so
the gap above it is compression's rise. The title gives rise_removed at the
highest ratio where it is estimable. Colour = arm here (one press per panel).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from kvroute.figures.common import NoData, grid, legend_below, ordered, pooled_rows, require, save, short
from kvroute.stats.oracle import ARMS, BASE

ORACLE_COLS = ["model", "regime", "base_press", "ratio", "measure", "arm", "estimate", "ci_lo", "ci_hi"]
ROWS = {"H": "H", "H_cond": "H_cond (correct at α=0)"}
# Okabe-Ito; base in near-black so the variants read against it.
ARM_COLORS = {BASE: "#222222", "protect": "#009E73", "target": "#D55E00", "placebo": "#CC79A7",
              "protect_diluted": "#56B4E9"}
ARM_MARKERS = {BASE: "o", "protect": "^", "target": "v", "placebo": "s", "protect_diluted": "D"}


def _title(model: str, press: str, regime: str, sub: pd.DataFrame, several_models: bool) -> str:
    removed = sub[(sub["measure"] == "rise_removed") & sub["estimate"].notna()].sort_values("ratio")
    head = f"{short(model)}\n" if several_models else ""  # own line: six panels side by side leave little width
    if removed.empty:
        return f"{head}{press} · {regime}\nrise removed: n/a"
    r = removed.iloc[-1]
    return (f"{head}{press} · {regime}\nrise removed at α={r['ratio']:g}:\n"
            f"{r['estimate']:.2f} [{r['ci_lo']:.2f}, {r['ci_hi']:.2f}]")


def _spacing(ratios: list[float]) -> float:
    return float(np.diff(ratios).min()) if len(ratios) > 1 else 0.05


def _draw_arms(ax, sub: pd.DataFrame, measure: str, ratios: list[float]) -> None:
    """Each arm's estimates with 95% interval bars, arms side by side around each ratio (often few ratios:
    bars show an interval at a single one, where a band cannot)."""
    rows = sub[sub["measure"] == measure]
    at_zero = rows[(rows["arm"] == BASE) & np.isclose(rows["ratio"], 0.0)]
    if len(at_zero):
        ax.axhline(float(at_zero["estimate"].iloc[0]), color=ARM_COLORS[BASE], ls=":", lw=0.8)
    step = 0.1 * _spacing(ratios)
    for k, arm in enumerate(ARMS):
        s = rows[(rows["arm"] == arm) & (rows["ratio"] > 0)].sort_values("ratio")
        if s.empty:
            continue
        x = s["ratio"].to_numpy(float) + (k - (len(ARMS) - 1) / 2) * step
        y, lo, hi = (s[c].to_numpy(float) for c in ("estimate", "ci_lo", "ci_hi"))
        ax.errorbar(x, y, yerr=[np.clip(y - lo, 0, None), np.clip(hi - y, 0, None)], color=ARM_COLORS[arm],
                    marker=ARM_MARKERS[arm], ms=3, lw=0.9, elinewidth=0.7, capsize=1.5)


def _ratio_axis(ax, ratios: list[float]) -> None:
    """Only the ratios the oracle ran at: they sit close together near the top of the grid."""
    pad = max(0.35 * _spacing(ratios), 0.02)
    ax.set_xlim(ratios[0] - pad, ratios[-1] + pad)
    ax.set_xticks(ratios)
    ax.set_xticklabels([f"{r:g}" for r in ratios])


def plot_oracle(oracle: pd.DataFrame, out_pdf) -> tuple[Path, Path]:
    """The figure from stats/oracle.csv; a run without oracle presses raises NoData."""
    if oracle.empty and set(ORACLE_COLS) <= set(oracle.columns):
        raise NoData("the run has no oracle presses (stats/oracle.csv is empty)")
    require(oracle, ORACLE_COLS, "oracle")
    df = pooled_rows(oracle, "oracle")
    panels = list(df.groupby(["model", "base_press", "regime"], sort=True))
    several_models = df["model"].nunique() > 1
    fig, axes = grid(len(ROWS), len(panels), panel_h=1.6, sharex=False, sharey=True)
    for j, ((model, press, regime), sub) in enumerate(panels):
        ratios = [float(r) for r in ordered(sub.loc[sub["ratio"] > 0, "ratio"])]
        for i, measure in enumerate(ROWS):
            ax = axes[i, j]
            _draw_arms(ax, sub, measure, ratios)
            _ratio_axis(ax, ratios)
            ax.set_ylim(-0.03, 1.03)
            ax.set_ylabel(ROWS[measure] if j == 0 else "")
            ax.set_xlabel(r"compression ratio $\alpha$" if i == len(ROWS) - 1 else "")
        axes[0, j].set_title(_title(model, press, regime, sub, several_models), fontsize=7)
    present_arms = [a for a in ARMS if a in set(df["arm"])]
    legend_below(fig, [[Line2D([], [], color=ARM_COLORS[a], marker=ARM_MARKERS[a], ms=3, label=a)
                        for a in present_arms],
                       [Line2D([], [], color=ARM_COLORS[BASE], ls=":", lw=0.8, label="base at α = 0"),
                        Line2D([], [], color="0.4", marker="|", ms=7, ls="none",
                               label="95% passage-bootstrap interval")]])
    return save(fig, out_pdf)
