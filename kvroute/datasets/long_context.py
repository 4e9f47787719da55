"""long_context: an organization and three linked satellites spread over ~1100 words, 10 questions.

The passage falls into three thirds (early, middle, late).  The hub
organization is named once, in the opening sentence; its facts are spread
over all three thirds and refer back to it as "the organization", as do the
satellites' link sentences (multi_entity.LINKS with the hub as its epithet).
So "Of which organization was Kaelin Vireo the treasurer?" is cued in a
late paragraph and answered by the opening sentence.  Between the facts sit
distractors: unasked attributes of every entity, flavour sentences and the
long-passage filler grammar.

Questions: three with evidence in each third (both directions), plus one
Part question that joins a hub fact of the first third with one of the last.
Every answer is stated once (schema.UNIQUE_ANSWER_DATASETS) and the
validator checks that evidence reaches every third (schema.SPREAD_DATASETS).
"""

import random

from . import pools
from .facts import KINDS, intro, new_entity
from .filler import fit, pad, rich_filler_sentence
from .multi_entity import LINKS, paragraph_facts
from .qa import ask_attr, finish, question
from .text import Passage, fill, word_count

NAME = "long_context"
N_QUESTIONS = 10
WORDS = (900, 1300)
HUB = {"S": "the organization", "s": "the organization", "poss": "its", "noun": "organization"}


def generate(rng: random.Random, index: int) -> dict:
    hub = new_entity(rng, KINDS["organisation"])
    sat_kinds = rng.sample(["person", "person", "thing", "creature"], 3)
    roles = pools.picks(rng, "roles", 3)
    # a creature satellite is the hub's "symbol": an "emblem" fact would be a second, competing one
    attrs = [a for a in hub.kind.attrs if not (a.id == "emblem" and "creature" in sat_kinds)]
    hub_facts = [(a, a.sample(rng)) for a in rng.sample(attrs, 6)]  # two per third
    hub_sents = [fill(rng.choice(a.says), key=f"hub.{a.id}", V=v, **HUB) for a, v in hub_facts]

    sats, sat_facts, sat_paras, links = [], [], [], []
    for i, (kid, role) in enumerate(zip(sat_kinds, roles)):
        sat = new_entity(rng, KINDS[kid])
        says, fwd, rev = rng.choice(LINKS[kid])
        link = fill(says, key=f"s{i}.link", N=sat.name, H=HUB["S"], role=role)
        facts, sents = paragraph_facts(rng, sat, 4, f"s{i}")
        sats.append(sat)
        sat_facts.append(facts)
        sat_paras.append([link] + sents)
        links.append((role, fwd, rev))

    # third -> paragraphs; each paragraph remembers whose flavour it may use
    thirds = [[([intro(rng, hub, "hub.intro")] + hub_sents[0:2], hub), (sat_paras[0], sats[0])],
              [(hub_sents[2:4], hub), (sat_paras[1], sats[1])],
              [(sat_paras[2], sats[2]), (hub_sents[4:6], hub)]]

    target = rng.randint(950, 1180)
    spare = {id(e): rng.sample(e.kind.flavour, len(e.kind.flavour)) for e in [hub] + sats}
    spare.update({id(s): spare[id(next(e for e in sats if e.kind is s.kind))] for s in sats})  # same kind: share
    used: set[str] = set()
    paragraphs = []
    for paras in thirds:
        for para, ent in paras:
            refs = HUB if ent is hub else ent.refs(rng)
            flavour = [fill(x, **refs) for x in spare[id(ent)][:3]]
            del spare[id(ent)][:3]
            own = word_count(para)
            goal = max(own, target // 6)
            paragraphs.append(pad(rng, para, goal, goal + 25, flavour=flavour, used=used,
                                  sentence=rich_filler_sentence))
    fit(rng, paragraphs, target, WORDS[1] - 20, used)
    passage = Passage(paragraphs)

    # candidates: (third where the evidence starts, direction, builder), measured on the passage
    def third(key: str, slot: str) -> int:
        return 3 * passage.span(key, slot)[0] // len(passage.text)

    cands = []
    for ent, facts, key, name_key in [(hub, hub_facts, "hub", "hub.intro")] + [
            (sat, sat_facts[i], f"s{i}", f"s{i}.link") for i, sat in enumerate(sats)]:
        for a, v in facts:
            spec = ("attr", ent, a, v, key, name_key)
            cands += [(third(f"{key}.{a.id}", "V"), "FWD", spec), (third(name_key, "N"), "REV", spec)]
    for i in range(len(sats)):
        cands += [(third(f"s{i}.link", "N"), "FWD", ("link", i)), (third("hub.intro", "N"), "REV", ("link", i))]
    if min(sum(c[0] == t for c in cands) for t in range(3)) < 4:
        raise ValueError("long_context: a third holds too few facts")  # registry redraws
    while True:
        picked = [c for t in range(3) for c in rng.sample([c for c in cands if c[0] == t], 3)]
        facts = [(c[2][0], c[2][1] if c[2][0] == "link" else c[2][2].id, id(c[2][1])) for c in picked]
        n_rev = sum(c[1] == "REV" for c in picked)
        if len(set(facts)) == len(facts) and 3 <= n_rev <= 6:
            break
    qs = []
    for _, d, spec in picked:
        if spec[0] == "link":
            i = spec[1]
            sat, (role, fwd, rev) = sats[i], links[i]
            slots = {"N": sat.name, "H": hub.name, "role": role, "hub": hub.kind.noun}
            if d == "FWD":
                qs.append(question(fill(fwd, **slots).text, [sat.name], [passage.span(f"s{i}.link", "N")],
                                   sat.kind.answer_type, "FWD"))
            else:
                qs.append(question(fill(rev, **slots).text, [hub.name], [passage.span("hub.intro", "N")],
                                   hub.kind.answer_type, "REV"))
        else:
            _, ent, a, v, key, name_key = spec
            qs.append(ask_attr(rng, ent, a, v, d, passage, f"{key}.{a.id}", name_key))
    qs.append(_part(rng, hub, rng.choice(hub_facts[0:2]), rng.choice(hub_facts[4:6]), passage))
    rng.shuffle(qs)
    return finish(NAME, index, passage.text, qs)


def _part(rng, hub, early, late, passage) -> dict:
    """Two hub facts from the first and last thirds in one question ("Part")."""
    (a1, v1), (a2, v2) = early, late
    q1 = fill(rng.choice(a1.fwd), name=hub.name, poss="its").text
    q2 = fill(rng.choice(a2.fwd), name="that organization", poss="its").text
    text = f"{q1[:-1]}, and {q2[0].lower()}{q2[1:]}"
    ev = [passage.span(f"hub.{a1.id}", "V"), passage.span(f"hub.{a2.id}", "V")]
    return question(text, [f"{v1} and {v2}"], ev, a1.answer_type, "FWD", "Part")
