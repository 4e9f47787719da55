"""hops: a subject and a chain of three linked entities, 1100 +- 20 words, 16 questions.

    subject --rel0--> entity1 --rel1--> entity2 --rel2--> entity3

One paragraph per entity (intro, five facts, the link to the next entity).
Questions name only the subject (or, in REV, the far end of the chain) and
reach the answer through the links, so ``hop`` = links traversed:

* hop 0: three subject attributes (FWD) and attribute -> subject (REV);
* hop k in 1..3: entity k's name ("Which artifact belongs to the organization
  that governs Port Vell?"), an attribute of entity k reached through the
  chain, and the chain walked back from entity k to the subject (REV); the
  fourth item is a second entity-1 attribute at hop 1 and, at hops 2 and 3,
  a Part question asking for both ends of the last link ("Which organization
  governs Port Vell, and which artifact belongs to that organization?"),
  whose evidence is the two name spans in different paragraphs.

Entity names are restated where they link paragraphs, so answers may repeat
(no "once" rule); every value in a passage is distinct, so each question has
one answer.  Evidence is the answer's span at the end of the route: the name
in the link sentence that introduces it, or the attribute value.
"""

import random
from dataclasses import dataclass

from .facts import KINDS, Entity, answers_for, intro, new_entity
from .filler import fit, pad, rich_filler_sentence
from .qa import ask_attr, finish, question
from .text import Passage, fill, word_count

NAME = "hops"
N_QUESTIONS = 16
WORDS = (1080, 1120)
_THE = {"thing", "creature"}  # kinds whose names read "the <name>" in text


@dataclass(frozen=True)
class Rel:
    says: tuple[str, ...]  # statements with {A} (from) and {B} (to) as noun phrases
    fwd_q: str             # asks B given A
    fwd_desc: str          # B described through A
    rev_q: str             # asks A given B
    rev_desc: str          # A described through B
    excl: tuple[str, ...] = ()  # attribute ids (of A or B) that would restate the link


_RELS = {
    ("place", "organisation"): Rel(("{A} is governed by {B}.", "Local affairs in {A} are run by {B}."),
                                   "Which organization governs {A}?", "the organization that governs {A}",
                                   "Which place is governed by {B}?", "the place governed by {B}", ("council",)),
    ("organisation", "thing"): Rel(("{B} belongs to {A}.", "{A} is the custodian of {B}."),
                                   "Which artifact belongs to {A}?", "the artifact that belongs to {A}",
                                   "Which organization owns {B}?", "the organization that owns {B}", ("owner",)),
    ("thing", "person"): Rel(("{A} was crafted by {B}.", "It was {B} who crafted {A}."),
                             "Who crafted {A}?", "the person who crafted {A}",
                             "Which artifact did {B} craft?", "the artifact crafted by {B}", ("maker", "design")),
    ("person", "person"): Rel(("{A} learned the trade from {B}.", "{B} taught {A} as a young apprentice."),
                              "From whom did {A} learn the trade?", "the person who taught {A}",
                              "Who learned the trade from {B}?", "the apprentice of {B}", ("mentor",)),
    ("organisation", "person"): Rel(("{A} was founded by {B}.", "It was {B} who first set up {A}."),
                                    "Who founded {A}?", "the founder of {A}",
                                    "Which organization did {B} found?", "the organization founded by {B}",
                                    ("founder",)),
    ("person", "organisation"): Rel(("{A} worked for many years at {B}.", "For many years {B} employed {A}."),
                                    "Which organization employed {A}?", "the organization that employed {A}",
                                    "Who worked for many years at {B}?", "the person employed by {B}",
                                    ("employer",)),
    ("place", "creature"): Rel(("{A} is the only known home of {B}.", "{B} lives nowhere else but in {A}."),
                               "Which creature lives only in {A}?", "the creature that lives only in {A}",
                               "Where is the only known home of {B}?", "the only known home of {B}",
                               ("animal", "habitat")),
    ("creature", "person"): Rel(("{A} was first described by {B}.", "{B} was the first to describe {A}."),
                                "Who first described {A}?", "the person who first described {A}",
                                "Which creature did {B} first describe?", "the creature first described by {B}",
                                ("discoverer",)),
    ("person", "thing"): Rel(("{A} designed {B}.", "{B} was designed by {A}."),
                             "What did {A} design?", "the artifact designed by {A}",
                             "Who designed {B}?", "the designer of {B}", ("design", "maker")),
}
_CHAINS = [("place", "organisation", "thing", "person"), ("place", "organisation", "person", "person"),
           ("place", "creature", "person", "organisation"), ("organisation", "person", "thing", "person"),
           ("organisation", "thing", "person", "person"), ("place", "creature", "person", "person"),
           ("organisation", "person", "organisation", "thing"), ("place", "organisation", "person", "thing")]
N_FACTS = 5


def _np(ent: Entity) -> str:
    return f"the {ent.name}" if ent.kind.id in _THE else ent.name


def _bare(kind_id: str, np: str) -> str:
    """Attribute questions of thing/creature kinds read "the {name}": drop our article."""
    return np.removeprefix("the ") if kind_id in _THE else np


def _name_answers(ent: Entity) -> list[str]:
    return [ent.name, f"the {ent.name}"] if ent.kind.id in _THE else [ent.name]


