"""Input checks for the tables that analysis functions receive."""

from __future__ import annotations

from collections.abc import Iterable

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
