"""Linear probes under compression (paper Figs. 25-26, 40-41), against their baselines.

- plot_probe_tags: probe F1 vs ratio (small multiples): a first panel with the
  answer-type macro-F1, a second with the answer-correctness probe's macro-F1
  (when probed), then one panel per answer-type tag. Baselines: the control
  task's macro-F1 (same probe, control tags; kvroute.probing.control) in
  lighter press colours, and the question-only baseline (same probe on the
  question asked with an empty context) in grey, per regime; the mean control
  in grey dots on tag panels. From probe/probe_tags.csv and probe/probe_scores.csv.
- plot_probe_drift: accessibility drift of the answer-type probe: trained at
  the lowest ratio (train_ratio, normally 0) and tested at every ratio, one
  panel per probed layer and the layer-pooled state; lighter lines: probes
  retrained at each ratio, grey: the question-only baseline (probe_scores.csv).

Layers are text in the probe tables ("12", "pooled").
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.lines import Line2D

from kvroute.figures.common import require, save
from kvroute.figures.facets import facet_curves
from kvroute.figures.style import lighter, press_color, regime_linestyle

SCORE_COLS = ["model", "dataset", "regime", "press", "ratio", "target", "layer", "macro_f1", "control_macro_f1",
              "question_only_f1"]
TAG_COLS = ["model", "dataset", "regime", "press", "ratio", "target", "layer", "tag", "f1"]
DRIFT_COLS = ["model", "dataset", "regime", "press", "train_ratio", "ratio", "target", "layer", "macro_f1"]
MACRO = "answer type (macro-F1)"
CORRECT = "answer correct (macro-F1)"
POOLED = "pooled"
QONLY = dict(color="0.45", lw=2.4, alpha=0.55, solid_capstyle="butt")  # thick grey: not a regime handle
QONLY_LABEL = "question only (empty context)"


def _layer_text(df: pd.DataFrame) -> pd.DataFrame:
    """Layers as text, as the probe tables write them (a CSV of integer layers reads back as int)."""
    return df.assign(layer=df["layer"].astype(str))


def _pick_layer(df: pd.DataFrame, layer) -> pd.DataFrame:
    """Keep one probed layer per model: 'last', 'first', 'pooled' or a layer index."""
    df = _layer_text(df)
    if layer in ("last", "first"):
        index = pd.to_numeric(df["layer"], errors="coerce")
        chosen = index.groupby(df["model"]).transform("max" if layer == "last" else "min")
        return df[index == chosen]
    if str(layer) != POOLED:
        try:
            layer = int(layer)
        except (TypeError, ValueError):
            raise ValueError(f"layer must be 'last', 'first', 'pooled' or a layer index, got {layer!r}") from None
    out = df[df["layer"] == str(layer)]
    if out.empty:
        raise ValueError(f"layer {layer} was not probed (probed: {sorted(df['layer'].unique())})")
    return out


def _question_only(ax, scores: pd.DataFrame) -> None:
    """The question-only baseline, one grey line per regime (it does not depend on the press)."""
    for regime, s in scores.groupby("regime"):
        m = s.groupby("ratio", as_index=False)["question_only_f1"].mean().dropna()
        ax.plot(m["ratio"], m["question_only_f1"], ls=regime_linestyle(regime), **QONLY)


def _dataset(df: pd.DataFrame, dataset: str, name: str) -> pd.DataFrame:
    out = df[df["dataset"].astype(str) == str(dataset)]
    if out.empty:
        raise ValueError(f"{name} has no rows for dataset {dataset!r} (has: {sorted(df['dataset'].unique())})")
    return out


def _facet_name(layer: str) -> str:
    return layer if layer == POOLED else f"layer {layer}"


def _layer_order(layer: str) -> tuple[bool, int]:
    return layer == POOLED, 0 if layer == POOLED else int(layer)


def plot_probe_tags(tags: pd.DataFrame, scores: pd.DataFrame, out_pdf, dataset: str = "all",
                    layer="last") -> tuple[Path, Path]:
    require(tags, TAG_COLS, "probe tags")
    require(scores, SCORE_COLS, "probe scores")
    picked = _pick_layer(_dataset(scores, dataset, "probe scores"), layer)
    panels = {MACRO: picked[picked["target"] == "answer_type"], CORRECT: picked[picked["target"] == "correct"]}
    panels = {name: sc for name, sc in panels.items() if not sc.empty}
    if MACRO not in panels:
        raise ValueError("probe scores have no answer_type rows")
    sc = panels[MACRO]
    tg = _layer_text(_dataset(tags, dataset, "probe tags"))
    tg = tg[tg["target"] == "answer_type"].merge(sc[["model", "layer"]].drop_duplicates(), on=["model", "layer"])
    long = pd.concat([*(p.assign(tag=name, value=p["macro_f1"]) for name, p in panels.items()),
                      tg.assign(tag=tg["tag"].astype(str), value=tg["f1"])], ignore_index=True)
    tag_names = sorted(tg["tag"].astype(str).unique(), key=str.lower)
    support = tg.groupby("tag")["support"].max() if "support" in tg else pd.Series(dtype=float)

    def title(tag, sub):
        if tag in support.index and pd.notna(support[tag]):
            return f"{tag} (n={int(support[tag])})"
        return str(tag)

    def hook(ax, model, tag, sub):
        if tag in panels:
            own = panels[tag][panels[tag]["model"] == model]
            for (press, regime), s in own.groupby(["press", "regime"]):
                s = s.sort_values("ratio")
                ax.plot(s["ratio"], s["control_macro_f1"], color=lighter(press_color(press)),
                        ls=regime_linestyle(regime), lw=0.8)
            _question_only(ax, own)
        else:
            m = sc[sc["model"] == model].groupby("ratio", as_index=False)["control_macro_f1"].mean()
            ax.plot(m["ratio"], m["control_macro_f1"], color="0.5", ls=":", lw=1)

    layers = ", ".join(f"{m}: {l}" for m, l in sc[["model", "layer"]].drop_duplicates().itertuples(index=False))
    extra = [Line2D([], [], color="0.5", ls=":", lw=1, label="control task (macro-F1)"),
             Line2D([], [], label=QONLY_LABEL, **QONLY)]
    fig, _, _ = facet_curves(long, "tag", "ratio", "value", ylabel="probe F1", facets=[*panels, *tag_names],
                             facet_title=title, hook=hook, extra_legend=extra, panel_h=1.3)
    fig.suptitle(f"dataset {dataset}; probed layer {layers}", fontsize=7)
    return save(fig, out_pdf)


def plot_probe_drift(drift: pd.DataFrame, out_pdf, scores: pd.DataFrame | None = None,
                     dataset: str = "all") -> tuple[Path, Path]:
    require(drift, DRIFT_COLS, "probe drift")
    df = _layer_text(_dataset(drift, dataset, "probe drift"))
    df = df[(df["target"] == "answer_type")
            & (df["train_ratio"] == df.groupby("model")["train_ratio"].transform("min"))].copy()
    df["facet"] = df["layer"].map(_facet_name)
    sc = None
    if scores is not None:
        require(scores, SCORE_COLS, "probe scores")
        sc = _layer_text(scores[(scores["dataset"].astype(str) == str(dataset))
                                & (scores["target"] == "answer_type")])

    def hook(ax, model, facet, sub):
        if sc is None or sub.empty:
            return
        own = sc[(sc["model"] == model) & (sc["layer"] == sub["layer"].iloc[0])]
        for (press, regime), s in own.groupby(["press", "regime"]):
            s = s.sort_values("ratio")
            ax.plot(s["ratio"], s["macro_f1"], color=lighter(press_color(press)), ls=regime_linestyle(regime),
                    lw=0.8)
        _question_only(ax, own)

    facets = [_facet_name(l) for l in sorted(df["layer"].unique(), key=_layer_order)]
    train = ", ".join(f"{t:g}" for t in sorted(df["train_ratio"].unique()))
    extra = [Line2D([], [], color="0.2", marker="o", ms=2.5, label=f"trained at α = {train}, tested at α"),
             Line2D([], [], color=lighter("0.2"), lw=0.8, label="retrained at each α"),
             Line2D([], [], label=QONLY_LABEL, **QONLY)] if sc is not None else None
    fig, _, _ = facet_curves(df, "facet", "ratio", "macro_f1", ylabel="probe macro-F1", facets=facets,
                             hook=hook, extra_legend=extra)
    return save(fig, out_pdf)
