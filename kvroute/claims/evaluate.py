"""Each claim C1-C14, measured on one model's outputs and judged by its rule (kvroute.claims.rules).

Scope, fixed with the rules:

- Regime: the paper's default, question-agnostic (``PRIMARY_REGIME``; the
  first studied regime when it is not studied, said in the note), except C11
  (agnostic vs aware) and C14 (each regime: the paper saw its spikes in the
  aware regime) and C6/C7 (the regimes the oracle presses ran in).
- Press: one row per press where the quantity is per press; C4, C5, C8 pool
  presses (press is a cell or a covariate there); C9 reads the uncompressed
  cache every press shares.
- Dataset: all datasets pooled (``dataset`` = "pooled", passages resampled
  within dataset), plus one row per dataset for C1 and C14; C11, C12 and C13
  read the datasets of their generator (coreference, hops, multi_presence).
- Items: every degradation claim (C1, C3, C4, C6, C7, C10, C12, C13) gets a
  second row on the items answered correctly uncompressed (``items`` =
  correct_at_0: H becomes H_cond, F1 drops are those of items the model
  knew), so what compression does is separated from what a small model
  never knew. C5 has failed_at_0 as a covariate and C8 is conditional
  already.

Oracle rows never enter any claim but C6/C7 (ModelInputs.answers holds base
rows only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kvroute.claims import rules as R
from kvroute.claims.inputs import ModelInputs, correct_at_0_items
from kvroute.claims.measure import (CellMeans, Estimate, binomial_se, drop, gain_pvalues, interaction,
                                    normal_interval, ratio_key, spearman_with)
from kvroute.frames import POOLED
from kvroute.scoring import is_idk_gold, parse_answers
from kvroute.stats import breakpoint_test, ger_aggregate, mcnemar_table, oracle_table
from kvroute.stats.multiple import bh_adjust

PRIMARY_REGIME = "agnostic"
ALL, COND = "all", "correct_at_0"
C1_RATIO, C10_RATIO, C13_RATIO = 0.5, 0.9, 0.9
C6_RATIO = 0.9
C11_RATIOS = (0.5, 0.9)
PROBE_DATASET, PROBE_TARGET = "all", "correct"  # probe_scores.csv: every dataset pooled; answer correctness


@dataclass
class Settings:
    n_boot: int = 1000
    n_boot_breakpoint: int = 200
    seed: int = 0
    generators: dict[str, str] = field(default_factory=dict)  # dataset -> generator (config datasets.X.generator)

    def datasets_of(self, generator: str, present) -> list[str]:
        return [d for d in sorted(present) if self.generators.get(d, d) == generator]


def row(claim: str, model: str, verdict: str, *notes: str, dataset: str = POOLED, regime: str = "", press: str = "",
        items: str = ALL, quantity: str = "", est: Estimate | None = None, n=np.nan, n_passages=np.nan) -> dict:
    c = R.CLAIMS[claim]
    e = est or Estimate(np.nan, np.nan, np.nan, n, n_passages)
    return {"claim": claim, "model": model, "dataset": dataset, "regime": regime, "press": press, "items": items,
            "quantity": quantity or c.quantity, "estimate": e.estimate, "ci_lo": e.ci_lo, "ci_hi": e.ci_hi,
            "n": e.n, "n_passages": e.n_passages, "paper_value": c.paper_value, "verdict": verdict,
            "rule": c.rule, "note": "; ".join(n for n in notes if n)}


def gated(n_passages, decision: tuple[str, str]) -> tuple[str, str]:
    """The rule's verdict, unless too few passages stand behind the interval."""
    few = R.too_few_passages(n_passages)
    return (R.INCONCLUSIVE, few) if few else decision


def text(value) -> str:
    """A CSV cell as text ('' for NaN)."""
    return value if isinstance(value, str) else ""


def primary_regime(table: pd.DataFrame) -> tuple[str, str]:
    """(regime, note): agnostic when studied, else the first studied regime."""
    regimes = sorted(table["regime"].astype(str).unique()) if "regime" in table else []
    if PRIMARY_REGIME in regimes or not regimes:
        return PRIMARY_REGIME, ""
    return regimes[0], f"{PRIMARY_REGIME} regime not studied: {regimes[0]} instead"


