"""claims.csv from a run's outputs: load each model's tables, evaluate every claim, order the rows."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence

import pandas as pd

from kvroute.claims.base import Settings
from kvroute.claims.inputs import files_by_model, load_model, read_csvs
from kvroute.claims.registry import evaluate_model, missing_families
from kvroute.claims.report import claims_frame

log = logging.getLogger(__name__)


def build_claims(questions: Sequence[str], layers: Sequence[str], stats_files: Mapping[str, Sequence[str]],
                 families: Mapping[str, str], settings: Settings) -> pd.DataFrame:
    """One row per claim x model x scope (kvroute.claims.report.COLUMNS).

    questions / layers: metrics/questions.parquet and metrics/layers.parquet of every model x dataset x regime;
    stats_files: {table name (breakpoint, ger, ger_item, rigidity, oracle, probe): its CSV per model};
    families: {model: family}, in the report's model order.
    """
    stats = {name: read_csvs(paths) for name, paths in stats_files.items()}
    questions_of, layers_of = files_by_model(questions), files_by_model(layers)
    rows = []
    for model, family in families.items():
        start = time.perf_counter()
        m = load_model(model, family, questions_of.get(model, []), layers_of.get(model, []), stats)
        found = evaluate_model(m, settings)
        log.info("%s: %d claim rows in %.1f s", model, len(found), time.perf_counter() - start)
        rows += found
    return claims_frame(rows + missing_families(dict(families)))
