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
    t = ger_aggregate(answers, group=("model", "regime"), n_boot=0)
    return float(t["pearson_r"].iloc[0]) if len(t) == 1 else np.nan


class GerSpike(Claim):
    id = "C4"
    statement = "The cliff coincides with a GER spike (Fig. 21, 24)"
    quantity = ("Pearson r [estimate] and Spearman rho [note] of mean GER vs H over (press, ratio) cells, ratio 0 "
                "once; CIs from the passage bootstrap, cells recomputed per resample")
    rule = ("supported if both r and rho > 0.8 with CI lower ends > 0.5; contradicted if either CI's upper end "
            "< 0.5")
    paper_value = "'strongly correlated' (Fig. 24), no r given"
    needs = Needs(ratios=(0.5, 0.9))

    @staticmethod
    def decide(r, lo, hi, rho=None, rho_lo=None, rho_hi=None) -> tuple[str, str]:
        """Both correlations must clear the bar (Spearman too when given); either ruled out contradicts."""
        measures = [("r", r, lo, hi)] + ([("rho", rho, rho_lo, rho_hi)] if rho is not None else [])
        if not all(finite(*m[1:]) for m in measures):
            return INCONCLUSIVE, "no correlation interval"
        if all(v > MIN_R and a > MIN_LO for _, v, a, _ in measures):
            return SUPPORTED, ""
        if any(b < MIN_LO for *_, b in measures):
            return CONTRADICTED, ""
        short = [f"{n} = {v:.2f}, CI [{a:.2f}, {b:.2f}]" for n, v, a, b in measures if not (v > MIN_R and a > MIN_LO)]
        return INCONCLUSIVE, f"{'; '.join(short)} does not clear {MIN_R} with CI above {MIN_LO}"

    def evaluate(self, m: ModelInputs, s: Settings) -> list[dict]:
        regime, why = primary_regime(m.answers)
        answers = at(m.answers, regime=regime)
        table = at(m.stat("ger"), dataset=POOLED, regime=regime)
        if table.empty:
            return [self.row(m.model, NOT_RUN, "ger_hallucination.csv has no pooled row", regime=regime)]
        cond = correct_at_0_items(answers)
        cond_table = ger_aggregate(cond, group=("model", "regime"), n_boot=s.n_boot, seed=s.seed) if len(cond) \
            else pd.DataFrame()
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
                spearman = (float(g["spearman_rho"]), float(g["spearman_lo"]), float(g["spearman_hi"]))
                verdict = judged(est, lambda lo, hi: self.decide(est.estimate, lo, hi, *spearman), s.min_passages)
            rho_text = (f"Spearman rho {g['spearman_rho']:.2f} [{g['spearman_lo']:.2f}, {g['spearman_hi']:.2f}]"
                        if np.isfinite(g["spearman_rho"]) else "")
            out.append(self.row(m.model, *verdict, "n = (press, ratio) cells", rho_text, why, est=est, **keys))
        return out


CLAIM = GerSpike()
