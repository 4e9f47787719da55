"""knowledge_manipulation: the paper's slot-filled biography (~32 words, 13 questions).

"<First Last> was born on <Date>. They studied in <University>. They work as
<Occupation>. They live in <City>."  A few phrasings per sentence; the last
three sentences are shuffled.  Manipulated items ask for a part of a stated
fact (first/last name, birth year/month).  The paper's "What is Cora
Delaine's first name?" would contain its own answer, so the name is cued by
its other half or by an attribute instead.
"""

import random

from . import pools
from .facts import article
from .qa import finish, question
from .text import Passage, fill

NAME = "knowledge_manipulation"

_BORN = ("{N} was born on {D}.", "{N} was born on {D}.", "{N} was born on {D}, early in the morning.")
_FACTS = {
    "uni": ("They studied in {V}.", "They studied at {V}.", "They graduated from {V}."),
    "job": ("They work as {art} {V}.", "They are employed as {art} {V}.", "They earn a living as {art} {V}."),
    "city": ("They live in {V}.", "They reside in {V}.", "Their home is in {V}."),
}
# (answer_type, FWD question templates with {name}, REV templates with {V}/{art})
_ASK = {
    "date": ("Date/Time", ("When was {name} born?", "On what date was {name} born?"),
             ("Who was born on {V}?",)),
    "uni": ("Organization", ("Where did {name} study?", "Which university did {name} attend?"),
            ("Who studied at {V}?", "Which person graduated from {V}?")),
    "job": ("Thing", ("What does {name} work as?", "What is {name}'s occupation?"),
            ("Who works as {art} {V}?",)),
    "city": ("Location", ("Where does {name} live?", "In which city does {name} reside?"),
             ("Who lives in {V}?",)),
}
_CUE = {  # "the person who ..." phrases for REV-manipulated items
    "date": "was born on {V}", "uni": "studied at {V}", "job": "works as {art} {V}", "city": "lives in {V}",
}


def generate(rng: random.Random, index: int) -> dict:
    first, last, _ = pools.person(rng)
    name = f"{first} {last}"
    date, month, year = pools.date(rng)
    occ = pools.pick(rng, "occupations")
    city_full, city = pools.location(rng)
    values = {"date": date, "uni": pools.pick(rng, "universities"), "job": occ, "city": city_full}
    born = fill(rng.choice(_BORN), key="born", N=name, D=date)
    order = ["uni", "job", "city"]
    rng.shuffle(order)
    rest = [fill(rng.choice(_FACTS[k]), key=k, V=values[k], art=article(occ).split()[0]) for k in order]
    p = Passage([[born] + rest])

    def ev(key):
        return [p.span("born", "D")] if key == "date" else [p.span(key, "V")]

    # Manipulated items point at the part they ask for (tighter T_ans).
    (n0, n1), (d0, d1) = p.span("born", "N"), p.span("born", "D")
    first_ev, last_ev = [[n0, n0 + len(first)]], [[n1 - len(last), n1]]
    month_ev, year_ev = [[d0, d0 + len(month)]], [[d1 - len(year), d1]]
    answers = {k: [v] for k, v in values.items()}
    answers["city"].append(city)

    def fmt(t, key):
        return fill(t, name=name, V=values[key], art=article(occ).split()[0]).text

    keys = list(_ASK)
    qs = []
    for k in keys:  # 4 FWD Standard: every attribute
        t, fwd, _ = _ASK[k]
        qs.append(question(fmt(rng.choice(fwd), k), answers[k], ev(k), t, "FWD"))
    for k in rng.sample(keys, 3):  # 3 REV Standard
        t, _, rev = _ASK[k]
        qs.append(question(fmt(rng.choice(rev), k), [name], [p.span("born", "N")], "Person", "REV"))
    qs += [  # 6 Manipulated: parts of the name and of the date
        question(f"What is the first name of the person whose last name is {last}?", [first], first_ev,
                 "Person", "FWD", "Manipulated"),
        question(f"What is the last name of the person whose first name is {first}?", [last], last_ev,
                 "Person", "FWD", "Manipulated"),
        question(f"In which year was {name} born?", [year], year_ev, "Date/Time", "FWD", "Manipulated"),
        question(f"In which month was {name} born?", [month], month_ev, "Date/Time", "FWD", "Manipulated"),
    ]
    k1, k2 = rng.sample(keys, 2)
    qs.append(question(fmt(f"What is the first name of the person who {_CUE[k1]}?", k1), [first], first_ev,
                       "Person", "REV", "Manipulated"))
    qs.append(question(fmt(f"What is the last name of the person who {_CUE[k2]}?", k2), [last], last_ev,
                       "Person", "REV", "Manipulated"))
    rng.shuffle(qs)
    return finish(NAME, index, p.text, qs)
