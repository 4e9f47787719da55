"""Control tags for selectivity (Hewitt & Liang 2019), adapted to question probes.

Hewitt & Liang give every *word type* a random but fixed tag, drawn from the
task's empirical tag distribution; a probe that scores well on that control
task does so by memorising types, not by reading the property. Our probe
reads the last prompt token of a question, and the closest analogue of a word
type is the question's wording: generated datasets reuse templates ("Where
did she study?"), and the hidden state encodes the wording, so a probe could
learn wording -> tag by rote. ``by="question"`` (default) therefore assigns
one random tag per normalised question text. The alternative ``by="passage"``
(one tag per passage) is unlearnable under passage-disjoint splits by
construction, so it only gives a chance floor; it is kept for comparison.

Tags come from a keyed hash of (seed, type), so the same question gets the
same control tag at every ratio, press and regime, whatever rows a call sees.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from kvroute.scoring import normalize_answer


def _uniform(seed: int, key: str) -> float:
    digest = hashlib.blake2b(f"{seed}\x1f{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def type_keys(table: pd.DataFrame, by: str = "question") -> np.ndarray:
    if by == "question":
        return table["question"].map(normalize_answer).to_numpy(str)
    if by == "passage":
        return (table["dataset"].astype(str) + "/" + table["passage_id"].astype(str)).to_numpy()
    raise ValueError(f"control tags by 'question' or 'passage', not {by!r}")


def control_tags(table: pd.DataFrame, label: str = "answer_type", by: str = "question", seed: int = 0) -> np.ndarray:
    """A random but consistent tag per type, drawn from the empirical tag distribution.

    The distribution is taken over types (each type's first tag), as Hewitt &
    Liang sample per type, so frequent templates do not skew it.
    """
    keys = type_keys(table, by)
    first = pd.Series(table[label].astype(str).to_numpy()).groupby(keys).first()
    labels, counts = np.unique(first.to_numpy(str), return_counts=True)
    cdf = np.cumsum(counts) / counts.sum()
    draw = {k: labels[min(np.searchsorted(cdf, _uniform(seed, k), side="right"), len(labels) - 1)]
            for k in np.unique(keys)}
    return np.array([draw[k] for k in keys])
