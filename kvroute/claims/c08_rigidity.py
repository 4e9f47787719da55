"""C8. Rigidity: tokens survive but consensus collapses routing (Prop. 3, 6.3)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kvroute.claims.base import (NOT_RUN, Claim, ModelInputs, Needs, Settings, at, clustered, clustered_judged,
                                 primary_regime, text)
from kvroute.claims.measure import Estimate, jackknife
from kvroute.frames import POOLED
from kvroute.stats import rigidity_model


def rho_odds_ratio(answers: pd.DataFrame) -> float:
    """The odds ratio per SD of rho in the rigidity model: what the jackknife refits."""
    t = rigidity_model(answers, group=("model", "regime"))
    t = t[(t["measure"].astype(str) == "all_tokens") & (t["term"].astype(str) == "rho")]
    return float(t["odds_ratio_per_sd"].iloc[0]) if len(t) == 1 else np.nan


class Rigidity(Claim):
    id = "C8"
    statement = "Rigidity: tokens survive but consensus collapses routing (Prop. 3, 6.3)"
    quantity = ("odds ratio of failure per SD of rho (head agreement) among non-erased items correct at 0, "
                "controlling C(ratio), press, C(dataset); clustered by passage")
    rule = ("supported if the OR's CI lies above 1 (more agreement, more failure); contradicted if below 1; "
            "inconclusive with fewer than 5 clusters per parameter")
    paper_value = "Prop. 3 and 6.3 (qualitative)"
    needs = Needs(ratios=(0.5, 0.9))

    @staticmethod
    def decide(lo, hi, reason: str = "", clusters_note: str = "") -> tuple[str, str]:
        return clustered(lo, hi, 1.0, "above", reason, clusters_note)

    def evaluate(self, m: ModelInputs, s: Settings) -> list[dict]:
        regime, why = primary_regime(m.answers)
        t = at(m.stat("rigidity"), dataset=POOLED, regime=regime, measure="all_tokens")
        rho, cons = at(t, term="rho"), at(t, term="consensus")
        if rho.empty:
            return [self.row(m.model, NOT_RUN, "rigidity.csv has no routing model (no routing measures)",
                             regime=regime)]
        # Per SD of the measure: rho spans (0, 1], so an odds ratio per unit is one across its whole range.
        g = rho.iloc[0]
        est = Estimate(float(g["odds_ratio_per_sd"]), float(g["odds_ratio_per_sd_lo"]),
                       float(g["odds_ratio_per_sd_hi"]), g["n"], g["n_clusters"])
        if not text(g["reason"]) and not text(g["note"]):
            est.jk_by, est.jk_lo, est.jk_hi = jackknife(at(m.answers, regime=regime), rho_odds_ratio, est.estimate)
        verdict = clustered_judged(est, 1.0, "above", text(g["reason"]), text(g["note"]))
        c = cons.iloc[0] if len(cons) else None
        other = (f"consensus OR per SD {c['odds_ratio_per_sd']:.3g} [{c['odds_ratio_per_sd_lo']:.3g}, "
                 f"{c['odds_ratio_per_sd_hi']:.3g}]") if c is not None and np.isfinite(c["odds_ratio_per_sd"]) else ""
        return [self.row(m.model, *verdict, f"rho SD {g['sd']:.3g}" if np.isfinite(g["sd"]) else "", other, why,
                         regime=regime, est=est)]


CLAIM = Rigidity()
