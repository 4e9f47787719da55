"""Synthetic QA generators: determinism, the record contract, and the shape
promised by the paper's Table 1 (sizes) and section 3.1 (design)."""

import copy
import json

import pytest

from kvroute.datasets import (
    GENERATORS, IDK, dataset_stats, generate, load_jsonl, validate_record, write_jsonl,
)
from kvroute.datasets.pools import pool
from kvroute.datasets.schema import mentions

REQUIRED = ["base", "knowledge_manipulation", "coreference", "multi_entity"]
# words per passage: hard bounds for every passage, target band for the mean
WORD_BOUNDS = {
    "base": ((150, 200), (165, 185)),
    "knowledge_manipulation": ((20, 45), (26, 36)),
    "coreference": ((32, 55), (38, 48)),
    "multi_entity": ((400, 600), (450, 550)),
}
QUESTIONS = {"base": 6, "knowledge_manipulation": 13, "coreference": 9, "multi_entity": 10}
SEEDS = [0, 1, 12345]


@pytest.fixture(scope="module")
def corpora():
    return {(name, seed): generate(name, 25, seed) for name in GENERATORS for seed in SEEDS}


def test_required_generators_registered():
    assert set(REQUIRED) <= set(GENERATORS)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as exc:
        generate("no_such_dataset", 2, 0)
    for name in REQUIRED:
        assert name in str(exc.value)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_same_seed_byte_identical_and_different_seed_differs(tmp_path, name):
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    write_jsonl(generate(name, 4, 7), a)
    write_jsonl(generate(name, 4, 7), b)
    write_jsonl(generate(name, 4, 8), c)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    passages_a = {json.loads(line)["passage"] for line in a.read_text().splitlines()}
    passages_c = {json.loads(line)["passage"] for line in c.read_text().splitlines()}
    assert not passages_a & passages_c


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_passage_i_does_not_depend_on_n(name):
    short, long = generate(name, 2, 3), generate(name, 6, 3)
    assert short == long[:2]


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_tiny_size_and_ids(name):
    recs = generate(name, 2, 0)
    assert [r["passage_id"] for r in recs] == [f"{name}-0000", f"{name}-0001"]
    assert all(r["dataset"] == name for r in recs)
    assert generate(name, 0, 0) == []


def test_every_record_validates_and_passages_unique(corpora):
    for (name, seed), recs in corpora.items():
        assert len({r["passage"] for r in recs}) == len(recs), (name, seed)
        for rec in recs:
            validate_record(rec)
            qids = [q["qid"] for q in rec["questions"]]
            assert len(set(qids)) == len(qids)


def test_evidence_points_at_answer_exactly(corpora):
    # Evidence is the answer's own span (not a whole sentence), so T_ans is tight.
    for (name, _), recs in corpora.items():
        for rec in recs:
            for q in rec["questions"]:
                if q["answers"] == [IDK]:
                    continue
                (s, e), = q["evidence"]
                assert rec["passage"][s:e].lower() in [a.lower() for a in q["answers"]], q["qid"]


@pytest.mark.parametrize("name", REQUIRED)
def test_words_and_queries_per_passage(corpora, name):
    (lo, hi), (mlo, mhi) = WORD_BOUNDS[name]
    recs = [r for seed in SEEDS for r in corpora[(name, seed)]]
    for rec in recs:
        assert lo <= len(rec["passage"].split()) <= hi, rec["passage_id"]
        assert len(rec["questions"]) == QUESTIONS[name], rec["passage_id"]
    stats = dataset_stats(recs)
    assert mlo <= stats["words_per_passage_mean"] <= mhi
    assert stats["queries_per_passage_mean"] == QUESTIONS[name]
    assert stats["passages"] == len(recs)
    assert stats["queries"] == QUESTIONS[name] * len(recs)
    assert stats["words_per_passage_std"] > 0  # passages are not all the same length


