"""What every claim shares: the verdicts, the Claim class, the rows it writes and the decision helpers.

A claim (one module each, ``kvroute/claims/cNN_*.py``) states the paper's
claim with its section, what it needs (datasets, regimes, ratios, minimum
passages), how it is measured and the rule that turns an estimate and its 95%
interval into a verdict. The thresholds are the design's, set before any
result is read:

- supported / contradicted: the interval lies entirely on the claimed / the
  other side of the threshold. Where the design states only the supported
  side, contradicted is its mirror image.
- inconclusive: the interval spans the threshold, or there is too little
  data: no interval, fewer than ``MIN_PASSAGES`` passages behind a bootstrap
  interval, or (clustered logistic models) fewer than 5 passage clusters per
  estimated parameter.
- not run: the configuration did not produce the claim's inputs.
- inconclusive (not robust): the rule says supported or contradicted on the
  bootstrap interval, but not on the jackknife's (leave one passage out; one
  dataset out for rows that pool datasets): one unit decided it.

A passage-bootstrap verdict needs ``MIN_PASSAGES`` passages in *each* dataset
behind its row: pooled rows resample passages within datasets, so they are
gated on the smallest dataset.

Decision functions return (verdict, why): ``why`` says which part of the rule
decided, for the report's note.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kvroute.claims.inputs import ModelInputs, correct_at_0_items
from kvroute.claims.measure import Estimate
from kvroute.frames import POOLED

SUPPORTED, CONTRADICTED, INCONCLUSIVE, NOT_RUN = "supported", "contradicted", "inconclusive", "not run"
# A supported or contradicted verdict that the jackknife does not repeat: it rests on one passage or dataset.
NOT_ROBUST = "inconclusive (not robust)"
VERDICTS = (SUPPORTED, CONTRADICTED, INCONCLUSIVE, NOT_ROBUST, NOT_RUN)

# A percentile bootstrap over fewer passages has too few distinct resamples to place an interval.
MIN_PASSAGES = 5
ALPHA = 0.05  # tests' significance level (C11, C14)

PRIMARY_REGIME = "agnostic"
ALL, COND = "all", "correct_at_0"  # the items a row is about: every answer, or those correct at alpha = 0


@dataclass
class Settings:
    n_boot: int = 1000
    n_boot_breakpoint: int = 200
    seed: int = 0
    min_passages: int = MIN_PASSAGES  # per dataset behind a passage-bootstrap verdict (config claims.min_passages)
    generators: dict[str, str] = field(default_factory=dict)  # dataset -> generator (config datasets.X.generator)

    def datasets_of(self, generator: str, present) -> list[str]:
        return [d for d in sorted(present) if self.generators.get(d, d) == generator]


@dataclass(frozen=True)
class Needs:
    """The data a claim reads; what a config lacks of it makes the claim's rows `not run`."""

    generators: tuple[str, ...] = ()  # the datasets' generators it reads (empty: every dataset)
    regimes: tuple[str, ...] = (PRIMARY_REGIME,)
    ratios: tuple[float, ...] = ()  # grid ratios besides 0 that the measure compares
    oracle: bool = False  # oracle presses (study.oracle)
    min_passages: int = MIN_PASSAGES  # per dataset behind a passage-bootstrap row


class Claim:
    """One claim of the paper: subclasses set the fields and implement ``evaluate``."""

    id: str
    statement: str  # the paper's claim, with its section
    quantity: str  # what is measured
    rule: str  # the decision rule, as written in the report
    paper_value: str  # what the paper reports (a number where it gives one)
    needs: Needs = Needs()

    def evaluate(self, m: ModelInputs, s: Settings) -> list[dict]:
        """The claim's rows for one model (kvroute.claims.report.COLUMNS)."""
        raise NotImplementedError

    def row(self, model: str, verdict: str, *notes: str, dataset: str = POOLED, regime: str = "", press: str = "",
            items: str = ALL, quantity: str = "", est: Estimate | None = None, n=np.nan, n_passages=np.nan) -> dict:
        e = est or Estimate(np.nan, np.nan, np.nan, n, n_passages)
        return {"claim": self.id, "model": model, "dataset": dataset, "regime": regime, "press": press,
                "items": items, "quantity": quantity or self.quantity, "estimate": e.estimate, "ci_lo": e.ci_lo,
                "ci_hi": e.ci_hi, "jk_lo": e.jk_lo, "jk_hi": e.jk_hi, "jk_by": e.jk_by, "n": e.n,
                "n_passages": e.n_passages, "min_passages": e.min_stratum, "paper_value": self.paper_value,
                "verdict": verdict, "rule": self.rule, "note": "; ".join(n for n in notes if n)}


# --- decisions --------------------------------------------------------------------------------------------------

def finite(*xs) -> bool:
    return all(x is not None and np.isfinite(float(x)) for x in xs)


def by_interval(lo: float, hi: float, threshold: float, claimed: str) -> tuple[str, str]:
    """Supported if [lo, hi] lies on the ``claimed`` side ("above" / "below") of threshold,
    contradicted if on the other, inconclusive if it spans it or is missing."""
    if not finite(lo, hi):
        return INCONCLUSIVE, "no interval (too little data)"
    above, below = lo > threshold, hi < threshold
    if not (above or below):
        return INCONCLUSIVE, f"CI spans {threshold:g}"
    on_claimed_side = above if claimed == "above" else below
    return (SUPPORTED, "") if on_claimed_side else (CONTRADICTED, "")


