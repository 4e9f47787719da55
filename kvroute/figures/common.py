"""Helpers shared by the figure families: input checks, panel grids, legends.

Every family draws small multiples with one panel per model (or per model x
something), colour = press and line style = regime (kvroute.figures.style),
and puts its legend below the panels, outside the data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from kvroute.figures.style import COLUMN_WIDTH, FULL_WIDTH, press_color, regime_linestyle, use_style
from kvroute.frames import POOLED
from kvroute.frames import require  # noqa: F401  (re-exported for the figure modules)

KEYS = ("model", "press", "regime")


class NoData(ValueError):
    """Well-formed input that holds nothing this figure can show (no hop tags, no reverse questions ...)."""


def placeholder(out, message: str):
    """A small figure that says why there is nothing to draw (keeps `rule all` going on small studies)."""
    use_style()
    fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 1.2), layout="constrained")
    ax.axis("off")
    import textwrap

    ax.text(0.5, 0.5, "nothing to draw:\n" + textwrap.fill(message, 55), ha="center", va="center", fontsize=7)
    return save(fig, out)


def pooled_rows(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """The rows of a stats table that pool every dataset (dataset == POOLED).

    Stats tables hold each dataset and "pooled"; drawing both at once would
    mix them. A table without a dataset column, or with one dataset only, is
    taken as it is.
    """
    if "dataset" not in df or df["dataset"].nunique() <= 1:
        return df
    if not (df["dataset"] == POOLED).any():
        raise ValueError(f"{name} has several datasets and no {POOLED!r} rows; filter to one dataset first")
    return df[df["dataset"] == POOLED]


def short(model: str) -> str:
    """HF ids ("org/Model-Name") are too long for a panel title."""
    return str(model).rsplit("/", 1)[-1]


def models_of(df: pd.DataFrame) -> list[str]:
    return sorted(df["model"].astype(str).unique(), key=lambda m: short(m).lower())


def ordered(values) -> list:
    """Unique values in a stable, human order (numbers numerically, text alphabetically)."""
    vals = pd.Series(list(values)).dropna().unique().tolist()
    try:
        return sorted(vals, key=float)
    except (TypeError, ValueError):
        return sorted(vals, key=lambda v: str(v).lower())


def series(df: pd.DataFrame, x: str):
    """(press, regime, frame sorted by x) for every press x regime in df."""
    for (press, regime), s in df.groupby(["press", "regime"], sort=True):
        yield str(press), str(regime), s.sort_values(x)


def line(ax, s: pd.DataFrame, x: str, y: str, press: str, regime: str, lo: str | None = None,
         hi: str | None = None, color=None, **kw):
    """One press x regime curve with an optional band (lo/hi columns)."""
    c = color if color is not None else press_color(press)
    ls = regime_linestyle(regime)
    if lo and hi and lo in s and hi in s:
        ax.fill_between(s[x].to_numpy(float), s[lo].to_numpy(float), s[hi].to_numpy(float),
                        color=c, alpha=0.15, lw=0)
    kw.setdefault("marker", "o")
    kw.setdefault("ms", 2.5)
    return ax.plot(s[x].to_numpy(float), s[y].to_numpy(float), color=c, ls=ls, **kw)


def grid(n_rows: int, n_cols: int, panel_h: float = 1.55, sharex=True, sharey=True, width=None,
         **kw):
    """A constrained-layout figure of n_rows x n_cols panels (axes array, never squeezed).

    Width: one paper column for one panel column, the full page width for
    three or more.
    """
    use_style()
    if width is None:
        width = COLUMN_WIDTH if n_cols == 1 else (5.0 if n_cols == 2 else max(FULL_WIDTH, 1.75 * n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(width, 0.55 + panel_h * n_rows), sharex=sharex,
                             sharey=sharey, squeeze=False, layout="constrained", **kw)
    return fig, axes


def wrap(n: int, max_cols: int = 4) -> tuple[int, int]:
    """(rows, cols) for n panels in at most max_cols columns."""
    cols = max(1, min(n, max_cols))
    return math.ceil(n / cols), cols


def hide_unused(axes, used: int) -> None:
    for ax in np.ravel(axes)[used:]:
        ax.set_visible(False)


def label_outer(axes, xlabel: str | None = None, ylabel: str | None = None) -> None:
    """Axis labels only on the bottom row / first column of visible panels."""
    axes = np.asarray(axes)
    n_rows, n_cols = axes.shape
    for i in range(n_rows):
        for j in range(n_cols):
            ax = axes[i, j]
            if not ax.get_visible():
                continue
            below_hidden = i + 1 < n_rows and not axes[i + 1, j].get_visible()
            if xlabel is not None:
                ax.set_xlabel(xlabel if (i == n_rows - 1 or below_hidden) else "")
                if below_hidden:
                    ax.tick_params(labelbottom=True)
            if ylabel is not None:
                ax.set_ylabel(ylabel if j == 0 else "")


def style_handles(presses: Sequence[str], regimes: Sequence[str]) -> list[list]:
    """Legend groups: one colour per press, one line style per regime."""
    return [
        [Line2D([], [], color=press_color(p), lw=2, label=p) for p in presses],
        [Line2D([], [], color="0.2", ls=regime_linestyle(r), label=r) for r in regimes],
    ]


def legend_below(fig, groups: list[list], max_per_row: int | None = None) -> None:
    """Legend outside the panels, below them; groups stay together.

    One row when it fits the figure's width, else one column per group.
    """
    if max_per_row is None:
        max_per_row = 4 if fig.get_figwidth() < 4 else (5 if fig.get_figwidth() < 6 else 7)
    handles = [h for g in groups for h in g if h is not None]
    if not handles:
        return
    chars = sum(len(h.get_label()) + 4 for h in handles)
    if len(handles) <= max_per_row and chars * 0.055 <= fig.get_figwidth() + 1.0:
        ncol = len(handles)  # one row fits (about 0.055 inch per character at 7 pt)
    elif len([g for g in groups if g]) == 1:
        ncol = max(1, min(len(handles), int((fig.get_figwidth() + 1.0) / (0.055 * max(
            len(h.get_label()) + 4 for h in handles)))))
    else:
        # Legends fill column by column; pad groups to equal length so each column holds one group.
        rows = max(len(g) for g in groups if g)
        groups = [g for g in groups if g]
        handles = [h for g in groups for h in g + [Line2D([], [], alpha=0, label=" ")
                                                     for _ in range(rows - len(g))]]
        ncol = len(groups)
    fig.legend(handles=handles, loc="outside lower center", ncol=ncol, frameon=False, handlelength=2.2,
               columnspacing=1.2)


def ratio_axis(ax) -> None:
    """The compression-ratio axis, identical in every figure."""
    ax.set_xlim(-0.03, 1.0)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.set_xticklabels(["0", ".25", ".5", ".75", "1"])


def nearest(values: Sequence[float], targets: Sequence[float]) -> list[float]:
    """For each target the nearest available value, in target order, without repeats."""
    vals = np.asarray(sorted(set(float(v) for v in values)), dtype=float)
    if vals.size == 0:
        raise ValueError("no values to choose from")
    out: list[float] = []
    for t in targets:
        v = float(vals[np.argmin(np.abs(vals - float(t)))])
        if v not in out:
            out.append(v)
    return out


def pool(df: pd.DataFrame, by: Sequence[str], cols: Sequence[str], weight: str = "n") -> pd.DataFrame:
    """Weighted means of ``cols`` over the rows of each ``by`` group (e.g. pooling datasets).

    NaN values drop out of their column's mean (with their weight).
    """
    by = [c for c in by if c in df.columns]
    rows = []
    for key, sub in df.groupby(by, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(by, key))
        w = sub[weight].to_numpy(float) if weight in sub else np.ones(len(sub))
        for c in cols:
            v = sub[c].to_numpy(float)
            ok = np.isfinite(v) & (w > 0)
            row[c] = float(np.average(v[ok], weights=w[ok])) if ok.any() else np.nan
        if weight in sub:
            row[weight] = float(np.nansum(w))
        rows.append(row)
    return pd.DataFrame(rows)


def save(fig, out):
    from kvroute.figures.style import save_figure

    try:
        return save_figure(fig, out)
    finally:
        plt.close(fig)
