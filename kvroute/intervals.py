"""Intervals every stage uses (a leaf module: metrics and stats both import it, it imports neither)."""

from __future__ import annotations

import numpy as np
from statsmodels.stats.proportion import proportion_confint


def wilson_interval(k, n, alpha: float = 0.05):
    """Wilson score interval for k successes out of n (arrays broadcast).

    n == 0 gives (nan, nan) rather than statsmodels' division warning.
    """
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    safe_n = np.where(n > 0, n, 1.0)
    lo, hi = proportion_confint(k, safe_n, alpha=alpha, method="wilson")
    lo, hi = np.where(n > 0, lo, np.nan), np.where(n > 0, hi, np.nan)
    if lo.ndim == 0:
        return float(lo), float(hi)
    return lo, hi
