"""Linear probes on stored hidden states: is the answer type still decodable?

One logistic-regression probe per (regime, press, ratio, layer) predicts the
answer-type tag from the last prompt token's hidden state. Splits are
passage-disjoint so a probe cannot memorise a passage; a majority-class
baseline is reported beside it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupShuffleSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def load_states(hidden_paths: list[str], prediction_paths: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows of every predictions table with their hidden states, aligned."""
    tables, states = [], []
    for hp, pp in zip(hidden_paths, prediction_paths, strict=True):
        table = pd.read_parquet(pp)
        with np.load(hp) as z:
            if len(z["qid"]) != len(table) or not (z["qid"] == table["qid"].to_numpy(str)).all():
                raise ValueError(f"{hp} is not aligned with {pp}")
            states.append(z["states"].astype(np.float32))
            layers = z["layers"]
        tables.append(table)
    table = pd.concat(tables, ignore_index=True)
    table.attrs["layers"] = [int(l) for l in layers]
    return table, np.concatenate(states)


def probe_one(X: np.ndarray, y: np.ndarray, groups: np.ndarray, test_fraction: float, C: float, seed: int) -> dict:
    split = GroupShuffleSplit(n_splits=1, test_size=test_fraction, random_state=seed)
    train, test = next(split.split(X, y, groups))
    if len(set(y[train])) < 2 or len(test) == 0:
        return {"n_train": len(train), "n_test": len(test), "macro_f1": np.nan, "majority_macro_f1": np.nan}
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000, class_weight="balanced"))
    probe.fit(X[train], y[train])
    majority = DummyClassifier(strategy="most_frequent").fit(X[train], y[train])
    labels = sorted(set(y))
    return {
        "n_train": len(train), "n_test": len(test),
        "macro_f1": f1_score(y[test], probe.predict(X[test]), average="macro", labels=labels, zero_division=0),
        "majority_macro_f1": f1_score(y[test], majority.predict(X[test]), average="macro", labels=labels,
                                      zero_division=0),
    }


def run_probes(table: pd.DataFrame, states: np.ndarray, test_fraction: float = 0.3, C: float = 1.0,
               seed: int = 0) -> pd.DataFrame:
    rows = []
    groups_all = (table["dataset"] + "/" + table["passage_id"]).to_numpy()
    for (model, regime, press, ratio), idx in table.groupby(["model", "regime", "press", "ratio"]).indices.items():
        y = table["answer_type"].to_numpy()[idx]
        for j, layer in enumerate(table.attrs["layers"]):
            res = probe_one(states[idx, j], y, groups_all[idx], test_fraction, C, seed)
            rows.append({"model": model, "regime": regime, "press": press, "ratio": ratio, "layer": layer,
                         "n_classes": len(set(y)), **res})
    return pd.DataFrame(rows)
