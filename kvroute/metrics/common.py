"""Small helpers shared by the metric tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

# Keys that identify one cell of the study grid (a set of answers under one cache).
CELL = ("model", "dataset", "regime", "press", "ratio")


def ratio_key(ratio) -> np.ndarray:
    # Ratios are floats written by different jobs; round before using them as join keys.
    return np.round(np.asarray(ratio, dtype=float), 10)


def hallucinated(df: pd.DataFrame) -> np.ndarray:
    return (df["error_class"].astype(str) == "hallucination").to_numpy()
