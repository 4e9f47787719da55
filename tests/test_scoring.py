import json

import pandas as pd
import pytest

from kvroute.scoring import (
    classify,
    gold_recall,
    is_abstention,
    make_tokenizer,
    normalize_answer,
    score_predictions,
    token_f1,
)


def test_normalize_strips_case_punctuation_articles_and_space():
    assert normalize_answer("  The  Eiffel-Tower, in PARIS! ") == "eiffeltower in paris"
    assert normalize_answer("An apple a day") == "apple day"
    # articles only as whole words: "theatre" and "anna" survive
    assert normalize_answer("the theatre of Anna") == "theatre of anna"
    assert normalize_answer("I don’t know") == normalize_answer("I don't know") == "i dont know"


def test_f1_articles_and_punctuation_do_not_matter():
    assert token_f1("The Paris.", "paris") == 1.0


def test_f1_partial_overlap_value():
    # pred 4 tokens, gold 2, overlap 2: P=0.5, R=1 -> F1=2/3
    assert token_f1("it is Paris France", "Paris, France") == pytest.approx(2 / 3)


def test_f1_empty_prediction_and_empty_gold():
    assert token_f1("", "Paris") == 0.0
    assert token_f1("Paris", "") == 0.0
    # gold empty after normalisation ("the") and prediction empty: SQuAD gives 1
    assert token_f1("a", "the") == 1.0
    assert token_f1("Paris", "the") == 0.0


def test_f1_and_recall_take_max_over_golds():
    golds = ["New York City", "NYC"]
    assert token_f1("NYC", golds) == 1.0
    assert gold_recall("I think it is New York", golds) == pytest.approx(2 / 3)


def test_recall_ignores_verbosity_but_f1_does_not():
    pred = "The answer, according to the passage, is Marie Curie"
    assert gold_recall(pred, "Marie Curie") == 1.0
    assert token_f1(pred, "Marie Curie") < 0.5


def test_recall_is_multiset_aware():
    # gold needs "bora" twice; prediction has it once
    assert gold_recall("bora", "Bora Bora") == 0.5
    assert gold_recall("bora bora bora", "Bora Bora") == 1.0


def test_f1_counts_repeated_tokens_once_each():
    # pred "paris paris": overlap min(2,1)=1 -> P=.5 R=1
    assert token_f1("paris paris", "paris") == pytest.approx(2 / 3)


def test_pluggable_tokenizer_is_used():
    chars = lambda s: list(s.replace(" ", ""))  # noqa: E731
    assert token_f1("pairs", "paris", tokenize=chars) == 1.0  # same letters
    assert token_f1("pairs", "paris") == 0.0
    assert make_tokenizer("whitespace") is str.split


@pytest.mark.parametrize(
    "text",
    [
        "I don't know.",
        "I do not know",
        "i DON’T KNOW",
        "Unknown",
        "The name is not mentioned in the passage.",
        "The text does not say.",
        "The passage doesn't mention where she lived.",
        "It cannot be determined from the context.",
        "There is no information about that.",
    ],
)
def test_abstention_variants(text):
    assert is_abstention(text)


@pytest.mark.parametrize("text", ["Paris", "She knows the answer", "known for painting", "Mentioned twice"])
def test_non_abstentions(text):
    assert not is_abstention(text)


def test_classify_idk_gold():
    golds = ["I don't know"]
    assert classify("I do not know.", golds, f1=0.0, recall=0.0) == "correct"
    # a confident answer to an unanswerable question is a hallucination,
    # even if it happens to share tokens with the gold string
    assert classify("I know: Paris", golds, f1=0.4, recall=1.0) == "hallucination"


def test_classify_regular_gold():
    golds = ["Paris"]
    assert classify("Paris", golds, f1=1.0, recall=1.0) == "correct"
    assert classify("long answer mentioning Paris", golds, f1=0.4, recall=1.0) == "correct"
    assert classify("I don't know", golds, f1=0.0, recall=0.0) == "unknown"
    assert classify("London", golds, f1=0.0, recall=0.0) == "hallucination"
    # threshold is inclusive and configurable
    assert classify("x", golds, f1=0.5, recall=0.0) == "correct"
    assert classify("x", golds, f1=0.5, recall=0.0, threshold=0.6) == "hallucination"


def _preds():
    return pd.DataFrame(
        {
            "qid": ["a", "b", "c", "d", "e"],
            "prediction": ["Paris.", "I don't know", "London", "I don't know", None],
            "answers": [
                json.dumps(["Paris"]),
                json.dumps(["Rome"]),
                json.dumps(["Rome", "Roma"]),
                json.dumps(["I don't know"]),
                json.dumps(["Rome"]),
            ],
        }
    )


def test_score_predictions_adds_columns():
    out = score_predictions(_preds())
    assert list(out["error_class"]) == ["correct", "unknown", "hallucination", "correct", "hallucination"]
    assert list(out["f1"]) == [1.0, 0.0, 0.0, 1.0, 0.0]
    assert out["recall"].iloc[0] == 1.0
    assert "f1" not in _preds().columns  # input not mutated


def test_score_predictions_threshold():
    df = pd.DataFrame({"prediction": ["the capital is Paris"], "answers": [json.dumps(["Paris France"])]})
    # F1 = 2*(1/3*1/2)/(1/3+1/2) = 0.4, recall = 0.5
    assert score_predictions(df)["error_class"].iloc[0] == "correct"
    assert score_predictions(df, threshold=0.6)["error_class"].iloc[0] == "hallucination"


def test_score_predictions_names_missing_columns():
    with pytest.raises(ValueError, match="answers"):
        score_predictions(pd.DataFrame({"prediction": ["x"]}))
    with pytest.raises(ValueError, match="prediction.*answers"):
        score_predictions(pd.DataFrame({"qid": ["x"]}))
    with pytest.raises(ValueError, match="predictions table is empty"):
        score_predictions(pd.DataFrame({"prediction": [], "answers": []}))