def at(table: pd.DataFrame, **where) -> pd.DataFrame:
    """Rows whose columns equal the given values (text comparison; a column the table lacks matches all)."""
    keep = np.ones(len(table), dtype=bool)
    for col, value in where.items():
        if col in table:
            keep &= (table[col].astype(str) == str(value)).to_numpy()
    return table[keep]


def has_ratio(table: pd.DataFrame, ratio: float) -> bool:
    return bool(np.isclose(table["ratio"].to_numpy(float), ratio).any()) if len(table) else False


def item_sets(table: pd.DataFrame) -> Iterator[tuple[str, pd.DataFrame]]:
    """(items, rows): every answer, then the items answered correctly at ratio 0 (H_cond's population)."""
    yield ALL, table
    if "correct_at_0" in table:
        yield COND, correct_at_0_items(table)


def presses(table: pd.DataFrame) -> list[str]:
    return sorted(table["press"].astype(str).unique())


def correct(table: pd.DataFrame) -> np.ndarray:
    return (table["error_class"].astype(str) == "correct").to_numpy(float)


# --- C1, C14: F1 against the uncompressed answer ----------------------------------------------------------

def c1(m: ModelInputs, s: Settings) -> list[dict]:
    regime, why = primary_regime(m.answers)
    answers = at(m.answers, regime=regime)
    if not (has_ratio(answers, 0.0) and has_ratio(answers, C1_RATIO)):
        return [row("C1", m.model, R.NOT_RUN, f"the grid lacks ratio 0 or {C1_RATIO}", regime=regime)]
    out = []
    for items, table in item_sets(answers):
        for press in presses(answers):
            for dataset in [*sorted(answers["dataset"].astype(str).unique()), POOLED]:
                sub = at(table, press=press) if dataset == POOLED else at(table, press=press, dataset=dataset)
                keys = dict(dataset=dataset, regime=regime, press=press, items=items)
                if not (has_ratio(sub, 0.0) and has_ratio(sub, C1_RATIO)):
                    out.append(row("C1", m.model, R.INCONCLUSIVE, "no answers at both ratios", why, **keys))
                    continue
                est = CellMeans(sub, sub["f1"], ["ratio"], s.n_boot, s.seed).estimate([0.0, C1_RATIO], drop)
                out.append(row("C1", m.model, *gated(est.n_passages, R.c1(est.ci_lo, est.ci_hi)), why, est=est,
                               **keys))
    return out


def c14(m: ModelInputs, s: Settings) -> list[dict]:
    out = []
    for regime in sorted(m.answers["regime"].astype(str).unique()):
        answers = at(m.answers, regime=regime)
        ratios = sorted({ratio_key(r) for r in answers["ratio"]} - {0.0})
        ratios = [r for r in ratios if r <= R.C14_MAX_RATIO]
        if not ratios or not has_ratio(answers, 0.0):
            out.append(row("C14", m.model, R.NOT_RUN, f"the grid has no ratio in (0, {R.C14_MAX_RATIO}] "
                                                    "beside ratio 0", regime=regime))
            continue
        for press in presses(answers):
            for dataset in [*sorted(answers["dataset"].astype(str).unique()), POOLED]:
                sub = at(answers, press=press) if dataset == POOLED else at(answers, press=press, dataset=dataset)
                out.append(c14_one(m.model, sub, ratios, s, dataset=dataset, regime=regime, press=press))
    return out


def c14_one(model: str, sub: pd.DataFrame, ratios: list[float], s: Settings, **keys) -> dict:
    cm = CellMeans(sub, sub["f1"], ["ratio"], s.n_boot, s.seed) if len(sub) else None
    ratios = [r for r in ratios if cm is not None and cm.has(r, 0.0)]
    if not ratios:
        return row("C14", model, R.INCONCLUSIVE, "no answers at ratio 0 and a ratio <= 0.7", **keys)
    gains = [cm.estimate([r, 0.0], drop) for r in ratios]
    q, _ = bh_adjust(gain_pvalues(cm, 0.0, ratios))
    found = [(r, g.estimate, g.ci_hi, qi) for r, g, qi in zip(ratios, gains, q)]
    listing = ", ".join(f"{r:g}: {g.estimate:+.3f} [{g.ci_lo:+.3f}, {g.ci_hi:+.3f}] q={qi:.2g}"
                        for r, g, qi in zip(ratios, gains, q))
    best = int(np.argmax([g.estimate for g in gains]))
    verdict = gated(gains[best].n_passages, R.c14(found))
    return row("C14", model, *verdict, f"gain by ratio: {listing}", est=gains[best],
               quantity=f"largest paired F1 gain F1(alpha) - F1(0), at alpha = {ratios[best]:g}", **keys)


