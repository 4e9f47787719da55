"""What the probes read: hidden states aligned with answer rows, targets, layer views.

- load_states: states (rows, probe_layers, hidden) and, when inference stored
  them, ``question_only`` states of the same shape (the row's question asked
  with an empty context: the baseline every probe is reported against).
  Base rows only: oracle-press rows (kvroute.frames) are no cell of the grid,
  and their states are dropped with them.
- targets: the labels probed. ``answer_type`` (the paper's concept tag) is
  given away by the question wording; ``correct`` (will this cell's answer be
  scored correct?) depends on the context the compressed cache kept.
- layer_views: each probed layer, and "pooled" (paper Algorithm 2, line 4:
  z = Pool({h_l}), here the mean over the probed layers).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kvroute.frames import is_base

POOLED = "pooled"
INDEX = ("qid", "press", "ratio")  # stored beside the arrays to check row alignment (kvroute.artifacts)


def _check_aligned(z, table: pd.DataFrame, hp: str, tp: str) -> None:
    if len(z["qid"]) != len(table):
        raise ValueError(f"{hp} has {len(z['qid'])} rows, {tp} {len(table)}")
    for name in (n for n in INDEX if n in z.files):
        stored = z[name]
        if not np.array_equal(stored, table[name].to_numpy(float if stored.dtype.kind == "f" else str)):
            raise ValueError(f"{hp} is not aligned with {tp} ({name} differs)")


def load_states(hidden_paths: list[str], table_paths: list[str]) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None]:
    """(table, states, question_only): the base rows of every predictions or scores table with their states.

    Alignment is checked on every row, oracle rows included, before they are
    dropped. ``question_only`` stays fp16 (it is as large as ``states``); rows
    of files without it are NaN, and it is None when no file has it.
    """
    tables, states, qonly, layers = [], [], [], None
    for hp, tp in zip(hidden_paths, table_paths, strict=True):
        table = pd.read_parquet(tp)
        with np.load(hp) as z:
            _check_aligned(z, table, hp, tp)
            if layers is not None and list(z["layers"]) != list(layers):
                raise ValueError(f"{hp} stores layers {list(z['layers'])}, earlier files {list(layers)}")
            if "question_only" in z.files and z["question_only"].shape != z["states"].shape:
                raise ValueError(f"{hp}: question_only {z['question_only'].shape} != states {z['states'].shape}")
            base = is_base(table)
            states.append(z["states"][base].astype(np.float32))
            qonly.append(z["question_only"][base].astype(np.float16) if "question_only" in z.files else None)
            layers = z["layers"]
        tables.append(table[base])
    table = pd.concat(tables, ignore_index=True)
    table.attrs["layers"] = [int(l) for l in layers]
    question_only = None
    if any(q is not None for q in qonly):
        question_only = np.concatenate([np.full(s.shape, np.nan, np.float16) if q is None else q
                                        for q, s in zip(qonly, states)])
    return table, np.concatenate(states), question_only


def passage_groups(table: pd.DataFrame) -> pd.Series:
    """dataset/passage_id: the unit folds keep apart and control keys share answers within."""
    return table["dataset"].astype(str) + "/" + table["passage_id"].astype(str)


def targets(table: pd.DataFrame) -> dict[str, np.ndarray]:
    """Labels per target; ``correct`` only when the table is scored (has error_class)."""
    out = {"answer_type": table["answer_type"].astype(str).to_numpy()}
    if "error_class" in table:
        out["correct"] = np.where(table["error_class"].astype(str) == "correct", "correct", "incorrect")
    return out


def layer_views(states: np.ndarray, layers) -> list[tuple[str, np.ndarray]]:
    """(name, (rows, hidden) states) per probed layer, then "pooled" when more than one layer is probed.

    Layer names are text so that "pooled" shares the column with layer indices.
    """
    views = [(str(int(l)), states[:, j]) for j, l in enumerate(layers)]
    if len(views) > 1:
        views.append((POOLED, states.mean(axis=1, dtype=np.float32)))
    return views
