"""Eviction metrics per question from the exact ledger.

For a question with evidence positions T_ans and the ledger row of its
(passage, press, ratio): the shared row of that cache, or for an oracle-press
answer the row of its own question (an oracle cell steers one question's
evidence, so its cache is per question; ledger column ``qid``):

- eviction_rate:   mean GlobalEvicted over all context positions
- eviction_rate_passage: the same over the passage's tokens only
- ger:             mean GlobalEvicted over T_ans (no layer, no KV head keeps t)
- ger_all_mentions: the same over T_ans and every context span that matches a
                   gold answer string (repeated names, the aware question list)
- erased:          every t in T_ans is globally evicted (event E of paper 6.4)
- evidence_evicted_mean: mean over layers, KV heads and t in T_ans of "this
                   (layer, head) does not keep t": partial eviction, which GER
                   (all heads at once) cannot see
- ger_layer[l]:    mean over T_ans of "no KV head of layer l keeps t"
- null_ger_indep:  expected GER if each (layer, head) kept the same number of
                   entries k_{l,h} uniformly at random: P(t evicted everywhere)
                   = prod_{l,h} (1 - k_{l,h}/T), the same for every t, so it is
                   also the null eviction rate. The null erasure probability
                   (all of T_ans) is computed exactly by inclusion of draws
                   without replacement: prod_{l,h} C(T-m, k)/C(T, k).
- null_ger_span:   GER of random passage spans shaped like T_ans (same number
                   of spans, same token lengths) on the *real* ledger: what any
                   passage text of that shape suffers. Spans avoid the press's
                   always-kept sink tokens; null_erased_span is the share of
                   draws that are erased whole. Draws are seeded by passage and
                   question, so each question gets the same spans at every ratio.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
from scipy.special import gammaln

from kvroute.frames import oracle_of, present
from kvroute.inference.ledger import globally_evicted, unpack
from kvroute.metrics.common import ratio_key
from kvroute.stats.curves import ratio_of_sums

LEDGER_KEY = ("passage_id", "press", "ratio", "oracle", "qid")  # qid: None for a shared (per-passage) cache
SPAN_DRAWS = 1000  # random span placements per question for null_ger_span


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


def spans_of(positions: np.ndarray) -> list[int]:
    """Lengths of the runs of consecutive positions in sorted ``positions``."""
    if len(positions) == 0:
        return []
    breaks = np.flatnonzero(np.diff(positions) > 1)
    edges = np.concatenate([[0], breaks + 1, [len(positions)]])
    return np.diff(edges).tolist()


def span_null(evicted: np.ndarray, pool: np.ndarray, lengths: list[int], rng: np.random.Generator,
              draws: int = SPAN_DRAWS) -> tuple[float, float]:
    """(mean GER, share erased) of ``draws`` random placements of spans of ``lengths`` within ``pool``.

    ``evicted`` (T,) is GlobalEvicted; ``pool`` (T,) marks positions a span may
    cover. Each span is a run of consecutive pool positions; spans of one
    placement are drawn independently. NaN when some length fits nowhere.
    """
    ger, erased = np.zeros(draws), np.ones(draws, dtype=bool)
    total = sum(lengths)
    for m in lengths:
        # Start s is valid when pool[s:s+m] is all True: a sliding-window count.
        run = np.convolve(pool.astype(int), np.ones(m, dtype=int), mode="valid")
        starts = np.flatnonzero(run == m)
        if len(starts) == 0:
            return np.nan, np.nan
        picked = starts[rng.integers(0, len(starts), size=draws)]
        window = evicted[picked[:, None] + np.arange(m)]  # (draws, m)
        ger += window.sum(axis=1) / total
        erased &= window.all(axis=1)
    return float(ger.mean()), float(erased.mean())


def _span_rng(passage_id: str, qid: str) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(str(passage_id).encode()), zlib.crc32(str(qid).encode())])


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
        "kept_share": kept.mean(axis=(0, 1)),  # (tokens,) share of (layer, head) pairs keeping t
        "null_global": null_evicted_probability(counts, T),
        # Per layer: evicted by all heads of that layer only.
        "null_layer": np.prod(1.0 - counts / T, axis=1),
    }


def _qids(df: pd.DataFrame) -> list:
    """Each row's qid as text, None where missing (ledgers from before oracle presses have no column)."""
    if "qid" not in df.columns:
        return [None] * len(df)
    return [None if pd.isna(q) else str(q) for q in df["qid"]]


def _ledger_index(ledger: pd.DataFrame) -> dict:
    """LEDGER_KEY -> ledger row position; qid is None for a shared cache, the question for a per-question one."""
    keys = zip(ledger["passage_id"].astype(str), ledger["press"].astype(str), ratio_key(ledger["ratio"]),
               oracle_of(ledger), _qids(ledger))
    return {k: i for i, k in enumerate(keys)}


def _ledger_row(index: dict, passage_id: str, press: str, ratio: float, oracle: str, qid: str) -> int | None:
    """The question's own ledger row if it has one, else its passage's shared row."""
    i = index.get((passage_id, press, ratio, oracle, qid))
    return index.get((passage_id, press, ratio, oracle, None)) if i is None else i


