"""Answer scoring: SQuAD-style token F1, gold-token recall and error classes.

Definitions: docs/definitions.md ("Error classes"). An answer is *correct* when
max(F1, recall) >= threshold, else *unknown* when the answer abstains and a
*hallucination* otherwise; when the gold itself is "I don't know", any
non-abstaining answer is a hallucination.
"""

from __future__ import annotations

import json
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from kvroute.frames import require

Tokenize = Callable[[str], list]

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_ASCII_PUNCT = set(string.punctuation)

# Abstention phrases, matched as regexes on *normalised* text (lowercase, no
# punctuation, no articles), so "I don't know." arrives as "i dont know" and
# "The text does not say" as "text does not say". Small models paraphrase
# abstentions, hence the variants; abstention only matters for answers that
# are not already correct (classify checks correctness first).
ABSTENTION_PATTERNS: tuple[str, ...] = (
    r"\bi (?:dont|do not|cannot|cant|can not) (?:know|tell|say)\b",
    r"\bunknown\b",
    r"\bnot (?:mentioned|specified|stated|provided|given|known)\b",
    r"\b(?:text|passage|context|story|document) (?:does not|doesnt|did not|didnt) "
    r"(?:say|mention|specify|state|provide|contain|include)\b",
    r"\b(?:cannot|can not|cant) be (?:determined|answered|known)\b",
    r"\bno (?:information|answer|mention)\b",
    r"\bnot enough (?:information|context)\b",
    r"\b(?:unable|impossible) to (?:determine|answer|tell|know)\b",
)
_ABSTENTION_RE = re.compile("|".join(ABSTENTION_PATTERNS))

# Canonical gold strings that mean "the passage does not answer this".
_IDK_GOLDS = frozenset({"i dont know", "i do not know"})


def normalize_answer(s: str) -> str:
    """SQuAD normalisation: lowercase, strip punctuation, drop articles, collapse spaces.

    Unicode punctuation (curly quotes, dashes) is stripped too, so "don’t"
    normalises like "don't"; model output often contains it.
    """
    if s is None:
        return ""
    s = str(s).lower()
    s = "".join(
        ch for ch in s if ch not in _ASCII_PUNCT and not unicodedata.category(ch).startswith("P")
    )
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def _as_golds(gold: str | Iterable[str]) -> list[str]:
    if isinstance(gold, str):
        return [gold]
    golds = [str(g) for g in gold]
    if not golds:
        raise ValueError("empty list of gold answers")
    return golds


def _f1(pred: list, gold: list) -> float:
    # SQuAD convention: if either side is empty, score 1 only when both are.
    if not pred or not gold:
        return float(pred == gold)
    common = sum((Counter(pred) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def _recall(pred: list, gold: list) -> float:
    if not gold:
        return float(not pred)
    # Multiset-aware: a gold token that occurs twice must occur twice.
    return sum((Counter(pred) & Counter(gold)).values()) / len(gold)


def token_f1(prediction: str, gold: str | Iterable[str], tokenize: Tokenize = str.split) -> float:
    """Token F1 between the normalised prediction and the best-matching gold."""
    pred = tokenize(normalize_answer(prediction))
    return max(_f1(pred, tokenize(normalize_answer(g))) for g in _as_golds(gold))


def gold_recall(prediction: str, gold: str | Iterable[str], tokenize: Tokenize = str.split) -> float:
    """Share of gold tokens present in the prediction (max over golds).

    Verbose small models are punished by F1's precision term; recall asks
    only whether the gold is in there.
    """
    pred = tokenize(normalize_answer(prediction))
    return max(_recall(pred, tokenize(normalize_answer(g))) for g in _as_golds(gold))


def make_tokenizer(spec: str = "whitespace") -> Tokenize:
    """Tokenizer used for matching: "whitespace" or a Hugging Face tokenizer id.

    The paper matched with the LLaMA-3 8B tokenizer for all models.
    """
    if spec == "whitespace":
        return str.split
    from transformers import AutoTokenizer  # lazy: heavy import, optional here

    tok = AutoTokenizer.from_pretrained(spec)

    def tokenize(text: str) -> list:
        if not text:
            return []
        # Leading space so the first word gets the same BPE piece as a word
        # mid-sentence ("Ġparis" either way); drop bare space markers.
        return [t for t in tok.tokenize(" " + text) if t not in ("Ġ", "▁", " ")]

    return tokenize


def is_abstention(text: str) -> bool:
    """True if the answer says "I don't know" or a close variant."""
    return bool(_ABSTENTION_RE.search(normalize_answer(text)))


def is_idk_gold(golds: str | Sequence[str]) -> bool:
    """True if the canonical (first) gold is "I don't know"."""
    return normalize_answer(_as_golds(golds)[0]) in _IDK_GOLDS


def classify(
    prediction: str,
    golds: str | Sequence[str],
    f1: float,
    recall: float,
    threshold: float = 0.5,
) -> str:
    """Error class: "correct", "unknown" or "hallucination" (docs/definitions.md)."""
    abstains = is_abstention(prediction)
    if is_idk_gold(golds):
        return "correct" if abstains else "hallucination"
    if max(f1, recall) >= threshold:
        return "correct"
    return "unknown" if abstains else "hallucination"


def parse_answers(value) -> list[str]:
    """Gold list from the `answers` column (JSON text; lists tolerated)."""
    if isinstance(value, str):
        value = json.loads(value)
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple, np.ndarray)):
        golds = [str(v) for v in value]
        if golds:
            return golds
    raise ValueError(f"cannot read gold answers from {value!r}")


REQUIRED_COLUMNS = ("prediction", "answers")


def score_predictions(
    df: pd.DataFrame, threshold: float = 0.5, tokenizer: str = "whitespace"
) -> pd.DataFrame:
    """Copy of the predictions table with columns f1, recall and error_class."""
    require(df, REQUIRED_COLUMNS, "predictions table")
    tokenize = make_tokenizer(tokenizer)
    f1s, recalls, classes = [], [], []
    for pred, answers in zip(df["prediction"], df["answers"]):
        pred = "" if pred is None or (isinstance(pred, float) and np.isnan(pred)) else str(pred)
        golds = parse_answers(answers)
        f1 = token_f1(pred, golds, tokenize)
        rec = gold_recall(pred, golds, tokenize)
        f1s.append(f1)
        recalls.append(rec)
        classes.append(classify(pred, golds, f1, rec, threshold))
    out = df.copy()
    out["f1"] = np.asarray(f1s, dtype=float)
    out["recall"] = np.asarray(recalls, dtype=float)
    out["error_class"] = pd.Series(classes, index=df.index, dtype="string")
    return out
