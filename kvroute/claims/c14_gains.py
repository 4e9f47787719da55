"""C14. Moderate compression can improve accuracy (localized spikes, 4.1)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kvroute.claims.base import (ALPHA, INCONCLUSIVE, NOT_RUN, SUPPORTED, CONTRADICTED, Claim, ModelInputs, Needs,
                                 Settings, at, datasets_with_pooled, finite, gated, has_ratio, of_dataset, presses)
from kvroute.claims.measure import CellMeans, drop, gain_pvalues, ratio_key
from kvroute.stats.multiple import bh_adjust

MAX_RATIO, NEGLIGIBLE = 0.7, 0.02


class AccuracyGains(Claim):
    id = "C14"
    statement = "Moderate compression can improve accuracy (localized spikes, 4.1)"
    quantity = ("paired F1 gain F1(alpha) - F1(0) at each 0 < alpha <= 0.7 [estimate: the largest]; p from a t-test "
                "on per-passage gains, BH-adjusted over the ratios")
    rule = ("supported if any gain is > 0 with BH-adjusted p < 0.05; contradicted if every gain's CI upper end "
            "< 0.02")
    paper_value = "localized spikes at intermediate ratios, question-aware, Qwen (Fig. 2)"
    needs = Needs(regimes=("agnostic", "aware"), ratios=(0.5,))

    @staticmethod
    def decide(gains) -> tuple[str, str]:
        """gains: (ratio, gain, CI upper end, BH-adjusted p) per ratio 0 < alpha <= 0.7."""
        if not gains:
            return INCONCLUSIVE, "no ratio in (0, 0.7]"
        if any(finite(g, q) and g > 0 and q < ALPHA for _, g, _, q in gains):
            return SUPPORTED, ""
        if all(finite(hi) and hi < NEGLIGIBLE for _, _, hi, _ in gains):
            return CONTRADICTED, ""
        return INCONCLUSIVE, f"no gain with BH p < {ALPHA}, and not every CI ends below {NEGLIGIBLE}"

    def evaluate(self, m: ModelInputs, s: Settings) -> list[dict]:
        out = []
        for regime in sorted(m.answers["regime"].astype(str).unique()):
            answers = at(m.answers, regime=regime)
            ratios = sorted({ratio_key(r) for r in answers["ratio"]} - {0.0})
            ratios = [r for r in ratios if r <= MAX_RATIO]
            if not ratios or not has_ratio(answers, 0.0):
                out.append(self.row(m.model, NOT_RUN, f"the grid has no ratio in (0, {MAX_RATIO}] beside ratio 0",
                                    regime=regime))
                continue
            for press in presses(answers):
                for dataset in datasets_with_pooled(answers):
                    out.append(self.one(m.model, of_dataset(answers, dataset, press=press), ratios, s,
                                        dataset=dataset, regime=regime, press=press))
        return out

    def one(self, model: str, sub: pd.DataFrame, ratios: list[float], s: Settings, **keys) -> dict:
        cm = CellMeans(sub, sub["f1"], ["ratio"], s.n_boot, s.seed) if len(sub) else None
        ratios = [r for r in ratios if cm is not None and cm.has(r, 0.0)]
        if not ratios:
            return self.row(model, INCONCLUSIVE, "no answers at ratio 0 and a ratio <= 0.7", **keys)
        gains = [cm.estimate([r, 0.0], drop) for r in ratios]
        q, _ = bh_adjust(gain_pvalues(cm, 0.0, ratios))
        found = [(r, g.estimate, g.ci_hi, qi) for r, g, qi in zip(ratios, gains, q)]
        listing = ", ".join(f"{r:g}: {g.estimate:+.3f} [{g.ci_lo:+.3f}, {g.ci_hi:+.3f}] q={qi:.2g}"
                            for r, g, qi in zip(ratios, gains, q))
        best = int(np.argmax([g.estimate for g in gains]))
        return self.row(model, *gated(gains[best].n_passages, self.decide(found)), f"gain by ratio: {listing}",
                        est=gains[best], quantity=f"largest paired F1 gain F1(alpha) - F1(0), at alpha = "
                                                  f"{ratios[best]:g}", **keys)


CLAIM = AccuracyGains()