def _null_pool(entry, tokens: int) -> np.ndarray | None:
    """(T,) bool: passage tokens that are not sinks; None for ledgers that predate the columns."""
    if "passage_start" not in entry or pd.isna(entry["passage_start"]):
        return None
    pool = np.zeros(tokens, dtype=bool)
    pool[int(entry["passage_start"]):int(entry["passage_end"])] = True
    pool[np.asarray(entry["sink_positions"], dtype=int)] = False
    return pool


def _positions(values, tokens: int) -> np.ndarray:
    ev = np.asarray([] if values is None else values, dtype=int)
    return np.unique(ev[(ev >= 0) & (ev < tokens)])  # positions outside the context cannot be evicted


COLUMNS = ("n_evidence", "eviction_rate", "eviction_rate_passage", "ger", "evidence_evicted_mean",
           "ger_all_mentions", "erased", "null_ger_indep", "null_erased", "null_ger_span", "null_erased_span",
           "kept_fraction_ledger")


def eviction_per_question(predictions: pd.DataFrame, ledger: pd.DataFrame):
    """Per-question eviction metrics, aligned with ``predictions`` rows.

    Returns (questions, layers): ``questions`` has the columns of
    ``predictions`` plus COLUMNS and ledger_found; ``layers`` is long
    (row, layer, ger_layer, null_ger_layer_indep) with ``row`` the predictions
    position. Questions without evidence positions get NaN GER, evidence_evicted_mean and erased.
    Oracle-press rows find their own question's ledger row (``qid`` set), base rows the shared one.
    """
    index = _ledger_index(ledger)
    cache: dict[int, dict] = {}
    out = {c: np.full(len(predictions), np.nan) for c in COLUMNS}
    found = np.zeros(len(predictions), dtype=bool)
    layer_rows = []
    keys = zip(predictions["passage_id"].astype(str), predictions["press"].astype(str),
               ratio_key(predictions["ratio"]), oracle_of(predictions))
    mentions = predictions["mention_positions"] if "mention_positions" in predictions else [None] * len(predictions)
    for row, (key, evidence, mention, qid) in enumerate(zip(keys, predictions["evidence_positions"], mentions,
                                                               predictions["qid"].astype(str))):
        i = _ledger_row(index, *key, qid)
        if i is None:
            continue
        if i not in cache:
            entry = ledger.iloc[i]
            cache[i] = ledger_stats(unpack(entry))
            cache[i]["pool"] = _null_pool(entry, cache[i]["tokens"])
        s = cache[i]
        found[row] = True
        T, evicted, pool = s["tokens"], s["global"], s["pool"]
        out["eviction_rate"][row] = evicted.mean()
        out["null_ger_indep"][row] = s["null_global"]
        out["kept_fraction_ledger"][row] = s["kept_counts"].sum() / (s["kept_counts"].size * T)
        if pool is not None and pool.any():
            out["eviction_rate_passage"][row] = evicted[pool].mean()
        ev = _positions(evidence, T)
        out["n_evidence"][row] = len(ev)
        if len(ev) == 0:
            continue
        out["ger"][row] = evicted[ev].mean()
        out["evidence_evicted_mean"][row] = 1.0 - s["kept_share"][ev].mean()
        out["erased"][row] = float(evicted[ev].all())
        out["null_erased"][row] = null_erased_probability(s["kept_counts"], T, len(ev))
        if mention is not None:
            out["ger_all_mentions"][row] = evicted[np.union1d(ev, _positions(mention, T))].mean()
        if pool is not None:
            out["null_ger_span"][row], out["null_erased_span"][row] = span_null(
                evicted, pool, spans_of(ev), _span_rng(key[0], qid))
        ger_layer = s["layer"][:, ev].mean(axis=1)
        for layer, (g, g0) in enumerate(zip(ger_layer, s["null_layer"])):
            layer_rows.append((row, layer, g, g0))
    questions = predictions.copy()
    for name, values in out.items():
        questions[name] = values
    questions["ledger_found"] = found
    layers = pd.DataFrame(layer_rows, columns=["row", "layer", "ger_layer", "null_ger_layer_indep"])
    return questions, layers


def eviction_summary(questions: pd.DataFrame, group, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per group: means of the eviction metrics and the GER excess over each null, and
    ``enrichment`` = mean ger / mean null_ger_span (rows having both) with a
    passage-bootstrap 95% interval: above 1, the press evicts evidence more
    than passage text of the same shape."""
    group = present(questions, group)
    q = questions.assign(ger_excess_indep=questions["ger"] - questions["null_ger_indep"],
                         ger_excess_span=questions["ger"] - questions["null_ger_span"])
    means = ("eviction_rate", "eviction_rate_passage", "ger", "evidence_evicted_mean", "ger_all_mentions",
             "null_ger_indep", "null_ger_span", "ger_excess_indep", "ger_excess_span", "erased", "null_erased",
             "null_erased_span")
    rows = []
    for key, sub in q.groupby(group, sort=True, dropna=False):
        both = sub[sub["ger"].notna() & sub["null_ger_span"].notna()]
        enrichment = ratio_of_sums(both, "ger", "null_ger_span", n_boot, seed) if len(both) else (np.nan,) * 3
        rows.append({**dict(zip(group, key if isinstance(key, tuple) else (key,))),
                     "n": len(sub), "n_with_evidence": int(sub["ger"].notna().sum()),
                     **{c: sub[c].mean() for c in means},
                     **dict(zip(("enrichment", "enrichment_lo", "enrichment_hi"), enrichment))})
    return pd.DataFrame(rows).rename(columns={"erased": "erased_rate"})
