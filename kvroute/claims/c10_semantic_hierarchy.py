"""C10. Semantic hierarchy: Person, Thing stable; Organization, Location, Creature degrade fastest (4.2, 6.5)."""

from __future__ import annotations

import numpy as np
from scipy import stats as st

from kvroute.claims.base import (ALL, INCONCLUSIVE, NOT_RUN, Claim, ModelInputs, Needs, Settings, at, by_interval,
                                 has_ratio, item_sets, judged, presses, primary_regime)
from kvroute.claims.measure import CellMeans, Estimate, jackknife_interval, smallest_stratum, spearman_with

RATIO = 0.9
MIN_ITEMS = 10  # items (questions) of an answer type for its drop to be ranked
# The paper's order of degradation (1 = most stable): Person, Thing stable; Organization, Location,
# "especially" Creature fastest. Ties share their mean rank.
PAPER_RANK = {"Person": 1.5, "Thing": 1.5, "Organization": 3.5, "Location": 3.5, "Creature": 5.0}


def rank_agreement(ranks: np.ndarray, means) -> float:
    """Spearman rho of the types' drops (cell means in (type, 0), (type, 0.9) order) against the paper's ranks."""
    drops = np.asarray(means[0::2], dtype=float) - np.asarray(means[1::2], dtype=float)
    if not np.isfinite(drops).all() or np.ptp(drops) == 0:
        return np.nan
    return float(st.spearmanr(drops, ranks).statistic)


class SemanticHierarchy(Claim):
    id = "C10"
    statement = ("Semantic hierarchy: Person, Thing stable; Organization, Location, Creature degrade fastest "
                 "(4.2, 6.5)")
    quantity = ("Spearman rho between each answer type's F1 drop 0 -> 0.9 and the paper's order "
                "(Person, Thing < Organization, Location < Creature), types with >= 10 items")
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
                # A type's drop from a handful of items is noise: rank only types with MIN_ITEMS items.
                counts = sub[sub["answer_type"].astype(str).isin(types)].drop_duplicates(
                    ["dataset", "passage_id", "qid"])["answer_type"].astype(str).value_counts()
                few = [f"{t} {int(counts.get(t, 0))}" for t in types if counts.get(t, 0) < MIN_ITEMS]
                types = [t for t in types if counts.get(t, 0) >= MIN_ITEMS]
                if len(types) < 3:
                    out.append(self.row(m.model, INCONCLUSIVE, f"{len(types)} answer types with >= {MIN_ITEMS} items "
                                                               f"(need 3); too few: {', '.join(few)}", why, **keys))
                    continue
                drops_point, drops_boot = [], []
                for t in types:
                    (a, b), (ba, bb) = cm.values([(t, 0.0), (t, RATIO)])
                    drops_point.append(a - b)
                    drops_boot.append(ba - bb)
                ranks = np.array([PAPER_RANK[t] for t in types])
                rho, lo, hi = spearman_with(ranks, drops_point, drops_boot)
                cells = [(t, r) for t in types for r in (0.0, RATIO)]
                n, n_pass = cm.counts(cells)
                est = Estimate(rho, lo, hi, n, n_pass, min_stratum=smallest_stratum(sub))
                est.jk_by, thetas = cm.jackknife(cells, lambda *means: rank_agreement(ranks, means))
                est.jk_lo, est.jk_hi = jackknife_interval(rho, thetas)
                listing = ", ".join(f"{t} {d:+.3f} ({int(counts[t])} items)" for t, d in zip(types, drops_point))
                out.append(self.row(m.model, *judged(est, self.decide, s.min_passages), f"F1 drop by type: {listing}",
                                    f"left out (< {MIN_ITEMS} items): {', '.join(few)}" if few else "", why, est=est,
                                    **keys))
        return out


CLAIM = SemanticHierarchy()
