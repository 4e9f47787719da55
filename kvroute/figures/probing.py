"""Linear probes of the answer type under compression (paper Figs. 25-26, 40-41).

- plot_probe_tags: per-tag probe F1 vs ratio (small multiples, one panel per
  tag, after a first panel with macro-F1), with the control task's
  macro-F1 (same probe, permuted labels; kvroute.probing.control) as the
  selectivity reference: lighter press-coloured lines in the macro panel,
  their mean in grey in every tag panel. From probe/probe_tags.csv and
  probe/probe_scores.csv.
- plot_probe_drift: accessibility drift: a probe trained at the lowest ratio
  (train_ratio, normally 0) and tested at every ratio, one panel per probed
  layer; lighter lines: probes retrained at each ratio (probe_scores.csv).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.lines import Line2D

from kvroute.figures.common import require, save
from kvroute.figures.facets import facet_curves
from kvroute.figures.style import lighter, press_color, regime_linestyle

SCORE_COLS = ["model", "dataset", "regime", "press", "ratio", "layer", "macro_f1", "control_macro_f1"]
TAG_COLS = ["model", "dataset", "regime", "press", "ratio", "layer", "tag", "f1"]
DRIFT_COLS = ["model", "dataset", "regime", "press", "train_ratio", "ratio", "layer", "macro_f1"]
MACRO = "macro-F1 (all tags)"


def _pick_layer(df: pd.DataFrame, layer) -> pd.DataFrame:
    """Keep one probed layer per model: 'last', 'first' or a layer index."""
    if layer in ("last", "first"):
        agg = "max" if layer == "last" else "min"
        chosen = df.groupby("model")["layer"].transform(agg)
        return df[df["layer"] == chosen]
    try:
        layer = int(layer)
    except (TypeError, ValueError):
        raise ValueError(f"layer must be 'last', 'first' or a layer index, got {layer!r}") from None
    out = df[df["layer"] == layer]
    if out.empty:
        raise ValueError(f"layer {layer} was not probed (probed: {sorted(df['layer'].unique())})")
    return out


def _dataset(df: pd.DataFrame, dataset: str, name: str) -> pd.DataFrame:
    out = df[df["dataset"].astype(str) == str(dataset)]
    if out.empty:
        raise ValueError(f"{name} has no rows for dataset {dataset!r} (has: {sorted(df['dataset'].unique())})")
    return out


def plot_probe_tags(tags: pd.DataFrame, scores: pd.DataFrame, out_pdf, dataset: str = "all",
                    layer="last") -> tuple[Path, Path]:
    require(tags, TAG_COLS, "probe tags")
    require(scores, SCORE_COLS, "probe scores")
    sc = _pick_layer(_dataset(scores, dataset, "probe scores"), layer)
    tg = _dataset(tags, dataset, "probe tags")
    tg = tg.merge(sc[["model", "layer"]].drop_duplicates(), on=["model", "layer"])
    long = pd.concat([sc.assign(tag=MACRO, value=sc["macro_f1"]),
                      tg.assign(tag=tg["tag"].astype(str), value=tg["f1"])], ignore_index=True)
    tag_names = sorted(tg["tag"].astype(str).unique(), key=str.lower)
    support = tg.groupby("tag")["support"].max() if "support" in tg else pd.Series(dtype=float)

    def title(tag, sub):
        if tag in support.index and pd.notna(support[tag]):
            return f"{tag} (n={int(support[tag])})"
        return str(tag)

    def hook(ax, model, tag, sub):
        ctrl = sc[sc["model"] == model]
        if tag == MACRO:
            for (press, regime), s in ctrl.groupby(["press", "regime"]):
                s = s.sort_values("ratio")
                ax.plot(s["ratio"], s["control_macro_f1"], color=lighter(press_color(press)),
                        ls=regime_linestyle(regime), lw=0.8)
        else:
            m = ctrl.groupby("ratio", as_index=False)["control_macro_f1"].mean()
            ax.plot(m["ratio"], m["control_macro_f1"], color="0.5", ls=":", lw=1)

    layers = ", ".join(f"{m}: {int(l)}" for m, l in sc[["model", "layer"]].drop_duplicates().itertuples(index=False))
    extra = [Line2D([], [], color="0.5", ls=":", lw=1, label="control task (macro-F1)")]
    fig, _, _ = facet_curves(long, "tag", "ratio", "value", ylabel="probe F1", facets=[MACRO, *tag_names],
                             facet_title=title, hook=hook, extra_legend=extra, panel_h=1.3)
    fig.suptitle(f"dataset {dataset}; probed layer {layers}", fontsize=7)
    return save(fig, out_pdf)


def plot_probe_drift(drift: pd.DataFrame, out_pdf, scores: pd.DataFrame | None = None,
                     dataset: str = "all") -> tuple[Path, Path]:
    require(drift, DRIFT_COLS, "probe drift")
    df = _dataset(drift, dataset, "probe drift")
    df = df[df["train_ratio"] == df.groupby("model")["train_ratio"].transform("min")].copy()
    df["facet"] = "layer " + df["layer"].astype(int).astype(str)
    sc = None
    if scores is not None:
        require(scores, SCORE_COLS, "probe scores")
        sc = scores[scores["dataset"].astype(str) == str(dataset)]

    def hook(ax, model, facet, sub):
        if sc is None or sub.empty:
            return
        layer = int(sub["layer"].iloc[0])
        for (press, regime), s in sc[(sc["model"] == model) & (sc["layer"] == layer)].groupby(["press", "regime"]):
            s = s.sort_values("ratio")
            ax.plot(s["ratio"], s["macro_f1"], color=lighter(press_color(press)), ls=regime_linestyle(regime),
                    lw=0.8)

    facets = [f"layer {l}" for l in sorted(df["layer"].astype(int).unique())]
    train = ", ".join(f"{t:g}" for t in sorted(df["train_ratio"].unique()))
    extra = [Line2D([], [], color="0.2", marker="o", ms=2.5, label=f"trained at α = {train}, tested at α"),
             Line2D([], [], color=lighter("0.2"), lw=0.8, label="retrained at each α")] if sc is not None else None
    fig, _, _ = facet_curves(df, "facet", "ratio", "macro_f1", ylabel="probe macro-F1", facets=facets,
                             hook=hook, extra_legend=extra)
    return save(fig, out_pdf)
