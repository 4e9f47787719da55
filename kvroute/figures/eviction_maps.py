"""Kept-position maps of one passage (paper Figs. 19-20, 36-39).

For each model x press (rows) and a low and a high compression ratio
(columns): which context positions (x) each layer x KV head (y, layer-major)
keeps, from the eviction ledger; the evidence span T_ans of one question is
outlined. Chunk presses remove contiguous runs, AdaKV scattered positions.
Only the grid's shared caches are mapped: oracle-press ledger entries
(per question, kvroute.frames.base_ledger_rows) are left out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from kvroute.figures.common import grid, legend_below, models_of, nearest, ordered, require, save, short
from kvroute.figures.style import press_color
from kvroute.frames import base_ledger_rows, base_rows
from kvroute.inference.ledger import globally_evicted, unpack

LEDGER_COLS = ["model", "passage_id", "press", "ratio", "layers", "kv_heads", "tokens", "kept_bits"]
EVIDENCE_COLS = ["passage_id", "qid", "evidence_positions"]


def _positions(value) -> np.ndarray:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return np.array([], dtype=int)
    if isinstance(value, str):
        import json

        value = json.loads(value)
    return np.asarray(list(value), dtype=int)


def pick_question(evidence: pd.DataFrame, passage_id: str, qid: str | None = None) -> tuple[str, np.ndarray]:
    """(qid, evidence positions): the given question, else the passage's first one with evidence."""
    sub = evidence[evidence["passage_id"].astype(str) == str(passage_id)].drop_duplicates("qid")
    if qid is not None:
        sub = sub[sub["qid"].astype(str) == str(qid)]
        if sub.empty:
            raise ValueError(f"question {qid!r} is not in passage {passage_id!r}")
    for row in sub.sort_values("qid").itertuples(index=False):
        pos = _positions(row.evidence_positions)
        if pos.size:
            return str(row.qid), pos
    raise ValueError(f"passage {passage_id!r} has no question with evidence positions")


def _spans(pos: np.ndarray) -> list[tuple[int, int]]:
    """Sorted positions -> contiguous [start, end] runs."""
    pos = np.unique(pos)
    if pos.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(pos) > 1)
    starts = np.r_[pos[0], pos[breaks + 1]]
    ends = np.r_[pos[breaks], pos[-1]]
    return list(zip(starts.tolist(), ends.tolist()))


def plot_eviction_maps(ledger: pd.DataFrame, evidence: pd.DataFrame, out_pdf, passage_id: str | None = None,
                       qid: str | None = None, ratios=(0.1, 0.9)) -> tuple[Path, Path]:
    """Kept maps for one passage. ``evidence``: predictions/scores rows (passage_id, qid, evidence_positions)."""
    require(ledger, LEDGER_COLS, "ledger")
    require(evidence, EVIDENCE_COLS, "evidence")
    ledger, evidence = base_ledger_rows(ledger), base_rows(evidence)
    if len(ratios) < 1:
        raise ValueError("ratios must name at least one compression ratio")
    if passage_id is None:
        passage_id = sorted(ledger["passage_id"].astype(str).unique())[0]
    led = ledger[ledger["passage_id"].astype(str) == str(passage_id)]
    if led.empty:
        raise ValueError(f"passage {passage_id!r} is not in the ledger")
    qid, pos = pick_question(evidence, passage_id, qid)
    available = sorted(led["ratio"].astype(float).round(10).unique())
    shown = nearest([r for r in available if r > 0] or available, ratios)
    models = models_of(led)
    rows = [(m, p) for m in models for p in ordered(led[led["model"] == m]["press"])]
    fig, axes = grid(len(rows), len(shown), panel_h=1.45, sharex=False, sharey=False,
                     width=3.3 if len(shown) == 1 else 6.9)
    for i, (model, press) in enumerate(rows):
        for j, ratio in enumerate(shown):
            ax = axes[i, j]
            cell = led[(led["model"] == model) & (led["press"] == press) & (led["ratio"].round(10) == ratio)]
            if cell.empty:
                ax.set_visible(False)
                continue
            kept = unpack(cell.iloc[0])  # layers x kv_heads x tokens
            n_layers, n_heads, n_tokens = kept.shape
            img = kept.reshape(n_layers * n_heads, n_tokens)
            ax.imshow(img, aspect="auto", interpolation="nearest", cmap=ListedColormap(["white", press_color(press)]),
                      vmin=0, vmax=1, extent=(-0.5, n_tokens - 0.5, n_layers * n_heads - 0.5, -0.5))
            ev = globally_evicted(kept)
            inside = pos[(pos >= 0) & (pos < n_tokens)]
            ger = float(ev[inside].mean()) if inside.size else float("nan")
            for a, b in _spans(inside):
                ax.axvspan(a - 0.5, b + 0.5, facecolor="none", edgecolor="black", lw=1.0, zorder=3)
            who = f"{short(model)} · " if len(models) > 1 else ""
            ax.set_title(f"{who}{press}, α = {ratio:g}\nglobally evicted {ev.mean():.0%}, GER {ger:.0%}")
            step = max(1, int(np.ceil(n_layers / 6)))
            ax.set_yticks([l * n_heads + (n_heads - 1) / 2 for l in range(0, n_layers, step)])
            ax.set_yticklabels([str(l) for l in range(0, n_layers, step)])
            ax.grid(False)
            ax.set_xlabel("context position" if i == len(rows) - 1 else "")
            ax.set_ylabel(f"layer (× {n_heads} KV heads)" if j == 0 else "")
    legend_below(fig, [[Patch(color="0.35", label="kept (press colour)"), Patch(color="white", ec="0.5",
                        label="evicted"), Patch(facecolor="none", edgecolor="black",
                        label=f"evidence T_ans of {qid}")]])
    title = f"passage {passage_id}" if len(models) > 1 else f"{short(models[0])}, passage {passage_id}"
    fig.suptitle(title, fontsize=8)
    return save(fig, out_pdf)
