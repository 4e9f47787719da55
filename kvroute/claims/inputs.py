"""What the claims read, one model at a time.

- metrics/questions.parquet of every dataset x regime: one row per answer, the
  scores.parquet columns (error_class, f1, correct_at_0, tags) plus eviction
  metrics (ger, evidence_evicted_mean). Oracle-press rows are kept apart:
  only C6/C7 see them.
- metrics/layers.parquet: per-layer consensus, read at ratio 0 only (C9).
- stats/*.csv and probe/probe_scores.csv: what the stats and probe stages
  already estimated (breakpoint, GER, rigidity, oracle, probe accuracy).

Files are grouped by their ``model`` column, so the report can be built
model by model without holding every model's answers at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from kvroute.frames import base_rows, oracle_rows

QUESTION_COLUMNS = ("model", "dataset", "regime", "press", "ratio", "passage_id", "qid", "answers", "error_class",
                    "f1", "correct_at_0", "answer_type", "direction", "hop", "ger", "evidence_evicted_mean",
                    "erased", "oracle", "base_press")
LAYER_COLUMNS = ("model", "dataset", "regime", "press", "ratio", "oracle", "passage_id", "qid", "layer", "consensus")


def read_parquet(path, wanted: Sequence[str], filters=None) -> pd.DataFrame:
    """The ``wanted`` columns the file has (older tables lack some), optionally row-filtered."""
    names = set(pq.read_schema(path).names)
    return pd.read_parquet(path, columns=[c for c in wanted if c in names], filters=filters)


def files_by_model(paths: Sequence[str]) -> dict[str, list[str]]:
    """{model: files whose rows are about it}, from each file's model column (read alone: cheap)."""
    out: dict[str, list[str]] = {}
    for path in paths:
        for model in pd.read_parquet(path, columns=["model"])["model"].astype(str).unique():
            out.setdefault(model, []).append(str(path))
    return out


def read_csvs(paths: Sequence[str]) -> pd.DataFrame:
    frames = [pd.read_csv(p) for p in paths]
    frames = [f for f in frames if len(f.columns)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def of_model(table: pd.DataFrame, model: str) -> pd.DataFrame:
    if table.empty or "model" not in table:
        return table
    return table[table["model"].astype(str) == model]


def correct_at_0_items(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of items answered correctly uncompressed: the population of H_cond."""
    if "correct_at_0" not in table:
        return table.iloc[0:0]
    return table[table["correct_at_0"].astype("boolean").fillna(False).to_numpy(bool)]


@dataclass
class ModelInputs:
    """Everything one model's claims read; empty frames where the run produced nothing."""

    model: str
    family: str
    answers: pd.DataFrame  # base rows of questions.parquet (every dataset and regime)
    oracle_answers: pd.DataFrame  # oracle rows with the base rows of the same items (questions.parquet rows)
    layers: pd.DataFrame  # ratio-0 base rows of layers.parquet
    stats: dict[str, pd.DataFrame] = field(default_factory=dict)  # breakpoint, ger, ger_item, rigidity, oracle, probe
    cache: dict = field(default_factory=dict)  # statistics several claims share

    def stat(self, name: str) -> pd.DataFrame:
        return self.stats.get(name, pd.DataFrame())


def load_model(model: str, family: str, questions: Sequence[str], layers: Sequence[str],
               stats: dict[str, pd.DataFrame]) -> ModelInputs:
    """``questions`` / ``layers``: this model's parquet files; ``stats``: every model's tables (filtered here)."""
    frames = [read_parquet(p, QUESTION_COLUMNS) for p in questions]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(QUESTION_COLUMNS))
    table = table[table["model"].astype(str) == model]
    base = base_rows(table)
    # Oracle statistics compare oracle rows with base rows; keep only what kvroute.stats.oracle reads.
    with_oracle = table if not oracle_rows(table).empty else table.iloc[0:0]
    per_layer = [read_parquet(p, LAYER_COLUMNS, filters=[("ratio", "==", 0.0)]) for p in layers]
    per_layer = pd.concat(per_layer, ignore_index=True) if per_layer else pd.DataFrame()
    if not per_layer.empty:
        per_layer = base_rows(per_layer[per_layer["model"].astype(str) == model])
        per_layer = per_layer[np.isfinite(per_layer["consensus"].to_numpy(float))] if "consensus" in per_layer \
            else per_layer.iloc[0:0]
    return ModelInputs(model, family, base, with_oracle, per_layer,
                       {name: of_model(t, model) for name, t in stats.items()})
