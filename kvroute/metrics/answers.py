"""Answer-quality breakdowns: F1, recall and error classes per tag.

One long table: for every study cell (model, dataset, regime, press, ratio)
and every tag dimension (answer_type, question_type, direction, hop) one row
per tag value, plus tag_kind "all" for the whole cell, so a figure can plot
any tag's curve without another groupby.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kvroute.frames import present
from kvroute.metrics.common import CELL
from kvroute.stats import wilson_interval

TAGS = ("answer_type", "question_type", "direction", "hop")


def _summarise(sub: pd.DataFrame) -> dict:
    cls = sub["error_class"].astype(str)
    n = len(sub)
    k = int((cls == "hallucination").sum())
    lo, hi = wilson_interval(k, n)
    return {
        "n": n,
        "n_passages": sub["passage_id"].nunique() if "passage_id" in sub else np.nan,
        "f1_mean": float(sub["f1"].mean()),
        "recall_mean": float(sub["recall"].mean()) if "recall" in sub else np.nan,
        "correct_rate": float((cls == "correct").mean()),
        "unknown_rate": float((cls == "unknown").mean()),
        "hallucination_rate": k / n,
        "hallucination_wilson_lo": lo,
        "hallucination_wilson_hi": hi,
    }


def answer_breakdown(scores: pd.DataFrame, group=CELL, tags=TAGS) -> pd.DataFrame:
    """Columns: *group, tag_kind, tag, n, n_passages, f1_mean, recall_mean,
    correct_rate, unknown_rate, hallucination_rate, hallucination_wilson_lo/hi.

    Missing tags (hop is null outside the hops dataset) are skipped, not
    reported as a "nan" tag.
    """
    group = present(scores, group)
    rows = []
    for key, cell in scores.groupby(group, sort=True, dropna=False):
        key = dict(zip(group, key if isinstance(key, tuple) else (key,)))
        rows.append({**key, "tag_kind": "all", "tag": "all", **_summarise(cell)})
        for kind in present(cell, tags):
            values = cell[kind]
            for tag, sub in cell[values.notna()].groupby(kind, sort=True):
                rows.append({**key, "tag_kind": kind, "tag": str(tag), **_summarise(sub)})
    return pd.DataFrame(rows)
