"""Small multiples of press x regime curves: rows per model, panels per facet.

The one layout every curve family uses. Each model starts a new row block
(its short name leads the y label of its first panel); facets (datasets,
tags, hops, directions, compression levels ...) fill at most ``max_cols``
columns and wrap within the model's block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from kvroute.figures.common import grid, hide_unused, label_outer, legend_below, line, models_of, ordered
from kvroute.figures.common import ratio_axis, series, short, style_handles


def wrap_title(title: str, n_cols: int) -> str:
    """Break a long panel title over two lines (at ' · ' or before '(') so neighbours never collide."""
    limit = 34 if n_cols <= 2 else 24
    if len(title) <= limit or "\n" in title:
        return title
    for sep in (" · ", " ("):
        if sep in title:
            head, tail = title.split(sep, 1)
            return f"{head}\n{tail}" if sep == " · " else f"{head}\n({tail}"
    return title


def facet_curves(
    df: pd.DataFrame,
    facet: str | None,
    x: str,
    y: str,
    *,
    ylabel: str,
    xlabel: str = r"compression ratio $\alpha$",
    lo: str | None = None,
    hi: str | None = None,
    facets: Sequence | None = None,
    facet_title: Callable[[object, pd.DataFrame], str] | None = None,
    max_cols: int = 4,
    ylim: tuple[float, float] | None = (-0.03, 1.03),
    panel_h: float = 1.45,
    hook: Callable | None = None,
    extra_legend: list | None = None,
    sharey: bool = True,
    marker: str = "o",
):
    """Draw the grid; returns (fig, axes, panels) with panels[(model, facet)] = axis.

    ``hook(ax, model, facet_value, sub)`` draws extras into each panel.
    The caller saves the figure (kvroute.figures.common.save).
    """
    models = models_of(df)
    if facet is None:
        facets = [None]
    elif facets is None:
        facets = ordered(df[facet])
    if not facets:
        raise ValueError(f"no values of {facet!r} to draw")
    n_cols = max(1, min(len(facets), max_cols))
    per_model = int(np.ceil(len(facets) / n_cols))
    fig, axes = grid(per_model * len(models), n_cols, panel_h=panel_h, sharey=sharey)
    for ax in axes.ravel():
        ax.set_visible(False)
    panels = {}
    for i, model in enumerate(models):
        msub = df[df["model"].astype(str) == model]
        for k, f in enumerate(facets):
            ax = axes[i * per_model + k // n_cols, k % n_cols]
            ax.set_visible(True)
            sub = msub if facet is None else msub[msub[facet] == f]
            for press, regime, s in series(sub, x):
                line(ax, s, x, y, press, regime, lo=lo, hi=hi, marker=marker)
            if hook is not None:
                hook(ax, model, f, sub)
            if f is not None:
                ax.set_title(wrap_title(facet_title(f, sub) if facet_title else str(f), n_cols))
            if ylim is not None:
                ax.set_ylim(*ylim)
            panels[(model, f)] = ax
        # blank slots at the end of a model's block
        used = len(facets)
        block = axes[i * per_model:(i + 1) * per_model].ravel()
        hide_unused(block, used)
    label_outer(axes, xlabel=xlabel, ylabel=ylabel)
    for i, model in enumerate(models):
        for r in range(per_model):
            ax = axes[i * per_model + r, 0]
            ax.set_ylabel(f"{short(model)}\n{ylabel}" if r == 0 else ylabel)
    if x in ("ratio", "ratio_mid"):
        for ax in panels.values():
            ratio_axis(ax)
    groups = style_handles(ordered(df["press"]), ordered(df["regime"]))
    if extra_legend:
        groups.append(extra_legend)
    legend_below(fig, groups)
    return fig, axes, panels
