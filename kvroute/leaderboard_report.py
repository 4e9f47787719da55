"""The press leaderboard as Markdown: one table per model, presses ranked by F1 retained, every measure with its
interval, the agreement of the accuracy and evidence orderings, and the notes that explain the gaps.

Reads the long table (kvroute.stats.leaderboard) for what the wide one drops (answers and passages behind the
ranking, every note) and the wide one (kvroute.stats.ranking.rank_table) for the order and the numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kvroute import press_specs
from kvroute.stats.ranking import at_ratio_of, ordering_agreement

# wide column -> header; the at-ratio ones get "at α" in the caption line, not in every header.
COLUMNS = {"f1_retained_at": "F1 retained", "H_at": "H", "H_cond_at": "H_cond", "break": "break",
           "ger_at": "GER", "evidence_evicted_at": "evidence evicted", "enrichment_at": "enrichment",
           "rise_removed": "rise removed", "auc": "AUC"}
# Notes that every press shares a reason for, grouped into one line per (measure, note).
NOTE_MEASURES = ("break", "ger", "evidence_evicted_mean", "enrichment", "rise_removed", "auc")


def _cell(estimate, lo, hi, digits: int = 2) -> str:
    if pd.isna(estimate):
        return "–"
    if pd.isna(lo) or pd.isna(hi):
        return f"{estimate:.{digits}f}"
    return f"{estimate:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def _agreement_line(agreement: pd.Series, at_ratio: float) -> str:
    what = (f"between the accuracy ordering (F1 retained at α = {at_ratio:g}, most kept first) and the "
            f"evidence-survival ordering (evidence_evicted_mean at α = {at_ratio:g}, least evicted first), over "
            f"{int(agreement['n_presses'])} presses")
    if np.isnan(agreement["rho"]):
        return f"Ordering agreement: Spearman ρ not defined {what} (needs 3 presses ranked on both, not all tied)."
    return f"Ordering agreement: Spearman ρ = {agreement['rho']:.2f} (p = {agreement['p']:.2g}) {what}."


def _notes(long: pd.DataFrame) -> list[str]:
    """One line per (measure, note) with the presses it applies to."""
    rows = long[long["measure"].isin(NOTE_MEASURES) & long["note"].fillna("").astype(bool)]
    lines = []
    for (measure, note), sub in rows.groupby(["measure", "note"], sort=True):
        lines.append(f"- {measure}, {', '.join(sorted(sub['press']))}: {note}")
    return lines


def _model_section(long: pd.DataFrame, wide: pd.DataFrame, agreement: pd.Series, at_ratio: float) -> list[str]:
    model, regime = wide["model"].iloc[0], wide["regime"].iloc[0]
    f1_0 = long[(long["measure"] == "f1") & np.isclose(long["ratio"], 0.0)]
    passages = int(f1_0["n_passages"].max()) if len(f1_0) else 0
    lines = [f"## {model} ({regime} regime)", "",
             f"{len(wide)} presses ranked by F1 retained at α = {at_ratio:g} (F1(α) / F1(0)); H, H_cond, GER, "
             f"evidence evicted, enrichment and rise removed at α = {at_ratio:g}; break: where H(α) bends upward; "
             f"AUC: evidence_evicted_mean as a predictor of hallucination over every α > 0. Datasets pooled, "
             f"{passages} passages; 95% passage-bootstrap intervals (passages resampled within each dataset).", "",
             "| rank | press | " + " | ".join(COLUMNS.values()) + " |",
             "|" + "---|" * (len(COLUMNS) + 2)]
    for _, r in wide.iterrows():
        rank = "–" if pd.isna(r["accuracy_rank"]) else str(int(r["accuracy_rank"]))
        # Breaks sit on grid midpoints (0.825): three decimals keep them exact.
        cells = [_cell(r[c], r[f"{c}_lo"], r[f"{c}_hi"], 3 if c == "break" else 2) for c in COLUMNS]
        lines.append(f"| {rank} | {r['press']} | " + " | ".join(cells) + " |")
    lines += ["", _agreement_line(agreement, at_ratio)]
    notes = _notes(long)
    if notes:
        lines += ["", "Notes (–: not estimable):", "", *notes]
    return lines


def _spec_text(spec: dict) -> str:
    """A press entry as a reader would build it in kvpress: CriticalKVPress(ExpectedAttentionPress(...), ...)."""
    def call(name: str, args: dict, inner: str = "") -> str:
        parts = ([inner] if inner else []) + [f"{k}={v!r}" for k, v in args.items()]
        return f"{name}({', '.join(parts)})"
    inner = call(spec["scorer"], spec.get("scorer_args", {})) if "scorer" in spec else ""
    text = call(spec["press"], spec.get("args", {}), inner)
    return f"{text}, oracle {spec['oracle']}" if "oracle" in spec else text


def presses_section(presses: dict[str, dict], ranked: list[str]) -> list[str]:
    """What each ranked name runs, and every kvpress press the run left out, each with its reason."""
    lines = ["## The presses", "", "| press | kvpress |", "|---|---|"]
    lines += [f"| {name} | `{_spec_text(presses[name])}` |" for name in ranked if name in presses]
    used = {presses[n][field] for n in ranked if n in presses for field in ("press", "scorer") if field in presses[n]}
    left = [(name, entry) for name, entry in press_specs.CATALOG.items() if name != "BasePress" and name not in used]
    lines += ["", "## kvpress presses not run", "",
              f"kvpress 0.5.5 has {len(press_specs.KVPRESS_PRESSES)} press classes; this run used {len(used)} of "
              f"them. The others, and why:", "", "| kvpress press | why not |", "|---|---|"]
    for name, entry in sorted(left, key=lambda item: (item[1].kind != "refused", item[0])):
        why = (f"{name} {entry.note}" if entry.kind == "refused"
               else f"kvroute studies it ({entry.kind}); this run's config does not list it")
        lines.append(f"| {name} | {why} |")
    return lines


def leaderboard_markdown(long: pd.DataFrame, wide: pd.DataFrame, presses: dict[str, dict] | None = None,
                         note: str = "") -> str:
    """The leaderboard page: a section per (model, regime) with its ranked table and ordering agreement.

    ``presses``: the config's press entries, for a table of what each ranked name runs and of the kvpress
    presses the run left out. ``note``: Markdown placed under the title (how the run was made, a reading).
    """
    at_ratio = at_ratio_of(long)
    agreement = ordering_agreement(wide).set_index(["model", "regime"])
    lines = ["# Press leaderboard", ""] + ([note.strip(), ""] if note.strip() else [])
    for (model, regime), sub in wide.groupby(["model", "regime"], sort=True):
        mine = long[(long["model"] == model) & (long["regime"] == regime)]
        lines += _model_section(mine, sub, agreement.loc[(model, regime)], at_ratio) + [""]
    if presses is not None:
        lines += presses_section(presses, list(dict.fromkeys(wide["press"]))) + [""]
    return "\n".join(lines).rstrip() + "\n"

