"""Input checks for the tables that analysis functions receive, and which of their rows are the study grid's."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

# The dataset label of rows that pool every dataset (each stats table holds both).
POOLED = "pooled"


def require(df, cols: Iterable[str], name: str) -> None:
    """ValueError naming the missing columns, or an empty table."""
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s): {', '.join(missing)}")
    if df.empty:
        raise ValueError(f"{name} is empty")


def present(df: pd.DataFrame, cols: Iterable[str]) -> list[str]:
    """The columns of ``cols`` that ``df`` has, for optional keys (tables from older runs may lack some)."""
    return [c for c in cols if c in df.columns]


# --- base vs oracle rows -------------------------------------------------------------------------------
# Oracle presses (kvroute/inference/oracle.py) are copies of a base press whose scores are steered toward or away
# from chosen positions; their rows sit beside the base rows in predictions, scores, questions, hidden and
# routing arrays, and the ledger. They are an intervention, not a point of the study grid: every curve,
# correlation, probe, figure and table of the grid reads base rows only (these functions), and only the
# oracle statistics (kvroute/stats/oracle.py) read both.
from kvroute.inference.oracle import NONE as NO_ORACLE  # noqa: E402 (the ``oracle`` value of a base row)


def oracle_of(df: pd.DataFrame) -> pd.Series:
    """Each row's oracle variant ("none" for base rows); tables from before oracle presses have no column."""
    if "oracle" not in df.columns:
        return pd.Series(NO_ORACLE, index=df.index, dtype=object)
    return df["oracle"].astype(object).where(df["oracle"].notna(), NO_ORACLE).astype(str)


def base_press_of(df: pd.DataFrame) -> pd.Series:
    """Each row's base press: ``base_press`` where set, else ``press`` (a base row is its own base)."""
    if "base_press" not in df.columns:
        return df["press"].astype(str)
    return df["base_press"].astype(object).where(df["base_press"].notna(), df["press"]).astype(str)


def is_base(df: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the base rows (oracle "none" or no oracle column)."""
    return (oracle_of(df) == NO_ORACLE).to_numpy()


def base_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of the study grid: oracle rows left out (index kept)."""
    return df[is_base(df)]


def oracle_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The oracle-press rows (index kept); empty for tables from before oracle presses."""
    return df[~is_base(df)]


def base_ledger_rows(ledger: pd.DataFrame) -> pd.DataFrame:
    """Ledger entries of the grid's shared caches: oracle "none" and no question (an oracle cell is per question)."""
    keep = is_base(ledger)
    if "qid" in ledger.columns:
        keep &= ledger["qid"].isna().to_numpy()
    return ledger[keep]
