"""C1. Moderate compression leaves accuracy largely intact (abstract, 4.1)."""

from __future__ import annotations

from kvroute.claims.base import (INCONCLUSIVE, NOT_RUN, Claim, ModelInputs, Needs, Settings, at, by_interval,
                                 datasets_with_pooled, has_ratio, item_sets, judged, of_dataset, presses, primary_regime)
from kvroute.claims.measure import CellMeans, drop

RATIO = 0.5
MAX_DROP = 0.05


class AccuracyIntact(Claim):
    id = "C1"
    statement = "Moderate compression leaves accuracy largely intact (abstract, 4.1)"
    quantity = "F1(0) - F1(0.5), mean token F1 on a 0-1 scale, paired by passage"
    rule = "supported if the CI's upper end < 0.05; contradicted if its lower end > 0.05"
    paper_value = "qualitative; e.g. knowledge manipulation stays above 0.90 F1 up to ~0.4 (LLaMA-3 8B, Qwen-2.5 7B)"
    needs = Needs(ratios=(RATIO,))

    @staticmethod
    def decide(lo: float, hi: float) -> tuple[str, str]:
        return by_interval(lo, hi, MAX_DROP, "below")

    def evaluate(self, m: ModelInputs, s: Settings) -> list[dict]:
        regime, why = primary_regime(m.answers)
        answers = at(m.answers, regime=regime)
        if not (has_ratio(answers, 0.0) and has_ratio(answers, RATIO)):
            return [self.row(m.model, NOT_RUN, f"the grid lacks ratio 0 or {RATIO}", regime=regime)]
        out = []
        for items, table in item_sets(answers):
            for press in presses(answers):
                for dataset in datasets_with_pooled(answers):
                    sub = of_dataset(table, dataset, press=press)
                    keys = dict(dataset=dataset, regime=regime, press=press, items=items)
                    if not (has_ratio(sub, 0.0) and has_ratio(sub, RATIO)):
                        out.append(self.row(m.model, INCONCLUSIVE, "no answers at both ratios", why, **keys))
                        continue
                    est = CellMeans(sub, sub["f1"], ["ratio"], s.n_boot, s.seed).estimate([0.0, RATIO], drop)
                    out.append(self.row(m.model, *judged(est, self.decide, s.min_passages), why,
                                        est=est, **keys))
        return out


CLAIM = AccuracyIntact()
