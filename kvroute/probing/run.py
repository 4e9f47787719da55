"""Probes over the study grid, per-tag F1, and accessibility drift.

A probe cell is (model, dataset, regime, press, ratio, layer); dataset "all"
pools every dataset of the model (the paper probes per dataset; pooling gives
more passages). Passage groups are dataset/passage_id.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kvroute.probing.control import control_tags
from kvroute.probing.core import probe_cv, transfer_cv

LABEL = "answer_type"
CELL = ("model", "regime", "press")


def _datasets(table: pd.DataFrame, by_dataset: bool):
    """(name, row mask) pairs: every dataset alone (if asked and > 1) and "all"."""
    yield "all", np.ones(len(table), dtype=bool)
    names = sorted(table["dataset"].astype(str).unique())
    if by_dataset and len(names) > 1:
        for name in names:
            yield name, (table["dataset"].astype(str) == name).to_numpy()


def _ordered(df: pd.DataFrame) -> pd.DataFrame:
    first = [c for c in ("model", "dataset", "regime", "press", "train_ratio", "ratio", "layer") if c in df]
    return df[first + [c for c in df.columns if c not in first]]


def _groups(table: pd.DataFrame) -> np.ndarray:
    return (table["dataset"].astype(str) + "/" + table["passage_id"].astype(str)).to_numpy()


def run_probes(table: pd.DataFrame, states: np.ndarray, n_splits: int = 5, C: float = 1.0, seed: int = 0,
               control_by: str = "question", by_dataset: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scores, tags). scores: model, dataset, regime, press, ratio, layer, n, n_passages,
    n_classes, n_folds, n_scored, macro_f1, accuracy, balanced_accuracy,
    majority_accuracy, majority_macro_f1, control_accuracy, control_macro_f1,
    selectivity, selectivity_f1, reason, note. tags: the cell keys + tag, f1, support.
    """
    layers = table.attrs.get("layers", list(range(states.shape[1])))
    y_all = table[LABEL].astype(str).to_numpy()
    ctrl_all = control_tags(table, LABEL, control_by, seed)
    groups_all = _groups(table)
    rows, tag_rows = [], []
    for dataset, mask in _datasets(table, by_dataset):
        sub = table[mask]
        for key, idx in sub.groupby([*CELL, "ratio"], sort=True).indices.items():
            idx = np.flatnonzero(mask)[idx]
            y, g = y_all[idx], groups_all[idx]
            cell = {**dict(zip([*CELL, "ratio"], key)), "dataset": dataset}
            for j, layer in enumerate(layers):
                res = probe_cv(states[idx, j], y, g, ctrl_all[idx], n_splits, C, seed)
                tag_f1 = res.pop("tag_f1")
                base = {**cell, "layer": int(layer)}
                rows.append({**base, "n": len(idx), "n_passages": len(set(g)), "n_classes": len(set(y)), **res})
                support = pd.Series(y).value_counts()
                tag_rows += [{**base, "tag": t, "f1": f, "support": int(support.get(t, 0))} for t, f in tag_f1.items()]
    return _ordered(pd.DataFrame(rows)), _ordered(pd.DataFrame(tag_rows))


def drift_probes(table: pd.DataFrame, states: np.ndarray, n_splits: int = 5, C: float = 1.0, seed: int = 0,
                 train_ratio: float = 0.0, by_dataset: bool = True) -> pd.DataFrame:
    """Accessibility drift: a probe trained at ``train_ratio`` evaluated at every ratio.

    Per (model, dataset, regime, press, layer). Columns: those keys, train_ratio,
    ratio, n_scored, macro_f1, accuracy, reason. Test passages are never in the
    training fold, at any ratio.
    """
    layers = table.attrs.get("layers", list(range(states.shape[1])))
    y_all = table[LABEL].astype(str).to_numpy()
    groups_all = _groups(table)
    ratio_all = np.round(table["ratio"].to_numpy(float), 10)
    rows = []
    for dataset, mask in _datasets(table, by_dataset):
        sub = table[mask]
        for key, idx in sub.groupby(list(CELL), sort=True).indices.items():
            idx = np.flatnonzero(mask)[idx]
            base = {**dict(zip(CELL, key)), "dataset": dataset, "train_ratio": train_ratio}
            ratios = np.unique(ratio_all[idx])
            train = idx[np.isclose(ratio_all[idx], train_ratio)]
            for j, layer in enumerate(layers):
                if not len(train):
                    rows += [{**base, "layer": int(layer), "ratio": r, "n_scored": 0, "macro_f1": np.nan,
                              "accuracy": np.nan, "reason": f"no rows at ratio {train_ratio}"} for r in ratios]
                    continue
                targets = {}
                for r in ratios:
                    t = idx[ratio_all[idx] == r]
                    targets[float(r)] = (states[t, j], y_all[t], groups_all[t])
                res = transfer_cv(states[train, j], y_all[train], groups_all[train], targets, n_splits, C, seed)
                rows += [{**base, "layer": int(layer), "ratio": r, **v} for r, v in res.items()]
    return _ordered(pd.DataFrame(rows))
