"""The four files an inference unit produces, and how units are merged.

A unit is one passage (a checkpoint), one shard (a Snakemake job) or a whole
model x dataset x regime. All use the same files, so merging is concatenation:

- predictions.parquet: one row per question x press x ratio
- hidden.npz:  states (rows, probe_layers, hidden) fp16; question_only, the same for the row's
  question asked with an empty context (the probes' baseline); layers; and the row index
- routing.npz: argmax and argmax_content (rows, layers, q_heads) int32, answer_mass fp16, and REACH_ARRAYS fp16
  (T_ans reachable from the query under paper Definition 2 and through the uncompressed
  prefill: 1, 0, or NaN when unknown; kvroute/inference/reachability.py), and the row index
- ledger.parquet: packed kept-bits per passage x press x ratio

Rows of the .npz files align with predictions.parquet (same order; qid, press
and ratio are stored alongside to check it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kvroute.io import write_npz, write_parquet
from kvroute.paths import INFER_FILES

FILES = INFER_FILES
# Reachability per row (kvroute.inference.reachability.Reach): NaN where it was not computed.
REACH_ARRAYS = ("reachable_def2", "reachable_prefill", "reach_fraction_def2", "reach_fraction_prefill")
# Arrays that are the same for every row rather than one entry per row.
SHARED_ARRAYS = {"layers"}


def paths_in(directory: str | Path) -> dict[str, Path]:
    return {key: Path(directory) / name for key, name in FILES.items()}


def _row_index(table: pd.DataFrame) -> dict[str, np.ndarray]:
    return {"qid": table["qid"].to_numpy(str), "press": table["press"].to_numpy(str),
            "ratio": table["ratio"].to_numpy(float)}


def write(outputs: dict, rows: list[dict], ledger_rows: list[dict], hidden: dict[str, np.ndarray],
          routing: dict[str, np.ndarray]) -> None:
    """Write one unit; predictions last, so its presence means the unit is complete.

    ``hidden`` and ``routing`` map array names (module docstring) to arrays with one
    entry per row of ``rows``; reachability arrays missing from ``routing`` are NaN.
    """
    table = pd.DataFrame(rows)
    if "model" in table:
        table = table[["model"] + [c for c in table.columns if c != "model"]]
    table["hop"] = table["hop"].astype("Int64")
    index = _row_index(table)
    write_npz({**hidden, **index}, outputs["hidden"])
    unknown = {name: np.full(len(table), np.nan, np.float16) for name in REACH_ARRAYS}
    write_npz({**unknown, **routing, **index}, outputs["routing"])
    write_parquet(pd.DataFrame(ledger_rows), outputs["ledger"])
    write_parquet(table, outputs["predictions"])


def merge(sources: list[dict], outputs: dict) -> None:
    """Concatenate units (in the given order) into ``outputs``, checking row alignment."""
    if not sources:
        raise ValueError("nothing to merge")
    table = pd.concat([pd.read_parquet(s["predictions"]) for s in sources], ignore_index=True)
    index = _row_index(table)
    for key in ("hidden", "routing"):
        arrays: dict[str, list] = {}
        for s in sources:
            with np.load(s[key]) as z:
                for name in z.files:
                    arrays.setdefault(name, []).append(z[name])
        merged = {n: (v[0] if n in SHARED_ARRAYS else np.concatenate(v)) for n, v in arrays.items()}
        for name, column in index.items():
            if not np.array_equal(merged[name], column):
                raise ValueError(f"{key} rows are not aligned with predictions ({name} differs)")
        write_npz(merged, outputs[key])
    write_parquet(pd.concat([pd.read_parquet(s["ledger"]) for s in sources], ignore_index=True), outputs["ledger"])
    write_parquet(table, outputs["predictions"])
