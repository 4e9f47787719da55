"""multi_presence: one entity met at several times and places, ~500 words, 10 questions.

The subject is named again in every *mention* (an episode: a year and a
place), and each mention carries its own companion and its own count, so a
question must pick the right instance: "Whom did Ada Voss meet in Nopewick?"
has a different answer for every place she visited.

Uniqueness rule (schema.ANSWER_RULES): the repeated subject name is never an
answer; every answer (a year, place, companion or count of one mention) is
stated exactly once, so "once" applies, as in base.

Directions: FWD names when or where a mention happened and asks what happened
there (year -> place, year/place -> companion/count); REV names what happened
(a companion or a count, or the place) and asks when or where.
"""

import random

from . import pools
from .facts import KINDS, intro, new_entity
from .filler import pad, rich_filler_sentence
from .qa import finish, question
from .text import Passage, fill, word_count

NAME = "multi_presence"
N_QUESTIONS = 10
WORDS = (400, 600)

# Slots: {N} subject (named in every mention), {S}/{s}/{poss} back-references,
# {Y} year, {P} place, {W} companion (a person), {C} count.
_EPISODES = {
    "person": {
        "place_pool": "cities", "count": (3, 60),
        "anchor": ("In {Y}, {N} travelled to {P}.", "{N} spent part of {Y} in {P}.",
                   "The year {Y} found {N} in {P}.", "{N} arrived in {P} in {Y}."),
        "W": ("There {s} met {W}.", "During that stay {s} befriended {W}.",
              "On that journey {s} was accompanied by {W}."),
        "C": ("{S} gave {C} lectures during the visit.", "Over those weeks {s} delivered {C} lectures."),
        "ask": {
            ("Y", "P"): ("Where did {N} travel in {Y}?", "In which town did {N} stay in {Y}?"),
            ("Y", "W"): ("Whom did {N} meet on the journey of {Y}?", "Who accompanied {N} in {Y}?"),
            ("P", "W"): ("Whom did {N} meet in {P}?", "Who was with {N} during the stay in {P}?"),
            ("Y", "C"): ("How many lectures did {N} give in {Y}?",),
            ("P", "C"): ("How many lectures did {N} give in {P}?",),
            ("P", "Y"): ("In which year did {N} travel to {P}?", "When was {N} in {P}?"),
            ("W", "Y"): ("In which year did {N} meet {W}?", "When was {N} accompanied by {W}?"),
            ("W", "P"): ("Where did {N} meet {W}?", "In which town was {N} accompanied by {W}?"),
            ("C", "Y"): ("In which year did {N} give {C} lectures?",),
            ("C", "P"): ("Where did {N} give {C} lectures?",),
        },
    },
    "thing": {
        "place_pool": "cities", "count": (120, 9800),
        "anchor": ("In {Y}, the {N} was exhibited in {P}.", "The {N} went on display in {P} in {Y}.",
                   "{Y} saw the {N} carried to an exhibition in {P}."),
        "W": ("The exhibition was curated by {W}.", "On that occasion {s} was looked after by {W}.",
              "{W} guarded {s} throughout the show."),
        "C": ("Some {C} visitors came to see {s}.", "The show drew {C} visitors."),
        "ask": {
            ("Y", "P"): ("Where was the {N} exhibited in {Y}?", "In which city was the {N} on display in {Y}?"),
            ("Y", "W"): ("Who looked after the {N} during its exhibition in {Y}?",),
            ("P", "W"): ("Who looked after the {N} when it was shown in {P}?", "Who curated the {N} in {P}?"),
            ("Y", "C"): ("How many visitors saw the {N} in {Y}?",),
            ("P", "C"): ("How many visitors saw the {N} in {P}?",),
            ("P", "Y"): ("In which year was the {N} exhibited in {P}?", "When was the {N} on display in {P}?"),
            ("W", "Y"): ("In which year did {W} look after the {N}?",),
            ("W", "P"): ("In which city did {W} look after the {N}?",),
            ("C", "Y"): ("In which year did {C} visitors see the {N}?",),
            ("C", "P"): ("Where did {C} visitors come to see the {N}?",),
        },
    },
    "organisation": {
        "place_pool": "cities", "count": (15, 900),
        "anchor": ("In {Y}, {N} held its congress in {P}.", "{N} gathered its members in {P} in {Y}.",
                   "The {Y} congress of {N} took place in {P}."),
        "W": ("The sessions were chaired by {W}.", "That year the meeting was chaired by {W}.",
              "{W} presided over the gathering."),
        "C": ("{C} delegates attended.", "The gathering drew {C} delegates."),
        "ask": {
            ("Y", "P"): ("Where did {N} hold its congress in {Y}?", "In which city did {N} meet in {Y}?"),
            ("Y", "W"): ("Who chaired the congress of {N} in {Y}?",),
            ("P", "W"): ("Who chaired the congress of {N} in {P}?",),
            ("Y", "C"): ("How many delegates attended the congress of {N} in {Y}?",),
            ("P", "C"): ("How many delegates attended the congress of {N} in {P}?",),
            ("P", "Y"): ("In which year did {N} hold its congress in {P}?",),
            ("W", "Y"): ("In which year did {W} chair the congress of {N}?",),
            ("W", "P"): ("Where was the congress of {N} that {W} chaired?",),
            ("C", "Y"): ("In which year did {C} delegates attend the congress of {N}?",),
            ("C", "P"): ("Where did {C} delegates attend the congress of {N}?",),
        },
    },
    "creature": {
        "place_pool": "places", "count": (2, 80),
        "anchor": ("In {Y}, the {N} was sighted near {P}.", "A lone {N} turned up near {P} in {Y}.",
                   "The {N} was seen again in {Y}, this time near {P}."),
        "W": ("The sighting was reported by {W}.", "{W} was the first to notice {s} there.",
              "The report came from {W}."),
        "C": ("{C} animals were counted.", "Observers counted {C} individuals."),
        "ask": {
            ("Y", "P"): ("Near which place was the {N} sighted in {Y}?",),
            ("Y", "W"): ("Who reported the sighting of the {N} in {Y}?",),
            ("P", "W"): ("Who reported the {N} near {P}?",),
            ("Y", "C"): ("How many individuals of the {N} were counted in {Y}?",),
            ("P", "C"): ("How many individuals of the {N} were counted near {P}?",),
            ("P", "Y"): ("In which year was the {N} sighted near {P}?",),
            ("W", "Y"): ("In which year did {W} report the {N}?",),
            ("W", "P"): ("Near which place did {W} report the {N}?",),
            ("C", "Y"): ("In which year were {C} individuals of the {N} counted?",),
            ("C", "P"): ("Where were {C} individuals of the {N} counted?",),
        },
    },
}
_TYPES = {"Y": "Date/Time", "P": "Location", "W": "Person", "C": "Numerals"}
_REV = {("P", "Y"), ("W", "Y"), ("W", "P"), ("C", "Y"), ("C", "P")}  # cue -> when/where


