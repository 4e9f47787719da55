"""C13. In multi_presence, forward queries degrade more than reverse (4.1)."""

from __future__ import annotations

from kvroute.claims.base import (INCONCLUSIVE, NOT_RUN, Claim, ModelInputs, Needs, Settings, at, by_interval,
                                 judged, has_ratio, item_sets, presses, primary_regime)
from kvroute.claims.measure import CellMeans

RATIO = 0.9


class Direction(Claim):
    id = "C13"
    statement = "In multi_presence, forward queries degrade more than reverse (4.1)"
    quantity = "(F1 drop 0 -> 0.9 of FWD questions) - (that of REV questions), paired by passage"
    rule = "supported if the CI's lower end > 0; contradicted if its upper end < 0"
    paper_value = "F1 FWD 68.00 vs REV 91.27 (AGN), 66.27 vs 89.05 (AWR), LLaMA-3 8B"
    needs = Needs(generators=("multi_presence",), ratios=(RATIO,))

    @staticmethod
    def decide(lo, hi) -> tuple[str, str]:
        return by_interval(lo, hi, 0.0, "above")

    def evaluate(self, m: ModelInputs, s: Settings) -> list[dict]:
        regime, why = primary_regime(m.answers)
        datasets = s.datasets_of("multi_presence", m.answers["dataset"].astype(str).unique())
        if not datasets:
            return [self.row(m.model, NOT_RUN, "no multi_presence dataset in the config", dataset="",
                             regime=regime)]
        cells = [("FWD", 0.0), ("FWD", RATIO), ("REV", 0.0), ("REV", RATIO)]
        out = []
        for dataset in datasets:
            answers = at(m.answers, dataset=dataset, regime=regime)
            if not has_ratio(answers, 0.0) or not has_ratio(answers, RATIO):
                out.append(self.row(m.model, NOT_RUN, f"the grid lacks ratio 0 or {RATIO}", dataset=dataset,
                                    regime=regime))
                continue
            for items, table in item_sets(answers):
                for press in presses(answers):
                    keys = dict(dataset=dataset, regime=regime, press=press, items=items)
                    sub = at(table, press=press)
                    cm = CellMeans(sub, sub["f1"], ["direction", "ratio"], s.n_boot, s.seed) if len(sub) else None
                    if cm is None or not cm.has(*cells):
                        out.append(self.row(m.model, INCONCLUSIVE, "no FWD or REV answers at 0 and 0.9", **keys))
                        continue
                    est = cm.estimate(cells, lambda f0, f9, r0, r9: (f0 - f9) - (r0 - r9))
                    (f0, f9, r0, r9), _ = cm.values(cells)
                    out.append(self.row(m.model, *judged(est, self.decide, s.min_passages),
                                        f"FWD F1 {f0:.3f} -> {f9:.3f}, REV {r0:.3f} -> {r9:.3f}", why, est=est,
                                        **keys))
        return out


CLAIM = Direction()
