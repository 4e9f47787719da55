"""Oracle presses: does hallucination follow the evidence's survival, or its being singled out?

At the same ratio and budget as a base press, the oracle variants
(kvroute/inference/oracle.py) raise the question's evidence T_ans to the top of the
scores (protect), lower it (target), raise random passage spans shaped like it
(placebo), or raise T_ans plus three such span sets (protect_diluted). Each
oracle answer has a base answer of the same item at the same ratio; base
answers enter only for the items the oracle answered (at its ratios and at
ratio 0), so per (model, regime, base press) and dataset (and pooled) the
table compares the same questions:

- per arm (base and each variant) and ratio: H (hallucination rate), H_cond
  (H among items correct at ratio 0), F1 (mean token F1) and, as a check that
  the oracle did what it says, evidence_evicted (mean evidence_evicted_mean);
- paired effects on H: survival = protect_diluted - base, singling_out =
  protect - protect_diluted, target = target - base, placebo = placebo - base;
- rise = H_base(ratio) - H_base(0) and rise_removed = (H_base(ratio) -
  H_protect_diluted(ratio)) / rise: the share of compression's rise in H that
  keeping the evidence (diluted) takes away. NaN, with a note, unless the
  rise's interval excludes 0: a ratio with no rise has nothing to remove.

Every interval is a 95% percentile interval over one set of passage
resamples per group (stratified by dataset when datasets are pooled), shared
by all arms and ratios, so differences and ratios are paired.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from kvroute.frames import NO_ORACLE, base_press_of, oracle_of, present, require
from kvroute.inference.oracle import VARIANTS
from kvroute.scoring import with_correct_at_0
from kvroute.stats.bootstrap import cluster_ids, passage_weights, percentile, ratio_of, strata_of
from kvroute.stats.curves import _groups

GROUP = ("model", "regime", "base_press")
# One question under one base press: what pairs an oracle answer with its base answers.
ITEM = ("model", "dataset", "regime", "base_press", "passage_id", "qid")
BASE = "base"  # the arm of base rows
ARMS = (BASE, *VARIANTS)
# measure -> (numerator, denominator) of per-passage sums; n is the denominator's count
MEASURES = {"H": ("h", "n"), "H_cond": ("cond_h", "cond_n"), "F1": ("f1", "n"),
            "evidence_evicted": ("evicted", "with_evidence")}
# effect -> (arm, minus arm), on H
EFFECTS = {"effect_survival": ("protect_diluted", BASE), "effect_singling_out": ("protect", "protect_diluted"),
           "effect_target": ("target", BASE), "effect_placebo": ("placebo", BASE)}
COLUMNS = ("ratio", "measure", "arm", "estimate", "ci_lo", "ci_hi", "n", "n_passages", "note")


def arm_rows(questions: pd.DataFrame) -> pd.DataFrame:
    """Oracle answers, and the base answers of the same items (ITEM under the same base press) at the same
    ratios and at ratio 0, with ``arm`` and ``base_press``: every comparison is of the same questions."""
    require(questions, ["ratio", "passage_id", "qid", "error_class", "f1", "press", "evidence_evicted_mean"],
            "questions table")
    q = with_correct_at_0(questions).assign(arm=oracle_of(questions).replace(NO_ORACLE, BASE),
                                            base_press=base_press_of(questions),
                                            ratio=questions["ratio"].astype(float).round(10))  # join key
    item = present(q, ITEM)
    oracle = q[q["arm"] != BASE]
    at_ratio = oracle[[*item, "ratio"]].drop_duplicates()
    at_zero = oracle[item].drop_duplicates().assign(ratio=0.0)
    wanted = pd.concat([at_ratio, at_zero], ignore_index=True)
    base = q[q["arm"] == BASE].merge(wanted, on=[*item, "ratio"], how="inner")
    return pd.concat([base, oracle], ignore_index=True)


def passage_sums(sub: pd.DataFrame) -> pd.DataFrame:
    """Per passage (rows) sums of each quantity per (quantity, arm, ratio) column."""
    h = (sub["error_class"].astype(str) == "hallucination").to_numpy(float)
    cond = sub["correct_at_0"].astype("boolean").fillna(False).to_numpy(float)  # NA: not in H_cond
    evicted = sub["evidence_evicted_mean"].to_numpy(float)
    values = pd.DataFrame({"n": 1.0, "h": h, "cond_n": cond, "cond_h": cond * h, "f1": sub["f1"].to_numpy(float),
                           "evicted": np.nan_to_num(evicted), "with_evidence": np.isfinite(evicted).astype(float)},
                          index=sub.index)
    by = [cluster_ids(sub).rename("passage"), sub["arm"], sub["ratio"]]
    return values.groupby(by).sum().unstack(["arm", "ratio"], fill_value=0.0)


class Resampled:
    """Point estimates and passage resamples of every measure x arm x ratio of one group."""

    def __init__(self, sums: pd.DataFrame, strata: np.ndarray, n_boot: int, seed: int, ci: float):
        self.sums, self.ci = sums, ci
        self.w = passage_weights(strata, n_boot, seed)

    def has(self, arm: str, ratio: float) -> bool:
        return ("n", arm, ratio) in self.sums.columns

    def counts(self, measure: str, arm: str, ratio: float) -> tuple[int, int]:
        """(answers behind the measure, passages with an answer of this arm and ratio)."""
        den = self.sums[(MEASURES[measure][1], arm, ratio)]
        return int(den.sum()), int((self.sums[("n", arm, ratio)] > 0).sum())

    def value(self, measure: str, arm: str, ratio: float) -> tuple[float, np.ndarray]:
        """(estimate, resamples) of a measure; NaN where its denominator is 0."""
        num, den = (self.sums[(c, arm, ratio)].to_numpy(float) for c in MEASURES[measure])
        with np.errstate(invalid="ignore", divide="ignore"):
            return num.sum() / den.sum(), ratio_of(self.w, num, den)

    def interval(self, boot: np.ndarray) -> tuple[float, float]:
        lo, hi = percentile(np.where(np.isfinite(boot), boot, np.nan), self.ci)
        return float(lo), float(hi)


def _row(ratio, measure, arm, estimate, interval=(np.nan, np.nan), n=np.nan, n_passages=np.nan, note="") -> dict:
    return {"ratio": float(ratio), "measure": measure, "arm": arm, "estimate": float(estimate),
            "ci_lo": interval[0], "ci_hi": interval[1], "n": n, "n_passages": n_passages, "note": note}


def arm_measures(r: Resampled, ratios: Sequence[float]) -> list[dict]:
    """H, H_cond, F1 and evidence_evicted per arm present at each ratio (ratio 0: base only)."""
    rows = []
    for ratio in ratios:
        for arm in ARMS:
            if not r.has(arm, ratio):
                continue
            for measure in MEASURES:
                estimate, boot = r.value(measure, arm, ratio)
                rows.append(_row(ratio, measure, arm, estimate, r.interval(boot), *r.counts(measure, arm, ratio)))
    return rows


def effects(r: Resampled, ratio: float) -> list[dict]:
    """The paired differences of H (EFFECTS) at one oracle ratio."""
    rows = []
    for name, (arm, minus) in EFFECTS.items():
        label = f"{arm} - {minus}"
        missing = [a for a in (arm, minus) if not r.has(a, ratio)]
        if missing:
            rows.append(_row(ratio, name, label, np.nan, note=f"no {' or '.join(missing)} answers at this ratio"))
            continue
        (a, a_boot), (b, b_boot) = r.value("H", arm, ratio), r.value("H", minus, ratio)
        rows.append(_row(ratio, name, label, a - b, r.interval(a_boot - b_boot)))
    return rows


def rise_rows(r: Resampled, ratio: float) -> list[dict]:
    """rise = H_base(ratio) - H_base(0) and rise_removed, NaN unless the rise's interval excludes 0."""
    if not r.has(BASE, 0.0):
        note = "no base answers at ratio 0"
        return [_row(ratio, "rise", "base - base at 0", np.nan, note=note),
                _row(ratio, "rise_removed", "protect_diluted", np.nan, note=note)]
    (h, h_boot), (h0, h0_boot) = r.value("H", BASE, ratio), r.value("H", BASE, 0.0)
    rise, rise_ci = h - h0, r.interval(h_boot - h0_boot)
    rows = [_row(ratio, "rise", "base - base at 0", rise, rise_ci)]
    if not r.has("protect_diluted", ratio):
        return rows + [_row(ratio, "rise_removed", "protect_diluted", np.nan,
                            note="no protect_diluted answers at this ratio")]
    if not rise_ci[0] > 0 and not rise_ci[1] < 0:  # a NaN interval counts as including 0
        return rows + [_row(ratio, "rise_removed", "protect_diluted", np.nan,
                            note=f"base rise {rise:.3f} [{rise_ci[0]:.3f}, {rise_ci[1]:.3f}] does not exclude 0: "
                                 "nothing to remove")]
    d, d_boot = r.value("H", "protect_diluted", ratio)
    with np.errstate(invalid="ignore", divide="ignore"):
        removed = (h_boot - d_boot) / (h_boot - h0_boot)
    return rows + [_row(ratio, "rise_removed", "protect_diluted", (h - d) / rise, r.interval(removed))]


