"""Synthetic QA generators: determinism, the record contract, and the shape
promised by the paper's Table 1 (sizes) and section 3.1 (design)."""

import copy
import json
import re
import statistics

import pytest

from kvroute.datasets import (
    GENERATORS, IDK, dataset_stats, generate, load_jsonl, validate_record, write_jsonl,
)
from kvroute.datasets.pools import pool
from kvroute.datasets.schema import mentions

REQUIRED = ["base", "knowledge_manipulation", "multi_presence", "multi_entity", "long_context", "coreference",
            "hops"]
NEW = ["multi_presence", "long_context", "hops"]
# words per passage: hard bounds for every passage, target band for the mean
WORD_BOUNDS = {
    "base": ((150, 200), (165, 185)),
    "knowledge_manipulation": ((20, 45), (26, 36)),
    "coreference": ((32, 55), (38, 48)),
    "multi_entity": ((400, 600), (450, 550)),
    "multi_presence": ((400, 600), (460, 550)),
    "long_context": ((900, 1300), (1000, 1200)),
    "hops": ((1080, 1120), (1090, 1110)),
}
QUESTIONS = {"base": 6, "knowledge_manipulation": 13, "coreference": 9, "multi_entity": 10,
             "multi_presence": 10, "long_context": 10, "hops": 16}
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
    # Evidence is the answer's own span (not a whole sentence), so T_ans is tight;
    # a Part question has one span per part, each a piece of the answer.
    for (name, _), recs in corpora.items():
        for rec in recs:
            for q in rec["questions"]:
                if q["answers"] == [IDK]:
                    continue
                answers = [a.lower() for a in q["answers"]]
                if q["question_type"] == "Part":
                    assert len(q["evidence"]) >= 2, q["qid"]
                    parts = [rec["passage"][s:e].lower() for s, e in q["evidence"]]
                    assert any(" and ".join(parts) == a for a in answers), q["qid"]
                    continue
                (s, e), = q["evidence"]
                assert rec["passage"][s:e].lower() in answers, q["qid"]


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


def _shared_name(texts):
    words = texts[0].rstrip("?").split()
    runs = [" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)
            if all(w[0].isupper() for w in words[i:j])]
    return max((r for r in runs if all(r in t for t in texts)), key=len)


def test_multi_presence_one_subject_many_mentions(corpora):
    for rec in corpora[("multi_presence", 0)]:
        passage, qs = rec["passage"], rec["questions"]
        intro = passage.split("\n\n")[0]
        mention_paras = passage.split("\n\n")[1:]
        assert 4 <= len(mention_paras) <= 5
        # every question names the subject (the longest capitalized run they share) ...
        subject = _shared_name([q["question"] for q in qs])
        # ... which the intro names and every mention restates ...
        assert subject in intro and all(subject in para for para in mention_paras), rec["passage_id"]
        # ... but it is never an answer, and every answer is stated exactly once
        for q in qs:
            assert subject not in q["answers"]
            assert mentions(q["answers"][0], passage) == 1, q["qid"]
        # questions spread over the mentions (each mention is its own paragraph)
        starts = [passage.rfind("\n\n", 0, q["evidence"][0][0]) for q in qs]
        assert len(set(starts)) == len(mention_paras), rec["passage_id"]
        assert {q["answer_type"] for q in qs} <= {"Date/Time", "Location", "Person", "Numerals"}


def test_multi_presence_questions_need_the_right_instance(corpora):
    # the cue in each question (a year, place, companion or count) belongs to
    # exactly one mention, and the answer is in that same mention
    for rec in corpora[("multi_presence", 1)]:
        paras = rec["passage"].split("\n\n")
        for q in rec["questions"]:
            (s, _), = q["evidence"]
            own = rec["passage"].count("\n\n", 0, s)
            cues = [p for p in paras if any(len(w) > 2 and w in q["question"].split() for w in p.split())]
            assert paras[own] in cues, q["qid"]