# --- C2: probe vs answer accuracy ---------------------------------------------------------------------------

def probe_layer(probe: pd.DataFrame) -> str:
    """The layer-pooled state when several layers were probed, else the deepest probed layer."""
    layers = probe["layer"].astype(str).unique()
    if "pooled" in layers:
        return "pooled"
    return max(layers, key=lambda l: int(l) if l.isdigit() else -1)


def c2(m: ModelInputs, s: Settings) -> list[dict]:
    regime, why = primary_regime(m.answers)
    probe = at(m.stat("probe"), dataset=PROBE_DATASET, target=PROBE_TARGET, regime=regime)
    if probe.empty:
        return [row("C2", m.model, R.NOT_RUN, "probe_scores.csv has no answer-correctness probe", regime=regime)]
    if not (has_ratio(probe, 0.0) and has_ratio(probe, C1_RATIO)):
        return [row("C2", m.model, R.NOT_RUN, f"no probe at ratio 0 and {C1_RATIO}", regime=regime)]
    layer = probe_layer(probe)
    out = []
    for press in presses(probe):
        keys = dict(regime=regime, press=press)
        p = at(probe, press=press, layer=layer)
        cells = {r: p[np.isclose(p["ratio"].to_numpy(float), r)] for r in (0.0, C1_RATIO)}
        if any(c.empty or not np.isfinite(c["accuracy"].iloc[0]) for c in cells.values()):
            reasons = "; ".join(text(c["reason"].iloc[0]) for c in cells.values() if len(c) and "reason" in c)
            out.append(row("C2", m.model, R.INCONCLUSIVE, "probe accuracy missing", reasons, why, **keys))
            continue
        (a0, n0), (a5, n5) = ((float(c["accuracy"].iloc[0]), int(c["n_scored"].iloc[0])) for c in cells.values())
        answers = at(m.answers, regime=regime, press=press)
        cm = CellMeans(answers, correct(answers), ["ratio"], s.n_boot, s.seed)
        if not cm.has(0.0, C1_RATIO):
            out.append(row("C2", m.model, R.INCONCLUSIVE, "no answers at both ratios", why, **keys))
            continue
        answer = cm.estimate([0.0, C1_RATIO], drop)
        _, (b0, b5) = cm.values([0.0, C1_RATIO])
        estimate = (a0 - a5) - answer.estimate
        lo, hi = normal_interval(estimate, [binomial_se(a0, n0), binomial_se(a5, n5), float(np.nanstd(b0 - b5))])
        est = Estimate(estimate, lo, hi, n0 + n5, answer.n_passages)
        out.append(row("C2", m.model, *gated(est.n_passages, R.c2(lo, hi)),
                       f"probe accuracy {a0:.3f} -> {a5:.3f} (layer {layer}); answer accuracy drop "
                       f"{answer.estimate:+.3f} [{answer.ci_lo:+.3f}, {answer.ci_hi:+.3f}]",
                       "interval: normal approximation; probe accuracy as binomial over its scored answers "
                       "(probe_scores.csv keeps no per-passage predictions, so passage clustering of the probe's "
                       "errors is not in it), answer drop from the passage bootstrap", why, est=est, **keys))
    return out


# --- C3: the cliff -----------------------------------------------------------------------------------------

def c3(m: ModelInputs, s: Settings) -> list[dict]:
    regime, why = primary_regime(m.answers)
    answers = at(m.answers, regime=regime)
    fitted = at(m.stat("breakpoint"), dataset=POOLED, regime=regime)
    if fitted.empty:
        return [row("C3", m.model, R.NOT_RUN, "breakpoint.csv has no pooled row", regime=regime)]
    cond = correct_at_0_items(answers)
    # H_cond's cliff: the same breakpoint fit on the items correct at 0, where H is H_cond.
    cond_fitted = breakpoint_test(cond, group=("model", "press", "regime"), n_boot=s.n_boot_breakpoint,
                                  seed=s.seed) if len(cond) else pd.DataFrame()
    out = []
    for items, table, population in ((ALL, fitted, answers), (COND, cond_fitted, cond)):
        for press in presses(answers):
            out.append(c3_one(m.model, at(table, press=press), at(population, press=press), why, regime=regime,
                              press=press, items=items))
    return out


