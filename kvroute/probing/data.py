"""Hidden states of every answer row, aligned with the predictions tables."""

from __future__ import annotations

import numpy as np
import pandas as pd


def load_states(hidden_paths: list[str], prediction_paths: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows of every predictions table with their hidden states, aligned."""
    tables, states, layers = [], [], None
    for hp, pp in zip(hidden_paths, prediction_paths, strict=True):
        table = pd.read_parquet(pp)
        with np.load(hp) as z:
            if len(z["qid"]) != len(table) or not (z["qid"] == table["qid"].to_numpy(str)).all():
                raise ValueError(f"{hp} is not aligned with {pp}")
            if "press" in z.files and not (z["press"] == table["press"].to_numpy(str)).all():
                raise ValueError(f"{hp} is not aligned with {pp} (press differs)")
            if layers is not None and list(z["layers"]) != list(layers):
                raise ValueError(f"{hp} stores layers {list(z['layers'])}, earlier files {list(layers)}")
            states.append(z["states"].astype(np.float32))
            layers = z["layers"]
        tables.append(table)
    table = pd.concat(tables, ignore_index=True)
    table.attrs["layers"] = [int(l) for l in layers]
    return table, np.concatenate(states)