def oracle_table(questions: pd.DataFrame, group: Sequence[str] = GROUP, n_boot: int = 1000, seed: int = 0,
                 ci: float = 0.95) -> pd.DataFrame:
    """Long table: one row per *group x ratio x measure x arm. Columns: *group, ratio, measure, arm,
    estimate, ci_lo, ci_hi, n, n_passages, note (see the module docstring; docs/definitions.md).

    measure is H, H_cond, F1 or evidence_evicted (arm: base or a variant; n: the
    answers behind it), one of EFFECTS (arm: "A - B"), rise (arm "base - base
    at 0") or rise_removed (arm protect_diluted). Ratio 0 has the base arm's
    measures only. Groups (base presses) without oracle rows give no rows; a
    table without any gives the header only.
    """
    q = arm_rows(questions)
    group = present(q, group)
    rows = []
    for key, sub in _groups(q, group):
        if not (sub["arm"] != BASE).any():
            continue  # ratio-0 base rows of a press that has no oracle at this key
        sums = passage_sums(sub)
        strata = strata_of(sub).groupby(cluster_ids(sub).to_numpy()).first().reindex(sums.index).to_numpy()
        r = Resampled(sums, strata, n_boot, seed, ci)
        oracle_ratios = sorted(sub.loc[sub["arm"] != BASE, "ratio"].unique())
        found = arm_measures(r, [0.0, *oracle_ratios])
        for ratio in oracle_ratios:
            found += effects(r, ratio) + rise_rows(r, ratio)
        rows += [{**key, **row} for row in found]
    return pd.DataFrame(rows, columns=[*group, *COLUMNS]).astype({"n": "Int64", "n_passages": "Int64"})
