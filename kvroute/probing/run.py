"""Probes over the study grid, per-tag F1, and accessibility drift.

A probe cell is (model, dataset, regime, press, ratio, target, layer); dataset
"all" pools every dataset of the model (the paper probes per dataset; pooling
gives more passages). Passage groups are dataset/passage_id. Targets and layer
views (each probed layer and "pooled") are in kvroute.probing.data.

Every score comes with the question-only baseline: the same probe (same
folds, same C) on the states of the row's question asked with an empty
context. A probe that beats its control but not the question-only baseline
reads the question, not the passage.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from kvroute.probing.control import control_tags
from kvroute.probing.core import probe_cv, transfer_cv
from kvroute.probing.data import layer_views, passage_groups, targets

CELL = ("model", "regime", "press")
FIRST = ("model", "dataset", "regime", "press", "train_ratio", "ratio", "target", "layer", "n", "n_passages",
         "n_classes", "n_folds", "n_scored", "macro_f1", "question_only_f1", "selectivity_over_question")
LAST = ("question_only_reason", "reason", "note")
# Probe matrices are tiny (rows ~ 100, hidden ~ 1000): BLAS threads cost more
# than they save (0.14 s vs 0.04 s per fit, measured on 2 busy cores).
_one_thread = threadpool_limits.wrap(limits=1)


def _datasets(table: pd.DataFrame, by_dataset: bool):
    """(name, row mask) pairs: every dataset alone (if asked and > 1) and "all"."""
    yield "all", np.ones(len(table), dtype=bool)
    names = sorted(table["dataset"].astype(str).unique())
    if by_dataset and len(names) > 1:
        for name in names:
            yield name, (table["dataset"].astype(str) == name).to_numpy()


def _ordered(df: pd.DataFrame) -> pd.DataFrame:
    first = [c for c in FIRST if c in df]
    last = [c for c in LAST if c in df]
    return df[first + [c for c in df.columns if c not in first + last] + last]


def _digest(*arrays) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        a = np.ascontiguousarray(a if a is not None else [])
        h.update(repr((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.digest()


class CachedProbe:
    """probe_cv memoised on its exact inputs.

    Many cells repeat a fit: ratio-0 rows are one uncompressed cache reported
    under every press, and question-only states do not depend on press or
    ratio. Keying on the data rather than on names keeps that exact.
    """

    def __init__(self, n_splits: int, C: float, seed: int):
        self.args, self.memo = (n_splits, C, seed), {}

    def __call__(self, X: np.ndarray, y: np.ndarray, g: np.ndarray, control: np.ndarray | None = None) -> dict:
        key = _digest(X, y.astype(str), g.astype(str), None if control is None else control.astype(str))
        if key not in self.memo:
            self.memo[key] = probe_cv(X, y, g, control, *self.args)
        return dict(self.memo[key])  # callers pop and add keys


def question_only_baseline(probe: CachedProbe, Xq: np.ndarray | None, y: np.ndarray, g: np.ndarray) -> dict:
    """The same probe, same folds, on the states of the questions asked with an empty context."""
    if Xq is None or np.isnan(Xq).any():
        res = {"macro_f1": np.nan, "accuracy": np.nan,
               "reason": "hidden.npz has no question_only states" + ("" if Xq is None else " for some rows")}
    else:
        res = probe(Xq.astype(np.float32), y, g)
    return {"question_only_f1": res["macro_f1"], "question_only_accuracy": res["accuracy"],
            "question_only_reason": res["reason"]}


class ProbeTables(NamedTuple):
    scores: pd.DataFrame
    tags: pd.DataFrame
    passages: pd.DataFrame


def confusion_by_passage(y: np.ndarray, pred: np.ndarray | None, groups: np.ndarray) -> list[dict]:
    """The answer-correctness probe's out-of-fold confusion counts per passage (positive class: correct), so a
    claim can resample passages and pair the probe with the answers (kvroute.claims, C2)."""
    if pred is None:
        return []
    scored = np.array([p is not None for p in pred])
    t, p = y[scored] == "correct", pred[scored].astype(str) == "correct"
    frame = pd.DataFrame({"passage": groups[scored], "tp": t & p, "fn": t & ~p, "tn": ~t & ~p, "fp": ~t & p})
    return frame.groupby("passage", sort=True).sum().astype(int).reset_index().to_dict("records")


@_one_thread
def run_probes(table: pd.DataFrame, states: np.ndarray, n_splits: int = 5, C: float = 1.0, seed: int = 0,
               control_by: str = "masked_question", by_dataset: bool = True,
               question_only: np.ndarray | None = None) -> ProbeTables:
    """(scores, tags, passages). scores: model, dataset, regime, press, ratio, target, layer (text: index or
    "pooled"), n, n_passages, n_classes, n_folds, n_scored, macro_f1, question_only_f1,
    selectivity_over_question, accuracy, balanced_accuracy, majority_accuracy, majority_macro_f1,
    control_accuracy, control_macro_f1, selectivity, selectivity_f1, question_only_accuracy,
    question_only_reason, reason, note. tags: the cell keys + tag, f1, support. passages: the
    answer-correctness probe of every dataset together, per cell, layer and passage ("dataset/passage_id"):
    its out-of-fold tp, fn, tn, fp.
    """
    layers = table.attrs.get("layers", list(range(states.shape[1])))
    views = layer_views(states, layers)
    qviews = {} if question_only is None else dict(layer_views(question_only, layers))
    probe = CachedProbe(n_splits, C, seed)
    labels = targets(table)
    controls = {t: control_tags(table, y, control_by, seed) for t, y in labels.items()}
    groups_all = passage_groups(table).to_numpy()
    rows, tag_rows, passage_rows = [], [], []
    for dataset, mask in _datasets(table, by_dataset):
        for key, idx in table[mask].groupby([*CELL, "ratio"], sort=True).indices.items():
            idx = np.flatnonzero(mask)[idx]
            g = groups_all[idx]
            cell = {**dict(zip([*CELL, "ratio"], key)), "dataset": dataset}
            for target, y_all in labels.items():
                y = y_all[idx]
                support = pd.Series(y).value_counts()
                for layer, X in views:
                    res = probe(X[idx], y, g, controls[target][idx])
                    pred = res.pop("predictions", None)
                    if target == "correct" and dataset == "all":
                        passage_rows += [{**cell, "target": target, "layer": layer, **r}
                                         for r in confusion_by_passage(y, pred, g)]
                    res.update(question_only_baseline(probe, qviews[layer][idx] if qviews else None, y, g))
                    res["selectivity_over_question"] = res["macro_f1"] - res["question_only_f1"]
                    tag_f1 = res.pop("tag_f1")
                    base = {**cell, "target": target, "layer": layer}
                    rows.append({**base, "n": len(idx), "n_passages": len(set(g)), "n_classes": len(support), **res})
                    tag_rows += [{**base, "tag": t, "f1": f, "support": int(support.get(t, 0))}
                                 for t, f in tag_f1.items()]
    return ProbeTables(_ordered(pd.DataFrame(rows)), _ordered(pd.DataFrame(tag_rows)),
                       _ordered(pd.DataFrame(passage_rows, columns=[*CELL, "ratio", "dataset", "target", "layer",
                                                                    "passage", "tp", "fn", "tn", "fp"])))


@_one_thread
def drift_probes(table: pd.DataFrame, states: np.ndarray, n_splits: int = 5, C: float = 1.0, seed: int = 0,
                 train_ratio: float = 0.0, by_dataset: bool = True) -> pd.DataFrame:
    """Accessibility drift: a probe trained at ``train_ratio`` evaluated at every ratio.

    Per (model, dataset, regime, press, target, layer). Columns: those keys, train_ratio,
    ratio, n_scored, macro_f1, accuracy, reason. Test passages are never in the
    training fold, at any ratio.
    """
    layers = table.attrs.get("layers", list(range(states.shape[1])))
    views = layer_views(states, layers)
    labels = targets(table)
    groups_all = passage_groups(table).to_numpy()
    ratio_all = np.round(table["ratio"].to_numpy(float), 10)
    rows = []
    for dataset, mask in _datasets(table, by_dataset):
        for key, idx in table[mask].groupby(list(CELL), sort=True).indices.items():
            idx = np.flatnonzero(mask)[idx]
            ratios = np.unique(ratio_all[idx])
            train = idx[np.isclose(ratio_all[idx], train_ratio)]
            for target, y_all in labels.items():
                for layer, X in views:
                    base = {**dict(zip(CELL, key)), "dataset": dataset, "train_ratio": train_ratio,
                            "target": target, "layer": layer}
                    if not len(train):
                        rows += [{**base, "ratio": r, "n_scored": 0, "macro_f1": np.nan, "accuracy": np.nan,
                                  "reason": f"no rows at ratio {train_ratio}"} for r in ratios]
                        continue
                    tests = {float(r): idx[ratio_all[idx] == r] for r in ratios}
                    res = transfer_cv(X[train], y_all[train], groups_all[train],
                                      {r: (X[t], y_all[t], groups_all[t]) for r, t in tests.items()},
                                      n_splits, C, seed)
                    rows += [{**base, "ratio": r, **v} for r, v in res.items()]
    return _ordered(pd.DataFrame(rows))