def c3_one(model: str, fitted: pd.DataFrame, answers: pd.DataFrame, why: str, **keys) -> dict:
    n, n_pass = len(answers), answers[["dataset", "passage_id"]].drop_duplicates().shape[0]
    if fitted.empty:
        return row("C3", model, R.INCONCLUSIVE, "no answers to fit", why, n=n, n_passages=n_pass, **keys)
    b = fitted.iloc[0]
    if text(b["reason"]):  # too few grid ratios to fit a break: this grid cannot test the claim
        return row("C3", model, R.NOT_RUN, b["reason"], why, n=n, n_passages=n_pass, **keys)
    est = Estimate(float(b["cliff_ratio"]), float(b["cliff_lo"]), float(b["cliff_hi"]), n, n_pass)
    no_rise = f", {b['share_no_rise']:.0%} of resamples show no rise" if np.isfinite(b["share_no_rise"]) else ""
    detail = f"dAIC {b['delta_aic']:.1f} ({b['cliff_model']}), LR p {b['lr_p']:.3g}{no_rise}"
    return row("C3", model, *gated(n_pass, R.c3(float(b["delta_aic"]), est.ci_lo, est.ci_hi)), detail,
               text(b["warning"]), why, est=est, **keys)


# --- C4, C5, C8: tables of the stats stage --------------------------------------------------------------------

MIN_GER_CELLS = 4  # a Fisher-z interval needs 4 cells (kvroute.stats.ger)


def c4(m: ModelInputs, s: Settings) -> list[dict]:
    regime, why = primary_regime(m.answers)
    answers = at(m.answers, regime=regime)
    table = at(m.stat("ger"), dataset=POOLED, regime=regime)
    if table.empty:
        return [row("C4", m.model, R.NOT_RUN, "ger_hallucination.csv has no pooled row", regime=regime)]
    cond = correct_at_0_items(answers)
    cond_table = ger_aggregate(cond, group=("model", "regime")) if len(cond) else pd.DataFrame()
    out = []
    for items, t, population in ((ALL, table, answers), (COND, cond_table, cond)):
        keys = dict(regime=regime, items=items)
        n_pass = population[["dataset", "passage_id"]].drop_duplicates().shape[0]
        if t.empty:
            out.append(row("C4", m.model, R.INCONCLUSIVE, "no answers", why, **keys))
            continue
        g = t.iloc[0]
        est = Estimate(float(g["pearson_r"]), float(g["pearson_lo"]), float(g["pearson_hi"]), int(g["n_cells"]),
                       n_pass)
        if g["n_cells"] < MIN_GER_CELLS:
            verdict = (R.NOT_RUN, f"the grid gives {int(g['n_cells'])} (press, ratio) cells, need {MIN_GER_CELLS}")
        elif text(g["reason"]):
            verdict = (R.INCONCLUSIVE, g["reason"])
        else:
            verdict = R.c4(est.estimate, est.ci_lo, est.ci_hi)
        spearman = (f"Spearman rho {g['spearman_rho']:.2f} [{g['spearman_lo']:.2f}, {g['spearman_hi']:.2f}]"
                    if np.isfinite(g["spearman_rho"]) else "")
        out.append(row("C4", m.model, *verdict, "n = (press, ratio) cells", spearman, why, est=est, **keys))
    return out


def c5(m: ModelInputs, s: Settings) -> list[dict]:
    regime, why = primary_regime(m.answers)
    t = at(m.stat("ger_item"), dataset=POOLED, regime=regime, term="ger")
    if t.empty:
        return [row("C5", m.model, R.NOT_RUN, "ger_item_model.csv has no pooled ger row", regime=regime)]
    g = t.iloc[0]
    est = Estimate(float(g["coef"]), float(g["ci_lo"]), float(g["ci_hi"]), g["n"], g["n_clusters"])
    verdict = R.clustered(est.ci_lo, est.ci_hi, 0.0, "above", text(g["reason"]), text(g["note"]))
    odds = f"odds ratio per unit GER {g['odds_ratio']:.3g}" if np.isfinite(g["odds_ratio"]) else ""
    return [row("C5", m.model, *verdict, odds, text(g["method"]), why, regime=regime, est=est)]


