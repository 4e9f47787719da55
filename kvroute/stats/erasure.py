"""Erasure vs rigidity (paper 6.4): Pr(F) = Pr(F|E) Pr(E) + Pr(F|not E) Pr(not E).

F = hallucination, E = every evidence position globally evicted (``erased``).
Questions without evidence positions have no E and are left out (counted).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kvroute.frames import present
from kvroute.intervals import wilson_interval

GROUP = ("model", "regime", "press", "ratio")


def _cond(k: int, n: int, prefix: str) -> dict:
    lo, hi = wilson_interval(k, n)
    return {f"n_{prefix}": n, f"p_{prefix}": k / n if n else np.nan, f"p_{prefix}_lo": lo, f"p_{prefix}_hi": hi}


def erasure_table(questions: pd.DataFrame, group=GROUP) -> pd.DataFrame:
    """Columns: *group, n, n_no_evidence, p_F, p_E (+ Wilson lo/hi), p_F_given_E,
    p_F_given_notE (+ lo/hi, n), erasure_share = Pr(F|E)Pr(E)/Pr(F): the share of
    hallucinations that come with the evidence erased; the rest are
    survive-but-not-used (rigidity) failures.
    """
    group = present(questions, group)
    rows = []
    for key, sub in questions.groupby(group, sort=True, dropna=False):
        key = dict(zip(group, key if isinstance(key, tuple) else (key,)))
        has = sub["erased"].notna().to_numpy()
        f = (sub["error_class"].astype(str) == "hallucination").to_numpy()[has]
        e = sub["erased"].to_numpy()[has].astype(bool)
        n = int(has.sum())
        row = {**key, "n": n, "n_no_evidence": int((~has).sum())}
        row.update(_cond(int(f.sum()), n, "F"))
        row.update(_cond(int(e.sum()), n, "E"))
        row.update(_cond(int(f[e].sum()), int(e.sum()), "F_given_E"))
        row.update(_cond(int(f[~e].sum()), int((~e).sum()), "F_given_notE"))
        row["erasure_share"] = (f & e).sum() / f.sum() if f.sum() else np.nan
        rows.append(row)
    return pd.DataFrame(rows)
