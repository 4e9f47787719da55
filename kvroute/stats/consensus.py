"""Consensus and rho curves vs compression ratio, with passage-bootstrap bands.

Per group x ratio: the mean over answers of each answer's consensus and rho
at the first answer step (metrics/questions.parquet, mean over layers), with
a 95% percentile band from resampling passages (stratified by dataset when
datasets are pooled; the same resamples at every ratio of a group).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from kvroute.frames import require
from kvroute.stats.bootstrap import passage_ratio_sums, passage_weights, percentile, ratio_of
from kvroute.stats.curves import DEFAULT_GROUP, _groups
from kvroute.stats.rigidity import MEASURES


def consensus_curves(questions: pd.DataFrame, n_boot: int = 1000, seed: int = 0,
                     group: Sequence[str] = DEFAULT_GROUP, ci: float = 0.95) -> pd.DataFrame:
    """Columns: *group, measure (all_tokens / content), ratio, n (answers with routing),
    n_passages, consensus, consensus_lo, consensus_hi, rho, rho_lo, rho_hi.

    Measures whose columns the table lacks are left out; ratios with no
    routing in a group give no row.
    """
    require(questions, [*group, "ratio", "passage_id"], "questions table")
    measures = {m: cols for m, cols in MEASURES.items() if set(cols) <= set(questions.columns)}
    rows = []
    for key, sub in _groups(questions, group):
        for measure, cols in measures.items():
            values = {}
            for name, col in zip(("consensus", "rho"), cols):
                v = sub[col].to_numpy(float)
                values[name], values[f"{name}_n"] = np.nan_to_num(v), np.isfinite(v)
            _, ratios, strata, t = passage_ratio_sums(sub, values)
            w = passage_weights(strata, n_boot, seed)
            n, n_pass = t["consensus_n"].sum(axis=0), (t["consensus_n"] > 0).sum(axis=0)
            bands = {}
            for name in ("consensus", "rho"):
                with np.errstate(invalid="ignore", divide="ignore"):
                    mean = t[name].sum(axis=0) / t[f"{name}_n"].sum(axis=0)
                bands[name] = (mean, *percentile(ratio_of(w, t[name], t[f"{name}_n"]), ci))
            for j, r in enumerate(ratios):
                if n[j] == 0:
                    continue
                row = {**key, "measure": measure, "ratio": float(r), "n": int(n[j]), "n_passages": int(n_pass[j])}
                for name, (mean, lo, hi) in bands.items():
                    row.update({name: float(mean[j]), f"{name}_lo": float(lo[j]), f"{name}_hi": float(hi[j])})
                rows.append(row)
    return pd.DataFrame(rows)
