"""C6. Erasure causes hallucination (Prop. 2): the oracle presses, at the same budget as their base press."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kvroute.claims import oracle_arms
from kvroute.claims.base import (CONTRADICTED, INCONCLUSIVE, NOT_ROBUST, SUPPORTED, Claim, ModelInputs, Needs,
                                 Settings, at, finite, stratum_gated, text)
from kvroute.claims.measure import Estimate, jackknife, smallest_stratum

# Where H(base) is already this high at 0.9, evicting the evidence first cannot raise it measurably.
CEILING = 0.9
from kvroute.frames import POOLED


class ErasureCauses(Claim):
    id = "C6"
    statement = "Erasure causes hallucination (Prop. 2)"
    quantity = "oracle presses at alpha = 0.9: H(target) - H(base) [estimate] and H(base) - H(protect_diluted) [note]"
    rule = "supported if both CIs lie above 0; contradicted if either lies below 0"
    paper_value = "Prop. 2 (theory; no experiment)"
    needs = Needs(ratios=(oracle_arms.RATIO,), oracle=True)

    @staticmethod
    def decide(target_lo, target_hi, diluted_lo, diluted_hi) -> tuple[str, str]:
        """target = H(target) - H(base), diluted = H(base) - H(protect_diluted): both must lie above 0."""
        if not finite(target_lo, target_hi, diluted_lo, diluted_hi):
            return INCONCLUSIVE, "an effect has no interval"
        if target_hi < 0 or diluted_hi < 0:
            return CONTRADICTED, "an effect's CI lies below 0"
        if target_lo > 0 and diluted_lo > 0:
            return SUPPORTED, ""
        return INCONCLUSIVE, "an effect's CI spans 0"

    def evaluate(self, m: ModelInputs, s: Settings) -> list[dict]:
        """The pre-registered alpha = 0.9 row decides; the effect at the oracle ratio nearest the measured break
        is reported in its note (secondary: chosen after looking at the curve)."""
        out, groups = oracle_arms.groups(self, m, s)
        for items, regime, base_press, g in groups:
            answers = oracle_arms.answers_of(m, items, regime, base_press)
            secondary = ""
            cliff = at(m.stat("breakpoint"), dataset=POOLED, regime=regime, press=base_press)
            if len(cliff) and np.isfinite(cliff["cliff_ratio"].iloc[0]):
                near = min(oracle_arms.ratios(g), key=lambda r: abs(r - cliff["cliff_ratio"].iloc[0]))
                effect = oracle_arms.value(g, near, "effect_target")
                if near != oracle_arms.RATIO and effect is not None:
                    secondary = (f"secondary, at the oracle ratio nearest the break ({cliff['cliff_ratio'].iloc[0]:.2f}):"
                                 f" alpha {near:g}: H(target) - H(base) = {effect['estimate']:+.3f} "
                                 f"[{effect['ci_lo']:+.3f}, {effect['ci_hi']:+.3f}]")
            out.append(self.one(m.model, g, answers, s, secondary, regime=regime, press=base_press, items=items))
        return out

    def one(self, model: str, g: pd.DataFrame, answers: pd.DataFrame, s: Settings, secondary: str, **keys) -> dict:
        ratio = oracle_arms.RATIO
        target = oracle_arms.value(g, ratio, "effect_target")
        survival = oracle_arms.value(g, ratio, "effect_survival")  # protect_diluted - base: minus the claimed effect
        base = oracle_arms.value(g, ratio, "H", "base")
        quantity = f"oracle at alpha = {ratio:g}: H(target) - H(base); H(base) - H(protect_diluted) in the note"
        if target is None or survival is None or base is None:
            return self.row(model, INCONCLUSIVE, "an oracle arm is missing at this ratio", quantity=quantity, **keys)
        diluted = (-survival["estimate"], -survival["ci_hi"], -survival["ci_lo"])
        est = Estimate(float(target["estimate"]), float(target["ci_lo"]), float(target["ci_hi"]), base["n"],
                       base["n_passages"], min_stratum=smallest_stratum(answers))
        est.jk_by, est.jk_lo, est.jk_hi = jackknife(
            answers, lambda sub: oracle_arms.point(sub, ratio, "effect_target"), est.estimate)
        _, d_lo, d_hi = jackknife(answers, lambda sub: -oracle_arms.point(sub, ratio, "effect_survival"), diluted[0])
        verdict = stratum_gated(est, self.decide(est.ci_lo, est.ci_hi, diluted[1], diluted[2]), s.min_passages)
        if verdict[0] in (SUPPORTED, CONTRADICTED):
            again = self.decide(est.jk_lo, est.jk_hi, d_lo, d_hi)[0]
            if again != verdict[0]:
                verdict = (NOT_ROBUST, f"{verdict[0]} by the bootstrap, {again} by the leave-one-{est.jk_by}-out "
                                       f"jackknife (target [{est.jk_lo:+.3f}, {est.jk_hi:+.3f}], diluted "
                                       f"[{d_lo:+.3f}, {d_hi:+.3f}])")
        ceiling = float(base["estimate"]) >= CEILING
        if ceiling and verdict[0] != SUPPORTED:
            verdict = (INCONCLUSIVE, f"H(base) = {float(base['estimate']):.2f} >= {CEILING}: the target arm has no "
                                     f"room to rise")
        return self.row(model, *verdict,
                        f"H(base) - H(protect_diluted) = {diluted[0]:+.3f} [{diluted[1]:+.3f}, {diluted[2]:+.3f}]",
                        secondary, text(target["note"]), text(survival["note"]), quantity=quantity, est=est, **keys)


CLAIM = ErasureCauses()