def c8(m: ModelInputs, s: Settings) -> list[dict]:
    regime, why = primary_regime(m.answers)
    t = at(m.stat("rigidity"), dataset=POOLED, regime=regime, measure="all_tokens")
    rho, cons = at(t, term="rho"), at(t, term="consensus")
    if rho.empty:
        return [row("C8", m.model, R.NOT_RUN, "rigidity.csv has no routing model (no routing measures)",
                    regime=regime)]
    # Per SD of the measure: rho spans (0, 1], so an odds ratio per unit is one across its whole range.
    g = rho.iloc[0]
    est = Estimate(float(g["odds_ratio_per_sd"]), float(g["odds_ratio_per_sd_lo"]), float(g["odds_ratio_per_sd_hi"]),
                   g["n"], g["n_clusters"])
    verdict = R.clustered(est.ci_lo, est.ci_hi, 1.0, "above", text(g["reason"]), text(g["note"]))
    c = cons.iloc[0] if len(cons) else None
    other = (f"consensus OR per SD {c['odds_ratio_per_sd']:.3g} [{c['odds_ratio_per_sd_lo']:.3g}, "
             f"{c['odds_ratio_per_sd_hi']:.3g}]") if c is not None and np.isfinite(c["odds_ratio_per_sd"]) else ""
    return [row("C8", m.model, *verdict, f"rho SD {g['sd']:.3g}" if np.isfinite(g["sd"]) else "", other, why,
                regime=regime, est=est)]


# --- C6, C7: the oracle presses --------------------------------------------------------------------------------

def oracle_value(t: pd.DataFrame, ratio: float, measure: str, arm: str | None = None) -> pd.Series | None:
    sel = t[np.isclose(t["ratio"].to_numpy(float), ratio) & (t["measure"].astype(str) == measure).to_numpy()]
    if arm is not None:
        sel = sel[sel["arm"].astype(str) == arm]
    return sel.iloc[0] if len(sel) else None


def oracle_tables(m: ModelInputs, s: Settings) -> list[tuple[str, pd.DataFrame]]:
    """(items, oracle table pooled over datasets): oracle.csv, and the same statistics on H_cond's items
    (computed once per model: C6 and C7 share it)."""
    if "oracle_cond" not in m.cache:
        cond = correct_at_0_items(m.oracle_answers)
        m.cache["oracle_cond"] = oracle_table(cond, n_boot=s.n_boot, seed=s.seed) if len(cond) else pd.DataFrame()
    return [(ALL, at(m.stat("oracle"), dataset=POOLED)), (COND, m.cache["oracle_cond"])]


def oracle_ratios(pooled: pd.DataFrame) -> list[float]:
    return sorted({ratio_key(r) for r in pooled["ratio"]} - {0.0})


def oracle_not_run(claim: str, m: ModelInputs, pooled: pd.DataFrame) -> list[dict]:
    if pooled.empty:
        return [row(claim, m.model, R.NOT_RUN, "no oracle presses in the config (study.oracle)")]
    if C6_RATIO not in oracle_ratios(pooled):
        return [row(claim, m.model, R.NOT_RUN, f"oracle ratios {oracle_ratios(pooled)} lack {C6_RATIO}")]
    return []


def oracle_groups(claim: str, m: ModelInputs, s: Settings) -> tuple[list[dict], list]:
    """(not-run rows, [(items, regime, base press, pooled oracle rows)]): what C6 and C7 judge."""
    tables = oracle_tables(m, s)
    missing = oracle_not_run(claim, m, tables[0][1])
    if missing:
        return missing, []
    return [], [(items, regime, base_press, g) for items, t in tables if len(t)
                for (regime, base_press), g in t.groupby(["regime", "base_press"])]


def c6(m: ModelInputs, s: Settings) -> list[dict]:
    out, groups = oracle_groups("C6", m, s)
    for items, regime, base_press, g in groups:
        ratios = [C6_RATIO]
        cliff = at(m.stat("breakpoint"), dataset=POOLED, regime=regime, press=base_press)
        if len(cliff) and np.isfinite(cliff["cliff_ratio"].iloc[0]):
            near = min(oracle_ratios(g), key=lambda r: abs(r - cliff["cliff_ratio"].iloc[0]))
            ratios += [near] if near != C6_RATIO else []
        for ratio in ratios:
            out.append(c6_one(m.model, g, ratio, regime=regime, press=base_press, items=items))
    return out


