"""C14. Moderate compression can improve accuracy (localized spikes, 4.1)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kvroute.claims.base import (ALPHA, CONTRADICTED, INCONCLUSIVE, NOT_ROBUST, NOT_RUN, SUPPORTED, Claim,
                                 ModelInputs, Needs, Settings, at, finite, stratum_gated, has_ratio, presses)
from kvroute.claims.measure import CellMeans, Estimate, drop, gain_pvalues, ratio_key
from kvroute.frames import POOLED
from kvroute.stats.multiple import bh_adjust

MAX_RATIO, NEGLIGIBLE = 0.7, 0.02


class AccuracyGains(Claim):
    id = "C14"
    statement = "Moderate compression can improve accuracy (localized spikes, 4.1)"
    quantity = ("paired F1 gain F1(alpha) - F1(0) at each 0 < alpha <= 0.7, per dataset [estimate: the largest]; p "
                "from a t-test on per-passage gains, BH-adjusted over datasets x ratios")
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
        """Per dataset, the paired gain at each ratio <= 0.7, BH-adjusted over datasets x ratios (a spike is
        local: the paper saw it in one dataset and regime); the pooled row summarises the datasets' verdicts."""
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
                out += self.per_dataset(m.model, at(answers, press=press), ratios, s, regime=regime, press=press)
        return out

    def per_dataset(self, model: str, answers: pd.DataFrame, ratios: list[float], s: Settings, **keys) -> list[dict]:
        datasets = sorted(answers["dataset"].astype(str).unique())
        found = {}
        for dataset in datasets:
            sub = at(answers, dataset=dataset)
            cm = CellMeans(sub, sub["f1"], ["ratio"], s.n_boot, s.seed)
            have = [r for r in ratios if cm.has(r, 0.0)]
            found[dataset] = (cm, have, gain_pvalues(cm, 0.0, have))
        # One family of tests: every dataset x ratio of this press and regime.
        flat = np.concatenate([p for _, _, p in found.values()]) if found else np.array([])
        q_all, _ = bh_adjust(flat) if len(flat) else (flat, None)
        rows, offset = [], 0
        for dataset, (cm, have, p) in found.items():
            q = q_all[offset:offset + len(have)]
            offset += len(have)
            rows.append(self.one(model, cm, have, q, len(flat), s, dataset=dataset, **keys))
        verdicts = [r["verdict"] for r in rows]
        if SUPPORTED in verdicts:
            showing = ", ".join(r["dataset"] for r in rows if r["verdict"] == SUPPORTED)
            summary = (SUPPORTED, f"a gain with BH p < {ALPHA} in {showing}")
        elif verdicts and all(v == CONTRADICTED for v in verdicts):
            summary = (CONTRADICTED, f"every dataset's gains end below {NEGLIGIBLE}")
        else:
            undecided = [r["dataset"] for r in rows if r["verdict"] != CONTRADICTED]
            summary = (INCONCLUSIVE, f"no dataset shows a gain, and {', '.join(undecided)} cannot rule one out")
        best = max(rows, key=lambda r: r["estimate"] if np.isfinite(r["estimate"]) else -np.inf, default=None)
        est = Estimate(best["estimate"], best["ci_lo"], best["ci_hi"], best["n"], best["n_passages"]) if best else None
        rows.append(self.row(model, *summary, f"largest gain in {best['dataset']}" if best else "", est=est,
                             dataset=POOLED, quantity="the datasets' verdicts: supported if one is, contradicted if "
                                                      "all are", **keys))
        return rows

    def one(self, model: str, cm: CellMeans, ratios: list[float], q: np.ndarray, tests: int, s: Settings,
            **keys) -> dict:
        if not ratios:
            return self.row(model, INCONCLUSIVE, "no answers at ratio 0 and a ratio <= 0.7", **keys)
        gains = [cm.estimate([r, 0.0], drop) for r in ratios]
        found = [(r, g.estimate, g.ci_hi, qi) for r, g, qi in zip(ratios, gains, q)]
        listing = ", ".join(f"{r:g}: {g.estimate:+.3f} [{g.ci_lo:+.3f}, {g.ci_hi:+.3f}] q={qi:.2g}"
                            for r, g, qi in zip(ratios, gains, q))
        best = int(np.argmax([g.estimate for g in gains]))
        verdict = stratum_gated(gains[best], self.decide(found), s.min_passages)
        # The jackknife must repeat it: the supporting gain's interval above 0, or every gain's below NEGLIGIBLE.
        if verdict[0] == SUPPORTED:
            backing = [g for (r, gain, _, qi), g in zip(found, gains) if gain > 0 and qi < ALPHA]
            if not any(finite(g.jk_lo) and g.jk_lo > 0 for g in backing):
                verdict = (NOT_ROBUST, "supported by BH p, but no such gain's jackknife interval lies above 0")
        elif verdict[0] == CONTRADICTED and not all(finite(g.jk_hi) and g.jk_hi < NEGLIGIBLE for g in gains):
            verdict = (NOT_ROBUST, f"every bootstrap CI ends below {NEGLIGIBLE}, but not every jackknife CI does")
        return self.row(model, *verdict, f"gain by ratio: {listing}; BH over {tests} tests (datasets x ratios)",
                        est=gains[best], quantity=f"largest paired F1 gain F1(alpha) - F1(0), at alpha = "
                                                  f"{ratios[best]:g}", **keys)


CLAIM = AccuracyGains()
