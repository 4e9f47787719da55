"""C5. GER predicts hallucination beyond the ratio itself (kvroute's test of the paper's Fig. 24 reading)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kvroute.claims.base import (NOT_RUN, Claim, ModelInputs, Needs, Settings, at, clustered, clustered_judged,
                                 primary_regime, text)
from kvroute.claims.measure import Estimate, jackknife
from kvroute.frames import POOLED
from kvroute.stats import ger_item_model


def ger_coefficient(answers: pd.DataFrame) -> float:
    """GER's coefficient in the item model: what the jackknife refits."""
    t = ger_item_model(answers, group=("model", "regime"))
    t = t[t["term"] == "ger"]
    return float(t["coef"].iloc[0]) if len(t) == 1 else np.nan


class GerPredicts(Claim):
    id = "C5"
    statement = "GER predicts hallucination beyond the ratio itself"
    quantity = ("item-level GEE coefficient of ger (log-odds per unit GER): hallucination ~ ger + C(ratio) + press + "
                "C(dataset) + failed_at_0, ratio > 0, clustered by passage")
    rule = ("supported if the CI's lower end > 0; contradicted if its upper end < 0; inconclusive with fewer "
            "than 5 clusters per parameter")
    paper_value = "not tested in the paper (its Fig. 24 correlation mixes GER with the ratio trend)"
    needs = Needs(ratios=(0.5, 0.9))

    @staticmethod
    def decide(lo, hi, reason: str = "", clusters_note: str = "") -> tuple[str, str]:
        return clustered(lo, hi, 0.0, "above", reason, clusters_note)

    def evaluate(self, m: ModelInputs, s: Settings) -> list[dict]:
        regime, why = primary_regime(m.answers)
        t = at(m.stat("ger_item"), dataset=POOLED, regime=regime, term="ger")
        if t.empty:
            return [self.row(m.model, NOT_RUN, "ger_item_model.csv has no pooled ger row", regime=regime)]
        g = t.iloc[0]
        answers = at(m.answers, regime=regime)
        est = Estimate(float(g["coef"]), float(g["ci_lo"]), float(g["ci_hi"]), g["n"], g["n_clusters"])
        if not text(g["reason"]) and not text(g["note"]):
            est.jk_by, est.jk_lo, est.jk_hi = jackknife(answers, ger_coefficient, est.estimate)
        verdict = clustered_judged(est, 0.0, "above", text(g["reason"]), text(g["note"]))
        odds = f"odds ratio per unit GER {g['odds_ratio']:.3g}" if np.isfinite(g["odds_ratio"]) else ""
        return [self.row(m.model, *verdict, odds, text(g["method"]), why, regime=regime, est=est)]


CLAIM = GerPredicts()