def c6_one(model: str, g: pd.DataFrame, ratio: float, **keys) -> dict:
    target = oracle_value(g, ratio, "effect_target")
    survival = oracle_value(g, ratio, "effect_survival")  # protect_diluted - base: minus the claimed effect
    base = oracle_value(g, ratio, "H", "base")
    quantity = f"oracle at alpha = {ratio:g}: H(target) - H(base); H(base) - H(protect_diluted) in the note"
    if target is None or survival is None or base is None:
        return row("C6", model, R.INCONCLUSIVE, "an oracle arm is missing at this ratio", quantity=quantity, **keys)
    diluted = (-survival["estimate"], -survival["ci_hi"], -survival["ci_lo"])
    est = Estimate(float(target["estimate"]), float(target["ci_lo"]), float(target["ci_hi"]), base["n"],
                   base["n_passages"])
    verdict = gated(est.n_passages, R.c6(est.ci_lo, est.ci_hi, diluted[1], diluted[2]))
    return row("C6", model, *verdict,
               f"H(base) - H(protect_diluted) = {diluted[0]:+.3f} [{diluted[1]:+.3f}, {diluted[2]:+.3f}]",
               text(target["note"]), text(survival["note"]), quantity=quantity, est=est, **keys)


def c7(m: ModelInputs, s: Settings) -> list[dict]:
    out, groups = oracle_groups("C7", m, s)
    for items, regime, base_press, g in groups:
        keys = dict(regime=regime, press=base_press, items=items)
        removed, base = oracle_value(g, C6_RATIO, "rise_removed"), oracle_value(g, C6_RATIO, "H", "base")
        if removed is None or base is None:
            out.append(row("C7", m.model, R.INCONCLUSIVE, "no protect_diluted or base answers at 0.9", **keys))
            continue
        est = Estimate(float(removed["estimate"]), float(removed["ci_lo"]), float(removed["ci_hi"]),
                       base["n"], base["n_passages"])
        rise = oracle_value(g, C6_RATIO, "rise")
        rise_text = "" if rise is None else \
            f"rise H_base(0.9) - H_base(0) = {rise['estimate']:+.3f} [{rise['ci_lo']:+.3f}, {rise['ci_hi']:+.3f}]"
        out.append(row("C7", m.model, *gated(est.n_passages, R.c7(est.ci_lo, est.ci_hi)), rise_text,
                       text(removed["note"]), est=est, **keys))
    return out


# --- C9: depth profile of consensus ---------------------------------------------------------------------------

def c9(m: ModelInputs, s: Settings) -> list[dict]:
    regime, why = primary_regime(m.answers)
    note = f"family {m.family}"
    if m.family not in R.C9_CLAIMED_SIGN:
        return [row("C9", m.model, R.NOT_RUN, f"the paper states no depth profile for family {m.family!r}",
                    regime=regime)]
    layers = at(m.layers, regime=regime)
    if layers.empty:
        return [row("C9", m.model, R.NOT_RUN, "no per-layer routing at ratio 0 (layers.parquet)", note,
                    regime=regime)]
    layers = at(layers, press=presses(layers)[0])  # ratio 0: one uncompressed cache, repeated under every press
    depth = layers["layer"].to_numpy(float) / max(float(layers["layer"].max()), 1.0)
    layers = layers.assign(half=np.where(depth < 0.5, "early", np.where(depth > 0.5, "late", "middle")))
    cm = CellMeans(layers, layers["consensus"], ["half"], s.n_boot, s.seed)
    if not cm.has("early", "late"):
        return [row("C9", m.model, R.INCONCLUSIVE, "fewer than two layers", note, regime=regime)]
    est = cm.estimate(["late", "early"], drop)
    (late, early), _ = cm.values(["late", "early"])
    claimed = "rises (> 0)" if R.C9_CLAIMED_SIGN[m.family] > 0 else "falls (< 0)"
    return [row("C9", m.model, *gated(est.n_passages, R.c9(est.ci_lo, est.ci_hi, m.family)),
                f"{note}: claimed consensus {claimed} with depth; early {early:.3f}, late {late:.3f}; "
                "n = answer x layer rows", why, regime=regime, press="(uncompressed)", est=est)]


def model_not_run(model: str, reason: str) -> list[dict]:
    """Every claim of a model the study names but that has no results: listed as not run, never dropped."""
    return [row(claim, model, R.NOT_RUN, reason) for claim in R.CLAIMS]


def c9_missing_families(families: dict[str, str]) -> list[dict]:
    """C9 speaks of two families: one without a model in the config is not run, not dropped."""
    return [row("C9", f"(no {fam} model)", R.NOT_RUN, f"no model of family {fam} in the config")
            for fam in R.C9_CLAIMED_SIGN if fam not in set(families.values())]


