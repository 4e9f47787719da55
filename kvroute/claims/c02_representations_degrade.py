"""C2. ...while internal representations degrade (abstract, 6.5, Fig. 25)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kvroute.claims.base import (INCONCLUSIVE, NOT_RUN, Claim, ModelInputs, Needs, Settings, at, by_interval, correct,
                                 gated, has_ratio, presses, primary_regime, text)
from kvroute.claims.measure import CellMeans, Estimate, binomial_se, drop, normal_interval

RATIO = 0.5
PROBE_DATASET, PROBE_TARGET = "all", "correct"  # probe_scores.csv: every dataset pooled; answer correctness
# Balanced accuracy: a probe that always guesses the majority class scores 0.5 whatever the class balance.
MEASURE = "balanced_accuracy"


def probe_layer(probe: pd.DataFrame) -> str:
    """The layer-pooled state when several layers were probed, else the deepest probed layer."""
    layers = probe["layer"].astype(str).unique()
    if "pooled" in layers:
        return "pooled"
    return max(layers, key=lambda l: int(l) if l.isdigit() else -1)


def probe_beats_baseline(zero: pd.Series) -> str:
    """Why the probe at alpha = 0 says nothing about representations ("" when it beats its baselines): its
    accuracy must exceed always guessing the majority class, and its balanced accuracy 0.5."""
    acc, majority = float(zero["accuracy"]), float(zero.get("majority_accuracy", np.nan))
    balanced = float(zero.get(MEASURE, np.nan))
    if np.isfinite(majority) and acc <= majority:
        return (f"the probe does not beat always guessing the majority class at alpha = 0 (accuracy {acc:.3f} vs "
                f"{majority:.3f}): it reads class balance, not representations")
    if np.isfinite(balanced) and balanced <= 0.5:
        return f"the probe's balanced accuracy at alpha = 0 is {balanced:.3f}, no better than chance (0.5)"
    return ""


class RepresentationsDegrade(Claim):
    id = "C2"
    statement = "...while internal representations degrade (abstract, 6.5, Fig. 25)"
    quantity = ("(probe balanced accuracy(0) - balanced accuracy(0.5)) - (answer accuracy(0) - "
                "answer accuracy(0.5)); answer-correctness probe, all datasets, layer-pooled state")
    rule = ("supported if the CI's lower end > 0; contradicted if its upper end < 0; inconclusive where the probe "
            "does not beat its majority-class baseline at alpha = 0")
    paper_value = "qualitative (Fig. 25)"
    needs = Needs(ratios=(RATIO,))

    @staticmethod
    def decide(lo: float, hi: float) -> tuple[str, str]:
        return by_interval(lo, hi, 0.0, "above")

    def evaluate(self, m: ModelInputs, s: Settings) -> list[dict]:
        regime, why = primary_regime(m.answers)
        probe = at(m.stat("probe"), dataset=PROBE_DATASET, target=PROBE_TARGET, regime=regime)
        if probe.empty:
            return [self.row(m.model, NOT_RUN, "probe_scores.csv has no answer-correctness probe", regime=regime)]
        if not (has_ratio(probe, 0.0) and has_ratio(probe, RATIO)):
            return [self.row(m.model, NOT_RUN, f"no probe at ratio 0 and {RATIO}", regime=regime)]
        layer = probe_layer(probe)
        out = []
        for press in presses(probe):
            keys = dict(regime=regime, press=press)
            p = at(probe, press=press, layer=layer)
            cells = {r: p[np.isclose(p["ratio"].to_numpy(float), r)] for r in (0.0, RATIO)}
            if any(c.empty or not np.isfinite(c["accuracy"].iloc[0]) for c in cells.values()):
                reasons = "; ".join(text(c["reason"].iloc[0]) for c in cells.values() if len(c) and "reason" in c)
                out.append(self.row(m.model, INCONCLUSIVE, "probe accuracy missing", reasons, why, **keys))
                continue
            zero = cells[0.0].iloc[0]
            beaten = probe_beats_baseline(zero)
            if beaten:
                out.append(self.row(m.model, INCONCLUSIVE, beaten, why, **keys))
                continue
            (a0, n0), (a5, n5) = ((float(c[MEASURE].iloc[0]) if MEASURE in c else float(c["accuracy"].iloc[0]),
                                   int(c["n_scored"].iloc[0])) for c in cells.values())
            answers = at(m.answers, regime=regime, press=press)
            cm = CellMeans(answers, correct(answers), ["ratio"], s.n_boot, s.seed)
            if not cm.has(0.0, RATIO):
                out.append(self.row(m.model, INCONCLUSIVE, "no answers at both ratios", why, **keys))
                continue
            answer = cm.estimate([0.0, RATIO], drop)
            _, (b0, b5) = cm.values([0.0, RATIO])
            estimate = (a0 - a5) - answer.estimate
            lo, hi = normal_interval(estimate, [binomial_se(a0, n0), binomial_se(a5, n5), float(np.nanstd(b0 - b5))])
            est = Estimate(estimate, lo, hi, n0 + n5, answer.n_passages)
            out.append(self.row(
                m.model, *gated(est.n_passages, self.decide(lo, hi)),
                f"probe {MEASURE.replace('_', ' ')} {a0:.3f} -> {a5:.3f} (layer {layer}); answer accuracy drop "
                f"{answer.estimate:+.3f} [{answer.ci_lo:+.3f}, {answer.ci_hi:+.3f}]",
                "interval: normal approximation; probe accuracy as binomial over its scored answers "
                "(probe_scores.csv keeps no per-passage predictions, so passage clustering of the probe's "
                "errors is not in it), answer drop from the passage bootstrap", why, est=est, **keys))
        return out


CLAIM = RepresentationsDegrade()
