"""The record contract and its validator.

One JSON object per passage.  The validator is the single place where the
contract lives: generators are retried until their output passes it, and
``load_jsonl`` re-checks everything read back from disk.
"""

import re

ANSWER_TYPES = frozenset({"Person", "Thing", "Organization", "Creature", "Location",
                          "Numerals", "Date/Time", "Event"})
QUESTION_TYPES = frozenset({"Standard", "Manipulated", "Part"})
DIRECTIONS = frozenset({"FWD", "REV"})
IDK = "I don't know"

RECORD_KEYS = frozenset({"dataset", "passage_id", "passage", "questions"})
QUESTION_KEYS = frozenset({"qid", "question", "answers", "evidence", "answer_type",
                           "question_type", "direction", "hop"})

# Per-dataset rules, keyed by the record's ``dataset`` name (a user's own
# dataset under another name gets none of them):
#
# * UNIQUE_ANSWER_DATASETS promise each answer is stated exactly once (minimal
#   redundancy, paper 3.1).  multi_presence is one of them: its subject is
#   named in every mention by design, but the subject is never an answer; each
#   mention's year/place/companion/count is stated once.  long_context names
#   its hub once and refers back to it by epithet across the passage.
#   multi_entity and hops restate entity names where they link paragraphs (a
#   satellite is named in the hub's link sentence and again in its own
#   paragraph), so their answers may repeat.
# * HOP_DATASETS: every question carries a hop in 0..max (hops: subject -> e1 -> e2 -> e3).
# * SPREAD_DATASETS: evidence spans start in each third of the passage (early,
#   middle, late), so answering needs distant spans.
UNIQUE_ANSWER_DATASETS = frozenset({"base", "knowledge_manipulation", "coreference", "multi_presence",
                                    "long_context"})
HOP_DATASETS = {"hops": 3}
SPREAD_DATASETS = frozenset({"long_context"})


def mentions(needle: str, haystack: str) -> int:
    """Case-insensitive whole-word occurrences ("Ash" does not occur in "Ashford")."""
    pattern = r"(?<!\w)" + re.escape(needle) + r"(?!\w)"
    return len(re.findall(pattern, haystack, flags=re.IGNORECASE))


def _fail(where: str, problem: str) -> None:
    raise ValueError(f"{where}: {problem}")


def _check_keys(where: str, obj, expected: frozenset) -> None:
    if not isinstance(obj, dict):
        _fail(where, f"expected an object, got {type(obj).__name__}")
    missing, extra = expected - obj.keys(), obj.keys() - expected
    if missing:
        _fail(where, f"missing keys {sorted(missing)}")
    if extra:
        _fail(where, f"unexpected keys {sorted(extra)}")


def validate_record(rec: dict) -> None:
    """Raise ValueError naming the passage/qid and the problem; return None if valid."""
    _check_keys(f"record {rec.get('passage_id', '?') if isinstance(rec, dict) else '?'}", rec, RECORD_KEYS)
    pid, passage, dataset = rec["passage_id"], rec["passage"], rec["dataset"]
    if not isinstance(dataset, str) or not dataset:
        _fail(f"passage {pid}", "dataset must be a non-empty string")
    if not isinstance(pid, str) or not re.fullmatch(re.escape(dataset) + r"-\d{4,}", pid):
        _fail(f"passage {pid}", f"passage_id must be '{dataset}-<4-digit index>'")
    if not isinstance(passage, str) or not passage.strip():
        _fail(f"passage {pid}", "passage must be a non-empty string")
    questions = rec["questions"]
    if not isinstance(questions, list) or not questions:
        _fail(f"passage {pid}", "questions must be a non-empty list")
    unique = dataset in UNIQUE_ANSWER_DATASETS
    for k, q in enumerate(questions):
        _check_keys(f"passage {pid} question {k}", q, QUESTION_KEYS)
        _validate_question(pid, k, passage, q, unique)
        if dataset in HOP_DATASETS and not (isinstance(q["hop"], int) and q["hop"] <= HOP_DATASETS[dataset]):
            _fail(f"passage {pid} qid {q['qid']}",
                  f"{dataset} needs hop in 0..{HOP_DATASETS[dataset]}, got {q['hop']!r}")
    if dataset in SPREAD_DATASETS:
        thirds = {3 * s[0] // len(passage) for q in questions for s in q["evidence"]}
        if thirds != {0, 1, 2}:
            _fail(f"passage {pid}", f"{dataset} needs evidence in every third of the passage, "
                  f"found thirds {sorted(thirds)}")


def _validate_question(pid: str, k: int, passage: str, q: dict, unique: bool) -> None:
    qid = q["qid"]
    where = f"passage {pid} qid {qid}"
    if qid != f"{pid}-q{k}":
        _fail(where, f"qid must be '{pid}-q{k}'")
    if not isinstance(q["question"], str) or not q["question"].strip():
        _fail(where, "question must be a non-empty string")
    answers = q["answers"]
    if not isinstance(answers, list) or not answers or not all(isinstance(a, str) and a.strip() for a in answers):
        _fail(where, "answers must be a non-empty list of non-empty strings")
    for tag, allowed in (("answer_type", ANSWER_TYPES), ("question_type", QUESTION_TYPES),
                         ("direction", DIRECTIONS)):
        if not isinstance(q[tag], str) or q[tag] not in allowed:
            _fail(where, f"bad {tag} {q[tag]!r}; expected one of {sorted(allowed)}")
    hop = q["hop"]
    if hop is not None and (isinstance(hop, bool) or not isinstance(hop, int) or hop < 0):
        _fail(where, f"hop must be null or a non-negative int, got {hop!r}")
    evidence = q["evidence"]
    if not isinstance(evidence, list) or not evidence:
        _fail(where, "evidence must be a non-empty list of [start, end] spans")
    for span in evidence:
        if (not isinstance(span, list) or len(span) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in span)):
            _fail(where, f"evidence span {span!r} is not [start, end]")
        if not 0 <= span[0] < span[1] <= len(passage):
            _fail(where, f"evidence span {span} out of range: need 0 <= start < end <= {len(passage)} "
                  "(passage length in characters)")
    if answers == [IDK]:
        return  # evidence of an "I don't know" item is the swapped attribute, not the answer
    part = q["question_type"] == "Part"
    if part and len(evidence) < 2:
        _fail(where, "a Part question aggregates several regions: it needs >= 2 evidence spans")
    for span in evidence:
        text = passage[span[0]:span[1]]
        if part:  # each span holds one part of the answer ("Ashford and 1820")
            if not any(text.strip().lower() in a.lower() for a in answers):
                _fail(where, f"Part evidence {span} ({text!r}) is part of none of the answers {answers}")
            if unique and mentions(text.strip(), passage) > 1:
                _fail(where, f"answer part {text!r} appears {mentions(text.strip(), passage)} times; "
                      "this dataset promises it once")
        elif not any(a.lower() in text.lower() for a in answers):
            _fail(where, f"evidence {span} ({text!r}) contains none of the answers {answers}")
    for a in answers:
        if mentions(a, q["question"]):
            _fail(where, f"answer {a!r} appears in the question (answerable without the passage)")
        if unique and mentions(a, passage) > 1:
            _fail(where, f"answer {a!r} appears {mentions(a, passage)} times; this dataset promises it once")