# --- C10: answer types ------------------------------------------------------------------------------------------

def c10(m: ModelInputs, s: Settings) -> list[dict]:
    regime, why = primary_regime(m.answers)
    answers = at(m.answers, regime=regime)
    if not has_ratio(answers, 0.0) or not has_ratio(answers, C10_RATIO) or "answer_type" not in answers:
        return [row("C10", m.model, R.NOT_RUN, f"the grid lacks ratio 0 or {C10_RATIO}", regime=regime)]
    out = []
    for items, table in item_sets(answers):
        table = table[table["answer_type"].astype(str).isin(R.C10_PAPER_RANK)]
        for press in presses(answers):
            keys = dict(regime=regime, press=press, items=items)
            sub = at(table, press=press)
            cm = CellMeans(sub, sub["f1"], ["answer_type", "ratio"], s.n_boot, s.seed) if len(sub) else None
            types = [t for t in R.C10_PAPER_RANK if cm is not None and cm.has((t, 0.0), (t, C10_RATIO))]
            if len(types) < 3:
                verdict = R.NOT_RUN if items == ALL else R.INCONCLUSIVE
                out.append(row("C10", m.model, verdict, f"{len(types)} of the paper's answer types answered at 0 "
                                                         f"and {C10_RATIO} (need 3)", why, **keys))
                continue
            drops_point, drops_boot = [], []
            for t in types:
                (a, b), (ba, bb) = cm.values([(t, 0.0), (t, C10_RATIO)])
                drops_point.append(a - b)
                drops_boot.append(ba - bb)
            rho, lo, hi = spearman_with(np.array([R.C10_PAPER_RANK[t] for t in types]), drops_point, drops_boot)
            n, n_pass = cm.counts([(t, r) for t in types for r in (0.0, C10_RATIO)])
            listing = ", ".join(f"{t} {d:+.3f}" for t, d in zip(types, drops_point))
            out.append(row("C10", m.model, *gated(n_pass, R.c10(lo, hi)), f"F1 drop by type: {listing}", why,
                           est=Estimate(rho, lo, hi, n, n_pass), **keys))
    return out


# --- C11, C12, C13: one dataset each --------------------------------------------------------------------------

def c11(m: ModelInputs, s: Settings) -> list[dict]:
    datasets = s.datasets_of("coreference", m.answers["dataset"].astype(str).unique())
    if not datasets:
        return [row("C11", m.model, R.NOT_RUN, "no coreference dataset in the config", dataset="")]
    if set(m.answers["regime"].astype(str)) != {"agnostic", "aware"}:
        return [row("C11", m.model, R.NOT_RUN, "needs both regimes (agnostic and aware)", dataset=d)
                for d in datasets]
    ratios = [r for r in C11_RATIOS if has_ratio(m.answers, r)]
    if not ratios:
        return [row("C11", m.model, R.NOT_RUN, "the grid lacks ratios 0.5 and 0.9", dataset=d) for d in datasets]
    out = []
    for dataset in datasets:
        sub = at(m.answers, dataset=dataset)
        sub = sub[np.isin(sub["ratio"].map(ratio_key), ratios)]
        idk = sub[[is_idk_gold(parse_answers(a)) for a in sub["answers"]]]
        for press in presses(sub):
            out.append(c11_one(m.model, at(idk, press=press), s, dataset=dataset, regime="agnostic vs aware",
                               press=press))
    return out


def c11_one(model: str, idk: pd.DataFrame, s: Settings, **keys) -> dict:
    if idk.empty:
        return row("C11", model, R.INCONCLUSIVE, "no 'I don't know' items", **keys)
    tests = mcnemar_table(idk, group=("model", "press", "ratio"), outcomes=("correct",))
    found = [(ratio_key(t["ratio"]), float(t["diff"]), float(t["p"]), int(t["n_pairs"])) for _, t in tests.iterrows()]
    verdict = R.c11([(r, d, p) for r, d, p, _ in found])
    # The ratio shown: the one that decided, else the highest.
    decided = [f for f in found if f[2] < R.ALPHA and (f[1] < 0) == (verdict[0] == R.SUPPORTED)]
    shown = (decided or sorted(found, key=lambda f: -f[0]) or [(np.nan,) * 4])[0]
    listing = "; ".join(f"alpha {r:g}: AWR - AGN {d:+.3f}, McNemar p {p:.3g}, {n} pairs" for r, d, p, n in found)
    if not np.isfinite(shown[0]):
        return row("C11", model, *verdict, "no paired answers", **keys)
    at_ratio = idk[np.isclose(idk["ratio"].to_numpy(float), shown[0])]
    cm = CellMeans(at_ratio, correct(at_ratio), ["regime"], s.n_boot, s.seed)
    est = cm.estimate(["aware", "agnostic"], drop)
    est.n = shown[3]
    return row("C11", model, *verdict, listing, "CI: passage bootstrap (the verdict uses McNemar p)", est=est,
               quantity=f"correct abstention on 'I don't know' items, AWR - AGN at alpha = {shown[0]:g}", **keys)


