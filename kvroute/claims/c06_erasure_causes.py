"""C6. Erasure causes hallucination (Prop. 2): the oracle presses, at the same budget as their base press."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kvroute.claims import oracle_arms
from kvroute.claims.base import (CONTRADICTED, INCONCLUSIVE, SUPPORTED, Claim, ModelInputs, Needs, Settings, at,
                                 finite, gated, text)
from kvroute.claims.measure import Estimate
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
        out, groups = oracle_arms.groups(self, m, s)
        for items, regime, base_press, g in groups:
            ratios = [oracle_arms.RATIO]
            cliff = at(m.stat("breakpoint"), dataset=POOLED, regime=regime, press=base_press)
            if len(cliff) and np.isfinite(cliff["cliff_ratio"].iloc[0]):
                near = min(oracle_arms.ratios(g), key=lambda r: abs(r - cliff["cliff_ratio"].iloc[0]))
                ratios += [near] if near != oracle_arms.RATIO else []
            for ratio in ratios:
                out.append(self.one(m.model, g, ratio, regime=regime, press=base_press, items=items))
        return out

    def one(self, model: str, g: pd.DataFrame, ratio: float, **keys) -> dict:
        target = oracle_arms.value(g, ratio, "effect_target")
        survival = oracle_arms.value(g, ratio, "effect_survival")  # protect_diluted - base: minus the claimed effect
        base = oracle_arms.value(g, ratio, "H", "base")
        quantity = f"oracle at alpha = {ratio:g}: H(target) - H(base); H(base) - H(protect_diluted) in the note"
        if target is None or survival is None or base is None:
            return self.row(model, INCONCLUSIVE, "an oracle arm is missing at this ratio", quantity=quantity, **keys)
        diluted = (-survival["estimate"], -survival["ci_hi"], -survival["ci_lo"])
        est = Estimate(float(target["estimate"]), float(target["ci_lo"]), float(target["ci_hi"]), base["n"],
                       base["n_passages"])
        verdict = gated(est.n_passages, self.decide(est.ci_lo, est.ci_hi, diluted[1], diluted[2]))
        return self.row(model, *verdict,
                        f"H(base) - H(protect_diluted) = {diluted[0]:+.3f} [{diluted[1]:+.3f}, {diluted[2]:+.3f}]",
                        text(target["note"]), text(survival["note"]), quantity=quantity, est=est, **keys)


CLAIM = ErasureCauses()
