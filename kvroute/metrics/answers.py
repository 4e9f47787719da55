"""Answer-quality breakdowns: F1, recall and error classes per tag.

One long table: for every study cell (model, dataset, regime, press, ratio)
and every tag dimension (answer_type, question_type, direction, hop) one row
per tag value, plus tag_kind "all" for the whole cell, so a figure can plot
any tag's curve without another groupby.

H_cond (``hallucination_cond_rate``) is the hallucination rate among the
``n_cond`` answers whose item was correct at ratio 0 (docs/definitions.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kvroute.frames import present
from kvroute.metrics.common import CELL
from kvroute.scoring import with_correct_at_0
from kvroute.intervals import wilson_interval

TAGS = ("answer_type", "question_type", "direction", "hop")


def _summarise(sub: pd.DataFrame) -> dict:
    cls = sub["error_class"].astype(str)
    n = len(sub)
    k = int((cls == "hallucination").sum())
    lo, hi = wilson_interval(k, n)
    # NA (no ratio-0 row for the item) leaves the answer out of H_cond only.
    cond = sub["correct_at_0"].astype("boolean").fillna(False).to_numpy(bool)
    n_cond = int(cond.sum())
    return {
        "n": n,
        "n_passages": sub["passage_id"].nunique() if "passage_id" in sub else np.nan,
        "f1_mean": float(sub["f1"].mean()),
        "recall_mean": float(sub["recall"].mean()) if "recall" in sub else np.nan,
        "correct_rate": float((cls == "correct").mean()),
        "correct_f1_rate": float(sub["correct_f1"].astype(float).mean()) if "correct_f1" in sub else np.nan,
        "unknown_rate": float((cls == "unknown").mean()),
        "empty_rate": float((cls == "empty").mean()),
        "hallucination_rate": k / n,
        "hallucination_wilson_lo": lo,
        "hallucination_wilson_hi": hi,
        "n_cond": n_cond,
        "hallucination_cond_rate": float((cls[cond] == "hallucination").mean()) if n_cond else np.nan,
    }


def answer_breakdown(scores: pd.DataFrame, group=CELL, tags=TAGS) -> pd.DataFrame:
    """Columns: *group, tag_kind, tag, n, n_passages, f1_mean, recall_mean,
    correct_rate, correct_f1_rate, unknown_rate, empty_rate, hallucination_rate,
    hallucination_wilson_lo/hi, n_cond, hallucination_cond_rate.

    Missing tags (hop is null outside the hops dataset) are skipped, not
    reported as a "nan" tag.
    """
    group = present(scores, group)
    scores = with_correct_at_0(scores)  # before grouping: it needs the ratio-0 rows
    rows = []
    for key, cell in scores.groupby(group, sort=True, dropna=False):
        key = dict(zip(group, key if isinstance(key, tuple) else (key,)))
        rows.append({**key, "tag_kind": "all", "tag": "all", **_summarise(cell)})
        for kind in present(cell, tags):
            values = cell[kind]
            for tag, sub in cell[values.notna()].groupby(kind, sort=True):
                rows.append({**key, "tag_kind": kind, "tag": str(tag), **_summarise(sub)})
    return pd.DataFrame(rows)
