"""C7. Erasure explains the cliff (abstract: "when answer-critical tokens are globally erased")."""

from __future__ import annotations

from kvroute.claims import oracle_arms
from kvroute.claims.base import INCONCLUSIVE, Claim, ModelInputs, Needs, Settings, by_interval, judged, text
from kvroute.claims.measure import Estimate, jackknife, smallest_stratum

MIN_REMOVED = 0.5


class ErasureExplains(Claim):
    id = "C7"
    statement = "Erasure explains the cliff (abstract)"
    quantity = "rise_removed at alpha = 0.9: (H_base - H_protect_diluted) / (H_base(0.9) - H_base(0))"
    rule = "supported if the CI's lower end > 0.5; contradicted if its upper end < 0.5"
    paper_value = "abstract: 'when answer-critical tokens are globally erased' (no experiment)"
    needs = Needs(ratios=(oracle_arms.RATIO,), oracle=True)

    @staticmethod
    def decide(lo, hi) -> tuple[str, str]:
        return by_interval(lo, hi, MIN_REMOVED, "above")

    def evaluate(self, m: ModelInputs, s: Settings) -> list[dict]:
        out, groups = oracle_arms.groups(self, m, s)
        ratio = oracle_arms.RATIO
        for items, regime, base_press, g in groups:
            keys = dict(regime=regime, press=base_press, items=items)
            removed, base = oracle_arms.value(g, ratio, "rise_removed"), oracle_arms.value(g, ratio, "H", "base")
            if removed is None or base is None:
                out.append(self.row(m.model, INCONCLUSIVE, "no protect_diluted or base answers at 0.9", **keys))
                continue
            answers = oracle_arms.answers_of(m, items, regime, base_press)
            est = Estimate(float(removed["estimate"]), float(removed["ci_lo"]), float(removed["ci_hi"]),
                           base["n"], base["n_passages"], min_stratum=smallest_stratum(answers))
            est.jk_by, est.jk_lo, est.jk_hi = jackknife(
                answers, lambda sub: oracle_arms.point(sub, ratio, "rise_removed"), est.estimate)
            rise = oracle_arms.value(g, ratio, "rise")
            rise_text = "" if rise is None else \
                f"rise H_base(0.9) - H_base(0) = {rise['estimate']:+.3f} [{rise['ci_lo']:+.3f}, {rise['ci_hi']:+.3f}]"
            out.append(self.row(m.model, *judged(est, self.decide, s.min_passages), rise_text,
                                text(removed["note"]), est=est, **keys))
        return out


CLAIM = ErasureExplains()
