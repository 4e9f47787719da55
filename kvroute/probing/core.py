"""One cross-validated probe with its baselines, robust to tiny data.

Splits are passage-disjoint (StratifiedGroupKFold: no passage in both train
and test, classes spread over folds as evenly as groups allow). The probe is
a class-balanced logistic regression on standardised states. Predictions are
pooled over folds (out-of-fold), so every row is scored once. Beside it:
a majority-class baseline and the same probe trained on control tags.
Anything that cannot be estimated comes back NaN with a ``reason``.

States are rotated onto the span of the training rows (PCA keeping every
component) before the regression. That is a change of basis, not a
reduction: the L2 solution's weights lie in that span (representer theorem),
so the optimum and its predictions are the same (up to the solver's
tolerance), but with rows << hidden size each fit solves for rows x classes
weights instead of hidden x classes (1.6x faster on the default run).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

METRICS = ("macro_f1", "accuracy", "balanced_accuracy", "majority_accuracy", "majority_macro_f1",
           "control_accuracy", "control_macro_f1", "selectivity", "selectivity_f1")


def splits(y: np.ndarray, groups: np.ndarray, n_splits: int, seed: int):
    """Passage-disjoint folds; fewer folds when there are fewer passages."""
    k = min(n_splits, len(np.unique(groups)))
    if k < 2:
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "least populated class has only n members"
        return list(StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(y, y, groups))


class _Constant:
    """Stands in for a classifier when training data has one class only."""

    def __init__(self, label):
        self.label = label

    def predict(self, X):
        return np.full(len(X), self.label, dtype=object)


def rotation():
    """Standardise, then rotate onto the training rows' span (exact; module docstring)."""
    return make_pipeline(StandardScaler(), PCA())


