"""Control tags for selectivity (Hewitt & Liang 2019), adapted to question probes.

Hewitt & Liang give every *word type* a random but fixed tag, drawn from the
task's empirical tag distribution; a probe that scores well on that control
task does so by memorising types, not by reading the property. Our probe
reads the last prompt token of a question, and the closest analogue of a word
type is the question's *template*: generated datasets reuse templates ("Where
did she study?", "When was X founded?"), and the hidden state encodes the
wording, so a probe could learn template -> tag by rote.

For that control to measure anything it must be learnable: a type has to
recur in training and test folds. Folds are passage-disjoint, and most
questions name an entity of their own passage ("When was Tamiduon Consortium
founded?"), so keying tags on the full question text (``by="question"``)
gives nearly every type a single passage; its tag is then never seen in
training and the control sits at chance whatever the probe can memorise,
which inflates selectivity. ``by="masked_question"`` (default) keys on the
template instead: the passage's gold answer strings and every capitalised or
numeric token are replaced by ``[X]`` ("when was [X] founded?"), so the same
key, and the same control tag, recurs across passages. ``by="question"`` and
``by="passage"`` (one tag per passage: unlearnable under passage-disjoint
folds by construction, a chance floor) are kept for comparison.

Tags come from a keyed hash of (seed, type), so the same question gets the
same control tag at every ratio, press and regime, whatever rows a call sees.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd

from kvroute.probing.data import passage_groups
from kvroute.scoring import normalize_answer, parse_answers

KEYS = ("masked_question", "question", "passage")
MASK = "[X]"
_HOLE = "\u00a4"  # a non-word placeholder, so later passes never re-match the mask's own letters
_WORD = re.compile(r"[^\W_][\w'’-]*")
_RUN = re.compile(rf"{_HOLE}(?:[\s,.'’-]*{_HOLE})+")  # "March 25, 1989" -> one hole, not three


def _uniform(seed: int, key: str) -> float:
    digest = hashlib.blake2b(f"{seed}\x1f{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def masked_question(question: str, answers=()) -> str:
    """The question's template: answer strings, capitalised and numeric tokens -> [X], lowercased.

    The opening word is kept (unless numeric): it is capitalised by position
    ("Where", "Which"), not because it names something.
    """
    text = str(question)
    for answer in sorted({a.strip() for a in answers if a.strip()}, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(answer)}(?!\w)", _HOLE, text, flags=re.IGNORECASE)
    first = _WORD.search(text)
    start = first.end() if first and not first.group()[0].isdigit() else 0

    def hole(m: re.Match) -> str:
        word = m.group()
        return _HOLE if word[0].isupper() or word[0].isdigit() else word.lower()

    text = text[:start].lower() + _WORD.sub(hole, text[start:])
    return " ".join(_RUN.sub(_HOLE, text).split()).replace(_HOLE, MASK)


def _masked_keys(table: pd.DataFrame) -> np.ndarray:
    if "answers" not in table:
        raise ValueError("control_by='masked_question' needs the answers column (predictions or scores tables)")
    passage = passage_groups(table)
    # Every gold answer of the passage's questions (among the rows given), so a
    # question naming another question's answer is masked too.
    golds = {p: {a for v in answers for a in parse_answers(v)} for p, answers in table["answers"].groupby(passage)}
    pairs = list(zip(passage, table["question"].astype(str)))
    memo = {pq: masked_question(pq[1], golds[pq[0]]) for pq in set(pairs)}
    return np.array([memo[pq] for pq in pairs])


def type_keys(table: pd.DataFrame, by: str = "masked_question") -> np.ndarray:
    if by == "masked_question":
        return _masked_keys(table)
    if by == "question":
        return table["question"].map(normalize_answer).to_numpy(str)
    if by == "passage":
        return passage_groups(table).to_numpy()
    raise ValueError(f"control tags by one of {', '.join(KEYS)}, not {by!r}")


def control_tags(table: pd.DataFrame, label="answer_type", by: str = "masked_question", seed: int = 0) -> np.ndarray:
    """A random but consistent tag per type, drawn from the empirical tag distribution.

    ``label`` is a column of ``table`` or the labels themselves (one per row).
    The distribution is taken over types (each type's first tag), as Hewitt &
    Liang sample per type, so frequent templates do not skew it.
    """
    keys = type_keys(table, by)
    y = table[label] if isinstance(label, str) else pd.Series(label)
    first = pd.Series(np.asarray(y).astype(str)).groupby(keys).first()
    labels, counts = np.unique(first.to_numpy(str), return_counts=True)
    cdf = np.cumsum(counts) / counts.sum()
    draw = {k: labels[min(np.searchsorted(cdf, _uniform(seed, k), side="right"), len(labels) - 1)]
            for k in np.unique(keys)}
    return np.array([draw[k] for k in keys])
