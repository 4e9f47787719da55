"""C4. The cliff coincides with a GER spike (Fig. 21, 24)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kvroute.claims.base import (ALL, COND, CONTRADICTED, INCONCLUSIVE, NOT_RUN, SUPPORTED, Claim, ModelInputs, Needs,
                                 Settings, at, correct_at_0_items, finite, judged, primary_regime, text)
from kvroute.claims.measure import Estimate, jackknife, smallest_stratum
from kvroute.frames import POOLED
from kvroute.stats import ger_aggregate

MIN_R, MIN_LO = 0.8, 0.5
MIN_CELLS = 4  # a Fisher-z interval needs 4 cells (kvroute.stats.ger)


def pearson_of(answers: pd.DataFrame) -> float:
    """Pearson r of GER vs H over the cells, without its interval: what the jackknife recomputes."""
    t = ger_aggregate(answers, group=("model", "regime"))
    return float(t["pearson_r"].iloc[0]) if len(t) == 1 else np.nan


class GerSpike(Claim):
    id = "C4"
    statement = "The cliff coincides with a GER spike (Fig. 21, 24)"
    quantity = "Pearson r of mean GER vs H over (press, ratio) cells, ratio 0 once, Fisher-z CI"
    rule = "supported if r > 0.8 and the CI's lower end > 0.5; contradicted if the CI's upper end < 0.5"
    paper_value = "'strongly correlated' (Fig. 24), no r given"
    needs = Needs(ratios=(0.5, 0.9))

    @staticmethod
    def decide(r, lo, hi) -> tuple[str, str]:
        if not finite(r, lo, hi):
            return INCONCLUSIVE, "no correlation interval"
        if r > MIN_R and lo > MIN_LO:
            return SUPPORTED, ""
        if hi < MIN_LO:
            return CONTRADICTED, ""
        return INCONCLUSIVE, f"r = {r:.2f}, CI [{lo:.2f}, {hi:.2f}] does not clear r > {MIN_R} with CI above {MIN_LO}"

    def evaluate(self, m: ModelInputs, s: Settings) -> list[dict]:
        regime, why = primary_regime(m.answers)
        answers = at(m.answers, regime=regime)
        table = at(m.stat("ger"), dataset=POOLED, regime=regime)
        if table.empty:
            return [self.row(m.model, NOT_RUN, "ger_hallucination.csv has no pooled row", regime=regime)]
        cond = correct_at_0_items(answers)
        cond_table = ger_aggregate(cond, group=("model", "regime")) if len(cond) else pd.DataFrame()
        out = []
        for items, t, population in ((ALL, table, answers), (COND, cond_table, cond)):
            keys = dict(regime=regime, items=items)
            n_pass = population[["dataset", "passage_id"]].drop_duplicates().shape[0]
            if t.empty:
                out.append(self.row(m.model, INCONCLUSIVE, "no answers", why, **keys))
                continue
            g = t.iloc[0]
            est = Estimate(float(g["pearson_r"]), float(g["pearson_lo"]), float(g["pearson_hi"]), int(g["n_cells"]),
                           n_pass, min_stratum=smallest_stratum(population))
            if g["n_cells"] < MIN_CELLS:
                verdict = (NOT_RUN, f"the grid gives {int(g['n_cells'])} (press, ratio) cells, need {MIN_CELLS}")
            elif text(g["reason"]):
                verdict = (INCONCLUSIVE, g["reason"])
            else:
                est.jk_by, est.jk_lo, est.jk_hi = jackknife(population, pearson_of, est.estimate)
                verdict = judged(est, lambda lo, hi: self.decide(est.estimate, lo, hi))
            spearman = (f"Spearman rho {g['spearman_rho']:.2f} [{g['spearman_lo']:.2f}, {g['spearman_hi']:.2f}]"
                        if np.isfinite(g["spearman_rho"]) else "")
            out.append(self.row(m.model, *verdict, "n = (press, ratio) cells", spearman, why, est=est, **keys))
        return out


CLAIM = GerSpike()