@pytest.mark.parametrize("name", REQUIRED)
def test_both_directions_in_every_passage(corpora, name):
    for rec in corpora[(name, 0)]:
        dirs = {q["direction"] for q in rec["questions"]}
        assert dirs == {"FWD", "REV"}, rec["passage_id"]


def test_base_answer_types_spread(corpora):
    types = {q["answer_type"] for r in corpora[("base", 0)] for q in r["questions"]}
    assert len(types) >= 7


def test_base_subject_named_once_and_templates_vary(corpora):
    recs = corpora[("base", 1)]
    for rec in recs:
        rev = [q for q in rec["questions"] if q["direction"] == "REV"]
        assert rev and all(mentions(q["answers"][0], rec["passage"]) == 1 for q in rev)
    # Varied grammar: the first words of fact sentences are not all the same.
    second_sentences = {r["passage"].split(". ")[1].split()[0] for r in recs}
    assert len(second_sentences) >= 3


def test_knowledge_manipulation_has_manipulated_name_items(corpora):
    for rec in corpora[("knowledge_manipulation", 0)]:
        manip = [q for q in rec["questions"] if q["question_type"] == "Manipulated"]
        assert len(manip) >= 4
        name = next(q["answers"][0] for q in rec["questions"] if q["direction"] == "REV"
                    and q["question_type"] == "Standard")
        first, last = name.split(" ", 1)
        gold = {q["answers"][0] for q in manip}
        assert first in gold and last in gold
        assert rec["passage"].startswith(name)


def test_coreference_idk_items(corpora):
    for rec in corpora[("coreference", 0)]:
        passage = rec["passage"]
        pron = "she" if mentions("she", passage) else "he"
        wrong = "he" if pron == "she" else "she"
        idk = [q for q in rec["questions"] if q["answers"] == [IDK]]
        assert len(idk) == 3, rec["passage_id"]
        for q in idk:
            # the swapped pronoun is in the question and nowhere in the passage
            assert mentions(wrong, q["question"]) or mentions("his" if wrong == "he" else "her", q["question"])
            assert not mentions(wrong, passage)
            s, e = q["evidence"][0]
            assert passage[s:e].strip() and passage[s:e] in passage
        answered = [q for q in rec["questions"] if q["answers"] != [IDK]]
        assert len(answered) == 6


def test_multi_entity_has_several_named_entities(corpora):
    for rec in corpora[("multi_entity", 0)]:
        assert rec["passage"].count("\n\n") >= 3  # hub + >= 3 satellites
        golds = {q["answers"][0] for q in rec["questions"]}
        assert len(golds) >= 5  # questions are not all about the hub


# ---- validate_record rejects broken records --------------------------------

@pytest.fixture()
def good():
    return copy.deepcopy(generate("base", 1, 0)[0])


def _q(rec, i=0):
    return rec["questions"][i]


def test_validator_accepts_good(good):
    validate_record(good)


def test_rejects_span_without_answer(good):
    q = _q(good)
    assert not any(a.lower() in good["passage"][0:3].lower() for a in q["answers"])
    q["evidence"] = [[0, 3]]
    with pytest.raises(ValueError, match=f"{q['qid']}.*contains none of the answers"):
        validate_record(good)


def test_rejects_span_out_of_range(good):
    q = _q(good)
    q["evidence"] = [[0, len(good["passage"]) + 1]]
    with pytest.raises(ValueError, match=f"{q['qid']}.*out of range"):
        validate_record(good)


@pytest.mark.parametrize("field,value", [("answer_type", "Animal"), ("question_type", "Hard"),
                                          ("direction", "SIDEWAYS"), ("hop", "one"), ("hop", True)])
def test_rejects_bad_tags(good, field, value):
    q = _q(good, 1)
    q[field] = value
    with pytest.raises(ValueError, match=q["qid"]):
        validate_record(good)


