"""All metric tables of one model x dataset x regime, from its artifacts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kvroute.frames import present
from kvroute.metrics.answers import answer_breakdown
from kvroute.metrics.common import CELL
from kvroute.metrics.consensus import routing_per_question, routing_summary
from kvroute.metrics.erasure import erasure_table
from kvroute.metrics.eviction import eviction_per_question, eviction_summary

# File name -> what it holds; the metrics CLI writes each under metrics/.
OUTPUTS = {
    "questions": "questions.parquet",  # one row per answer: scores + eviction + mean routing
    "layers": "layers.parquet",        # one row per answer x layer: per-layer GER and routing
    "answers": "answers.csv",          # F1 / recall / error classes by tag
    "eviction": "eviction.csv",        # eviction rate, GER, null GER, erasure rate per cell
    "layer_ger": "layer_ger.csv",      # per-layer GER per cell x layer
    "routing": "routing.csv",          # consensus, rho, answer mass per cell x layer
    "erasure": "erasure.csv",          # Pr(F|E), Pr(E), Pr(F|not E) per cell
    "reachability": "reachability.csv",  # share of answers whose evidence the query can reach, per cell
}


def reachability_summary(questions: pd.DataFrame, cell: list[str]) -> pd.DataFrame:
    """Per cell: how often T_ans is reachable and hallucination on each side.

    Reachability is a variant of paper Definition 2 (context edges from the
    uncompressed prefill); see docs/definitions.md.
    """
    if "reachable" not in questions:
        return pd.DataFrame(columns=[*cell, "n", "reachable_rate", "reach_fraction", "p_F_reachable",
                                     "p_F_unreachable"])
    q = questions[questions["n_evidence"] > 0].assign(F=lambda d: d["error_class"].eq("hallucination"))
    rows = []
    for key, g in q.groupby(cell, sort=True, dropna=False):
        reach = g["reachable"].astype(bool)
        rows.append({**dict(zip(cell, key if isinstance(key, tuple) else (key,))), "n": len(g),
                     "reachable_rate": reach.mean(), "reach_fraction": g["reach_fraction"].mean(),
                     "p_F_reachable": g.loc[reach, "F"].mean() if reach.any() else np.nan,
                     "p_F_unreachable": g.loc[~reach, "F"].mean() if (~reach).any() else np.nan})
    return pd.DataFrame(rows)


def build_metrics(scores: pd.DataFrame, ledger: pd.DataFrame, routing: dict | None) -> dict[str, pd.DataFrame]:
    """Tables keyed as OUTPUTS. ``routing`` may be None (routing tables come out empty)."""
    scores = scores.reset_index(drop=True)
    questions, ger_layers = eviction_per_question(scores, ledger)
    per_layer = ger_layers.copy()
    if routing is not None:
        route = routing_per_question(scores, routing)
        means = route.drop(columns="layer").groupby("row").mean()
        for col in ("consensus", "rho", "on_answer", "answer_mass"):
            questions[f"{col}_mean"] = means[col].reindex(np.arange(len(scores))).to_numpy()
        if "reachable" in routing:
            questions["reachable"] = np.asarray(routing["reachable"], dtype=bool)
            questions["reach_fraction"] = np.asarray(routing["reach_fraction"], dtype=float)
        per_layer = route.merge(ger_layers, on=["row", "layer"], how="left")
        routing_table = routing_summary(scores, route, CELL)
    else:
        routing_table = pd.DataFrame()
    cell = present(scores, CELL)
    keys = scores[cell + [c for c in ("passage_id", "qid") if c in scores]]
    per_layer = pd.concat([keys.iloc[per_layer["row"].to_numpy()].reset_index(drop=True),
                           per_layer.drop(columns="row").reset_index(drop=True)], axis=1)
    layer_ger = (per_layer.groupby(cell + ["layer"], sort=True, dropna=False)
                 .agg(n=("ger_layer", "count"), ger_layer=("ger_layer", "mean"),
                      null_ger_layer=("null_ger_layer", "mean")).reset_index())
    return {
        "questions": questions,
        "layers": per_layer,
        "answers": answer_breakdown(scores),
        "eviction": eviction_summary(questions, CELL),
        "layer_ger": layer_ger,
        "routing": routing_table,
        "erasure": erasure_table(questions, CELL),
        "reachability": reachability_summary(questions, cell),
    }
