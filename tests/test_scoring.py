import json

import pandas as pd
import pytest

from kvroute.scoring import (
    classify,
    correct_at_0,
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
        "Unknown.",
        "It is not mentioned in the text",
        "I'm sorry, I cannot answer that",
        "The passage does not say.",
        "I don't know. Sorry.",
        "I don't know. The passage does not say.",
    ],
)
def test_abstention_variants(text):
    assert is_abstention(text)


@pytest.mark.parametrize(
    "text",
    [
        "Paris",
        "She knows the answer",
        "known for painting",
        "Mentioned twice",
        # abstention words inside an answer: the whole answer must abstain
        "an unknown species",
        "The unknown soldier",
        "Paris, but I don't know the year",
        "I don't know, but I think it is Paris",
        "I don't know. It might be Paris.",
        "Sorry.",
        "",
        "   ",
    ],
)
def test_non_abstentions(text):
    assert not is_abstention(text)


@pytest.mark.parametrize("pred", ["", "  \n ", None, float("nan")])
def test_empty_beats_every_other_class(pred):
    # even for an "I don't know" gold, generating nothing is not an abstention
    assert classify(pred, ["I don't know"], f1=0.0, recall=0.0) == "empty"
    assert classify(pred, ["Paris"], f1=0.0, recall=0.0) == "empty"
    # a gold that normalises to nothing gives F1 1 for an empty answer: still empty
    assert classify(pred, ["the"], f1=1.0, recall=1.0) == "empty"


def test_unknown_word_inside_a_wrong_answer_is_a_hallucination():
    assert classify("an unknown species", ["a tiger"], f1=0.0, recall=0.0) == "hallucination"
    assert classify("an unknown species", ["I don't know"], f1=0.0, recall=0.0) == "hallucination"


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
            "qid": ["a", "b", "c", "d", "e", "f"],
            "prediction": ["Paris.", "I don't know", "London", "I don't know", None, " "],
            "answers": [
                json.dumps(["Paris"]),
                json.dumps(["Rome"]),
                json.dumps(["Rome", "Roma"]),
                json.dumps(["I don't know"]),
                json.dumps(["Rome"]),
                json.dumps(["I don't know"]),
            ],
        }
    )


def test_score_predictions_adds_columns():
    out = score_predictions(_preds())
    assert list(out["error_class"]) == ["correct", "unknown", "hallucination", "correct", "empty", "empty"]
    assert list(out["correct_f1"]) == [True, False, False, True, False, False]
    assert list(out["f1"]) == [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    assert out["recall"].iloc[0] == 1.0
    # no ratio column: nothing to condition on
    assert out["correct_at_0"].dtype == "boolean" and out["correct_at_0"].isna().all()
    assert "f1" not in _preds().columns  # input not mutated


def test_verbose_correct_answer_is_correct_but_not_correct_f1():
    # 7 tokens once articles go, 2 of them gold: recall 1, F1 = 2 * (2/7) / (2/7 + 1) = 4/9 < 0.5
    df = pd.DataFrame({"prediction": ["The answer, according to the passage, is Marie Curie"],
                       "answers": [json.dumps(["Marie Curie"])]})
    row = score_predictions(df).iloc[0]
    assert row["recall"] == 1.0 and row["f1"] == pytest.approx(4 / 9)
    assert row["error_class"] == "correct" and not row["correct_f1"]


def _at_ratios(rows):
    """Scores table from (press, ratio, qid, error_class) tuples, one passage."""
    return pd.DataFrame([dict(model="m", dataset="d", regime="agnostic", press=p, ratio=r, passage_id="p0",
                              qid=q, error_class=c) for p, r, q, c in rows])


def test_correct_at_0_joins_ratio0_rows_ignoring_press():
    s = _at_ratios([
        ("adakv", 0.0, "q1", "correct"), ("chunk", 0.0, "q1", "correct"),
        ("adakv", 0.0, "q2", "hallucination"), ("chunk", 0.0, "q2", "hallucination"),
        ("adakv", 0.5, "q1", "hallucination"), ("chunk", 0.5, "q1", "correct"),
        ("adakv", 0.5, "q2", "correct"),
        ("snap", 0.5, "q1", "unknown"),  # a press with no ratio-0 rows of its own still gets the flag
        ("adakv", 0.5, "q3", "correct"),  # q3 was never asked at ratio 0
    ])
    flags = correct_at_0(s)
    assert flags.dtype == "boolean"
    assert flags.tolist() == [True, True, False, False, True, True, False, True, pd.NA]
    # items differ by passage too: the same qid in another passage has no ratio-0 row
    other = pd.concat([s, s.iloc[[4]].assign(passage_id="p1")], ignore_index=True)
    assert pd.isna(correct_at_0(other).iloc[-1])


def test_score_predictions_adds_correct_at_0():
    df = pd.DataFrame(dict(press=["a", "a", "a", "a"], ratio=[0.0, 0.5, 0.0, 0.5], passage_id="p",
                           qid=["q1", "q1", "q2", "q2"], prediction=["Paris", "London", "Rome", "Paris"],
                           answers=json.dumps(["Paris"])))
    out = score_predictions(df)
    assert list(out["error_class"]) == ["correct", "hallucination", "hallucination", "correct"]
    assert out["correct_at_0"].tolist() == [True, True, False, False]


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
