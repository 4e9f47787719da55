"""C2. ...while internal representations degrade (abstract, 6.5, Fig. 25)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kvroute.claims.base import (INCONCLUSIVE, NOT_RUN, Claim, ModelInputs, Needs, Settings, at, by_interval, correct,
                                 gated, has_ratio, judged, presses, primary_regime, text)
from kvroute.claims.measure import (CI, CellMeans, Estimate, binomial_se, drop, jackknife_interval, normal_interval,
                                    ratio_key)
from kvroute.stats.bootstrap import passage_weights, percentile

RATIO = 0.5
PROBE_DATASET, PROBE_TARGET = "all", "correct"  # probe_scores.csv: every dataset pooled; answer correctness
# Balanced accuracy: a probe that always guesses the majority class scores 0.5 whatever the class balance.
MEASURE = "balanced_accuracy"


def probe_layer(probe: pd.DataFrame) -> str:
    """The layer-pooled state when several layers were probed, else the deepest probed layer."""
    layers = probe["layer"].astype(str).unique()
    if "pooled" in layers:
        return "pooled"
    return max(layers, key=lambda l: int(l) if l.isdigit() else -1)


def probe_beats_baseline(zero: pd.Series) -> str:
    """Why the probe at alpha = 0 says nothing about representations ("" when it beats its baselines): its
    accuracy must exceed always guessing the majority class, and its balanced accuracy 0.5."""
    acc, majority = float(zero["accuracy"]), float(zero.get("majority_accuracy", np.nan))
    balanced = float(zero.get(MEASURE, np.nan))
    if np.isfinite(majority) and acc <= majority:
        return (f"the probe does not beat always guessing the majority class at alpha = 0 (accuracy {acc:.3f} vs "
                f"{majority:.3f}): it reads class balance, not representations")
    if np.isfinite(balanced) and balanced <= 0.5:
        return f"the probe's balanced accuracy at alpha = 0 is {balanced:.3f}, no better than chance (0.5)"
    return ""


def paired_by_passage(confusion: pd.DataFrame, answers: pd.DataFrame, s: Settings) -> Estimate:
    """(probe balanced accuracy drop 0 -> 0.5) - (answer accuracy drop), with one passage resample driving both:
    per passage, the probe's out-of-fold tp, fn, tn, fp at each ratio and the answers' correct counts."""
    counts = confusion.assign(ratio=confusion["ratio"].map(ratio_key)).pivot_table(
        index="passage", columns="ratio", values=["tp", "fn", "tn", "fp"], aggfunc="sum")
    key = answers["dataset"].astype(str) + "/" + answers["passage_id"].astype(str)
    ans = answers.assign(passage=key, ratio=answers["ratio"].map(ratio_key), correct=correct(answers), n=1.0)
    ans = ans.pivot_table(index="passage", columns="ratio", values=["correct", "n"], aggfunc="sum")
    table = counts.join(ans, how="inner").fillna(0.0)
    passages = table.index.to_numpy(str)
    strata = np.array([p.split("/", 1)[0] for p in passages])

    def col(name, ratio):
        return table[(name, ratio)].to_numpy(float) if (name, ratio) in table else np.zeros(len(table))

    def statistic(w: np.ndarray) -> np.ndarray:
        """For weights (..., passages): balanced accuracy drop minus answer accuracy drop."""
        with np.errstate(invalid="ignore", divide="ignore"):
            def balanced(r):
                tp, fn, tn, fp = (w @ col(c, r) for c in ("tp", "fn", "tn", "fp"))
                return 0.5 * (tp / (tp + fn) + tn / (tn + fp))
            accuracy = {r: (w @ col("correct", r)) / (w @ col("n", r)) for r in (0.0, RATIO)}
            return (balanced(0.0) - balanced(RATIO)) - (accuracy[0.0] - accuracy[RATIO])

    point = float(statistic(np.ones(len(passages))))
    lo, hi = percentile(statistic(passage_weights(strata, s.n_boot, s.seed)), CI)
    by = "dataset" if len(np.unique(strata)) > 1 else "passage"
    units = strata if by == "dataset" else passages
    thetas = [float(statistic((units != u).astype(float))) for u in np.unique(units)]
    jk_lo, jk_hi = jackknife_interval(point, thetas)
    n = int(sum(col(c, r).sum() for c in ("tp", "fn", "tn", "fp") for r in (0.0, RATIO)))
    return Estimate(point, float(lo), float(hi), n, len(passages),
                    min_stratum=float(pd.Series(strata).value_counts().min()), jk_lo=jk_lo, jk_hi=jk_hi, jk_by=by)


class RepresentationsDegrade(Claim):
    id = "C2"
    statement = "...while internal representations degrade (abstract, 6.5, Fig. 25)"
    quantity = ("(probe balanced accuracy(0) - balanced accuracy(0.5)) - (answer accuracy(0) - "
                "answer accuracy(0.5)), paired by passage; answer-correctness probe, all datasets, layer-pooled "
                "state")
    rule = ("supported if the CI's lower end > 0; contradicted if its upper end < 0; inconclusive where the probe "
            "does not beat its majority-class baseline at alpha = 0")
    paper_value = "qualitative (Fig. 25)"
    needs = Needs(ratios=(RATIO,))

    @staticmethod
    def decide(lo: float, hi: float) -> tuple[str, str]:
        return by_interval(lo, hi, 0.0, "above")

    def evaluate(self, m: ModelInputs, s: Settings) -> list[dict]:
        regime, why = primary_regime(m.answers)
        probe = at(m.stat("probe"), dataset=PROBE_DATASET, target=PROBE_TARGET, regime=regime)
        if probe.empty:
            return [self.row(m.model, NOT_RUN, "probe_scores.csv has no answer-correctness probe", regime=regime)]
        if not (has_ratio(probe, 0.0) and has_ratio(probe, RATIO)):
            return [self.row(m.model, NOT_RUN, f"no probe at ratio 0 and {RATIO}", regime=regime)]
        layer = probe_layer(probe)
        out = []
        for press in presses(probe):
            keys = dict(regime=regime, press=press)
            p = at(probe, press=press, layer=layer)
            cells = {r: p[np.isclose(p["ratio"].to_numpy(float), r)] for r in (0.0, RATIO)}
            if any(c.empty or not np.isfinite(c["accuracy"].iloc[0]) for c in cells.values()):
                reasons = "; ".join(text(c["reason"].iloc[0]) for c in cells.values() if len(c) and "reason" in c)
                out.append(self.row(m.model, INCONCLUSIVE, "probe accuracy missing", reasons, why, **keys))
                continue
            zero = cells[0.0].iloc[0]
            beaten = probe_beats_baseline(zero)
            if beaten:
                out.append(self.row(m.model, INCONCLUSIVE, beaten, why, **keys))
                continue
            (a0, n0), (a5, n5) = ((float(c[MEASURE].iloc[0]) if MEASURE in c else float(c["accuracy"].iloc[0]),
                                   int(c["n_scored"].iloc[0])) for c in cells.values())
            answers = at(m.answers, regime=regime, press=press)
            cm = CellMeans(answers, correct(answers), ["ratio"], s.n_boot, s.seed)
            if not cm.has(0.0, RATIO):
                out.append(self.row(m.model, INCONCLUSIVE, "no answers at both ratios", why, **keys))
                continue
            answer = cm.estimate([0.0, RATIO], drop)
            detail = (f"probe {MEASURE.replace('_', ' ')} {a0:.3f} -> {a5:.3f} (layer {layer}); answer accuracy "
                      f"drop {answer.estimate:+.3f} [{answer.ci_lo:+.3f}, {answer.ci_hi:+.3f}]")
            confusion = at(m.stat("probe_passages"), regime=regime, press=press, layer=layer)
            if len(confusion):
                est = paired_by_passage(confusion, answers, s)
                out.append(self.row(m.model, *judged(est, self.decide, s.min_passages), detail,
                                    "paired by passage: the probe's out-of-fold confusion counts and the answers "
                                    "resampled together", why, est=est, **keys))
                continue
            _, (b0, b5) = cm.values([0.0, RATIO])
            estimate = (a0 - a5) - answer.estimate
            lo, hi = normal_interval(estimate, [binomial_se(a0, n0), binomial_se(a5, n5), float(np.nanstd(b0 - b5))])
            est = Estimate(estimate, lo, hi, n0 + n5, answer.n_passages)
            out.append(self.row(
                m.model, *gated(est.n_passages, self.decide(lo, hi), s.min_passages), detail,
                "interval: normal approximation (no probe_passages.csv: the probe's errors are not paired with "
                "the answers by passage)", why, est=est, **keys))
        return out


CLAIM = RepresentationsDegrade()
