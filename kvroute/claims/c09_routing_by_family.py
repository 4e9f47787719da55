"""C9. LLaMA: early consensus, late diversification; Qwen: funnel, late convergence (Figs. 16-18)."""

from __future__ import annotations

import numpy as np

from kvroute.claims.base import (INCONCLUSIVE, NOT_RUN, Claim, ModelInputs, Needs, Settings, at, by_interval,
                                 judged, presses, primary_regime)
from kvroute.claims.measure import CellMeans, drop

# Consensus = distinct argmax positions / heads: LOW is agreement. LLaMA agrees early and diversifies late
# (consensus rises with depth: late - early > 0); Qwen explores early and converges late (late - early < 0).
CLAIMED_SIGN = {"llama": +1, "qwen2": -1}


class RoutingByFamily(Claim):
    id = "C9"
    statement = "LLaMA: early consensus, late diversification; Qwen: funnel, late convergence (Figs. 16-18)"
    quantity = "uncompressed (alpha = 0): mean consensus over the second half of relative depth minus the first half"
    rule = ("supported if the CI excludes 0 on the family's claimed side (LLaMA > 0, Qwen < 0); "
            "contradicted if it excludes 0 on the other side")
    paper_value = "LLaMA: consensus rises with depth; Qwen: falls (Figs. 16-18)"
    needs = Needs()

    @staticmethod
    def decide(lo, hi, family: str) -> tuple[str, str]:
        return by_interval(lo, hi, 0.0, "above" if CLAIMED_SIGN[family] > 0 else "below")

    def evaluate(self, m: ModelInputs, s: Settings) -> list[dict]:
        regime, why = primary_regime(m.answers)
        note = f"family {m.family}"
        if m.family not in CLAIMED_SIGN:
            return [self.row(m.model, NOT_RUN, f"the paper states no depth profile for family {m.family!r}",
                             regime=regime)]
        layers = at(m.layers, regime=regime)
        if layers.empty:
            return [self.row(m.model, NOT_RUN, "no per-layer routing at ratio 0 (layers.parquet)", note,
                             regime=regime)]
        layers = at(layers, press=presses(layers)[0])  # ratio 0: one uncompressed cache, repeated under every press
        depth = layers["layer"].to_numpy(float) / max(float(layers["layer"].max()), 1.0)
        layers = layers.assign(half=np.where(depth < 0.5, "early", np.where(depth > 0.5, "late", "middle")))
        cm = CellMeans(layers, layers["consensus"], ["half"], s.n_boot, s.seed)
        if not cm.has("early", "late"):
            return [self.row(m.model, INCONCLUSIVE, "fewer than two layers", note, regime=regime)]
        est = cm.estimate(["late", "early"], drop)
        (late, early), _ = cm.values(["late", "early"])
        claimed = "rises (> 0)" if CLAIMED_SIGN[m.family] > 0 else "falls (< 0)"
        return [self.row(m.model, *judged(est, lambda lo, hi: self.decide(lo, hi, m.family), s.min_passages),
                         f"{note}: claimed consensus {claimed} with depth; early {early:.3f}, late {late:.3f}; "
                         "n = answer x layer rows", why, regime=regime, press="(uncompressed)", est=est)]

    def missing_families(self, families: dict[str, str]) -> list[dict]:
        """C9 speaks of two families: one without a model in the config is not run, not dropped."""
        return [self.row(f"(no {fam} model)", NOT_RUN, f"no model of family {fam} in the config")
                for fam in CLAIMED_SIGN if fam not in set(families.values())]


CLAIM = RoutingByFamily()
