"""Which tags (answer type, question type, direction, hop) fail differently?

Two tests per tag, each Benjamini-Hochberg corrected across the tags of one
family (one model, dataset, regime, press, ratio and tag dimension):

- tag_vs_rest: Fisher's exact test of the tag's hallucination rate against the
  other tags' at the same ratio (heterogeneity across tags).
- vs_ratio0: McNemar test of the same questions at this ratio vs ratio 0 (does
  this tag degrade yet?). Paired by item (dataset, passage, qid); ratio 0 rows
  give no test.

Each row also carries H_cond: the tag's hallucination rate among its n_cond
answers whose item was correct at ratio 0 (no test on it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import fisher_exact

from kvroute.frames import present
from kvroute.scoring import with_correct_at_0
from kvroute.intervals import wilson_interval
from kvroute.stats.multiple import bh_adjust
from kvroute.stats.paired import item_keys, mcnemar_counts

TAGS = ("answer_type", "question_type", "direction", "hop")
GROUP = ("model", "dataset", "regime", "press", "ratio")


def _base_keys(scores: pd.DataFrame, group: list[str]) -> list[str]:
    """One item under one group without ratio: what pairs an answer with its ratio-0 answer."""
    keys = [c for c in group if c != "ratio"]
    return keys + item_keys(scores, keys)


def _base_flags(scores: pd.DataFrame, group: list[str]) -> pd.Series:
    """Hallucination at ratio 0 per item (_base_keys)."""
    keys = _base_keys(scores, group)
    base = scores[np.isclose(scores["ratio"].to_numpy(float), 0.0)]
    return (base["error_class"].astype(str) == "hallucination").groupby([base[k] for k in keys]).first()


def tag_tests(scores: pd.DataFrame, tags=TAGS, group=GROUP, alpha: float = 0.05) -> pd.DataFrame:
    """Columns: *group, tag_kind, tag, n, hallucinations, hallucination_rate, wilson_lo,
    wilson_hi, n_cond, hallucination_cond_rate, rest_rate, odds_ratio, p_vs_rest, q_vs_rest,
    reject_vs_rest, rate_ratio0, p_vs_ratio0, q_vs_ratio0, reject_vs_ratio0.
    """
    group = present(scores, group)
    scores = with_correct_at_0(scores)
    base = _base_flags(scores, group)
    base_keys = _base_keys(scores, group)
    rows = []
    for key, cell in scores.groupby(group, sort=True, dropna=False):
        key = dict(zip(group, key if isinstance(key, tuple) else (key,)))
        h = (cell["error_class"].astype(str) == "hallucination").to_numpy()
        cond = cell["correct_at_0"].astype("boolean").fillna(False).to_numpy(bool)  # NA: not in H_cond
        at_zero = np.isclose(float(key.get("ratio", 0.0)), 0.0)
        for kind in present(cell, tags):
            values = cell[kind]
            family = []
            for tag in sorted(values.dropna().unique(), key=str):
                # A nullable tag column compares to <NA> where the tag is missing: not this tag.
                m = (values == tag).fillna(False).to_numpy(bool)
                k, n, k_rest, n_rest = int(h[m].sum()), int(m.sum()), int(h[~m].sum()), int((~m).sum())
                lo, hi = wilson_interval(k, n)
                n_cond = int((m & cond).sum())
                row = {**key, "tag_kind": kind, "tag": str(tag), "n": n, "hallucinations": k,
                       "hallucination_rate": k / n, "wilson_lo": lo, "wilson_hi": hi, "n_cond": n_cond,
                       "hallucination_cond_rate": float(h[m & cond].mean()) if n_cond else np.nan,
                       "rest_rate": k_rest / n_rest if n_rest else np.nan, "odds_ratio": np.nan,
                       "p_vs_rest": np.nan, "rate_ratio0": np.nan, "p_vs_ratio0": np.nan}
                if n_rest:
                    row["odds_ratio"], row["p_vs_rest"] = fisher_exact([[k, n - k], [k_rest, n_rest - k_rest]])
                if not at_zero:
                    idx = pd.MultiIndex.from_frame(cell.loc[m, base_keys].astype(object))
                    b = base.reindex(idx).to_numpy()
                    ok = pd.notna(b)
                    if ok.any():
                        row["rate_ratio0"] = float(b[ok].astype(bool).mean())
                        row["p_vs_ratio0"] = mcnemar_counts(b[ok].astype(bool), h[m][ok])["p"]
                family.append(row)
            for test in ("vs_rest", "vs_ratio0"):
                q, rej = bh_adjust([r[f"p_{test}"] for r in family], alpha)
                for r, qi, ri in zip(family, q, rej):
                    r[f"q_{test}"], r[f"reject_{test}"] = qi, bool(ri)
            rows.extend(family)
    return pd.DataFrame(rows)
