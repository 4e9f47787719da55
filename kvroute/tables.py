"""Paper tables as CSV and LaTeX.

- Table 1 (dataset statistics): from results/tables/dataset_stats.csv
  (kvroute dataset-stats): passages, queries, words per passage (mean ± sd),
  queries per passage.
- Table 2 (base performance): mean token F1 of all answers per model x
  regime x dataset. ``agg="ratio0"`` (default) is the uncompressed model
  (alpha = 0; every press leaves the cache intact there, so presses are
  averaged and are identical); ``agg="mean"`` averages each press's F1 over
  the whole ratio grid and keeps one row per press. From metrics/answers.csv.
  With metric hallucination_rate and agg="mean", each dataset's column is
  followed by "<dataset> (H_cond)", the hallucination rate among items correct
  at ratio 0 (at ratio 0 alone it is 0 by construction, so agg="ratio0" omits it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kvroute.frames import base_rows, require
from kvroute.io import write_csv, write_text

STATS_COLS = ["dataset", "passages", "queries", "words_per_passage_mean", "words_per_passage_std",
              "queries_per_passage_mean"]
ANSWER_COLS = ["model", "dataset", "regime", "press", "ratio", "tag_kind", "n"]
METRIC_NAMES = {"f1_mean": "token F1", "recall_mean": "gold-token recall", "correct_rate": "correct rate",
                "hallucination_rate": "hallucination rate", "unknown_rate": "unknown rate",
                "hallucination_cond_rate": "hallucination rate among items correct at ratio 0"}
COND = "hallucination_cond_rate"


def table1(stats: pd.DataFrame) -> pd.DataFrame:
    """Dataset statistics, one row per dataset in the given order, display-ready columns."""
    require(stats, STATS_COLS, "dataset stats")
    if stats["dataset"].duplicated().any():
        raise ValueError("dataset stats lists a dataset twice")
    return pd.DataFrame({
        "dataset": stats["dataset"].astype(str),
        "passages": stats["passages"].astype(int),
        "queries": stats["queries"].astype(int),
        "words / passage": [f"{m:.1f} ± {s:.1f}" for m, s in zip(stats["words_per_passage_mean"],
                                                                stats["words_per_passage_std"])],
        "queries / passage": stats["queries_per_passage_mean"].astype(float).round(1),
    })


def table2(answers: pd.DataFrame, agg: str = "ratio0", metric: str = "f1_mean") -> pd.DataFrame:
    """``metric`` of all answers: rows model x regime (x press for agg='mean'), one column per dataset."""
    if agg not in ("ratio0", "mean"):
        raise ValueError(f"agg must be 'ratio0' or 'mean', got {agg!r}")
    if metric not in METRIC_NAMES:
        raise ValueError(f"metric must be one of {', '.join(METRIC_NAMES)}, got {metric!r}")
    require(answers, [*ANSWER_COLS, metric], "answers")
    answers = base_rows(answers)  # answers.csv is made of base rows; a table with an oracle column is filtered too
    df = answers[answers["tag_kind"] == "all"]
    if agg == "ratio0":
        df = df[np.isclose(df["ratio"].astype(float), 0.0)]
        if df.empty:
            raise ValueError("answers has no ratio 0 rows: use agg='mean' or add ratio 0 to the grid")
        rows = ["model", "regime"]
    else:
        rows = ["model", "regime", "press"]
    if df.empty:
        raise ValueError("answers has no tag_kind 'all' rows")
    datasets = list(dict.fromkeys(df["dataset"].astype(str)))
    values = [metric]
    if metric == "hallucination_rate" and agg == "mean" and COND in df:
        values.append(COND)  # H_cond next to H
    cols = [(v, d) for d in datasets for v in values]
    wide = df.groupby([*rows, "dataset"], sort=True)[values].mean().unstack("dataset").reindex(columns=cols)
    wide.columns = [d if v == metric else f"{d} (H_cond)" for v, d in cols]
    return wide.reset_index()


def to_latex(table: pd.DataFrame, caption: str, label: str, float_format: str = "%.3f") -> str:
    """A booktabs LaTeX table (underscores and other specials escaped)."""
    body = table.to_latex(index=False, escape=True, float_format=float_format, na_rep="--", caption=caption,
                          label=label, position="t")
    return body.replace("±", r"$\pm$")


def write_tables(stats: pd.DataFrame, answers: pd.DataFrame, table1_csv, table1_tex, table2_csv, table2_tex,
                 agg: str = "ratio0", metric: str = "f1_mean") -> None:
    t1 = table1(stats)
    t2 = table2(answers, agg=agg, metric=metric)
    write_csv(t1, table1_csv)
    write_text(table1_tex, to_latex(t1, "Dataset statistics (words per passage: mean $\\pm$ sd).",
                                    "tab:datasets", float_format="%.1f"))
    write_csv(t2, table2_csv)
    what = ("at compression ratio 0 (uncompressed)" if agg == "ratio0"
            else "averaged over the compression-ratio grid")
    write_text(table2_tex, to_latex(t2, f"Mean {METRIC_NAMES[metric]} per model, regime and dataset, {what}.",
                                    "tab:base-performance"))
