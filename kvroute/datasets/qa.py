"""Question records and the shared facts-to-questions step."""

import random

from .facts import Attr, Entity, answers_for
from .text import Passage, fill


def question(text: str, answers: list[str], evidence: list[list[int]], answer_type: str,
             direction: str, question_type: str = "Standard", hop: int | None = None) -> dict:
    """A question without its qid; ``finish`` numbers them."""
    return {"question": text, "answers": list(answers), "evidence": [list(e) for e in evidence],
            "answer_type": answer_type, "question_type": question_type, "direction": direction, "hop": hop}


def finish(dataset: str, index: int, passage: str, questions: list[dict]) -> dict:
    pid = f"{dataset}-{index:04d}"
    qs = [{"qid": f"{pid}-q{k}", **q} for k, q in enumerate(questions)]
    return {"dataset": dataset, "passage_id": pid, "passage": passage, "questions": qs}


def ask_attr(rng: random.Random, ent: Entity, attr: Attr, value: str, direction: str,
             passage: Passage, fact_key: str, name_key: str) -> dict:
    """FWD: subject -> value (evidence: the value).  REV: value -> subject (evidence:
    the subject's naming mention, ``name_key``)."""
    poss = ent.refs(rng)["poss"]
    if direction == "FWD":
        text = fill(rng.choice(attr.fwd), name=ent.name, poss=poss).text
        return question(text, answers_for(attr, value), [passage.span(fact_key, "V")], attr.answer_type, "FWD")
    text = fill(rng.choice(attr.rev), V=value).text
    return question(text, [ent.name], [passage.span(name_key, "N")], ent.kind.answer_type, "REV")


def directions(rng: random.Random, n: int, n_rev: int) -> list[str]:
    """n directions with exactly n_rev REV, in random order (both always present when 0<n_rev<n)."""
    dirs = ["REV"] * n_rev + ["FWD"] * (n - n_rev)
    rng.shuffle(dirs)
    return dirs
