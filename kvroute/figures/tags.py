"""Tag-level behaviour vs compression ratio (paper Figs. 10-15, 29-32).

One figure per dataset and tag kind (answer_type or question_type): one
panel per tag value (wrapping at four columns) and model, from the
concatenated metrics/answers.csv tables.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kvroute.figures.common import NoData, ordered, require, save
from kvroute.figures.facets import facet_curves
from kvroute.figures.performance import ANSWER_COLS, METRICS

TAG_KINDS = ("answer_type", "question_type", "direction", "hop")


def plot_tags(answers: pd.DataFrame, out_pdf, dataset: str, tag_kind: str = "answer_type",
              metric: str = "f1_mean") -> tuple[Path, Path]:
    """``metric`` vs ratio for every ``tag_kind`` value of ``dataset``."""
    if tag_kind not in TAG_KINDS:
        raise ValueError(f"tag_kind must be one of {', '.join(TAG_KINDS)}, got {tag_kind!r}")
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    require(answers, [*ANSWER_COLS, metric], "answers")
    df = answers[(answers["dataset"].astype(str) == str(dataset)) & (answers["tag_kind"] == tag_kind)]
    if df.empty:
        raise NoData(f"answers has no {tag_kind} tags for dataset {dataset!r}")
    df = df.assign(tag=df["tag"].astype(str))

    def title(tag, sub):
        return f"{tag} (n={int(sub['n'].max())})" if len(sub) else str(tag)

    fig, _, _ = facet_curves(df, "tag", "ratio", metric, ylabel=METRICS[metric], facets=ordered(df["tag"]),
                             facet_title=title, panel_h=1.3)
    fig.suptitle(f"{dataset}: {tag_kind.replace('_', ' ')} tags", fontsize=8)
    return save(fig, out_pdf)