def test_long_context_evidence_in_every_third(corpora):
    for seed in SEEDS:
        for rec in corpora[("long_context", seed)]:
            n = len(rec["passage"])
            thirds = [3 * e[0] // n for q in rec["questions"] for e in q["evidence"]]
            assert {0, 1, 2} <= set(thirds), rec["passage_id"]
            assert min(thirds.count(t) for t in range(3)) >= 2, rec["passage_id"]
            part, = [q for q in rec["questions"] if q["question_type"] == "Part"]
            (a, _), (b, _) = part["evidence"]
            assert 3 * a // n == 0 and 3 * b // n == 2, part["qid"]  # first third joined with the last
            # the hub is named once, in the opening sentence, and referred to by epithet afterwards
            hub = _shared_name([part["question"].split(", and ")[0], rec["passage"].split(". ")[0]])
            assert mentions(hub, rec["passage"]) == 1 and mentions("the organization", rec["passage"]) >= 3


def test_hops_chain_structure(corpora):
    for seed in SEEDS:
        for rec in corpora[("hops", seed)]:
            qs = rec["questions"]
            assert sorted(q["hop"] for q in qs) == [h for h in range(4) for _ in range(4)], rec["passage_id"]
            assert rec["passage"].count("\n\n") == 3  # subject + 3 linked entities
            paras = [0] + [m.end() for m in re.finditer("\n\n", rec["passage"])]
            subject = next(q["answers"][0] for q in qs if q["direction"] == "REV")
            for q in qs:
                assert q["question_type"] in ("Standard", "Part")
                if q["direction"] == "REV":
                    assert q["answers"] == [subject]  # REV walks the chain back to the subject
                else:  # FWD starts from the subject and walks hop links
                    assert subject in q["question"], q["qid"]
                # the answer lies in the paragraph of entity hop-1 (a link) or entity hop (a fact)
                if q["direction"] == "FWD":
                    para = max(i for i, p in enumerate(paras) if p <= q["evidence"][-1][0])
                    assert para in (q["hop"] - 1, q["hop"]), q["qid"]
            parts = [q for q in qs if q["question_type"] == "Part"]
            assert sorted(q["hop"] for q in parts) == [2, 3]
            for q in parts:  # the two names sit in different paragraphs
                (a, _), (b, _) = q["evidence"]
                assert rec["passage"].count("\n\n", a, b) == 1


def test_hops_word_range_is_tight():
    words = [len(r["passage"].split()) for r in generate("hops", 60, 99)]
    assert all(1080 <= w <= 1120 for w in words)
    assert abs(statistics.fmean(words) - 1100) <= 8


@pytest.mark.parametrize("name", NEW)
def test_new_generators_diverse(corpora, name):
    recs = corpora[(name, 0)][:20]
    sentences = [re.split(r"(?<=[.?!])\s+", r["passage"]) for r in recs]
    for rec, sents in zip(recs, sentences):
        assert len(set(sents)) == len(sents), rec["passage_id"]  # no sentence twice in a passage
    openings = {" ".join(s.split()[:2]) for sents in sentences for s in sents}
    assert len(openings) >= 100, len(openings)
    q_openings = {" ".join(q["question"].split()[:3]) for r in recs for q in r["questions"]}
    assert len(q_openings) >= 30, len(q_openings)
    assert len({r["passage"] for r in corpora[(name, 1)]} | {r["passage"] for r in recs}) == 45
    first_words = {r["passage"].split()[0] for r in recs}
    assert len(first_words) >= 5


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


@pytest.fixture()
def jsonl_line():
    return json.loads(json.dumps(generate("base", 1, 0)[0]))


def _bad(rec, **changes):
    rec = copy.deepcopy(rec)
    for where, value in changes.items():
        *path, key = where.split("__")
        obj = rec
        for p in path:
            obj = obj[int(p)] if p.isdigit() else obj[p]
        if value is KeyError:
            del obj[key]
        else:
            obj[int(key) if key.isdigit() else key] = value
    return json.dumps(rec)


@pytest.mark.parametrize("make,problem", [
    (lambda r: "{not json", r"malformed JSON"),
    (lambda r: '{"dataset": "base",', r"malformed JSON"),
    (lambda r: "[1, 2]", r"expected an object, got list"),
    (lambda r: _bad(r, questions=KeyError), r"missing keys \['questions'\]"),
    (lambda r: _bad(r, questions__1__answers=KeyError), r"question 1: missing keys \['answers'\]"),
    (lambda r: _bad(r, questions__0__hop=KeyError), r"missing keys \['hop'\]"),
    (lambda r: _bad(r, questions__0__answer_type="Animal"), r"q0: bad answer_type 'Animal'"),
    (lambda r: _bad(r, questions__0__question_type="standard"), r"q0: bad question_type"),
    (lambda r: _bad(r, questions__0__direction=["FWD"]), r"q0: bad direction"),
    (lambda r: _bad(r, questions__0__hop=-1), r"q0: hop must be null or a non-negative int"),
    (lambda r: _bad(r, questions__0__evidence=[[5, 2]]), r"q0: evidence span \[5, 2\] out of range"),
    (lambda r: _bad(r, questions__0__evidence=[[0, 10 ** 6]]), r"q0: evidence span .* out of range"),
    (lambda r: _bad(r, questions__0__evidence=[5, 9]), r"q0: evidence span 5 is not \[start, end\]"),
    (lambda r: _bad(r, questions__0__evidence=[]), r"q0: evidence must be a non-empty list"),
    (lambda r: _bad(r, questions__0__evidence=[[0, 3]]), r"q0: evidence \[0, 3\] .*contains none of the answers"),
    (lambda r: _bad(r, questions__0__answers="x"), r"q0: answers must be a non-empty list"),
    (lambda r: _bad(r, passage_id="base-1"), r"passage_id must be"),
])
def test_load_jsonl_clear_errors(tmp_path, jsonl_line, make, problem):
    path = tmp_path / "mine.jsonl"
    good = generate("base", 2, 0)[1]
    path.write_text(json.dumps(good) + "\n\n" + make(jsonl_line) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"mine\.jsonl:3: .*" + problem):
        load_jsonl(path)


def test_load_jsonl_encoding_and_duplicate_ids(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_bytes(b"\xff\xfe\n")
    with pytest.raises(ValueError, match=r"mine\.jsonl:1: not UTF-8"):
        load_jsonl(path)
    rec = generate("base", 1, 0)[0]
    path.write_text(json.dumps(rec) + "\n" + json.dumps(rec) + "\n")
    with pytest.raises(ValueError, match=r"mine\.jsonl:2: passage_id 'base-0000' already used on line 1"):
        load_jsonl(path)


def test_user_dataset_round_trip(tmp_path):
    # a user's own dataset: any name, no per-dataset rules, IDK gold, a Part item, hops
    passage = "Mira Tal founded Oakline in 1931. Oakline later moved to Brask. Mira Tal left in 1950."

    def at(word):
        return [passage.index(word), passage.index(word) + len(word)]

    rec = {"dataset": "my_set", "passage_id": "my_set-0000", "passage": passage, "questions": [
        {"qid": "my_set-0000-q0", "question": "Who founded Oakline?", "answers": ["Mira Tal"],
         "evidence": [at("Mira Tal")], "answer_type": "Person", "question_type": "Standard", "direction": "REV",
         "hop": None},
        {"qid": "my_set-0000-q1", "question": "When was Oakline founded, and where did it move?",
         "answers": ["1931 and Brask"], "evidence": [at("1931"), at("Brask")], "answer_type": "Date/Time",
         "question_type": "Part", "direction": "FWD", "hop": 1},
        {"qid": "my_set-0000-q2", "question": "When did he leave?", "answers": [IDK],
         "evidence": [at("1950")], "answer_type": "Date/Time", "question_type": "Manipulated",
         "direction": "FWD", "hop": None},
    ]}
    path = tmp_path / "my_set.jsonl"
    path.write_text(json.dumps(rec) + "\n")
    assert load_jsonl(path) == [rec]  # "Mira Tal" appears twice: fine outside the built-in names


def test_doc_example_line_loads(tmp_path):
    from pathlib import Path
    doc = (Path(__file__).resolve().parents[2] / "docs" / "dataset-format.md").read_text(encoding="utf-8")
    line = next(l for l in doc.splitlines() if l.startswith('{"dataset"'))
    path = tmp_path / "example.jsonl"
    path.write_text(line + "\n")
    assert load_jsonl(path)[0]["passage_id"].endswith("-0000")


# ---- per-dataset rules ------------------------------------------------------

def test_part_questions_need_parts_of_the_answer():
    rec = copy.deepcopy(next(r for r in generate("long_context", 3, 0)))
    part = next(q for q in rec["questions"] if q["question_type"] == "Part")
    validate_record(rec)
    bad = copy.deepcopy(rec)
    next(q for q in bad["questions"] if q["qid"] == part["qid"])["evidence"] = part["evidence"][:1]
    with pytest.raises(ValueError, match=f"{part['qid']}.*>= 2 evidence spans"):
        validate_record(bad)
    bad = copy.deepcopy(rec)
    next(q for q in bad["questions"] if q["qid"] == part["qid"])["evidence"][1] = [0, 3]
    with pytest.raises(ValueError, match=f"{part['qid']}.*part of none of the answers"):
        validate_record(bad)


def test_hops_rule_needs_hop_on_every_question():
    rec = copy.deepcopy(generate("hops", 1, 0)[0])
    validate_record(rec)
    for bad_hop in (None, 4):
        bad = copy.deepcopy(rec)
        bad["questions"][3]["hop"] = bad_hop
        with pytest.raises(ValueError, match=f"{bad['questions'][3]['qid']}: hops needs hop in 0..3"):
            validate_record(bad)


def test_long_context_rule_needs_spread_evidence():
    rec = copy.deepcopy(generate("long_context", 1, 0)[0])
    n = len(rec["passage"])
    rec["questions"] = [q for q in rec["questions"] if all(3 * e[0] // n != 2 for e in q["evidence"])]
    for k, q in enumerate(rec["questions"]):
        q["qid"] = f"{rec['passage_id']}-q{k}"
    with pytest.raises(ValueError, match=r"evidence in every third.*\[0, 1\]"):
        validate_record(rec)


def test_multi_presence_answers_once():
    rec = copy.deepcopy(generate("multi_presence", 1, 0)[0])
    q = rec["questions"][0]
    rec["passage"] += " " + q["answers"][0] + "."
    with pytest.raises(ValueError, match=f"{q['qid']}.*2 times"):
        validate_record(rec)


# ---- Table 1 at the paper's sizes ----------------------------------------------

PAPER = {  # name: (passages, words mean, words +-, queries per passage); no +- in the paper -> 15%
    "base": (200, 175, 25, 6), "knowledge_manipulation": (4000, 32, None, 13), "multi_presence": (100, 500, 100, 10),
    "multi_entity": (100, 500, 100, 10), "long_context": (100, 1100, 200, 10), "coreference": (8000, 44, None, 9),
    "hops": (100, 1100, 20, 16),
}


def test_table1_sizes_at_paper_scale():
    for name, (n, mean, pm, queries) in PAPER.items():
        stats = dataset_stats(generate(name, n, 0))
        tol = pm if pm is not None else 0.15 * mean
        assert abs(stats["words_per_passage_mean"] - mean) <= tol, (name, stats)
        assert stats["queries_per_passage_mean"] == queries, (name, stats)
        assert stats["passages"] == n and stats["queries"] == n * queries


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