def generate(rng: random.Random, index: int) -> dict:
    kid = rng.choice(sorted(_EPISODES))
    ep, ent = _EPISODES[kid], new_entity(rng, KINDS[kid])
    n = rng.choice([4, 5])
    # distinct values per mention: any question has exactly one right instance
    years = sorted(rng.sample(range(1820, 1990), n))
    inst = [{"Y": str(y), "P": p, "W": w, "C": str(c)} for y, p, w, c in zip(
        years, pools.picks(rng, ep["place_pool"], n), _distinct(rng, n, ent.name),
        rng.sample(range(*ep["count"]), n))]
    name = {"N": ent.name}
    paragraphs = [[intro(rng, ent, "intro")]]
    for i, v in enumerate(inst):
        refs = ent.refs(rng)
        paragraphs.append([fill(rng.choice(ep["anchor"]), key=f"m{i}.anchor", **name, **v),
                           *(fill(rng.choice(ep[k]), key=f"m{i}.{k}", **refs, **v) for k in rng.sample("WC", 2))])

    used: set[str] = set()
    flavour = [fill(t, **ent.refs(rng)) for t in rng.sample(ent.kind.flavour, len(ent.kind.flavour))]
    target = rng.randint(410, 530)
    extra = max(0, target - sum(word_count(p) for p in paragraphs)) // len(paragraphs)
    for i, para in enumerate(paragraphs):
        own = word_count(para)
        mine, flavour = flavour[:2], flavour[2:]
        paragraphs[i] = pad(rng, para, own + extra, own + extra + 20, flavour=mine, used=used,
                            sentence=rich_filler_sentence)
    while sum(word_count(p) for p in paragraphs) > WORDS[1] - 10:
        para = max(paragraphs, key=lambda p: sum(s.key is None for s in p))
        para.remove(next(s for s in reversed(para) if s.key is None))
    passage = Passage(paragraphs)

    # 10 (mention, cue, ask) triples: every mention asked at least once, no pair twice.
    pairs = sorted(ep["ask"])
    slots = [(i, c, a) for i in range(n) for c, a in pairs]
    rng.shuffle(slots)
    picked = [next(s for s in slots if s[0] == i) for i in range(n)]
    picked += [s for s in slots if s not in picked][:N_QUESTIONS - n]
    # both directions in every passage: at least 3 of each
    while not 3 <= sum((c, a) in _REV for _, c, a in picked) <= N_QUESTIONS - 3:
        rng.shuffle(slots)
        picked = [next(s for s in slots if s[0] == i) for i in range(n)]
        picked += [s for s in slots if s not in picked][:N_QUESTIONS - n]
    qs = []
    for i, cue, ask in picked:
        text = fill(rng.choice(ep["ask"][(cue, ask)]), **name, **inst[i]).text
        key = f"m{i}.anchor" if ask in "YP" else f"m{i}.{ask}"
        qs.append(question(text, [inst[i][ask]], [passage.span(key, ask)], _TYPES[ask],
                           "REV" if (cue, ask) in _REV else "FWD"))
    rng.shuffle(qs)
    return finish(NAME, index, passage.text, qs)


def _distinct(rng: random.Random, n: int, subject: str) -> list[str]:
    """n person names sharing no first or last name with each other or the subject."""
    names: list[str] = []
    while len(names) < n:
        first, last, _ = pools.person(rng)
        if all(first not in x.split() and last not in x.split() for x in names + [subject]):
            names.append(f"{first} {last}")
    return names
