"""All metric tables of one model x dataset x regime, from its artifacts.

The per-answer tables (questions, layers) keep oracle-press rows, with their
metrics, for the oracle statistics; every per-cell summary is of base rows
only (kvroute.frames.base_rows): an oracle press is no cell of the grid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kvroute.artifacts import REACH_ARRAYS
from kvroute.frames import is_base, present
from kvroute.metrics.answers import answer_breakdown
from kvroute.metrics.common import CELL
from kvroute.paths import METRICS_FILES
from kvroute.metrics.consensus import routing_per_question, routing_summary
from kvroute.metrics.eviction import eviction_per_question, eviction_summary
from kvroute.intervals import wilson_interval

OUTPUTS = METRICS_FILES  # file name per table; the metrics CLI writes each under metrics/
VARIANTS = ("def2", "prefill")  # reachability variants: kvroute/inference/reachability.py


def _key(group: list[str], key) -> dict:
    return dict(zip(group, key if isinstance(key, tuple) else (key,)))


def reachability_summary(questions: pd.DataFrame, cell: list[str]) -> pd.DataFrame:
    """Per cell and variant (def2, prefill): how often T_ans is reachable, and hallucination on each side.

    Rows whose reachability is unknown (no evidence, or reachability off) are
    left out of the rates and counted in ``n_unknown``.
    """
    rows = []
    for key, g in questions.groupby(cell, sort=True, dropna=False):
        row = {**_key(cell, key), "n": len(g)}
        hallucinated = g["error_class"].astype(str).eq("hallucination")
        for v in VARIANTS:
            reach = g[f"reachable_{v}"].astype(float)
            known = reach.notna()
            yes, no = known & (reach == 1), known & (reach == 0)
            row.update({f"n_unknown_{v}": int((~known).sum()),
                        f"reachable_{v}_rate": reach[known].mean() if known.any() else np.nan,
                        f"reach_fraction_{v}": g[f"reach_fraction_{v}"][known].mean() if known.any() else np.nan,
                        f"p_F_reachable_{v}": hallucinated[yes].mean() if yes.any() else np.nan,
                        f"p_F_unreachable_{v}": hallucinated[no].mean() if no.any() else np.nan})
        rows.append(row)
    return pd.DataFrame(rows)


def leakage_table(questions: pd.DataFrame, cell: list[str]) -> pd.DataFrame:
    """Per cell: answers whose evidence is erased, and their accuracy split by reachable_prefill.

    Paper Prop. 2 assumes erased evidence left no trace in surviving tokens.
    If erased items that the prefill graph still connects to T_ans (the
    context read T_ans before compression) are answered correctly more often
    than erased items it does not connect, evidence leaked.
    """
    rows = []
    erased = questions[questions["erased"].eq(1)]
    for key, g in erased.groupby(cell, sort=True, dropna=False):
        correct = g["error_class"].astype(str).eq("correct")
        reach = g["reachable_prefill"].astype(float)
        row = {**_key(cell, key), "n_erased": len(g), "n_erased_unknown_reach": int(reach.isna().sum())}
        for side, mask in (("reachable", reach == 1), ("unreachable", reach == 0)):
            k, n = int(correct[mask].sum()), int(mask.sum())
            lo, hi = wilson_interval(k, n)
            row.update({f"n_{side}_prefill": n, f"accuracy_{side}_prefill": k / n if n else np.nan,
                        f"accuracy_{side}_prefill_lo": lo, f"accuracy_{side}_prefill_hi": hi})
        rows.append(row)
    columns = [*cell, "n_erased", "n_erased_unknown_reach"] + [
        f"{stat}_{side}_prefill{suffix}" for side in ("reachable", "unreachable")
        for stat, suffix in (("n", ""), ("accuracy", ""), ("accuracy", "_lo"), ("accuracy", "_hi"))]
    return pd.DataFrame(rows, columns=columns)


def build_metrics(scores: pd.DataFrame, ledger: pd.DataFrame, routing: dict | None) -> dict[str, pd.DataFrame]:
    """Tables keyed as OUTPUTS. ``routing`` may be None (routing tables come out empty)."""
    scores = scores.reset_index(drop=True)
    questions, ger_layers = eviction_per_question(scores, ledger)
    per_layer = ger_layers.copy()
    for name in REACH_ARRAYS:  # NA where unknown: no evidence, or reachability off; never False
        values = np.asarray(routing[name], dtype=float) if routing and name in routing else np.full(len(scores), np.nan)
        questions[name] = (pd.array(np.where(np.isnan(values), None, values == 1), dtype="boolean")
                           if name.startswith("reachable_") else values)
    base = is_base(scores)
    if routing is not None:
        route = routing_per_question(scores, routing)
        means = route.drop(columns="layer").groupby("row").mean()
        for col in ("consensus", "rho", "on_answer", "answer_mass", "consensus_content", "rho_content"):
            if col in means:
                questions[f"{col}_mean"] = means[col].reindex(np.arange(len(scores))).to_numpy()
        per_layer = route.merge(ger_layers, on=["row", "layer"], how="left")
        routing_table = routing_summary(scores, route[base[route["row"].to_numpy()]], CELL)
    else:
        routing_table = pd.DataFrame()
    cell = present(scores, CELL)
    layer_base = base[per_layer["row"].to_numpy()]
    keys = scores[cell + present(scores, ("oracle", "passage_id", "qid"))]
    per_layer = pd.concat([keys.iloc[per_layer["row"].to_numpy()].reset_index(drop=True),
                           per_layer.drop(columns="row").reset_index(drop=True)], axis=1)
    layer_ger = (per_layer[layer_base].groupby(cell + ["layer"], sort=True, dropna=False)
                 .agg(n=("ger_layer", "count"), ger_layer=("ger_layer", "mean"),
                      null_ger_layer_indep=("null_ger_layer_indep", "mean")).reset_index())
    base_questions = questions[base]
    return {
        "questions": questions,
        "layers": per_layer,
        "answers": answer_breakdown(scores[base]),
        "eviction": eviction_summary(base_questions, CELL),
        "layer_ger": layer_ger,
        "routing": routing_table,
        "reachability": reachability_summary(base_questions, cell),
        "leakage": leakage_table(base_questions, cell),
    }