def generate(rng: random.Random, index: int) -> dict:
    kinds = rng.choice(_CHAINS)
    rels = [_RELS[(a, b)] for a, b in zip(kinds, kinds[1:])]
    ents, taken = [], set()
    for kid in kinds:
        ent = new_entity(rng, KINDS[kid])
        while ent.name in taken:
            ent = new_entity(rng, KINDS[kid])
        taken.add(ent.name)
        ents.append(ent)
    # N_FACTS attributes per entity, none restating a link, every value distinct
    facts = []
    for k, ent in enumerate(ents):
        excl = set(rels[k].excl if k < 3 else ()) | set(rels[k - 1].excl if k else ())
        mine = []
        for a in rng.sample([a for a in ent.kind.attrs if a.id not in excl], N_FACTS):
            v = a.sample(rng)
            while v in taken:
                v = a.sample(rng)
            taken.add(v)
            mine.append((a, v))
        facts.append(mine)

    paragraphs = []
    used: set[str] = set()
    spare = {k: rng.sample(KINDS[k].flavour, len(KINDS[k].flavour)) for k in sorted(set(kinds))}
    target = rng.randint(1082, 1106)
    for k, ent in enumerate(ents):
        sents = [fill(rng.choice(a.says), key=f"e{k}.{a.id}", V=v, **ent.refs(rng)) for a, v in facts[k]]
        rng.shuffle(sents)
        if k < 3:  # the link closes the paragraph, so a later "it" cannot mean the next entity
            sents.append(fill(rng.choice(rels[k].says), key=f"link{k}", A=_np(ent), B=_np(ents[k + 1])))
        para = [intro(rng, ent, f"e{k}.intro")] + sents
        mine, spare[ent.kind.id] = spare[ent.kind.id][:4], spare[ent.kind.id][4:]  # no flavour twice
        flavour = [fill(t, **ent.refs(rng)) for t in mine]
        goal = max(word_count(para), target // 4 - 15)
        paragraphs.append(pad(rng, para, goal, goal + 20, flavour=flavour, used=used,
                              sentence=rich_filler_sentence))
        if k < 3:  # keep the link last: move any filler that landed after it
            link = next(s for s in paragraphs[-1] if s.key == f"link{k}")
            paragraphs[-1].remove(link)
            paragraphs[-1].append(link)
    fit(rng, paragraphs, target, WORDS[1] - 2, used)
    if not WORDS[0] <= sum(word_count(p) for p in paragraphs) <= WORDS[1]:
        raise ValueError("hops: could not fit the word range")  # registry redraws
    passage = Passage(paragraphs)

    # descriptors of entity k reached from the subject (fwd) and of the subject from entity k (rev)
    fwd = [_np(ents[0])]
    for k, rel in enumerate(rels):
        fwd.append(rel.fwd_desc.format(A=fwd[k]))

    def rev_from(k: int) -> str:  # "Which place is governed by the organization that owns the X?"
        np = _np(ents[k])
        for j in range(k - 1, 0, -1):
            np = rels[j].rev_desc.format(B=np)
        return rels[0].rev_q.format(B=np)

    def name_q(k: int) -> dict:
        text = rels[k - 1].fwd_q.format(A=fwd[k - 1])
        return question(text, _name_answers(ents[k]), [passage.span(f"link{k - 1}", "B")],
                        ents[k].kind.answer_type, "FWD", hop=k)

    def attr_q(k: int, a, v) -> dict:  # ask_attr's FWD, with the chain descriptor for the name
        text = fill(rng.choice(a.fwd), name=_bare(ents[k].kind.id, fwd[k]), poss=ents[k].refs(rng)["poss"]).text
        return question(text, answers_for(a, v), [passage.span(f"e{k}.{a.id}", "V")], a.answer_type, "FWD",
                        hop=k)

    def rev_q(k: int) -> dict:
        return question(rev_from(k), [ents[0].name], [passage.span("link0", "A")], ents[0].kind.answer_type,
                        "REV", hop=k)

    def part_q(k: int) -> dict:
        first = rels[k - 2].fwd_q.format(A=fwd[k - 2])
        second = rels[k - 1].fwd_q.format(A=f"that {ents[k - 1].kind.noun}")
        text = f"{first[:-1]}, and {second[0].lower()}{second[1:]}"
        ev = [passage.span(f"link{k - 2}", "B"), passage.span(f"link{k - 1}", "B")]
        return question(text, [f"{_np(ents[k - 1])} and {_np(ents[k])}"], ev, ents[k].kind.answer_type,
                        "FWD", "Part", hop=k)

    f0 = facts[0]
    qs = [{**ask_attr(rng, ents[0], a, v, "FWD", passage, f"e0.{a.id}", "e0.intro"), "hop": 0} for a, v in f0[:3]]
    qs.append({**ask_attr(rng, ents[0], *f0[3], "REV", passage, f"e0.{f0[3][0].id}", "e0.intro"), "hop": 0})
    a1, a2 = rng.sample(facts[1], 2)
    qs += [name_q(1), attr_q(1, *a1), attr_q(1, *a2), rev_q(1)]
    for k in (2, 3):
        qs += [name_q(k), attr_q(k, *rng.choice(facts[k])), rev_q(k), part_q(k)]
    rng.shuffle(qs)
    return finish(NAME, index, passage.text, qs)
