"""base: one subject, >= 4 linked attributes, 150-200 words, 6 questions.

The subject is named exactly once (intro); later sentences use a pronoun or
epithet, so REV answers (the name) and FWD answers (values) are each stated
once, as the paper's minimal-redundancy principle asks.
"""

import random

from .facts import KINDS, intro, new_entity
from .filler import pad
from .qa import ask_attr, directions, finish, question
from .text import Passage, fill

NAME = "base"
N_QUESTIONS = 6
WORDS = (150, 200)


def generate(rng: random.Random, index: int) -> dict:
    kind = KINDS[rng.choice(sorted(KINDS))]
    ent = new_entity(rng, kind)
    attrs = rng.sample(kind.attrs, N_QUESTIONS)
    values = [a.sample(rng) for a in attrs]
    first = intro(rng, ent, "intro")
    facts = [fill(rng.choice(a.says), key=a.id, V=v, **ent.refs(rng)) for a, v in zip(attrs, values)]
    rng.shuffle(facts)
    # Targets keep the sum in range: fillers are at most ~20 words.
    flavour = [fill(t, **ent.refs(rng)) for t in kind.flavour]
    sentences = pad(rng, [first] + facts, target_words=rng.randint(152, 180), max_words=WORDS[1],
                    flavour=flavour)
    passage = Passage([sentences])
    qs = []
    for a, v, d in zip(attrs, values, directions(rng, N_QUESTIONS, rng.choice([2, 3]))):
        qs.append(ask_attr(rng, ent, a, v, d, passage, a.id, "intro"))
    if rng.random() < 0.25:
        # the paper's "What is the subject of the passage?" item replaces one FWD question
        i = next(i for i, q in enumerate(qs) if q["direction"] == "FWD")
        qs[i] = question(f"What is the name of the {kind.noun} described in the passage?", [ent.name],
                         [passage.span("intro", "N")], kind.answer_type, "FWD")
    return finish(NAME, index, passage.text, qs)