def clustered(lo, hi, threshold: float, claimed: str, reason: str = "", clusters_note: str = ""):
    """A coefficient of a passage-clustered logistic model (C5, C8, C12)."""
    if reason:
        return INCONCLUSIVE, f"model not fitted: {reason}"
    if clusters_note:
        return INCONCLUSIVE, clusters_note
    return by_interval(lo, hi, threshold, claimed)


def too_few_passages(n_passages, needed: int = MIN_PASSAGES, where: str = "") -> str:
    """Why a bootstrap verdict cannot be given ("" when there are enough passages); ``where`` says which
    passages were counted (" in the smallest dataset")."""
    n = int(n_passages) if n_passages is not None and np.isfinite(n_passages) else 0
    if n >= needed:
        return ""
    return f"{n} passage{'' if n == 1 else 's'}{where} (need {needed} for a passage-bootstrap verdict)"


def gated(n_passages, decision: tuple[str, str], needed: int = MIN_PASSAGES, where: str = "") -> tuple[str, str]:
    """The rule's verdict, unless too few passages stand behind the interval."""
    few = too_few_passages(n_passages, needed, where)
    return (INCONCLUSIVE, few) if few else decision


def stratum_gated(est: Estimate, decision: tuple[str, str], needed: int = MIN_PASSAGES) -> tuple[str, str]:
    """``gated`` on the passages of the smallest dataset behind ``est`` (the bootstrap's smallest stratum):
    a pooled row is only as well sampled as its thinnest dataset."""
    stratum = est.min_stratum if finite(est.min_stratum) else est.n_passages
    # One dataset behind the row: its smallest stratum is all of its passages.
    pooled = finite(est.n_passages) and stratum < est.n_passages
    return gated(stratum, decision, needed, " in the smallest dataset" if pooled else "")


def robust(decision: tuple[str, str], est: Estimate, decide) -> tuple[str, str]:
    """A supported or contradicted ``decision`` stands only if ``decide`` on the jackknife interval repeats it."""
    verdict = decision[0]
    if verdict not in (SUPPORTED, CONTRADICTED):
        return decision
    if not finite(est.jk_lo, est.jk_hi):
        return NOT_ROBUST, f"{verdict} by the bootstrap; no jackknife interval to check it"
    again = decide(est.jk_lo, est.jk_hi)[0]
    if again != verdict:
        return NOT_ROBUST, (f"{verdict} by the bootstrap, {again} by the leave-one-{est.jk_by}-out jackknife "
                            f"[{est.jk_lo:.3f}, {est.jk_hi:.3f}]")
    return decision


def clustered_judged(est: Estimate, threshold: float, claimed: str, reason: str = "", clusters_note: str = ""
                     ) -> tuple[str, str]:
    """A passage-clustered model's coefficient: ``clustered``'s verdict, checked by the jackknife's interval."""
    return robust(clustered(est.ci_lo, est.ci_hi, threshold, claimed, reason, clusters_note), est,
                  lambda lo, hi: by_interval(lo, hi, threshold, claimed))


def judged(est: Estimate, decide, needed: int = MIN_PASSAGES) -> tuple[str, str]:
    """``decide(lo, hi)`` on a passage-bootstrap interval: gated on the smallest dataset's passages behind it
    (``needed``: claims.min_passages), then checked by the jackknife (``robust``)."""
    return robust(stratum_gated(est, decide(est.ci_lo, est.ci_hi), needed), est, decide)


# --- reading the inputs ---------------------------------------------------------------------------------------

def text(value) -> str:
    """A CSV cell as text ('' for NaN)."""
    return value if isinstance(value, str) else ""


def primary_regime(table: pd.DataFrame) -> tuple[str, str]:
    """(regime, note): agnostic when studied, else the first studied regime."""
    regimes = sorted(table["regime"].astype(str).unique()) if "regime" in table else []
    if PRIMARY_REGIME in regimes or not regimes:
        return PRIMARY_REGIME, ""
    return regimes[0], f"{PRIMARY_REGIME} regime not studied: {regimes[0]} instead"


def at(table: pd.DataFrame, **where) -> pd.DataFrame:
    """Rows whose columns equal the given values (text comparison; a column the table lacks matches all)."""
    keep = np.ones(len(table), dtype=bool)
    for col, value in where.items():
        if col in table:
            keep &= (table[col].astype(str) == str(value)).to_numpy()
    return table[keep]


def has_ratio(table: pd.DataFrame, ratio: float) -> bool:
    return bool(np.isclose(table["ratio"].to_numpy(float), ratio).any()) if len(table) else False


def item_sets(table: pd.DataFrame) -> Iterator[tuple[str, pd.DataFrame]]:
    """(items, rows): every answer, then the items answered correctly at ratio 0 (H_cond's population)."""
    yield ALL, table
    if "correct_at_0" in table:
        yield COND, correct_at_0_items(table)


def presses(table: pd.DataFrame) -> list[str]:
    return sorted(table["press"].astype(str).unique())


def correct(table: pd.DataFrame) -> np.ndarray:
    return (table["error_class"].astype(str) == "correct").to_numpy(float)


def datasets_with_pooled(table: pd.DataFrame) -> list[str]:
    return [*sorted(table["dataset"].astype(str).unique()), POOLED]


def of_dataset(table: pd.DataFrame, dataset: str, **where) -> pd.DataFrame:
    """``at(table, **where)`` within one dataset, or over all of them for the pooled row."""
    return at(table, **where) if dataset == POOLED else at(table, dataset=dataset, **where)
