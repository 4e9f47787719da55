"""C11. The aware regime hurts abstention on coreference (4.1)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kvroute.claims.base import (ALPHA, CONTRADICTED, INCONCLUSIVE, NOT_ROBUST, NOT_RUN, SUPPORTED, Claim, ModelInputs,
                                 Needs, Settings, at, correct, finite, has_ratio, presses)
from kvroute.claims.measure import CellMeans, drop, ratio_key
from kvroute.scoring import is_idk_gold, parse_answers
from kvroute.stats import mcnemar_table

RATIOS = (0.5, 0.9)


def min_discordant(alpha: float = ALPHA) -> int:
    """Fewest discordant pairs with which an exact two-sided McNemar test can reach p < alpha (all one way)."""
    d = 1
    while 2 * 0.5 ** d >= alpha:
        d += 1
    return d


MIN_DISCORDANT = min_discordant()  # 6 at alpha = 0.05


class AwareAbstention(Claim):
    id = "C11"
    statement = "The aware regime hurts abstention on coreference (4.1)"
    quantity = "correct abstention on 'I don't know' items, AWR - AGN, at alpha = 0.5 and 0.9 (McNemar)"
    rule = ("supported if AWR < AGN with p < 0.05 at either ratio; contradicted if AWR > AGN with p < 0.05 at "
            "either ratio and neither supports")
    paper_value = "coreference F1 at alpha = 0: 75.63 AGN vs 60.90 AWR (LLaMA-3 8B), 78.89 vs 52.00 (Qwen-2.5 7B)"
    needs = Needs(generators=("coreference",), regimes=("agnostic", "aware"), ratios=RATIOS)

    @staticmethod
    def decide(tests) -> tuple[str, str]:
        """tests: (ratio, AWR - AGN, McNemar p) at alpha = 0.5 and 0.9."""
        usable = [(r, d, p) for r, d, p in tests if finite(d, p)]
        if not usable:
            return INCONCLUSIVE, "no paired answers"
        if any(d < 0 and p < ALPHA for _, d, p in usable):
            return SUPPORTED, ""
        if any(d > 0 and p < ALPHA for _, d, p in usable):
            return CONTRADICTED, "AWR above AGN"
        return INCONCLUSIVE, f"no difference with p < {ALPHA}"

    def evaluate(self, m: ModelInputs, s: Settings) -> list[dict]:
        datasets = s.datasets_of("coreference", m.answers["dataset"].astype(str).unique())
        if not datasets:
            return [self.row(m.model, NOT_RUN, "no coreference dataset in the config", dataset="")]
        if set(m.answers["regime"].astype(str)) != {"agnostic", "aware"}:
            return [self.row(m.model, NOT_RUN, "needs both regimes (agnostic and aware)", dataset=d)
                    for d in datasets]
        ratios = [r for r in RATIOS if has_ratio(m.answers, r)]
        if not ratios:
            return [self.row(m.model, NOT_RUN, "the grid lacks ratios 0.5 and 0.9", dataset=d) for d in datasets]
        out = []
        for dataset in datasets:
            sub = at(m.answers, dataset=dataset)
            sub = sub[np.isin(sub["ratio"].map(ratio_key), ratios)]
            idk = sub[[is_idk_gold(parse_answers(a)) for a in sub["answers"]]]
            for press in presses(sub):
                out.append(self.one(m.model, at(idk, press=press), s, dataset=dataset, regime="agnostic vs aware",
                                    press=press))
        return out

    def one(self, model: str, idk: pd.DataFrame, s: Settings, **keys) -> dict:
        if idk.empty:
            return self.row(model, INCONCLUSIVE, "no 'I don't know' items", **keys)
        tests = mcnemar_table(idk, group=("model", "press", "ratio"), outcomes=("correct",))
        found = [(ratio_key(t["ratio"]), float(t["diff"]), float(t["p"]), int(t["n_pairs"]))
                 for _, t in tests.iterrows()]
        discordant = {ratio_key(t["ratio"]): int(t["agnostic_only"] + t["aware_only"]) for _, t in tests.iterrows()}
        verdict = self.decide([(r, d, p) for r, d, p, _ in found])
        if verdict[0] == INCONCLUSIVE and max(discordant.values(), default=0) < MIN_DISCORDANT:
            verdict = (INCONCLUSIVE, f"McNemar can reach p < {ALPHA} only with >= {MIN_DISCORDANT} discordant pairs "
                                     f"(all one way); these have "
                                     f"{', '.join(f'{n} at {r:g}' for r, n in discordant.items())}")
        # The ratio shown: the one that decided, else the highest.
        decided = [f for f in found if f[2] < ALPHA and (f[1] < 0) == (verdict[0] == SUPPORTED)]
        shown = (decided or sorted(found, key=lambda f: -f[0]) or [(np.nan,) * 4])[0]
        listing = "; ".join(f"alpha {r:g}: AWR - AGN {d:+.3f}, McNemar p {p:.3g}, {n} pairs" for r, d, p, n in found)
        if not np.isfinite(shown[0]):
            return self.row(model, *verdict, "no paired answers", **keys)
        at_ratio = idk[np.isclose(idk["ratio"].to_numpy(float), shown[0])]
        cm = CellMeans(at_ratio, correct(at_ratio), ["regime"], s.n_boot, s.seed)
        est = cm.estimate(["aware", "agnostic"], drop)
        est.n = shown[3]
        # The jackknife must repeat the McNemar verdict's direction: its interval of AWR - AGN excludes 0.
        if verdict[0] in (SUPPORTED, CONTRADICTED):
            side = "below" if verdict[0] == SUPPORTED else "above"
            if not (finite(est.jk_lo, est.jk_hi) and (est.jk_hi < 0 if side == "below" else est.jk_lo > 0)):
                verdict = (NOT_ROBUST, f"{verdict[0]} by McNemar, but the leave-one-{est.jk_by}-out jackknife "
                                       f"interval of AWR - AGN [{est.jk_lo:+.3f}, {est.jk_hi:+.3f}] does not lie "
                                       f"{side} 0")
        return self.row(model, *verdict, listing, "CI: passage bootstrap (the verdict uses McNemar p)", est=est,
                        quantity=f"correct abstention on 'I don't know' items, AWR - AGN at alpha = {shown[0]:g}",
                        **keys)


CLAIM = AwareAbstention()
