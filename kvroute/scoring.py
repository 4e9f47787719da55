"""Answer scoring: SQuAD-style token F1, gold-token recall and error classes.

Definitions: docs/definitions.md ("Error classes", "H_cond"). Classes, first
match wins:

- *empty*: nothing generated (the prediction is empty or whitespace only),
  whatever the gold, even "I don't know";
- gold "I don't know": *correct* when the answer abstains, else *hallucination*;
- *correct*: max(F1, recall) >= threshold (recall forgives verbose small models);
- *unknown*: the answer abstains;
- *hallucination*: any other answer.

``correct_f1`` is the paper-faithful variant: F1 >= threshold only (for an
"I don't know" gold: abstains), never for an empty answer. ``correct_at_0``
says whether the same item was *correct* at ratio 0; H_cond is the
hallucination rate among those items.

Abstention is a property of the *whole* answer. The answer is split into
sentences (. ! ? ; newline) and each is normalised (lowercase, no
punctuation, no articles). Every sentence must be either polite filler
("sorry", "unfortunately") or match, in full::

    [filler] [subject, at most 3 words, no but/and/or] CORE [tail]

where CORE is a negated knowing/saying verb ("dont know", "cannot answer",
"does not mention"), "not" + a participle ("not mentioned", "not known"),
"cannot be determined", "no information", "not enough information",
"unable to tell", "not sure" or "unknown"; and the tail is at most six words
starting with a preposition, wh-word, pronoun or "answer"/"information"
("from the passage", "where she lived", "that question"). So "I don't know.",
"The passage does not say.", "It is not mentioned in the text" and "I'm sorry,
I cannot answer that" abstain, while "an unknown species", "The unknown
soldier" and "Paris, but I don't know the year" do not: the words around
the phrase would have to be a subject or a tail.
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

from kvroute.frames import is_base, present, require

Tokenize = Callable[[str], list]

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_ASCII_PUNCT = set(string.punctuation)

# Whole-answer abstention, matched on normalised text (see the module docstring).
_FILLER = r"(?:(?:im |i am )?sorry|unfortunately|answer)"
_SUBJECT = r"(?:(?!(?:but|and|or)\b)\w+ ){0,3}"  # "i", "it is", "the passage", "her name is"
_NEG = r"(?:dont|do not|does not|doesnt|did not|didnt|cannot|cant|can not|could not|couldnt)"
ABSTENTION_CORES: tuple[str, ...] = (
    rf"{_NEG} (?:know|tell|say|answer|determine|mention|specify|state|provide|contain|include|give)",
    r"not (?:mentioned|specified|stated|provided|given|known|clear|available|sure)",
    r"(?:cannot|can not|cant) be (?:determined|answered|known|found)",
    r"(?:no|not enough) (?:information|answer|mention|indication|details?|context)",
    r"(?:unable|impossible|not able|not possible) to (?:determine|answer|tell|know|say)",
    r"unsure",
    r"unknown",
)
_TAIL_START = (
    r"(?:in|from|by|about|on|of|for|to|with|within|regarding|based|according|given|at|as|"
    r"where|who|whom|whose|what|when|which|how|why|whether|if|"
    r"that|this|these|those|it|its|his|her|their|them|any|anything|answer|question|information)"
)
_ABSTENTION_RE = re.compile(
    rf"(?:{_FILLER} )?{_SUBJECT}(?:{'|'.join(ABSTENTION_CORES)})(?: {_TAIL_START}(?: \w+){{0,5}})?"
)
_FILLER_RE = re.compile(_FILLER)
_SENTENCES = re.compile(r"[.!?;\n]+")

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


def is_empty(text) -> bool:
    """True if nothing was generated: None, NaN, "" or whitespace only."""
    if isinstance(text, str):
        return not text.strip()
    return text is None or (np.ndim(text) == 0 and bool(pd.isna(text)))


def is_abstention(text: str) -> bool:
    """True if the whole answer abstains ("I don't know" and close variants; module docstring)."""
    if is_empty(text):
        return False
    sentences = [normalize_answer(s) for s in _SENTENCES.split(str(text))]
    sentences = [s for s in sentences if s]
    abstains = [bool(_ABSTENTION_RE.fullmatch(s)) for s in sentences]
    # Filler sentences ("Sorry.") may sit beside the abstention but are not one.
    return any(abstains) and all(a or _FILLER_RE.fullmatch(s) for a, s in zip(abstains, sentences))


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
    """Error class: "empty", "correct", "unknown" or "hallucination" (module docstring)."""
    if is_empty(prediction):
        return "empty"
    abstains = is_abstention(prediction)
    if is_idk_gold(golds):
        return "correct" if abstains else "hallucination"
    if max(f1, recall) >= threshold:
        return "correct"
    return "unknown" if abstains else "hallucination"


def is_correct_f1(prediction: str, golds: str | Sequence[str], f1: float, threshold: float = 0.5) -> bool:
    """The paper's correctness: F1 >= threshold (an "I don't know" gold: the answer abstains)."""
    if is_empty(prediction):
        return False
    if is_idk_gold(golds):
        return is_abstention(prediction)
    return f1 >= threshold


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


