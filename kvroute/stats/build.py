"""Every table of the stats rule, per dataset and pooled over datasets.

Datasets differ in size (up to 80x), so a pooled number alone is mostly the
largest dataset. Each table is computed once per dataset and once over all
datasets together (``dataset`` = "pooled"). The pooled run is not a second
code path: each statistic handles a table with several datasets itself
(bootstraps resample passages within dataset, item models add C(dataset),
paired tests match questions by dataset and passage).

Every table of the study grid reads base rows only (kvroute.frames.base_rows);
the oracle table compares oracle-press rows with their base rows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import pandas as pd

from kvroute.frames import POOLED, base_rows, require

log = logging.getLogger(__name__)
CURVE_GROUP = ("model", "press", "regime")
CELL_GROUP = ("model", "regime", "press", "ratio")
ORACLE_GROUP = ("model", "regime", "base_press")


def per_dataset(fn: Callable[..., pd.DataFrame], table: pd.DataFrame, group: Sequence[str], **kw) -> pd.DataFrame:
    """``fn(table, group=...)`` per dataset and over all datasets, one table with a dataset column
    (after model when the group starts with it)."""
    require(table, ["dataset"], "table")
    group = [g for g in group if g != "dataset"]
    at = 1 if group[:1] == ["model"] else 0
    each = fn(table, group=[*group[:at], "dataset", *group[at:]], **kw)
    pooled = fn(table, group=group, **kw)
    pooled.insert(min(at, len(pooled.columns)), "dataset", POOLED)
    return pd.concat([each, pooled], ignore_index=True)


def build_stats(scores: pd.DataFrame, questions: pd.DataFrame, n_boot: int = 1000, n_boot_breakpoint: int = 200,
                seed: int = 0, ratio_term: str = "categorical") -> dict[str, pd.DataFrame]:
    """The stats rule's tables, keyed as kvroute.paths.STATS_FILES names their files."""
    from kvroute import stats

    boot = {"n_boot": n_boot, "seed": seed}
    oracle_questions = questions  # the oracle table compares oracle rows with their base rows
    scores, questions = base_rows(scores), base_rows(questions)  # every other table: the grid only
    jobs = {
        "curves": lambda: per_dataset(stats.rate_curves, scores, CURVE_GROUP, **boot),
        "chi": lambda: per_dataset(stats.susceptibility, scores, CURVE_GROUP, **boot),
        "cliff": lambda: per_dataset(stats.cliff_location, scores, CURVE_GROUP, **boot),
        "breakpoint": lambda: per_dataset(stats.breakpoint_test, scores, CURVE_GROUP, n_boot=n_boot_breakpoint,
                                          seed=seed),
        "mcnemar": lambda: per_dataset(stats.mcnemar_table, scores, ("model", "press", "ratio")),
        "tags": lambda: per_dataset(stats.tag_tests, scores, CELL_GROUP),
        "ger_item": lambda: per_dataset(stats.ger_item_model, questions, ("model", "regime"), ratio_term=ratio_term),
        "ger": lambda: stats.ger_verdict(per_dataset(stats.ger_aggregate, questions, ("model", "regime"), **boot),
                                         tables["ger_item"]),
        "erasure": lambda: per_dataset(stats.erasure_table, questions, CELL_GROUP),
        "rigidity": lambda: per_dataset(stats.rigidity_model, questions, ("model", "regime")),
        "consensus": lambda: per_dataset(stats.consensus_curves, questions, CURVE_GROUP, **boot),
        "oracle": lambda: per_dataset(stats.oracle_table, oracle_questions, ORACLE_GROUP, **boot),
        "evidence_predictors": lambda: per_dataset(stats.evidence_predictors, questions, ("model", "regime"), **boot),
    }
    tables = {}
    for name, job in jobs.items():
        start = time.perf_counter()
        tables[name] = job()
        log.info("%s: %d rows in %.1f s", name, len(tables[name]), time.perf_counter() - start)
    return tables