def test_rejects_duplicate_answer_in_unique_dataset(good):
    q = _q(good)
    good["passage"] += " " + q["answers"][0] + "."
    with pytest.raises(ValueError, match=f"{q['qid']}.*2 times"):
        validate_record(good)
    # the same passage is fine where repetition is allowed
    dup = copy.deepcopy(good)
    dup["dataset"] = "multi_entity"
    dup["passage_id"] = "multi_entity-0000"
    for k, qq in enumerate(dup["questions"]):
        qq["qid"] = f"multi_entity-0000-q{k}"
    validate_record(dup)


def test_rejects_answer_in_question(good):
    q = _q(good, 2)
    q["question"] = f"Is it {q['answers'][0]}?"
    with pytest.raises(ValueError, match=f"{q['qid']}.*appears in the question"):
        validate_record(good)


def test_idk_is_exempt_from_answer_checks():
    rec = copy.deepcopy(generate("coreference", 1, 0)[0])
    q = next(q for q in rec["questions"] if q["answers"] == [IDK])
    validate_record(rec)
    q["question"] = "Does she know? I don't know."  # contains the IDK text: still fine
    validate_record(rec)


def test_rejects_missing_and_extra_keys(good):
    bad = copy.deepcopy(good)
    del bad["questions"][0]["hop"]
    with pytest.raises(ValueError, match="missing keys.*hop"):
        validate_record(bad)
    bad = copy.deepcopy(good)
    bad["extra"] = 1
    with pytest.raises(ValueError, match="unexpected keys"):
        validate_record(bad)


def test_rejects_bad_qid_and_passage_id(good):
    bad = copy.deepcopy(good)
    bad["questions"][1]["qid"] = bad["questions"][0]["qid"]
    with pytest.raises(ValueError, match="qid"):
        validate_record(bad)
    bad = copy.deepcopy(good)
    bad["passage_id"] = "base-7"
    with pytest.raises(ValueError, match="passage_id"):
        validate_record(bad)


# ---- JSONL I/O --------------------------------------------------------------

def test_write_load_roundtrip_and_atomic(tmp_path):
    recs = generate("coreference", 3, 5)
    path = tmp_path / "nested" / "dir" / "coreference.jsonl"
    write_jsonl(recs, path)
    assert load_jsonl(path) == recs
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == json.dumps(recs[0], sort_keys=True, ensure_ascii=False)
    assert [p.name for p in path.parent.iterdir()] == ["coreference.jsonl"]  # no temp left behind


def test_write_refuses_invalid_and_keeps_old_file(tmp_path):
    path = tmp_path / "base.jsonl"
    recs = generate("base", 2, 0)
    write_jsonl(recs, path)
    before = path.read_bytes()
    bad = copy.deepcopy(recs)
    bad[1]["questions"][0]["answer_type"] = "Nope"
    with pytest.raises(ValueError, match=bad[1]["questions"][0]["qid"]):
        write_jsonl(bad, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["base.jsonl"]


def test_load_names_file_and_line(tmp_path):
    recs = generate("base", 2, 0)
    path = tmp_path / "base.jsonl"
    write_jsonl(recs, path)
    lines = path.read_text().splitlines()
    broken = json.loads(lines[1])
    broken["questions"][0]["direction"] = "UP"
    path.write_text(lines[0] + "\n" + json.dumps(broken) + "\n")
    with pytest.raises(ValueError, match=r"base\.jsonl:2:"):
        load_jsonl(path)
    path.write_text(lines[0] + "\n{not json\n")
    with pytest.raises(ValueError, match=r"base\.jsonl:2:"):
        load_jsonl(path)


# ---- pools ------------------------------------------------------------------

@pytest.mark.parametrize("name,minimum", [
    ("first_names_female", 200), ("first_names_male", 200), ("surnames", 300), ("cities", 100),
    ("universities", 100), ("occupations", 100), ("organisations", 100), ("creatures", 100),
    ("places", 100), ("things", 100), ("events", 100),
])
def test_pools_large_and_distinct(name, minimum):
    items = pool(name)
    assert len(items) >= minimum
    assert len(set(items)) == len(items)
