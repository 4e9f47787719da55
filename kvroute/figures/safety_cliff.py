"""Safety-cliff figure: error rates and susceptibility vs compression ratio.

One column per model. Top: hallucination rate (filled markers) and unknown
rate (lighter, hollow markers) with passage-bootstrap bands, H_cond (the
hallucination rate among items correct at alpha = 0; thin line, crosses, same
colour) when the curves have it; optionally the
global eviction rate of the evidence (GER, triangles) on a twin axis.
Bottom: chi = dH/dalpha with its band and the argmax-chi cliff (the
secondary estimate: vertical line at the argmax interval, shaded bootstrap
interval); optionally the primary cliff estimate, the break of the
breakpoint model (kvroute.stats.breakpoint_test), as a downward triangle on
the top edge with its bootstrap CI as a horizontal bar, when the test finds
a cliff inside the grid. Stats tables hold each dataset and "pooled": the
figure draws the pooled rows.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.lines import Line2D

from kvroute.figures.common import pool, pooled_rows, short
from kvroute.figures.style import (
    COLUMN_WIDTH,
    FULL_WIDTH,
    lighter,
    press_color,
    regime_linestyle,
    save_figure,
    use_style,
)
from kvroute.frames import require

KEYS = ["model", "press", "regime"]
COND_COL = "hallucination_cond_rate"
CURVE_COLS = [*KEYS, "ratio", "hallucination_rate", "unknown_rate",
              "hallucination_boot_lo", "hallucination_boot_hi", "unknown_boot_lo", "unknown_boot_hi", COND_COL]
COND_LABEL = "H_cond (correct at α=0)"
CHI_COLS = [*KEYS, "ratio_mid", "chi", "chi_boot_lo", "chi_boot_hi"]
CLIFF_COLS = [*KEYS, "cliff_ratio", "cliff_lo", "cliff_hi", "max_chi", "at_edge"]
GER_COLS = [*KEYS, "ratio", "ger"]
BREAKPOINT_COLS = [*KEYS, "cliff", "cliff_ratio", "at_edge"]  # cliff_lo / cliff_hi (its CI) when present


def _series(df: pd.DataFrame, model: str):
    """(press, regime, sub-frame sorted by x) for one model."""
    sub = df[df["model"] == model]
    for (press, regime), s in sub.groupby(["press", "regime"], sort=True):
        yield press, regime, s


def _plot_rates(ax, curves: pd.DataFrame, model: str) -> None:
    for press, regime, s in _series(curves, model):
        s = s.sort_values("ratio")
        c, ls = press_color(press), regime_linestyle(regime)
        x = s["ratio"]
        ax.fill_between(x, s["unknown_boot_lo"], s["unknown_boot_hi"], color=lighter(c), alpha=0.25, lw=0)
        ax.plot(x, s["unknown_rate"], color=lighter(c), ls=ls, marker="o", mfc="white", mec=lighter(c, 0.3))
        ax.fill_between(x, s["hallucination_boot_lo"], s["hallucination_boot_hi"], color=c, alpha=0.2, lw=0)
        ax.plot(x, s["hallucination_rate"], color=c, ls=ls, marker="o")
        # Same colour and regime style as H, told apart by a thin line and crosses.
        ax.plot(x, s[COND_COL], color=c, ls=ls, lw=0.7, marker="x", ms=3)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("rate")


def pool_ger(eviction: pd.DataFrame) -> pd.DataFrame:
    """Per-dataset eviction tables (metrics/eviction.csv) -> GER per model, press, regime, ratio.

    Datasets are pooled weighted by the number of answers with evidence, the
    same answers kvroute.stats pools for the hallucination curves.
    """
    require(eviction, [*KEYS, "ratio", "ger"], "eviction table")

    w = "n_with_evidence" if "n_with_evidence" in eviction else "n"
    cols = ["ger"] + [c for c in ("null_ger_span", "null_ger_indep", "eviction_rate") if c in eviction]
    return pool(eviction.assign(ratio=eviction["ratio"].round(10)), [*KEYS, "ratio"], cols, weight=w)


def _plot_ger(ax, ger: pd.DataFrame, model: str) -> None:
    for press, regime, s in _series(ger, model):
        s = s.sort_values("ratio")
        ax.plot(s["ratio"], s["ger"], color=press_color(press), ls=regime_linestyle(regime), lw=0.7,
                marker="^", ms=2.8, alpha=0.75)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(False)
    ax.spines["right"].set_visible(True)


def _plot_breakpoints(ax, breakpoints: pd.DataFrame, model: str) -> None:
    from matplotlib.transforms import blended_transform_factory

    trans = blended_transform_factory(ax.transData, ax.transAxes)
    for i, (press, regime, s) in enumerate(_series(breakpoints, model)):
        row = s.iloc[0]
        x = pd.to_numeric(row["cliff_ratio"], errors="coerce")
        if not bool(row["cliff"]) or not pd.notna(x) or not 0 <= x <= 1:
            continue  # no significant breakpoint, or its location lies off the grid
        c = press_color(press)
        y = 0.97 - 0.06 * i  # one row per press x regime, so CIs do not hide each other
        lo, hi = (pd.to_numeric(row.get(k), errors="coerce") for k in ("cliff_lo", "cliff_hi"))
        if pd.notna(lo) and pd.notna(hi):
            ax.plot([lo, hi], [y, y], color=c, ls=regime_linestyle(regime), lw=1.2, transform=trans, clip_on=False,
                    zorder=6, solid_capstyle="butt")
        ax.plot(x, y, marker="v", ms=5, color=c, mfc="white" if row["at_edge"] else c, ls="none", transform=trans,
                clip_on=False, zorder=7)


def _plot_chi(ax, chi: pd.DataFrame, cliffs: pd.DataFrame, model: str) -> None:
    for press, regime, s in _series(chi, model):
        s = s.sort_values("ratio_mid")
        c, ls = press_color(press), regime_linestyle(regime)
        ax.fill_between(s["ratio_mid"], s["chi_boot_lo"], s["chi_boot_hi"], color=c, alpha=0.2, lw=0)
        ax.plot(s["ratio_mid"], s["chi"], color=c, ls=ls, marker=".")
    mark_cliffs(ax, cliffs, model)
    ax.axhline(0, color="0.5", lw=0.5)
    ax.set_ylabel(r"$\chi = dH/d\alpha$")
    ax.set_xlabel(r"compression ratio $\alpha$")


def mark_cliffs(ax, cliffs: pd.DataFrame, model: str) -> None:
    """Vertical line at each cliff, its bootstrap interval shaded, a star at max chi."""
    for press, regime, s in _series(cliffs, model):
        row = s.iloc[0]
        if pd.isna(row["cliff_ratio"]):
            continue
        c, ls = press_color(press), regime_linestyle(regime)
        if pd.notna(row["cliff_lo"]):
            # Zero-width interval (every resample agrees) still gets a sliver.
            lo, hi = row["cliff_lo"], max(row["cliff_hi"], row["cliff_lo"] + 0.004)
            ax.axvspan(lo, hi, color=c, alpha=0.08, lw=0, zorder=0)
        ax.axvline(row["cliff_ratio"], color=c, ls=ls, lw=0.8, alpha=0.9)
        # Hollow star: the argmax sits on the first/last interval of the grid.
        ax.plot(row["cliff_ratio"], row["max_chi"], marker="*", ms=7, color=c,
                mfc="white" if row["at_edge"] else c, ls="none", zorder=5)


def _legend_groups(curves: pd.DataFrame, ger: bool = False, breakpoint: bool = False) -> list[list]:
    """Legend entries in three groups: presses, regimes, marks."""
    presses = sorted(curves["press"].unique())
    regimes = sorted(curves["regime"].unique())
    cond = [Line2D([], [], color="0.2", lw=0.7, marker="x", ms=3, label=COND_LABEL)]
    extra = []
    if ger:
        extra.append(Line2D([], [], color="0.2", marker="^", lw=0.7, label="GER (right axis)"))
    if breakpoint:
        extra.append(Line2D([], [], color="0.2", marker="v", lw=1.2, label="breakpoint cliff, 95% CI"))
    return [
        [Line2D([], [], color=press_color(p), lw=2, label=p) for p in presses],
        [Line2D([], [], color="0.2", ls=regime_linestyle(r), label=r) for r in regimes],
        [
            Line2D([], [], color="0.2", marker="o", ls="none", label="hallucination"),
            *cond,
            Line2D([], [], color=lighter("0.2"), marker="o", mfc="white", ls="none", label="unknown"),
            Line2D([], [], color="0.2", marker="*", ms=7, ls="none", label="argmax-χ cliff (hollow: grid edge)"),
            *extra,
        ],
    ]


def _add_legend(fig, groups: list[list], one_row: bool) -> None:
    """Legend below the panels: one row if it fits, else one column per group."""
    if one_row:
        handles = [h for g in groups for h in g]
        ncol = len(handles)
    else:
        # Legends fill column by column; pad groups to equal length so each
        # column holds exactly one group.
        rows = max(len(g) for g in groups)
        blank = lambda: Line2D([], [], alpha=0, label=" ")  # noqa: E731
        handles = [h for g in groups for h in g + [blank() for _ in range(rows - len(g))]]
        ncol = len(groups)
    fig.legend(handles=handles, loc="outside lower center", ncol=ncol, frameon=False,
               handlelength=2.2, columnspacing=1.2)


def plot_safety_cliff(
    curves: pd.DataFrame, chi: pd.DataFrame, cliff: pd.DataFrame, out_pdf,
    eviction: pd.DataFrame | None = None, breakpoint: pd.DataFrame | None = None,
) -> tuple[Path, Path]:
    """Draw the safety-cliff figure; write out_pdf and a PNG alongside.

    Inputs are the outputs of kvroute.stats.rate_curves, susceptibility and
    cliff_location for the group (model, press, regime); optionally the
    per-dataset eviction tables (metrics/eviction.csv, pooled here for GER)
    and kvroute.stats.breakpoint_test. Tables with a dataset column are drawn
    from their "pooled" rows. Returns (pdf, png).
    """
    curves, chi, cliff = pooled_rows(curves, "curves"), pooled_rows(chi, "chi"), pooled_rows(cliff, "cliff")
    if breakpoint is not None:
        breakpoint = pooled_rows(breakpoint, "breakpoint")
    ger = pool_ger(eviction) if eviction is not None else None
    if breakpoint is not None and breakpoint.empty:
        breakpoint = None  # no breakpoint test ran: nothing to mark
    require(curves, CURVE_COLS, "curves")
    require(chi, CHI_COLS, "chi")
    require(cliff, CLIFF_COLS, "cliff")
    if ger is not None:
        require(ger, GER_COLS, "ger")
    if breakpoint is not None:
        require(breakpoint, BREAKPOINT_COLS, "breakpoint")
    if curves.duplicated([*KEYS, "ratio"]).any():
        raise ValueError("curves has several rows per model/press/regime/ratio; "
                         "filter to one dataset first")
    use_style()
    models = sorted(curves["model"].unique(), key=lambda m: short(m).lower())
    if not models:
        raise ValueError("curves is empty")
    n = len(models)
    width = COLUMN_WIDTH if n == 1 else max(FULL_WIDTH, 2.3 * n)
    fig, axes = plt.subplots(
        2, n, figsize=(width, 3.9), sharex=True, sharey="row", squeeze=False,
        gridspec_kw={"height_ratios": [3, 2]}, layout="constrained",
    )
    for j, model in enumerate(models):
        top, bottom = axes[0, j], axes[1, j]
        _plot_rates(top, curves, model)
        _plot_chi(bottom, chi, cliff, model)
        if breakpoint is not None:
            _plot_breakpoints(bottom, breakpoint, model)
        if ger is not None:
            twin = top.twinx()
            _plot_ger(twin, ger, model)
            if j == n - 1:
                twin.set_ylabel("GER")
            else:
                twin.tick_params(labelright=False)
        top.set_title(short(model))
        if j:  # shared y: label only the first column
            top.set_ylabel("")
            bottom.set_ylabel("")
    axes[0, 0].set_xlim(-0.02, 1.0)
    groups = _legend_groups(curves, ger=ger is not None, breakpoint=breakpoint is not None)
    _add_legend(fig, groups, one_row=n > 1 and sum(map(len, groups)) <= 9)
    try:
        return save_figure(fig, out_pdf)
    finally:
        plt.close(fig)