# One item (a question about one passage) under one model and regime; press is
# left out on purpose: ratio 0 is the uncompressed cache every press shares.
ITEM_KEYS = ("model", "dataset", "regime", "passage_id", "qid")


def correct_at_0(scores: pd.DataFrame) -> pd.Series:
    """Per row: was the same item *correct* at ratio 0 in this table? (nullable boolean)

    NA where the table has no ratio-0 row for the item (or no ratio / qid
    column at all). Items are matched on the ITEM_KEYS columns present, so an
    oracle-press row gets the flag of its item's base ratio-0 answer.
    """
    if not {"ratio", "qid", "error_class"} <= set(scores.columns):
        return pd.Series(pd.NA, index=scores.index, dtype="boolean")
    keys = present(scores, ITEM_KEYS)
    # Press is not a key, so oracle rows (same item, another press) get their base item's flag; only base
    # rows answer from the uncompressed cache.
    zero = scores[np.isclose(scores["ratio"].to_numpy(float), 0.0) & is_base(scores)]
    # Every press repeats the ratio-0 rows (same cache, same answer); "all" keeps
    # the flag well defined should they ever disagree.
    base = (zero["error_class"].astype(str) == "correct").groupby(
        [zero[k] for k in keys], dropna=False).all().rename("correct_at_0").reset_index()
    flags = scores[keys].merge(base, on=keys, how="left")["correct_at_0"]  # left merge keeps row order
    return pd.Series(flags.to_numpy(), index=scores.index, dtype="boolean")


def with_correct_at_0(scores: pd.DataFrame) -> pd.DataFrame:
    """``scores`` with a correct_at_0 column (computed if an older table lacks it)."""
    if "correct_at_0" in scores.columns:
        return scores
    return scores.assign(correct_at_0=correct_at_0(scores))


REQUIRED_COLUMNS = ("prediction", "answers")


def score_predictions(
    df: pd.DataFrame, threshold: float = 0.5, tokenizer: str = "whitespace"
) -> pd.DataFrame:
    """Copy of the predictions table with columns f1, recall, error_class, correct_f1, correct_at_0."""
    require(df, REQUIRED_COLUMNS, "predictions table")
    tokenize = make_tokenizer(tokenizer)
    rows = []
    for pred, answers in zip(df["prediction"], df["answers"]):
        pred = "" if is_empty(pred) else str(pred)
        golds = parse_answers(answers)
        f1 = token_f1(pred, golds, tokenize)
        rec = gold_recall(pred, golds, tokenize)
        rows.append((f1, rec, classify(pred, golds, f1, rec, threshold), is_correct_f1(pred, golds, f1, threshold)))
    f1s, recalls, classes, correct_f1 = zip(*rows)
    out = df.copy()
    out["f1"] = np.asarray(f1s, dtype=float)
    out["recall"] = np.asarray(recalls, dtype=float)
    out["error_class"] = pd.Series(classes, index=df.index, dtype="string")
    out["correct_f1"] = np.asarray(correct_f1, dtype=bool)
    out["correct_at_0"] = correct_at_0(out)
    return out
