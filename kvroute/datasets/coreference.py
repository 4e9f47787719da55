"""coreference: slot-filled biography with pronoun references (~44 words, 9 questions).

"<First Last> was born on <Date> in <Location>. <He/She> is <male/female>.
<He/She> studied at <University> in <Location> ..."  Questions refer to the
subject by pronoun; three use the wrong pronoun, so nobody in the passage
matches and the gold answer is "I don't know" (paper 3.1).  Their evidence is
the span of the attribute asked about, the tokens a hallucinated answer would
come from.
"""

import random

from . import pools
from .facts import article
from .qa import finish, question
from .schema import IDK
from .text import Passage, fill

NAME = "coreference"
N_FWD, N_REV, N_SWAPPED = 4, 2, 3

_PRON = {"female": ("she", "her", "female"), "male": ("he", "his", "male")}
_SENT = {
    "born": ("{N} was born on {date} in {birth}.", "{N} was born in {birth} on {date}."),
    "gender": ("{p} is {g}.",),
    "uni": ("{p} studied at {uni} in {uniloc}.", "{p} studied in {uni} in {uniloc}.",
            "{p} attended {uni}, located in {uniloc}."),
    "job": ("{p} works as {art} {job}.", "{p} is employed as {art} {job}.", "These days {p} works as {art} {job}."),
    "home": ("{p} lives in {home}.", "{p} now lives in {home}.", "{poss} home is in {home}."),
}
# attribute -> (sentence key, answer_type, pronoun questions, REV questions)
_ATTR = {
    "date": ("born", "Date/Time", ("When was {p} born?", "On what date was {p} born?"), ("Who was born on {date}?",)),
    "birth": ("born", "Location", ("Where was {p} born?", "In which city was {p} born?"), ("Who was born in {birth}?",)),
    "uni": ("uni", "Organization", ("Where did {p} study?", "Which university did {p} attend?"),
            ("Who studied at {uni}?",)),
    "uniloc": ("uni", "Location", ("Where is the university {p} attended located?",
                                   "In which city did {p} go to university?"), ()),
    "job": ("job", "Thing", ("What does {p} work as?", "What is {poss} occupation?"), ("Who works as {art} {job}?",)),
    "home": ("home", "Location", ("Where does {p} live?", "In which city does {p} live now?"), ("Who lives in {home}?",)),
}


def generate(rng: random.Random, index: int) -> dict:
    first, last, gender = pools.person(rng)
    p, poss, g = _PRON[gender]
    date, _, _ = pools.date(rng)
    (birth, birth_city), (uniloc, uniloc_city), (home, home_city) = (pools.location(rng) for _ in range(3))
    job = pools.pick(rng, "occupations")
    v = {"N": f"{first} {last}", "date": date, "birth": birth, "uni": pools.pick(rng, "universities"),
         "uniloc": uniloc, "job": job, "home": home, "art": article(job).split()[0], "p": p, "poss": poss, "g": g}
    sents = [fill(rng.choice(_SENT[k]), key=k, **v) for k in ("born", "gender", "uni", "job", "home")]
    passage = Passage([sents])
    answers = {"date": [date], "birth": [birth, birth_city], "uni": [v["uni"]], "uniloc": [uniloc, uniloc_city],
               "job": [job], "home": [home, home_city]}

    def ev(attr):
        return [passage.span(_ATTR[attr][0], attr)]

    qs = []
    for attr in rng.sample(sorted(_ATTR), N_FWD):
        _, atype, fwd, _ = _ATTR[attr]
        qs.append(question(fill(rng.choice(fwd), **v).text, answers[attr], ev(attr), atype, "FWD"))
    for attr in rng.sample([a for a in sorted(_ATTR) if _ATTR[a][3]], N_REV):
        qs.append(question(fill(rng.choice(_ATTR[attr][3]), **v).text, [v["N"]], [passage.span("born", "N")],
                           "Person", "REV"))
    wrong_p, wrong_poss, _ = _PRON["male" if gender == "female" else "female"]
    for attr in rng.sample(sorted(_ATTR), N_SWAPPED):
        # Same question with the other gender's pronoun: no such person in the passage.
        _, atype, fwd, _ = _ATTR[attr]
        text = fill(rng.choice(fwd), **{**v, "p": wrong_p, "poss": wrong_poss}).text
        qs.append(question(text, [IDK], ev(attr), atype, "FWD", "Manipulated"))
    rng.shuffle(qs)
    return finish(NAME, index, passage.text, qs)
