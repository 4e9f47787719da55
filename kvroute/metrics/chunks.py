"""How much of what a press keeps is sinks: the share of kept KV entries at sink positions.

ExpectedAttention ranks the first ``n_sink`` (4) tokens of whatever it scores
first, and ChunkPress scores every chunk on its own and keeps
``max(1, int(chunk_length * (1 - ratio)))`` entries of each. Short chunks at
high ratios therefore keep little but sinks: with chunk_length 64 at
ratio 0.95, three entries per chunk, all of them sinks, and selection is
purely positional. This table measures it from the eviction ledger, whose
rows carry the press's sink positions (kvroute.inference.presses.sink_positions).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kvroute.inference import ledger

KEYS = ["model", "dataset", "regime", "press", "ratio"]


def sink_share(entries: pd.DataFrame) -> pd.DataFrame:
    """Per model x dataset x regime x press x ratio: kept entries, those at sink positions and their share.

    Sums over passages, layers and KV heads; oracle-press rows (if any) are left out.
    """
    if "oracle" in entries:  # base rows say "none" (empty or missing in older ledgers)
        entries = entries[entries["oracle"].isna() | entries["oracle"].isin(["", "none"])]
    rows = []
    for _, entry in entries.iterrows():
        kept = ledger.unpack(entry)
        sinks = np.asarray(entry["sink_positions"], dtype=int)
        rows.append({**{k: entry[k] for k in KEYS if k in entry}, "passage_id": entry["passage_id"],
                     "tokens": int(entry["tokens"]), "kept": int(kept.sum()),
                     "kept_sinks": int(kept[:, :, sinks].sum()) if len(sinks) else 0})
    per_passage = pd.DataFrame(rows)
    keys = [k for k in KEYS if k in per_passage]
    out = per_passage.groupby(keys, as_index=False).agg(
        passages=("passage_id", "nunique"), tokens_mean=("tokens", "mean"), kept=("kept", "sum"),
        kept_sinks=("kept_sinks", "sum"))
    out["sink_share"] = out["kept_sinks"] / out["kept"].where(out["kept"] > 0)
    return out
