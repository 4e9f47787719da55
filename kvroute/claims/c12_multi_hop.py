"""C12. Multi-hop degrades faster than direct retrieval (4.1, Figs. 8-9)."""

from __future__ import annotations

import pandas as pd

from kvroute.claims.base import (NOT_RUN, Claim, ModelInputs, Needs, Settings, at, clustered, clustered_judged,
                                 correct, item_sets, presses, primary_regime)
from kvroute.claims.measure import Estimate, interaction, jackknife


def hop_interaction(answers: pd.DataFrame) -> dict:
    return interaction(answers.assign(correct=correct(answers), hop=pd.to_numeric(answers["hop"], errors="coerce")),
                       "correct", "hop", "ratio")


class MultiHop(Claim):
    id = "C12"
    statement = "Multi-hop degrades faster than direct retrieval (4.1, Figs. 8-9)"
    quantity = ("hop x ratio interaction (log-odds of a correct answer), logistic correct ~ hop * ratio, "
                "clustered by passage")
    rule = ("supported if the interaction's CI lies below 0 (more hops, faster decline); contradicted if above "
            "0; inconclusive with fewer than 5 clusters per parameter")
    paper_value = "hops F1 at alpha = 0: 31.54 (LLaMA-3 8B), 27.13 (Qwen-2.5 7B), AGN; degrades faster (Figs. 8-9)"
    needs = Needs(generators=("hops",), ratios=(0.5, 0.9))

    @staticmethod
    def decide(lo, hi, reason: str = "", clusters_note: str = "") -> tuple[str, str]:
        return clustered(lo, hi, 0.0, "below", reason, clusters_note)

    def evaluate(self, m: ModelInputs, s: Settings) -> list[dict]:
        regime, why = primary_regime(m.answers)
        datasets = s.datasets_of("hops", m.answers["dataset"].astype(str).unique())
        if not datasets:
            return [self.row(m.model, NOT_RUN, "no hops dataset in the config", dataset="", regime=regime)]
        out = []
        for dataset in datasets:
            answers = at(m.answers, dataset=dataset, regime=regime)
            for items, table in item_sets(answers):
                for press in presses(answers):
                    sub = at(table, press=press)
                    fit = hop_interaction(sub)
                    est = Estimate(fit["coef"], fit["ci_lo"], fit["ci_hi"], fit["n"], fit["n_clusters"])
                    if not fit["reason"] and not fit["note"]:
                        est.jk_by, est.jk_lo, est.jk_hi = jackknife(sub, lambda t: hop_interaction(t)["coef"],
                                                                    est.estimate)
                    verdict = clustered_judged(est, 0.0, "below", fit["reason"], fit["note"])
                    out.append(self.row(m.model, *verdict,
                                        fit["method"], why, dataset=dataset, regime=regime, press=press, items=items,
                                        est=est))
        return out


CLAIM = MultiHop()
