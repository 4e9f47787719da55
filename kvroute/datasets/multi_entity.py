"""multi_entity: a hub entity and 3-4 linked satellites, ~500 words, 10 questions.

One paragraph per entity.  Link sentences tie each satellite to the hub, so
questions cross entities (FWD hub -> satellite, REV satellite -> hub) as well
as asking each entity's own attributes in both directions.
"""

import random

from . import pools
from .facts import KINDS, intro, new_entity
from .filler import pad
from .qa import ask_attr, directions, finish, question
from .text import Passage, fill, word_count

NAME = "multi_entity"
N_QUESTIONS = 10
WORDS = (400, 600)

# satellite kind -> [(statement, FWD question -> satellite, REV question -> hub)]
LINKS = {
    "person": [
        ("{N} served as the {role} of {H}.", "Who served as the {role} of {H}?",
         "Of which {hub} was {N} the {role}?"),
        ("For many years, {N} was the {role} of {H}.", "Who was the {role} of {H} for many years?",
         "Which {hub} had {N} as its {role}?"),
    ],
    "thing": [
        ("{H} is the custodian of the {N}.", "Which artifact is held in the custody of {H}?",
         "Which {hub} is the custodian of the {N}?"),
        ("The {N} has long been in the care of {H}.", "Which artifact has long been in the care of {H}?",
         "In the care of which {hub} has the {N} long been?"),
    ],
    "creature": [
        ("The {N} is the animal most closely associated with {H}.",
         "Which creature is most closely associated with {H}?",
         "With which {hub} is the {N} most closely associated?"),
        ("{H} adopted the {N} as its symbol.", "Which creature did {H} adopt as its symbol?",
         "Which {hub} adopted the {N} as its symbol?"),
    ],
    "organisation": [
        ("{N} was set up as a branch of {H}.", "Which organization was set up as a branch of {H}?",
         "Of which {hub} is {N} a branch?"),
    ],
}


def paragraph_facts(rng, ent, n_attrs, key):
    attrs = rng.sample(ent.kind.attrs, n_attrs)
    facts = [(a, a.sample(rng)) for a in attrs]
    sents = [fill(rng.choice(a.says), key=f"{key}.{a.id}", V=v, **ent.refs(rng)) for a, v in facts]
    rng.shuffle(sents)
    return facts, sents


def generate(rng: random.Random, index: int) -> dict:
    hub = new_entity(rng, KINDS[rng.choice(["organisation", "place"])])
    # an organisation satellite of an organisation hub would share its epithet
    pool = ["person", "person", "thing", "creature"] + (["organisation"] if hub.kind.id == "place" else [])
    sat_kinds = rng.sample(pool, rng.choice([3, 4]))
    roles = pools.picks(rng, "roles", len(sat_kinds))

    hub_facts, hub_sents = paragraph_facts(rng, hub, 4, "hub")
    paragraphs = [[intro(rng, hub, "hub.intro")] + hub_sents]
    ents, sat_facts, links = [hub], [], []
    for i, (kid, role) in enumerate(zip(sat_kinds, roles)):
        sat = new_entity(rng, KINDS[kid])
        says, fwd, rev = rng.choice(LINKS[kid])
        link = fill(says, key=f"s{i}.link", N=sat.name, H=hub.name, role=role)
        facts, sents = paragraph_facts(rng, sat, 3, f"s{i}")
        paragraphs.append([link] + sents)
        ents.append(sat)
        sat_facts.append(facts)
        links.append((sat, role, fwd, rev))

    # Spread the filler over the paragraphs so no entity sits in a wall of padding.
    target = rng.randint(440, 540)
    extra = max(0, target - sum(word_count(p) for p in paragraphs)) / len(paragraphs)
    # Entities of the same kind share the flavour templates without repeating one.
    spare = {k: rng.sample(KINDS[k].flavour, len(KINDS[k].flavour)) for k in KINDS}
    for i, para in enumerate(paragraphs):
        mine, spare[ents[i].kind.id] = spare[ents[i].kind.id][:4], spare[ents[i].kind.id][4:]
        flavour = [fill(t, **ents[i].refs(rng)) for t in mine]
        own = word_count(para)
        paragraphs[i] = pad(rng, para, target_words=own + int(extra), max_words=own + int(extra) + 20,
                            flavour=flavour)
    # Per-paragraph overshoot can add up; drop filler (never facts) to stay in range.
    while sum(word_count(p) for p in paragraphs) > WORDS[1]:
        para = max(paragraphs, key=lambda p: sum(s.key is None for s in p))
        para.remove(next(s for s in reversed(para) if s.key is None))
    passage = Passage(paragraphs)

    # Candidate questions: every link, plus attributes of every entity.
    cands = [("link", i) for i in range(len(links))]
    cands += [("attr", 0, a, v) for a, v in hub_facts]
    cands += [("attr", i + 1, a, v) for i, facts in enumerate(sat_facts) for a, v in facts]
    picked = cands[:len(links)] + rng.sample(cands[len(links):], N_QUESTIONS - len(links))
    qs = []
    for cand, d in zip(picked, directions(rng, N_QUESTIONS, rng.randint(4, 6))):
        if cand[0] == "link":
            i = cand[1]
            sat, role, fwd, rev = links[i]
            slots = {"N": sat.name, "H": hub.name, "role": role, "hub": hub.kind.noun}
            if d == "FWD":
                qs.append(question(fill(fwd, **slots).text, [sat.name], [passage.span(f"s{i}.link", "N")],
                                   sat.kind.answer_type, "FWD"))
            else:
                qs.append(question(fill(rev, **slots).text, [hub.name], [passage.span(f"s{i}.link", "H")],
                                   hub.kind.answer_type, "REV"))
        else:
            _, e, a, v = cand
            key, name_key = ("hub", "hub.intro") if e == 0 else (f"s{e - 1}", f"s{e - 1}.link")
            qs.append(ask_attr(rng, ents[e], a, v, d, passage, f"{key}.{a.id}", name_key))
    rng.shuffle(qs)
    return finish(NAME, index, passage.text, qs)
