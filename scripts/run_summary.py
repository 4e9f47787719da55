#!/usr/bin/env python
"""Headline numbers of a finished run, as Markdown: what a closing note or a report quotes.

Reads results/{model}/{dataset}/{regime}/metrics/questions.parquet and
results/{model}/stats/curves.csv (and breakpoint.csv / ger_hallucination.csv
when present) and prints, per press and regime:

- reachability among answers whose evidence is erased, both variants;
- accuracy of erased answers split by reachable_prefill (the leakage test);
- GER, the span null and enrichment (passage-bootstrap 95% CI) at chosen ratios;
- H and H_cond at chosen ratios, with their passage-bootstrap bands;
- the breakpoint test and the GER-hallucination correlation, if present;
- probes against their question-only baseline, and the claims' verdicts, if present.

    python scripts/run_summary.py                          # the default config's model
    python scripts/run_summary.py --model smollm2-135m-instruct --ratios 0.5 0.9
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from kvroute import config as kvconfig
from kvroute.frames import base_rows
from kvroute.intervals import wilson_interval
from kvroute.stats.curves import ratio_of_sums

KEYS = ["press", "regime"]


def _questions(results: Path, model: str) -> pd.DataFrame:
    paths = sorted((results / model).glob("*/*/metrics/questions.parquet"))
    if not paths:
        raise SystemExit(f"no metrics/questions.parquet under {results / model}: run the workflow first")
    return base_rows(pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True))  # no oracle presses


def _pct(x: float) -> str:
    return "–" if pd.isna(x) else f"{100 * x:.0f}%"


def _ci(est: float, lo: float, hi: float, digits: int = 2) -> str:
    if pd.isna(est):
        return "–"
    return f"{est:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]" if pd.notna(lo) else f"{est:.{digits}f}"


def reachability_of_erased(q: pd.DataFrame) -> str:
    erased = q[(q["erased"] == 1) & q["reachable_prefill"].notna()]
    lines = ["| press | regime | erased answers | reachable_def2 | reachable_prefill | accuracy if prefill-reachable "
             "| accuracy if not |", "|---|---|---|---|---|---|---|"]
    for (press, regime), g in erased.groupby(KEYS):
        correct = g["error_class"].astype(str).eq("correct")
        reach = g["reachable_prefill"].astype(bool)
        cells = []
        for side in (reach, ~reach):
            k, n = int(correct[side].sum()), int(side.sum())
            lo, hi = wilson_interval(k, n)
            cells.append(f"{_ci(k / n, lo, hi)} (n={n})" if n else "–")
        lines.append(f"| {press} | {regime} | {len(g)} | {_pct(g['reachable_def2'].astype(float).mean())} | "
                     f"{_pct(reach.mean())} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def enrichment(q: pd.DataFrame, ratios: list[float], n_boot: int, seed: int) -> str:
    lines = ["| press | regime | ratio | GER | GER all mentions | span null | independent-heads null | "
             "enrichment (GER / span null) |", "|---|---|---|---|---|---|---|---|"]
    have = q[q["ger"].notna() & q["null_ger_span"].notna()]
    for (press, regime, ratio), g in have[have["ratio"].round(6).isin([round(r, 6) for r in ratios])].groupby(
            [*KEYS, "ratio"]):
        est = ratio_of_sums(g, "ger", "null_ger_span", n_boot, seed)
        lines.append(f"| {press} | {regime} | {ratio:g} | {g['ger'].mean():.3f} | {g['ger_all_mentions'].mean():.3f} | "
                     f"{g['null_ger_span'].mean():.3f} | {g['null_ger_indep'].mean():.4f} | {_ci(*est)} |")
    return "\n".join(lines)


def h_and_h_cond(curves: pd.DataFrame, ratios: list[float]) -> str:
    lines = ["| press | regime | ratio | H [95% CI] | H_cond [95% CI] | n | n_cond |", "|---|---|---|---|---|---|---|"]
    at = curves[curves["ratio"].round(6).isin([round(r, 6) for r in ratios])]
    for _, r in at.sort_values([*KEYS, "ratio"]).iterrows():
        lines.append(f"| {r['press']} | {r['regime']} | {r['ratio']:g} | "
                     f"{_ci(r['hallucination_rate'], r['hallucination_boot_lo'], r['hallucination_boot_hi'])} | "
                     f"{_ci(r['hallucination_cond_rate'], r['hallucination_cond_boot_lo'], r['hallucination_cond_boot_hi'])}"
                     f" | {r['n']} | {r['n_cond']} |")
    return "\n".join(lines)


def oracle_summary(oracle: pd.DataFrame) -> str:
    """Pooled H per arm and rise_removed, per base press, regime and ratio (stats/oracle.csv)."""
    arms = ["base", "protect", "target", "placebo", "protect_diluted"]
    o = oracle[(oracle["dataset"] == "pooled") & (oracle["ratio"] > 0)]
    lines = ["| base press | regime | ratio | " + " | ".join(f"H {a}" for a in arms) + " | rise_removed |",
             "|---|---|---|" + "---|" * (len(arms) + 1)]
    for (press, regime, ratio), g in o.groupby(["base_press", "regime", "ratio"]):
        def cell(measure, arm):
            r = g[(g["measure"] == measure) & (g["arm"] == arm)]
            return "–" if r.empty else _ci(r["estimate"].iloc[0], r["ci_lo"].iloc[0], r["ci_hi"].iloc[0])
        lines.append(f"| {press} | {regime} | {ratio:g} | " + " | ".join(cell("H", a) for a in arms)
                     + f" | {cell('rise_removed', 'protect_diluted')} |")
    return "\n".join(lines)


def predictors_summary(pred: pd.DataFrame) -> str:
    """AUC of evidence_evicted_mean and of GER for hallucination, pooled, per regime."""
    p = pred[pred["dataset"] == "pooled"]
    lines = ["| regime | term | AUC [95% CI] | AUC difference (evicted mean - GER) | n |", "|---|---|---|---|---|"]
    for _, r in p.sort_values(["regime", "term"]).iterrows():
        lines.append(f"| {r['regime']} | {r['term']} | {_ci(r['auc'], r['auc_lo'], r['auc_hi'])} | "
                     f"{_ci(r['auc_diff'], r['auc_diff_lo'], r['auc_diff_hi'])} | {r['n']} |")
    return "\n".join(lines)


def probe_summary(probe: pd.DataFrame, ratios: list[float]) -> str:
    """Probe macro-F1 against the question-only baseline (all datasets), mean over press x regime cells."""
    p = probe[(probe["dataset"].astype(str) == "all") & probe["ratio"].round(6).isin([round(r, 6) for r in ratios])]
    cols = ["macro_f1", "question_only_f1", "selectivity_over_question", "control_macro_f1", "selectivity_f1"]
    table = p.groupby(["target", "layer", "ratio"])[[c for c in cols if c in p]].mean().reset_index()
    return table.to_markdown(index=False, floatfmt=".3f")


def claims_summary(claims: pd.DataFrame, model: str) -> str:
    """Each claim's pooled verdicts over all items for this model (results/claims.csv), counted."""
    c = claims[(claims["model"] == model) & (claims["dataset"] == "pooled") & (claims["items"] == "all")]
    counts = c.groupby(["claim", "verdict"]).size().unstack(fill_value=0)
    order = sorted(counts.index, key=lambda x: int(x[1:]))
    return counts.loc[order].reset_index().to_markdown(index=False)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="config.yaml")
    p.add_argument("--model", help="default: the study's first model")
    p.add_argument("--results", default="results")
    p.add_argument("--ratios", nargs="+", type=float, default=[0.5, 0.8, 0.9, 0.95])
    a = p.parse_args(argv)
    cfg = kvconfig.load(a.config)
    model = a.model or cfg["study"]["models"][0]
    results = Path(a.results)
    q = _questions(results, model)
    stats = results / model / "stats"
    n_boot, seed = cfg["stats"]["n_boot"], cfg["seed"]
    print(f"# {model}: {len(q)} answers, datasets {', '.join(sorted(q['dataset'].unique()))}\n")
    print("## Reachability and accuracy of answers whose evidence is erased\n")
    print(reachability_of_erased(q) + "\n")
    print("## GER against its nulls\n")
    print(enrichment(q, a.ratios, n_boot, seed) + "\n")
    if (stats / "curves.csv").exists():
        print("## Hallucination: H and H_cond (items correct at ratio 0)\n")
        curves = pd.read_csv(stats / "curves.csv")
        if "dataset" in curves:  # per dataset and pooled: the headline is the pooled rows
            curves = curves[curves["dataset"] == "pooled"]
        print(h_and_h_cond(curves, a.ratios) + "\n")
    if (stats / "oracle.csv").exists() and len(oracle := pd.read_csv(stats / "oracle.csv")):
        print("## Oracle presses: H per arm at equal budget (pooled; `stats/oracle.csv`)\n")
        print(oracle_summary(oracle) + "\n")
    if (stats / "evidence_predictors.csv").exists() and len(pred := pd.read_csv(stats / "evidence_predictors.csv")):
        print("## Partial eviction vs GER as predictors of hallucination (pooled)\n")
        print(predictors_summary(pred) + "\n")
    probe_path = results / model / "probe" / "probe_scores.csv"
    if probe_path.exists() and len(probe := pd.read_csv(probe_path)):
        print(f"## Probes against the question-only baseline (`{probe_path}`, dataset = all)\n")
        print(probe_summary(probe, [0.0, *a.ratios]) + "\n")
    for name, title in (("breakpoint.csv", "Breakpoint test"), ("ger_hallucination.csv", "GER vs hallucination"),
                        ("ger_item_model.csv", "GER item-level model"),
                        ("rigidity.csv", "Rigidity: consensus and rho vs failure")):
        if (stats / name).exists():
            print(f"## {title} (`{stats / name}`)\n")
            print(pd.read_csv(stats / name).to_markdown(index=False, floatfmt=".3g") + "\n")
    if (results / "claims.csv").exists():
        print("## Claims: pooled verdicts, all items (`results/claims.csv`; rows per press and regime)\n")
        print(claims_summary(pd.read_csv(results / "claims.csv"), model) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
