"""All metric tables of one model x dataset x regime, from its artifacts."""

from __future__ import annotations

import numpy as np
import pandas as pd

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
}


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
        per_layer = route.merge(ger_layers, on=["row", "layer"], how="left")
        routing_table = routing_summary(scores, route, CELL)
    else:
        routing_table = pd.DataFrame()
    cell = [c for c in CELL if c in scores]
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
    }
