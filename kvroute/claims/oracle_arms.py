"""What C6 and C7 share: the oracle table (all items and H_cond's), pooled over datasets, per regime and base press."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kvroute.claims.base import ALL, COND, NOT_RUN, Claim, ModelInputs, Settings, at
from kvroute.claims.inputs import correct_at_0_items
from kvroute.claims.measure import ratio_key
from kvroute.frames import POOLED
from kvroute.stats import oracle_table

RATIO = 0.9  # the pre-registered ratio C6 and C7 are decided at


def value(t: pd.DataFrame, ratio: float, measure: str, arm: str | None = None) -> pd.Series | None:
    sel = t[np.isclose(t["ratio"].to_numpy(float), ratio) & (t["measure"].astype(str) == measure).to_numpy()]
    if arm is not None:
        sel = sel[sel["arm"].astype(str) == arm]
    return sel.iloc[0] if len(sel) else None


def tables(m: ModelInputs, s: Settings) -> list[tuple[str, pd.DataFrame]]:
    """(items, oracle table pooled over datasets): oracle.csv, and the same statistics on H_cond's items
    (computed once per model: C6 and C7 share it)."""
    if "oracle_cond" not in m.cache:
        cond = correct_at_0_items(m.oracle_answers)
        m.cache["oracle_cond"] = oracle_table(cond, n_boot=s.n_boot, seed=s.seed) if len(cond) else pd.DataFrame()
    return [(ALL, at(m.stat("oracle"), dataset=POOLED)), (COND, m.cache["oracle_cond"])]


def ratios(pooled: pd.DataFrame) -> list[float]:
    return sorted({ratio_key(r) for r in pooled["ratio"]} - {0.0})


def groups(claim: Claim, m: ModelInputs, s: Settings) -> tuple[list[dict], list]:
    """(not-run rows, [(items, regime, base press, pooled oracle rows)]): what C6 and C7 judge."""
    found = tables(m, s)
    pooled = found[0][1]
    if pooled.empty:
        return [claim.row(m.model, NOT_RUN, "no oracle presses in the config (study.oracle)")], []
    if RATIO not in ratios(pooled):
        return [claim.row(m.model, NOT_RUN, f"oracle ratios {ratios(pooled)} lack {RATIO}")], []
    return [], [(items, regime, base_press, g) for items, t in found if len(t)
                for (regime, base_press), g in t.groupby(["regime", "base_press"])]


def answers_of(m: ModelInputs, items: str, regime: str, base_press: str) -> pd.DataFrame:
    """The oracle and base answers behind one group's rows (H_cond's items for items = correct_at_0)."""
    rows = at(m.oracle_answers, regime=regime)
    rows = rows[(rows["base_press"].astype(str) == base_press).to_numpy()] if "base_press" in rows else rows
    return correct_at_0_items(rows) if items == COND else rows


def point(answers: pd.DataFrame, ratio: float, measure: str, arm: str | None = None) -> float:
    """One measure's point estimate on ``answers`` (no bootstrap): what a jackknife recomputes."""
    t = oracle_table(answers, n_boot=2, seed=0)
    found = value(t, ratio, measure, arm) if len(t) else None
    return float(found["estimate"]) if found is not None else np.nan
