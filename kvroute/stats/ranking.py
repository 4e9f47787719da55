"""The leaderboard's wide view: one row per press, ranked, and whether accuracy follows the evidence.

``rank_table`` reads the long table of kvroute.stats.leaderboard and keeps,
per (model, regime, press), the numbers a ranking compares: each at-ratio
measure (and break, rise_removed, auc) with its interval. Presses are ordered by
F1 retained at the leaderboard's ratio, best first. Two orderings are ranked
within each model:

- accuracy_rank: by f1_retained_at, 1 = keeps the most F1;
- evidence_rank: by evidence_evicted_at, 1 = evicts the least of the evidence.

``ordering_agreement`` is Spearman's rho between the two over the presses:
positive when presses that keep more of the evidence keep more accuracy.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats as st

from kvroute.frames import require
from kvroute.stats.leaderboard import AT_RATIO, GROUP

# wide column -> (long measure, read at the leaderboard's ratio?)
WIDE = {"f1_retained_at": ("f1_retained", True), "H_at": ("H", True), "H_cond_at": ("H_cond", True),
        "break": ("break", False), "ger_at": ("ger", True), "evidence_evicted_at": ("evidence_evicted_mean", True),
        "enrichment_at": ("enrichment", True), "rise_removed": ("rise_removed", True), "auc": ("auc", False)}
LONG_COLUMNS = (*GROUP, "measure", "ratio", "estimate", "ci_lo", "ci_hi", "note")


def at_ratio_of(long: pd.DataFrame) -> float:
    """The ratio the leaderboard ranks at: the one its at-ratio measures are reported at."""
    ratios = long.loc[long["measure"].isin(AT_RATIO), "ratio"].dropna().unique()
    if len(ratios) != 1:
        raise ValueError(f"the leaderboard table should hold its at-ratio measures ({', '.join(AT_RATIO)}) at one "
                         f"ratio, found {sorted(ratios) or 'none'}")
    return float(ratios[0])


def _pick(sub: pd.DataFrame, measure: str, at_ratio: float | None) -> pd.Series | None:
    rows = sub[sub["measure"] == measure]
    if at_ratio is not None:
        rows = rows[np.isclose(rows["ratio"].to_numpy(float), at_ratio)]
    return rows.iloc[0] if len(rows) else None


def rank_table(long: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, regime, press), sorted by F1 retained at the leaderboard's ratio (best first).

    Columns: model, regime, press, at_ratio, then per measure of WIDE its estimate, <name>_lo and <name>_hi,
    then accuracy_rank, evidence_rank and notes ("measure: note" of every at-ratio or whole-grid row with one).
    """
    require(long, LONG_COLUMNS, "leaderboard table")
    at_ratio = at_ratio_of(long)
    rows = []
    for key_values, sub in long.groupby(list(GROUP), sort=True):
        row = {**dict(zip(GROUP, key_values)), "at_ratio": at_ratio}
        notes = []
        for name, (measure, at) in WIDE.items():
            found = _pick(sub, measure, at_ratio if at else None)
            values = (np.nan,) * 3 if found is None else (found["estimate"], found["ci_lo"], found["ci_hi"])
            row.update({name: values[0], f"{name}_lo": values[1], f"{name}_hi": values[2]})
            if found is not None and isinstance(found["note"], str) and found["note"]:
                notes.append(f"{measure}: {found['note']}")
        rows.append({**row, "notes": "; ".join(notes)})
    wide = pd.DataFrame(rows)
    by_model = wide.groupby(["model", "regime"])
    wide["accuracy_rank"] = by_model["f1_retained_at"].rank(ascending=False, method="min").astype("Int64")
    wide["evidence_rank"] = by_model["evidence_evicted_at"].rank(ascending=True, method="min").astype("Int64")
    wide = wide.sort_values(["model", "regime", "f1_retained_at", "press"], ascending=[True, True, False, True],
                            na_position="last", kind="stable")
    tail = ["accuracy_rank", "evidence_rank", "notes"]
    return wide[[c for c in wide.columns if c not in tail] + tail].reset_index(drop=True)


def ordering_agreement(wide: pd.DataFrame) -> pd.DataFrame:
    """Spearman's rho between accuracy_rank and evidence_rank over the presses ranked on both, per model and
    regime. Columns: model, regime, rho, p, n_presses (rho and p NaN below 3 presses or when an ordering is
    all ties)."""
    require(wide, [*GROUP, "accuracy_rank", "evidence_rank"], "leaderboard summary")
    rows = []
    for (model, regime), sub in wide.groupby(["model", "regime"], sort=True):
        both = sub[["accuracy_rank", "evidence_rank"]].dropna().astype(float)
        rho = p = np.nan
        if len(both) >= 3 and both.nunique().min() > 1:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # small-n p-value approximations
                rho, p = st.spearmanr(both["accuracy_rank"], both["evidence_rank"])
        rows.append({"model": model, "regime": regime, "rho": float(rho), "p": float(p), "n_presses": len(both)})
    return pd.DataFrame(rows, columns=["model", "regime", "rho", "p", "n_presses"])
