"""Eviction metrics per question from the exact ledger.

For a question with evidence positions T_ans and the ledger row of its
(passage, press, ratio):

- eviction_rate: mean GlobalEvicted over all context positions
- ger:           mean GlobalEvicted over T_ans (no layer, no KV head keeps t)
- erased:        every t in T_ans is globally evicted (event E of paper 6.4)
- ger_layer[l]:  mean over T_ans of "no KV head of layer l keeps t"
- null_ger:      expected GER if each (layer, head) kept the same number of
                 entries k_{l,h} uniformly at random: P(t evicted everywhere)
                 = prod_{l,h} (1 - k_{l,h}/T), the same for every t, so it is
                 also the null eviction rate. The null erasure probability
                 (all of T_ans) is computed exactly by inclusion of draws
                 without replacement: prod_{l,h} C(T-m, k)/C(T, k).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import gammaln

from kvroute.frames import present
from kvroute.ledger import globally_evicted, unpack
from kvroute.metrics.common import ratio_key

LEDGER_KEY = ("passage_id", "press", "ratio")


def null_evicted_probability(kept_counts: np.ndarray, tokens: int) -> float:
    """P(a given position is evicted by every (layer, head)) under uniform random eviction.

    kept_counts: k_{l,h}, any shape. Heads pick their k entries independently.
    """
    k = np.asarray(kept_counts, dtype=float)
    return float(np.prod(1.0 - k / tokens))


def null_erased_probability(kept_counts: np.ndarray, tokens: int, m: int) -> float:
    """P(all of m given positions are evicted by every (layer, head)), uniform random eviction.

    Per head: the k kept entries avoid m fixed positions with probability
    C(T-m, k) / C(T, k) (hypergeometric); heads are independent.
    """
    if m <= 0:
        return np.nan
    k = np.asarray(kept_counts, dtype=float).ravel()
    T = float(tokens)
    if np.any(k > T - m):
        return 0.0
    logp = (gammaln(T - m + 1) - gammaln(T - m - k + 1)) - (gammaln(T + 1) - gammaln(T - k + 1))
    return float(np.exp(logp.sum()))


def ledger_stats(kept: np.ndarray) -> dict:
    """Per-row summaries of a (layers, kv_heads, tokens) kept mask."""
    L, H, T = kept.shape
    counts = kept.sum(axis=2)
    layer_evicted = ~kept.any(axis=1)  # (layers, tokens)
    return {
        "global": globally_evicted(kept),
        "layer": layer_evicted,
        "tokens": T,
        "kept_counts": counts,
        "null_global": null_evicted_probability(counts, T),
        # Per layer: evicted by all heads of that layer only.
        "null_layer": np.prod(1.0 - counts / T, axis=1),
    }


def _ledger_index(ledger: pd.DataFrame) -> dict:
    keys = zip(ledger["passage_id"].astype(str), ledger["press"].astype(str), ratio_key(ledger["ratio"]))
    return {k: i for i, k in enumerate(keys)}


def eviction_per_question(predictions: pd.DataFrame, ledger: pd.DataFrame):
    """Per-question eviction metrics, aligned with ``predictions`` rows.

    Returns (questions, layers): ``questions`` has the columns of
    ``predictions`` plus n_evidence, eviction_rate, ger, erased, null_ger,
    null_erased, kept_fraction_ledger, ledger_found; ``layers`` is long
    (row, layer, ger_layer, null_ger_layer) with ``row`` the predictions
    position. Questions without evidence positions get NaN GER and erased.
    """
    index = _ledger_index(ledger)
    cache: dict[int, dict] = {}
    out = {c: np.full(len(predictions), np.nan) for c in
           ("n_evidence", "eviction_rate", "ger", "erased", "null_ger", "null_erased", "kept_fraction_ledger")}
    found = np.zeros(len(predictions), dtype=bool)
    layer_rows = []
    keys = zip(predictions["passage_id"].astype(str), predictions["press"].astype(str),
               ratio_key(predictions["ratio"]))
    for row, (key, evidence) in enumerate(zip(keys, predictions["evidence_positions"])):
        i = index.get(key)
        if i is None:
            continue
        if i not in cache:
            cache[i] = ledger_stats(unpack(ledger.iloc[i]))
        s = cache[i]
        found[row] = True
        T = s["tokens"]
        out["eviction_rate"][row] = s["global"].mean()
        out["null_ger"][row] = s["null_global"]
        out["kept_fraction_ledger"][row] = s["kept_counts"].sum() / (s["kept_counts"].size * T)
        ev = np.asarray([] if evidence is None else evidence, dtype=int)
        ev = np.unique(ev[(ev >= 0) & (ev < T)])  # positions outside the context cannot be evicted
        out["n_evidence"][row] = len(ev)
        if len(ev) == 0:
            continue
        out["ger"][row] = s["global"][ev].mean()
        out["erased"][row] = float(s["global"][ev].all())
        out["null_erased"][row] = null_erased_probability(s["kept_counts"], T, len(ev))
        ger_layer = s["layer"][:, ev].mean(axis=1)
        for layer, (g, g0) in enumerate(zip(ger_layer, s["null_layer"])):
            layer_rows.append((row, layer, g, g0))
    questions = predictions.copy()
    for name, values in out.items():
        questions[name] = values
    questions["ledger_found"] = found
    layers = pd.DataFrame(layer_rows, columns=["row", "layer", "ger_layer", "null_ger_layer"])
    return questions, layers


def eviction_summary(questions: pd.DataFrame, group) -> pd.DataFrame:
    """Means per group: eviction_rate, ger, null_ger, erased_rate, ger_excess (ger - null_ger)."""
    group = present(questions, group)
    q = questions.assign(ger_excess=questions["ger"] - questions["null_ger"])
    agg = q.groupby(group, sort=True, dropna=False).agg(
        n=("ger", "size"), n_with_evidence=("ger", "count"), eviction_rate=("eviction_rate", "mean"),
        ger=("ger", "mean"), null_ger=("null_ger", "mean"), ger_excess=("ger_excess", "mean"),
        erased_rate=("erased", "mean"), null_erased=("null_erased", "mean"))
    return agg.reset_index()
