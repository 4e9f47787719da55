"""The paper's claims C1-C14 and their decision rules, as the team fixed them before any run (the one place they are written down).

A rule turns an estimate and its 95% interval into a verdict. The thresholds
here are the design's and are set before any result is read:

- supported / contradicted: the interval lies entirely on the claimed / the
  other side of the threshold. Where the design states only the supported
  side, contradicted is its mirror image (the interval entirely on the other
  side of the same threshold).
- inconclusive: the interval spans the threshold, or there is too little
  data: no interval, fewer than MIN_PASSAGES passages behind a bootstrap
  interval, or (clustered logistic models) fewer than 5 passage clusters per
  estimated parameter.
- not run: the configuration did not produce the claim's inputs.

Each function returns (verdict, why): ``why`` says which part of the rule
decided, for the report's note.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SUPPORTED, CONTRADICTED, INCONCLUSIVE, NOT_RUN = "supported", "contradicted", "inconclusive", "not run"
VERDICTS = (SUPPORTED, CONTRADICTED, INCONCLUSIVE, NOT_RUN)

# A percentile bootstrap over fewer passages has too few distinct resamples to place an interval.
MIN_PASSAGES = 5
ALPHA = 0.05  # tests' significance level (C11, C14)

C1_MAX_DROP = 0.05
C3_MIN_DELTA_AIC, C3_LINE_DELTA_AIC, C3_WINDOW = 10.0, 2.0, (0.8, 0.95)
C4_MIN_R, C4_MIN_LO = 0.8, 0.5
C7_MIN_REMOVED = 0.5
C14_MAX_RATIO, C14_NEGLIGIBLE = 0.7, 0.02
# Consensus = distinct argmax positions / heads: LOW is agreement. LLaMA agrees early and diversifies late
# (consensus rises with depth: late - early > 0); Qwen explores early and converges late (late - early < 0).
C9_CLAIMED_SIGN = {"llama": +1, "qwen2": -1}
# C10: the paper's order of degradation (1 = most stable): Person, Thing stable; Organization, Location,
# "especially" Creature fastest. Ties share their mean rank.
C10_PAPER_RANK = {"Person": 1.5, "Thing": 1.5, "Organization": 3.5, "Location": 3.5, "Creature": 5.0}


@dataclass(frozen=True)
class Claim:
    id: str
    statement: str  # the paper's claim, with its section
    quantity: str  # what is measured
    rule: str  # the decision rule, as written in the report
    paper_value: str  # what the paper reports (a number where it gives one)


CLAIMS = {c.id: c for c in (
    Claim("C1", "Moderate compression leaves accuracy largely intact (abstract, 4.1)",
          "F1(0) - F1(0.5), mean token F1 on a 0-1 scale, paired by passage",
          "supported if the CI's upper end < 0.05; contradicted if its lower end > 0.05",
          "qualitative; e.g. knowledge manipulation stays above 0.90 F1 up to ~0.4 (LLaMA-3 8B, Qwen-2.5 7B)"),
    Claim("C2", "...while internal representations degrade (abstract, 6.5, Fig. 25)",
          "(probe accuracy(0) - probe accuracy(0.5)) - (answer accuracy(0) - answer accuracy(0.5)); "
          "answer-correctness probe, all datasets, layer-pooled state",
          "supported if the CI's lower end > 0; contradicted if its upper end < 0",
          "qualitative (Fig. 25)"),
    Claim("C3", "A sharp hallucination cliff near alpha = 0.9 in every model (abstract, Fig. 22-23)",
          "break of the better nonlinear fit of H(alpha) (hinge / sigmoid by AIC) with its passage-bootstrap CI; "
          "dAIC = AIC(line) - AIC(nonlinear)",
          "supported if dAIC > 10 and the break CI lies inside [0.8, 0.95]; contradicted if dAIC < 2 "
          "(the line is preferred) or the break CI lies outside [0.8, 0.95]",
          "cliff near alpha = 0.9 (Fig. 22)"),
    Claim("C4", "The cliff coincides with a GER spike (Fig. 21, 24)",
          "Pearson r of mean GER vs H over (press, ratio) cells, ratio 0 once, Fisher-z CI",
          "supported if r > 0.8 and the CI's lower end > 0.5; contradicted if the CI's upper end < 0.5",
          "'strongly correlated' (Fig. 24), no r given"),
    Claim("C5", "GER predicts hallucination beyond the ratio itself",
          "item-level GEE coefficient of ger (log-odds per unit GER): hallucination ~ ger + C(ratio) + press + "
          "C(dataset) + failed_at_0, ratio > 0, clustered by passage",
          "supported if the CI's lower end > 0; contradicted if its upper end < 0; inconclusive with fewer "
          "than 5 clusters per parameter",
          "not tested in the paper (its Fig. 24 correlation mixes GER with the ratio trend)"),
    Claim("C6", "Erasure causes hallucination (Prop. 2)",
          "oracle presses at alpha = 0.9: H(target) - H(base) [estimate] and H(base) - H(protect_diluted) [note]",
          "supported if both CIs lie above 0; contradicted if either lies below 0",
          "Prop. 2 (theory; no experiment)"),
    Claim("C7", "Erasure explains the cliff (abstract)",
          "rise_removed at alpha = 0.9: (H_base - H_protect_diluted) / (H_base(0.9) - H_base(0))",
          "supported if the CI's lower end > 0.5; contradicted if its upper end < 0.5",
          "abstract: 'when answer-critical tokens are globally erased' (no experiment)"),
    Claim("C8", "Rigidity: tokens survive but consensus collapses routing (Prop. 3, 6.3)",
          "odds ratio of failure per SD of rho (head agreement) among non-erased items correct at 0, "
          "controlling C(ratio), press, C(dataset); clustered by passage",
          "supported if the OR's CI lies above 1 (more agreement, more failure); contradicted if below 1; "
          "inconclusive with fewer than 5 clusters per parameter",
          "Prop. 3 and 6.3 (qualitative)"),
    Claim("C9", "LLaMA: early consensus, late diversification; Qwen: funnel, late convergence (Figs. 16-18)",
          "uncompressed (alpha = 0): mean consensus over the second half of relative depth minus the first half",
          "supported if the CI excludes 0 on the family's claimed side (LLaMA > 0, Qwen < 0); "
          "contradicted if it excludes 0 on the other side",
          "LLaMA: consensus rises with depth; Qwen: falls (Figs. 16-18)"),
    Claim("C10", "Semantic hierarchy: Person, Thing stable; Organization, Location, Creature degrade fastest "
                 "(4.2, 6.5)",
          "Spearman rho between each answer type's F1 drop 0 -> 0.9 and the paper's order "
          "(Person, Thing < Organization, Location < Creature)",
          "supported if rho's CI lies above 0; contradicted if below 0",
          "Person, Thing stable; Organization, Location, especially Creature degrade fastest"),
    Claim("C11", "The aware regime hurts abstention on coreference (4.1)",
          "correct abstention on 'I don't know' items, AWR - AGN, at alpha = 0.5 and 0.9 (McNemar)",
          "supported if AWR < AGN with p < 0.05 at either ratio; contradicted if AWR > AGN with p < 0.05 at "
          "either ratio and neither supports",
          "coreference F1 at alpha = 0: 75.63 AGN vs 60.90 AWR (LLaMA-3 8B), 78.89 vs 52.00 (Qwen-2.5 7B)"),
    Claim("C12", "Multi-hop degrades faster than direct retrieval (4.1, Figs. 8-9)",
          "hop x ratio interaction (log-odds of a correct answer), logistic correct ~ hop * ratio, "
          "clustered by passage",
          "supported if the interaction's CI lies below 0 (more hops, faster decline); contradicted if above "
          "0; inconclusive with fewer than 5 clusters per parameter",
          "hops F1 at alpha = 0: 31.54 (LLaMA-3 8B), 27.13 (Qwen-2.5 7B), AGN; degrades faster (Figs. 8-9)"),
    Claim("C13", "In multi_presence, forward queries degrade more than reverse (4.1)",
          "(F1 drop 0 -> 0.9 of FWD questions) - (that of REV questions), paired by passage",
          "supported if the CI's lower end > 0; contradicted if its upper end < 0",
          "F1 FWD 68.00 vs REV 91.27 (AGN), 66.27 vs 89.05 (AWR), LLaMA-3 8B"),
    Claim("C14", "Moderate compression can improve accuracy (localized spikes, 4.1)",
          "paired F1 gain F1(alpha) - F1(0) at each 0 < alpha <= 0.7 [estimate: the largest]; p from a t-test "
          "on per-passage gains, BH-adjusted over the ratios",
          "supported if any gain is > 0 with BH-adjusted p < 0.05; contradicted if every gain's CI upper end "
          "< 0.02",
          "localized spikes at intermediate ratios, question-aware, Qwen (Fig. 2)"),
)}


def _finite(*xs) -> bool:
    return all(x is not None and np.isfinite(float(x)) for x in xs)


def by_interval(lo: float, hi: float, threshold: float, claimed: str) -> tuple[str, str]:
    """Supported if [lo, hi] lies on the ``claimed`` side ("above" / "below") of threshold,
    contradicted if on the other, inconclusive if it spans it or is missing."""
    if not _finite(lo, hi):
        return INCONCLUSIVE, "no interval (too little data)"
    above, below = lo > threshold, hi < threshold
    if not (above or below):
        return INCONCLUSIVE, f"CI spans {threshold:g}"
    on_claimed_side = above if claimed == "above" else below
    return (SUPPORTED, "") if on_claimed_side else (CONTRADICTED, "")


def too_few_passages(n_passages) -> str:
    """Why a bootstrap verdict cannot be given ("" when there are enough passages)."""
    if n_passages is None or not np.isfinite(n_passages) or n_passages < MIN_PASSAGES:
        return f"{0 if n_passages is None or not np.isfinite(n_passages) else int(n_passages)} passages " \
               f"(need {MIN_PASSAGES} for a passage-bootstrap verdict)"
    return ""


def c1(lo, hi):
    return by_interval(lo, hi, C1_MAX_DROP, "below")


def c2(lo, hi):
    return by_interval(lo, hi, 0.0, "above")


def c3(delta_aic, lo, hi):
    """Break CI inside the window with a clear AIC win; the line preferred or a break elsewhere contradicts."""
    w_lo, w_hi = C3_WINDOW
    if not _finite(delta_aic):
        return INCONCLUSIVE, "no fit"
    if delta_aic < C3_LINE_DELTA_AIC:
        return CONTRADICTED, f"the line is preferred (dAIC {delta_aic:.1f} < {C3_LINE_DELTA_AIC:g})"
    if _finite(lo, hi) and (hi < w_lo or lo > w_hi):
        return CONTRADICTED, f"break CI outside [{w_lo}, {w_hi}]"
    if not _finite(lo, hi):
        return INCONCLUSIVE, "no break CI (no resample shows a rise, or no bootstrap)"
    if delta_aic > C3_MIN_DELTA_AIC and lo >= w_lo and hi <= w_hi:
        return SUPPORTED, ""
    if delta_aic <= C3_MIN_DELTA_AIC:
        return INCONCLUSIVE, f"dAIC {delta_aic:.1f} between {C3_LINE_DELTA_AIC:g} and {C3_MIN_DELTA_AIC:g}"
    return INCONCLUSIVE, f"break CI overlaps the edge of [{w_lo}, {w_hi}]"


def c4(r, lo, hi):
    if not _finite(r, lo, hi):
        return INCONCLUSIVE, "no correlation interval"
    if r > C4_MIN_R and lo > C4_MIN_LO:
        return SUPPORTED, ""
    if hi < C4_MIN_LO:
        return CONTRADICTED, ""
    return INCONCLUSIVE, f"r = {r:.2f}, CI [{lo:.2f}, {hi:.2f}] does not clear r > {C4_MIN_R} with CI above {C4_MIN_LO}"


def clustered(lo, hi, threshold: float, claimed: str, reason: str = "", clusters_note: str = ""):
    """A coefficient of a passage-clustered logistic model (C5, C8, C12)."""
    if reason:
        return INCONCLUSIVE, f"model not fitted: {reason}"
    if clusters_note:
        return INCONCLUSIVE, clusters_note
    return by_interval(lo, hi, threshold, claimed)


def c6(target_lo, target_hi, diluted_lo, diluted_hi):
    """target = H(target) - H(base), diluted = H(base) - H(protect_diluted): both must lie above 0."""
    if not _finite(target_lo, target_hi, diluted_lo, diluted_hi):
        return INCONCLUSIVE, "an effect has no interval"
    if target_hi < 0 or diluted_hi < 0:
        return CONTRADICTED, "an effect's CI lies below 0"
    if target_lo > 0 and diluted_lo > 0:
        return SUPPORTED, ""
    return INCONCLUSIVE, "an effect's CI spans 0"


def c7(lo, hi):
    return by_interval(lo, hi, C7_MIN_REMOVED, "above")


def c9(lo, hi, family: str):
    return by_interval(lo, hi, 0.0, "above" if C9_CLAIMED_SIGN[family] > 0 else "below")


def c10(lo, hi):
    return by_interval(lo, hi, 0.0, "above")


def c11(tests: Sequence[tuple[float, float, float]]):
    """tests: (ratio, AWR - AGN, McNemar p) at alpha = 0.5 and 0.9."""
    usable = [(r, d, p) for r, d, p in tests if _finite(d, p)]
    if not usable:
        return INCONCLUSIVE, "no paired answers"
    if any(d < 0 and p < ALPHA for _, d, p in usable):
        return SUPPORTED, ""
    if any(d > 0 and p < ALPHA for _, d, p in usable):
        return CONTRADICTED, "AWR above AGN"
    return INCONCLUSIVE, f"no difference with p < {ALPHA}"


def c12(lo, hi, reason: str = "", clusters_note: str = ""):
    return clustered(lo, hi, 0.0, "below", reason, clusters_note)


def c13(lo, hi):
    return by_interval(lo, hi, 0.0, "above")


def c14(gains: Sequence[tuple[float, float, float, float]]):
    """gains: (ratio, gain, CI upper end, BH-adjusted p) per ratio 0 < alpha <= 0.7."""
    if not gains:
        return INCONCLUSIVE, "no ratio in (0, 0.7]"
    if any(_finite(g, q) and g > 0 and q < ALPHA for _, g, _, q in gains):
        return SUPPORTED, ""
    if all(_finite(hi) and hi < C14_NEGLIGIBLE for _, _, hi, _ in gains):
        return CONTRADICTED, ""
    return INCONCLUSIVE, f"no gain with BH p < {ALPHA}, and not every CI ends below {C14_NEGLIGIBLE}"
