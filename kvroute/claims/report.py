"""results/claims.csv (one row per claim x model x scope) and results/replication.md, generated from it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from kvroute.claims import base
from kvroute.claims.registry import CLAIMS
from kvroute.frames import POOLED

COLUMNS = ("claim", "model", "dataset", "regime", "press", "items", "quantity", "estimate", "ci_lo", "ci_hi", "jk_lo",
           "jk_hi", "jk_by", "n", "n_passages", "min_passages", "paper_value", "verdict", "rule", "note")
CLAIM_ORDER = {c: i for i, c in enumerate(CLAIMS)}


def claims_frame(rows: Sequence[dict]) -> pd.DataFrame:
    """The CSV's table: COLUMNS in order, rows in claim order (C1 ... C14), model order kept within a claim."""
    frame = pd.DataFrame(list(rows), columns=list(COLUMNS))
    frame["_order"] = frame["claim"].map(CLAIM_ORDER)
    return frame.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)


def number(x) -> str:
    """Three decimals for rates, correlations and drops; fewer for large values (odds ratios, counts)."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not np.isfinite(x):
        return "–"
    if x == int(x):
        return f"{x:.0f}"
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.1f}" if abs(x) >= 10 else f"{x:.3f}"


def has_interval(lo, hi) -> bool:
    """A real interval: both ends finite and apart (a zero-width band is one that could not vary)."""
    try:
        lo, hi = float(lo), float(hi)
    except (TypeError, ValueError):
        return False
    return bool(np.isfinite(lo) and np.isfinite(hi) and hi > lo)


def estimate_text(r: pd.Series) -> str:
    if not np.isfinite(float(r["estimate"])):
        return "–"
    ci = f" [{number(r['ci_lo'])}, {number(r['ci_hi'])}]" if has_interval(r["ci_lo"], r["ci_hi"]) else " (–: no CI)"
    return number(r["estimate"]) + ci


def jackknife_text(r: pd.Series) -> str:
    if not has_interval(r.get("jk_lo"), r.get("jk_hi")):
        return "–"
    return f"[{number(r['jk_lo'])}, {number(r['jk_hi'])}] (leave one {r.get('jk_by') or 'unit'} out)"


def cell_text(value) -> str:
    """Table-safe text: no pipes or newlines inside a Markdown cell."""
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else \
        str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell_text(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def verdict_cell(verdicts: pd.Series) -> str:
    """One verdict, or counts when a claim has several rows for the model (presses, datasets)."""
    counts = verdicts.value_counts()
    if counts.empty:
        return ""
    if len(counts) == 1:
        return counts.index[0] + (f" ×{counts.iloc[0]}" if counts.iloc[0] > 1 else "")
    return ", ".join(f"{v} {counts[v]}" for v in base.VERDICTS if v in counts)


def headline(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows a claim's verdict cell counts: the pooled rows where the claim also has per-dataset ones."""
    pooled = rows[rows["dataset"] == POOLED]
    return pooled if len(pooled) else rows


def verdict_table(frame: pd.DataFrame, models: Sequence[str], items: str) -> str:
    sub = frame[frame["items"] == items]
    rows = []
    for claim, c in CLAIMS.items():
        if items != "all" and not (sub["claim"] == claim).any():
            continue  # the claim has no H_cond statement
        cells = [verdict_cell(headline(sub[(sub["claim"] == claim) & (sub["model"] == m)])["verdict"])
                 for m in models]
        rows.append([f"**{claim}**", c.statement, *cells])
    return markdown_table(["claim", "statement", *models], rows)


def claim_section(frame: pd.DataFrame, claim: str) -> str:
    c = CLAIMS[claim]
    sub = frame[frame["claim"] == claim]
    rows = [[r["model"], r["dataset"], r["regime"], r["press"], r["items"], r["quantity"] if r["quantity"] !=
             c.quantity else "", estimate_text(r), jackknife_text(r),
             f"{number(r['n'])} ({number(r['n_passages'])}; {number(r.get('min_passages'))})", r["verdict"],
             r["note"]] for _, r in sub.iterrows()]
    return "\n".join([
        f"### {claim}. {c.statement}", "",
        f"- Measured: {c.quantity}",
        f"- Rule: {c.rule}",
        f"- Paper: {c.paper_value}", "",
        markdown_table(["model", "dataset", "regime", "press", "items", "quantity (if other)", "estimate [95% CI]",
                        "jackknife 95% CI", "n (passages; in the smallest dataset)", "verdict", "note"], rows), ""])


INTRO = f"""Every claim gets a verdict by a rule fixed before the data were read (one module per claim,
kvroute/claims/cNN_*.py): **supported** / **contradicted** when the 95% interval lies entirely on the claimed / the other side of the rule's threshold
(where the design names only the supported side, contradicted is its mirror image), **inconclusive** when the
interval spans the threshold or there is too little data (no interval, fewer than claims.min_passages (default
{base.MIN_PASSAGES}; the header's intervals line) passages in any dataset behind a passage-bootstrap interval, fewer than 5 passage clusters per parameter of a clustered
model), **inconclusive (not robust)** when the rule decides on the bootstrap interval but not on the jackknife's
(leave one passage out; one dataset out for rows that pool datasets), **not run** when the configuration did
not produce the claim's inputs. Intervals resample passages (stratified by dataset when datasets are pooled).
Oracle-press answers enter C6 and C7 only. "–" marks an interval that does not exist (too little data, or a
band that could not vary), with the reason in the note.

`items = correct_at_0` rows restate a degradation claim on the items the model answered correctly
uncompressed (H becomes H_cond): a small model fails many items at alpha = 0, and these rows show what
compression itself does. An `inconclusive` there with few passages means the model is too weak, or the run
too small, to decide the claim.

A verdict cell counts the rows behind it (one per press, and per regime for C14; pooled over datasets where
the claim also has per-dataset rows, which are listed in the claim's section)."""


def render(frame: pd.DataFrame, header: dict[str, str], models: Sequence[str]) -> str:
    """The Markdown report: run description, verdict tables, then one section per claim."""
    run = "\n".join(f"- {k}: {v}" for k, v in header.items())
    parts = ["# Replication report: which of the paper's claims hold", "", run, "", INTRO, "",
             "## Verdicts (all items)", "", verdict_table(frame, models, "all"), ""]
    if (frame["items"] == "correct_at_0").any():
        parts += ["## Verdicts on items correct at alpha = 0 (H_cond)", "",
                  verdict_table(frame, models, "correct_at_0"), ""]
    parts += ["## Claims", ""] + [claim_section(frame, c) for c in CLAIMS]
    return "\n".join(parts).rstrip() + "\n"
