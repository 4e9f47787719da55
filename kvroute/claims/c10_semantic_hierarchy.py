"""C10. Semantic hierarchy: Person, Thing stable; Organization, Location, Creature degrade fastest (4.2, 6.5)."""

from __future__ import annotations

import numpy as np

from kvroute.claims.base import (ALL, INCONCLUSIVE, NOT_RUN, Claim, ModelInputs, Needs, Settings, at, by_interval,
                                 gated, has_ratio, item_sets, presses, primary_regime)
from kvroute.claims.measure import CellMeans, Estimate, spearman_with

RATIO = 0.9
# The paper's order of degradation (1 = most stable): Person, Thing stable; Organization, Location,
# "especially" Creature fastest. Ties share their mean rank.
PAPER_RANK = {"Person": 1.5, "Thing": 1.5, "Organization": 3.5, "Location": 3.5, "Creature": 5.0}


class SemanticHierarchy(Claim):
    id = "C10"
    statement = ("Semantic hierarchy: Person, Thing stable; Organization, Location, Creature degrade fastest "
                 "(4.2, 6.5)")
    quantity = ("Spearman rho between each answer type's F1 drop 0 -> 0.9 and the paper's order "
                "(Person, Thing < Organization, Location < Creature)")
    rule = "supported if rho's CI lies above 0; contradicted if below 0"
    paper_value = "Person, Thing stable; Organization, Location, especially Creature degrade fastest"
    needs = Needs(ratios=(RATIO,))

    @staticmethod
    def decide(lo, hi) -> tuple[str, str]:
        return by_interval(lo, hi, 0.0, "above")

    def evaluate(self, m: ModelInputs, s: Settings) -> list[dict]:
        regime, why = primary_regime(m.answers)
        answers = at(m.answers, regime=regime)
        if not has_ratio(answers, 0.0) or not has_ratio(answers, RATIO) or "answer_type" not in answers:
            return [self.row(m.model, NOT_RUN, f"the grid lacks ratio 0 or {RATIO}", regime=regime)]
        out = []
        for items, table in item_sets(answers):
            table = table[table["answer_type"].astype(str).isin(PAPER_RANK)]
            for press in presses(answers):
                keys = dict(regime=regime, press=press, items=items)
                sub = at(table, press=press)
                cm = CellMeans(sub, sub["f1"], ["answer_type", "ratio"], s.n_boot, s.seed) if len(sub) else None
                types = [t for t in PAPER_RANK if cm is not None and cm.has((t, 0.0), (t, RATIO))]
                if len(types) < 3:
                    verdict = NOT_RUN if items == ALL else INCONCLUSIVE
                    out.append(self.row(m.model, verdict, f"{len(types)} of the paper's answer types answered at 0 "
                                                          f"and {RATIO} (need 3)", why, **keys))
                    continue
                drops_point, drops_boot = [], []
                for t in types:
                    (a, b), (ba, bb) = cm.values([(t, 0.0), (t, RATIO)])
                    drops_point.append(a - b)
                    drops_boot.append(ba - bb)
                rho, lo, hi = spearman_with(np.array([PAPER_RANK[t] for t in types]), drops_point, drops_boot)
                n, n_pass = cm.counts([(t, r) for t in types for r in (0.0, RATIO)])
                listing = ", ".join(f"{t} {d:+.3f}" for t, d in zip(types, drops_point))
                out.append(self.row(m.model, *gated(n_pass, self.decide(lo, hi)), f"F1 drop by type: {listing}", why,
                                    est=Estimate(rho, lo, hi, n, n_pass), **keys))
        return out


CLAIM = SemanticHierarchy()
