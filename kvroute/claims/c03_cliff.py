"""C3. A sharp hallucination cliff near alpha = 0.9 in every model (abstract, Fig. 22-23)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kvroute.claims.base import (ALL, COND, CONTRADICTED, INCONCLUSIVE, NOT_ROBUST, NOT_RUN, SUPPORTED, Claim,
                                 ModelInputs, Needs, Settings, at, correct_at_0_items, finite, judged, presses,
                                 primary_regime, stratum_gated, text)
from kvroute.claims.measure import Estimate, jackknife, smallest_stratum
from kvroute.frames import POOLED
from kvroute.stats import breakpoint_test

MIN_DELTA_AIC, LINE_DELTA_AIC, WINDOW = 10.0, 2.0, (0.8, 0.95)


def fit_of(answers: pd.DataFrame) -> tuple[float, float]:
    """(break, dAIC) of the fit without its bootstrap: what the jackknife recomputes."""
    fitted = breakpoint_test(answers, group=("model", "press", "regime"), n_boot=0)
    if len(fitted) != 1:
        return np.nan, np.nan
    return float(fitted["cliff_ratio"].iloc[0]), float(fitted["delta_aic"].iloc[0])


class Cliff(Claim):
    id = "C3"
    statement = "A sharp hallucination cliff near alpha = 0.9 in every model (abstract, Fig. 22-23)"
    quantity = ("break of the better nonlinear fit of H(alpha) (hinge / sigmoid by AIC) with its passage-bootstrap "
                "CI; dAIC = AIC(line) - AIC(nonlinear)")
    rule = ("supported if dAIC > 10 and the break CI lies inside [0.8, 0.95]; contradicted if dAIC < 2 "
            "(the line is preferred) or the break CI lies outside [0.8, 0.95]")
    paper_value = "cliff near alpha = 0.9 (Fig. 22)"
    needs = Needs(ratios=(0.8, 0.9, 0.95))

    @staticmethod
    def decide(delta_aic, lo, hi) -> tuple[str, str]:
        """Break CI inside the window with a clear AIC win; the line preferred or a break elsewhere contradicts."""
        w_lo, w_hi = WINDOW
        if not finite(delta_aic):
            return INCONCLUSIVE, "no fit"
        if delta_aic < LINE_DELTA_AIC:
            return CONTRADICTED, f"the line is preferred (dAIC {delta_aic:.1f} < {LINE_DELTA_AIC:g})"
        if finite(lo, hi) and (hi < w_lo or lo > w_hi):
            return CONTRADICTED, f"break CI outside [{w_lo}, {w_hi}]"
        if not finite(lo, hi):
            return INCONCLUSIVE, "no break CI (no resample shows a rise, or no bootstrap)"
        if delta_aic > MIN_DELTA_AIC and lo >= w_lo and hi <= w_hi:
            return SUPPORTED, ""
        if delta_aic <= MIN_DELTA_AIC:
            return INCONCLUSIVE, f"dAIC {delta_aic:.1f} between {LINE_DELTA_AIC:g} and {MIN_DELTA_AIC:g}"
        return INCONCLUSIVE, f"break CI overlaps the edge of [{w_lo}, {w_hi}]"

    def evaluate(self, m: ModelInputs, s: Settings) -> list[dict]:
        regime, why = primary_regime(m.answers)
        answers = at(m.answers, regime=regime)
        fitted = at(m.stat("breakpoint"), dataset=POOLED, regime=regime)
        if fitted.empty:
            return [self.row(m.model, NOT_RUN, "breakpoint.csv has no pooled row", regime=regime)]
        cond = correct_at_0_items(answers)
        # H_cond's cliff: the same breakpoint fit on the items correct at 0, where H is H_cond.
        cond_fitted = breakpoint_test(cond, group=("model", "press", "regime"), n_boot=s.n_boot_breakpoint,
                                      seed=s.seed) if len(cond) else pd.DataFrame()
        out = []
        for items, table, population in ((ALL, fitted, answers), (COND, cond_fitted, cond)):
            for press in presses(answers):
                out.append(self.one(m.model, at(table, press=press), at(population, press=press), why, s,
                                    regime=regime, press=press, items=items))
        return out

    def one(self, model: str, fitted: pd.DataFrame, answers: pd.DataFrame, why: str, s: Settings, **keys) -> dict:
        n, n_pass = len(answers), answers[["dataset", "passage_id"]].drop_duplicates().shape[0]
        if fitted.empty:
            return self.row(model, INCONCLUSIVE, "no answers to fit", why, n=n, n_passages=n_pass, **keys)
        b = fitted.iloc[0]
        if text(b["reason"]):  # too few grid ratios to fit a break: this grid cannot test the claim
            return self.row(model, NOT_RUN, b["reason"], why, n=n, n_passages=n_pass, **keys)
        est = Estimate(float(b["cliff_ratio"]), float(b["cliff_lo"]), float(b["cliff_hi"]), n, n_pass,
                       min_stratum=smallest_stratum(answers))
        delta_aic = float(b["delta_aic"])
        no_rise = f", {b['share_no_rise']:.0%} of resamples show no rise" if np.isfinite(b["share_no_rise"]) else ""
        detail = f"dAIC {delta_aic:.1f} ({b['cliff_model']}), LR p {b['lr_p']:.3g}{no_rise}"
        if finite(delta_aic) and delta_aic < LINE_DELTA_AIC:
            # The line decided, not the break: the jackknife checks that dAIC stays below the line's threshold.
            by, lo, hi = jackknife(answers, lambda sub: fit_of(sub)[1], delta_aic)
            est.jk_by = by
            verdict = stratum_gated(est, self.decide(delta_aic, est.ci_lo, est.ci_hi), s.min_passages)
            if verdict[0] == CONTRADICTED and not (finite(hi) and hi < LINE_DELTA_AIC):
                verdict = (NOT_ROBUST, f"the line is preferred, but the leave-one-{by}-out jackknife's dAIC "
                                       f"interval [{lo:.1f}, {hi:.1f}] reaches {LINE_DELTA_AIC:g}")
        else:
            est.jk_by, est.jk_lo, est.jk_hi = jackknife(answers, lambda sub: fit_of(sub)[0], est.estimate)
            verdict = judged(est, lambda lo, hi: self.decide(delta_aic, lo, hi), s.min_passages)
        return self.row(model, *verdict, detail, text(b["warning"]), why, est=est, **keys)


CLAIM = Cliff()