def fit(X: np.ndarray, y: np.ndarray, C: float, seed: int = 0, rotated: bool = False):
    """The probe on raw states, or on states a fitted ``rotation()`` already transformed."""
    labels = np.unique(y)
    if len(labels) < 2:
        return _Constant(labels[0])
    logistic = LogisticRegression(C=C, max_iter=2000, class_weight="balanced", random_state=seed)
    model = logistic if rotated else Pipeline([*rotation().steps, ("logistic", logistic)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


def _majority(y: np.ndarray):
    labels, counts = np.unique(y, return_counts=True)
    return labels[np.argmax(counts)]  # ties -> first label in sort order, deterministic


def empty_result(reason: str, labels=()) -> dict:
    return {"n_folds": 0, "n_scored": 0, **{m: np.nan for m in METRICS},
            "tag_f1": {str(t): np.nan for t in labels}, "reason": reason, "note": ""}


def probe_cv(X: np.ndarray, y: np.ndarray, groups: np.ndarray, control: np.ndarray | None = None,
             n_splits: int = 5, C: float = 1.0, seed: int = 0) -> dict:
    """Out-of-fold probe scores. Returns n_folds, n_scored, METRICS, tag_f1 {tag: F1}, reason, note, and
    predictions: each row's out-of-fold prediction (None where no fold scored it)."""
    y = np.asarray(y).astype(str)
    labels = np.unique(y)
    if len(labels) < 2:
        return empty_result(f"only one class ({labels[0] if len(labels) else 'none'})", labels)
    folds = splits(y, groups, n_splits, seed)
    if not folds:
        return empty_result(f"{len(np.unique(groups))} passage(s): need 2 for a passage-disjoint split", labels)
    pred = np.full(len(y), None, dtype=object)
    major = pred.copy()
    ctrl = pred.copy()
    notes, used = set(), 0
    for train, test in folds:
        if len(np.unique(y[train])) < 2:
            notes.add("a fold had one class in training and was skipped")
            continue
        missing = set(y[test]) - set(y[train])
        if missing:
            notes.add(f"class(es) absent from a training fold: {', '.join(sorted(missing))}")
        used += 1
        rot = rotation().fit(X[train])  # one rotation serves the probe and its control
        Z, Zt = rot.transform(X[train]), rot.transform(X[test])
        pred[test] = fit(Z, y[train], C, seed, rotated=True).predict(Zt)
        major[test] = _majority(y[train])
        if control is not None:
            ctrl[test] = fit(Z, control[train], C, seed, rotated=True).predict(Zt)
    scored = np.array([p is not None for p in pred])
    if not scored.any():
        return empty_result("no fold had two classes in training", labels)
    yt, yp, ym = y[scored], pred[scored].astype(str), major[scored].astype(str)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # predicted classes absent from the test rows
        out = {"n_folds": used, "n_scored": int(scored.sum()), "reason": "", "note": "; ".join(sorted(notes)),
               "predictions": pred}
        out.update(_scores(yt, yp, ym, labels))
        if control is not None:
            ct, cp = np.asarray(control).astype(str)[scored], ctrl[scored].astype(str)
            out["control_accuracy"] = accuracy_score(ct, cp)
            out["control_macro_f1"] = f1_score(ct, cp, average="macro", labels=np.unique(ct), zero_division=0)
            out["selectivity"] = out["accuracy"] - out["control_accuracy"]
            out["selectivity_f1"] = out["macro_f1"] - out["control_macro_f1"]
    return out


def _scores(yt, yp, ym, labels) -> dict:
    return {"macro_f1": f1_score(yt, yp, average="macro", labels=labels, zero_division=0),
            "accuracy": accuracy_score(yt, yp),
            "balanced_accuracy": balanced_accuracy_score(yt, yp),
            "majority_accuracy": accuracy_score(yt, ym),
            "majority_macro_f1": f1_score(yt, ym, average="macro", labels=labels, zero_division=0),
            "control_accuracy": np.nan, "control_macro_f1": np.nan, "selectivity": np.nan, "selectivity_f1": np.nan,
            "tag_f1": dict(zip(labels, f1_score(yt, yp, average=None, labels=labels, zero_division=0)))}


def transfer_cv(X0: np.ndarray, y0: np.ndarray, g0: np.ndarray, targets: dict, n_splits: int = 5,
                C: float = 1.0, seed: int = 0) -> dict:
    """Train on (X0, y0) folds, score every target (X, y, groups) on its test-fold passages.

    Used for accessibility drift: train at ratio 0, test at every ratio, with
    the passages of a test fold never seen in training. Returns {target: dict
    with n_scored, macro_f1, accuracy, reason}.
    """
    y0 = np.asarray(y0).astype(str)
    labels = np.unique(y0)
    blank = {"n_scored": 0, "macro_f1": np.nan, "accuracy": np.nan}
    if len(labels) < 2:
        return {t: {**blank, "reason": "only one class at the training ratio"} for t in targets}
    folds = splits(y0, g0, n_splits, seed)
    if not folds:
        return {t: {**blank, "reason": "fewer than 2 passages at the training ratio"} for t in targets}
    preds = {t: np.full(len(v[1]), None, dtype=object) for t, v in targets.items()}
    for train, test in folds:
        if len(np.unique(y0[train])) < 2:
            continue
        model = fit(X0[train], y0[train], C, seed)
        test_groups = set(g0[test])
        for t, (X, _, g) in targets.items():
            rows = np.flatnonzero(np.isin(g, list(test_groups)))
            if len(rows):
                preds[t][rows] = model.predict(X[rows])
    out = {}
    for t, (_, y, _) in targets.items():
        scored = np.array([p is not None for p in preds[t]])
        if not scored.any():
            out[t] = {**blank, "reason": "no test passage of this ratio was in a usable fold"}
            continue
        yt, yp = np.asarray(y).astype(str)[scored], preds[t][scored].astype(str)
        out[t] = {"n_scored": int(scored.sum()), "reason": "",
                  "macro_f1": f1_score(yt, yp, average="macro", labels=np.union1d(labels, yt), zero_division=0),
                  "accuracy": accuracy_score(yt, yp)}
    return out
