"""Eviction and error rates vs compression ratio (paper Figs. 21-23, 42-43).

- plot_error_rates: hallucination rate (filled, Wilson band), H_cond (thin,
  crosses; when answers.csv has it) and unknown rate (lighter, hollow) per
  model x dataset, from metrics/answers.csv.
- plot_eviction_rates: share of context positions no (layer, KV head) keeps,
  the same for the evidence positions (GER) beside its two nulls (random
  passage spans shaped like T_ans on the real ledger; independent heads at the
  same per-head budgets), and GER minus the span null; datasets pooled, from
  metrics/eviction.csv.
- plot_susceptibility: chi = dH/dalpha with bootstrap bands and the
  argmax-chi cliff marks, one panel per dataset (pooled first) when the
  tables have a dataset column, from stats/susceptibility.csv and
  stats/cliff.csv.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.lines import Line2D

from kvroute.figures.common import pool, require, save
from kvroute.figures.facets import facet_curves
from kvroute.figures.safety_cliff import CHI_COLS, CLIFF_COLS, COND_COL, COND_LABEL, mark_cliffs
from kvroute.figures.style import lighter, press_color, regime_linestyle
from kvroute.frames import POOLED

EVICTION_COLS = ["model", "dataset", "regime", "press", "ratio", "n", "eviction_rate", "ger", "null_ger_indep"]


def plot_error_rates(answers: pd.DataFrame, out_pdf) -> tuple[Path, Path]:
    cols = ["model", "dataset", "regime", "press", "ratio", "tag_kind", "n", "hallucination_rate",
            "unknown_rate", "hallucination_wilson_lo", "hallucination_wilson_hi"]
    require(answers, cols, "answers")
    df = answers[answers["tag_kind"] == "all"]
    if df.empty:
        raise ValueError("answers has no tag_kind 'all' rows")

    def unknown_and_cond(ax, model, facet, sub):
        for (press, regime), s in sub.groupby(["press", "regime"]):
            s = s.sort_values("ratio")
            c = lighter(press_color(press))
            ax.plot(s["ratio"], s["unknown_rate"], color=c, ls=regime_linestyle(regime), marker="o", ms=2.5,
                    mfc="white", mec=lighter(press_color(press), 0.3), lw=0.9)
            if COND_COL in s:
                ax.plot(s["ratio"], s[COND_COL], color=press_color(press), ls=regime_linestyle(regime), lw=0.7,
                        marker="x", ms=3)

    cond = [Line2D([], [], color="0.2", lw=0.7, marker="x", ms=3, label=COND_LABEL)] if COND_COL in df else []
    extra = [Line2D([], [], color="0.2", marker="o", ls="none", label="hallucination"), *cond,
             Line2D([], [], color=lighter("0.2"), marker="o", mfc="white", ls="none", label="unknown")]
    fig, _, _ = facet_curves(df, "dataset", "ratio", "hallucination_rate", ylabel="rate",
                             lo="hallucination_wilson_lo", hi="hallucination_wilson_hi", hook=unknown_and_cond,
                             extra_legend=extra)
    return save(fig, out_pdf)


MEASURES = {"eviction_rate": "eviction rate (all positions)", "ger": "GER (evidence positions)",
            "ger_excess_span": "GER − span null"}
NULLS = {"null_ger_span": ("span null (random passage spans, real ledger)", "-"),
         "null_ger_indep": ("independent-heads null (random eviction, same budgets)", ":")}


def plot_eviction_rates(eviction: pd.DataFrame, out_pdf) -> tuple[Path, Path]:
    require(eviction, EVICTION_COLS, "eviction")
    w = "n_with_evidence" if "n_with_evidence" in eviction else "n"
    nulls = [c for c in NULLS if c in eviction]
    pooled = pool(eviction.assign(ratio=eviction["ratio"].round(10)),
                  ["model", "press", "regime", "ratio"], ["eviction_rate", "ger", *nulls], weight=w)
    pooled["ger_excess_span"] = pooled["ger"] - pooled["null_ger_span"] if "null_ger_span" in pooled else float("nan")
    long = pooled.melt(id_vars=["model", "press", "regime", "ratio"], value_vars=list(MEASURES),
                       var_name="measure", value_name="value")
    long["measure"] = long["measure"].map(MEASURES)

    def hook(ax, model, facet, sub):
        if facet == MEASURES["ger"]:  # the nulls for reference
            for (press, regime), s in pooled[pooled["model"] == model].groupby(["press", "regime"]):
                s = s.sort_values("ratio")
                for null in nulls:
                    ax.plot(s["ratio"], s[null], color=lighter(press_color(press)), ls=NULLS[null][1], lw=0.8)
        if facet == MEASURES["ger_excess_span"]:
            ax.axhline(0, color="0.5", lw=0.5)
            ax.set_ylim(auto=True)

    extra = [Line2D([], [], color=lighter("0.2"), lw=0.8, ls=NULLS[n][1], label=NULLS[n][0]) for n in nulls]
    fig, _, _ = facet_curves(long, "measure", "ratio", "value", ylabel="rate", facets=list(MEASURES.values()),
                             hook=hook, extra_legend=extra, max_cols=3, sharey=False, ylim=None)
    return save(fig, out_pdf)


def plot_susceptibility(chi: pd.DataFrame, cliff: pd.DataFrame, out_pdf) -> tuple[Path, Path]:
    require(chi, CHI_COLS, "chi")
    require(cliff, CLIFF_COLS, "cliff")
    facet = "dataset" if "dataset" in chi and "dataset" in cliff else None
    # Pooled first, then each dataset: every panel's chi and cliffs come from the same rows.
    facets = sorted(chi[facet].unique(), key=lambda d: (d != POOLED, str(d))) if facet else None

    def hook(ax, model, value, sub):
        mark_cliffs(ax, cliff if facet is None else cliff[cliff[facet] == value], model)
        ax.axhline(0, color="0.5", lw=0.5)

    extra = [Line2D([], [], color="0.2", marker="*", ms=7, ls="none", label="argmax-χ cliff (hollow: grid edge)")]
    fig, _, _ = facet_curves(chi, facet, "ratio_mid", "chi", ylabel=r"$\chi = dH/d\alpha$", lo="chi_boot_lo",
                             hi="chi_boot_hi", facets=facets, hook=hook, extra_legend=extra, ylim=None,
                             sharey=False, panel_h=1.8)
    return save(fig, out_pdf)