def c12(m: ModelInputs, s: Settings) -> list[dict]:
    regime, why = primary_regime(m.answers)
    datasets = s.datasets_of("hops", m.answers["dataset"].astype(str).unique())
    if not datasets:
        return [row("C12", m.model, R.NOT_RUN, "no hops dataset in the config", dataset="", regime=regime)]
    out = []
    for dataset in datasets:
        answers = at(m.answers, dataset=dataset, regime=regime)
        for items, table in item_sets(answers):
            for press in presses(answers):
                sub = at(table, press=press)
                fit = interaction(sub.assign(correct=correct(sub), hop=pd.to_numeric(sub["hop"], errors="coerce")),
                                  "correct", "hop", "ratio")
                est = Estimate(fit["coef"], fit["ci_lo"], fit["ci_hi"], fit["n"], fit["n_clusters"])
                out.append(row("C12", m.model, *R.c12(est.ci_lo, est.ci_hi, fit["reason"], fit["note"]),
                               fit["method"], why, dataset=dataset, regime=regime, press=press, items=items, est=est))
    return out


def c13(m: ModelInputs, s: Settings) -> list[dict]:
    regime, why = primary_regime(m.answers)
    datasets = s.datasets_of("multi_presence", m.answers["dataset"].astype(str).unique())
    if not datasets:
        return [row("C13", m.model, R.NOT_RUN, "no multi_presence dataset in the config", dataset="", regime=regime)]
    cells = [("FWD", 0.0), ("FWD", C13_RATIO), ("REV", 0.0), ("REV", C13_RATIO)]
    out = []
    for dataset in datasets:
        answers = at(m.answers, dataset=dataset, regime=regime)
        if not has_ratio(answers, 0.0) or not has_ratio(answers, C13_RATIO):
            out.append(row("C13", m.model, R.NOT_RUN, f"the grid lacks ratio 0 or {C13_RATIO}", dataset=dataset,
                           regime=regime))
            continue
        for items, table in item_sets(answers):
            for press in presses(answers):
                keys = dict(dataset=dataset, regime=regime, press=press, items=items)
                sub = at(table, press=press)
                cm = CellMeans(sub, sub["f1"], ["direction", "ratio"], s.n_boot, s.seed) if len(sub) else None
                if cm is None or not cm.has(*cells):
                    out.append(row("C13", m.model, R.INCONCLUSIVE, "no FWD or REV answers at 0 and 0.9", **keys))
                    continue
                est = cm.estimate(cells, lambda f0, f9, r0, r9: (f0 - f9) - (r0 - r9))
                (f0, f9, r0, r9), _ = cm.values(cells)
                out.append(row("C13", m.model, *gated(est.n_passages, R.c13(est.ci_lo, est.ci_hi)),
                               f"FWD F1 {f0:.3f} -> {f9:.3f}, REV {r0:.3f} -> {r9:.3f}", why, est=est, **keys))
    return out


CLAIM_FUNCTIONS: dict[str, Callable[[ModelInputs, Settings], list[dict]]] = {
    "C1": c1, "C2": c2, "C3": c3, "C4": c4, "C5": c5, "C6": c6, "C7": c7, "C8": c8, "C9": c9, "C10": c10,
    "C11": c11, "C12": c12, "C13": c13, "C14": c14}


def evaluate_model(m: ModelInputs, s: Settings) -> list[dict]:
    """Every claim's rows for one model, in claim order."""
    if m.answers.empty:
        return [row(c, m.model, R.NOT_RUN, "no answers for this model") for c in R.CLAIMS]
    return [r for fn in CLAIM_FUNCTIONS.values() for r in fn(m, s)]
