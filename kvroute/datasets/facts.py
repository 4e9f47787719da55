"""Entity kinds and their attributes: the fact grammar shared by the
free-text generators (base, multi_entity, ...).

Each attribute carries several statement phrasings (so passages differ in
surface form), forward questions (subject -> attribute) and reverse questions
(attribute -> subject).  Template slots: {S}/{s} subject reference at/after
sentence start, {poss} possessive pronoun, {V} the value, {name} the subject
name (questions only), {noun} the kind noun.
"""

import random
from dataclasses import dataclass
from typing import Callable

from . import pools
from .pools import pick
from .text import Sentence, fill


def article(phrase: str) -> str:
    return ("an " if phrase[0].lower() in "aeiou" else "a ") + phrase


@dataclass(frozen=True)
class Attr:
    id: str
    answer_type: str
    sample: Callable[[random.Random], str]
    says: tuple[str, ...]
    fwd: tuple[str, ...]
    rev: tuple[str, ...]
    the: bool = False  # value reads "the <V>" in text (events, creatures): accept both


@dataclass(frozen=True)
class Kind:
    id: str
    noun: str
    answer_type: str
    sample_name: Callable[[random.Random], tuple[str, str]]  # -> (name, gender or "")
    intros: tuple[str, ...]  # slot {N} = name
    attrs: tuple[Attr, ...]
    epithet: str = ""        # how prose refers back to the subject ("the creature")
    flavour: tuple[str, ...] = ()  # answer-free descriptive sentences, used as filler


def _num(lo, hi):
    return lambda r: str(r.randint(lo, hi))


def _year(lo, hi):
    return lambda r: pools.year(r, lo, hi)


def _pool(name):
    return lambda r: pick(r, name)


def _person_name(r):
    first, last, gender = pools.person(r)
    return f"{first} {last}", gender


def _full_name(r):
    return _person_name(r)[0]


_ADJ = ["quiet", "curious", "remarkable", "peculiar", "modest", "storied", "unusual", "well-loved",
        "little-known", "much-discussed"]

PERSON = Kind("person", "person", "Person", _person_name, (
    "{N} is remembered as one of the more {adj} personalities of {poss} generation.",
    "{N} lived {a_adj} life that is still talked about today.",
    "Few stories are as {adj} as that of {N}.",
), (
    Attr("birth_year", "Date/Time", _year(1890, 1995),
         ("{S} was born in {V}.", "{S} came into the world in {V}, the youngest of several children."),
         ("In which year was {name} born?", "When was {name} born?"),
         ("Which person was born in {V}?", "Who was born in {V}?")),
    Attr("hometown", "Location", _pool("cities"),
         ("{S} grew up in the town of {V}.", "{poss} childhood was spent in {V}, close to the river."),
         ("Where did {name} grow up?", "In which town did {name} spend {poss} childhood?"),
         ("Who grew up in {V}?",)),
    Attr("employer", "Organization", _pool("organisations"),
         ("{S} spent most of {poss} career working for {V}.", "For many years {s} was employed by {V}."),
         ("Which organization employed {name}?", "For which organization did {name} work?"),
         ("Who spent a long career working for {V}?",)),
    Attr("mentor", "Person", _full_name,
         ("{S} learned the trade from {V}.", "As a young apprentice, {s} was taught by {V}."),
         ("From whom did {name} learn the trade?", "Who taught {name} as an apprentice?"),
         ("Who learned the trade from {V}?",)),
    Attr("companion", "Creature", _pool("creatures"),
         ("{S} kept a tame {V} as a companion.", "A tame {V} followed {poss} every step."),
         ("What kind of animal did {name} keep as a companion?", "Which creature accompanied {name}?"),
         ("Who kept a tame {V} as a companion?",)),
    Attr("awards", "Numerals", _num(3, 48),
         ("{S} received {V} awards over {poss} lifetime.", "In total, {s} collected {V} awards."),
         ("How many awards did {name} receive?",),
         ("Who received {V} awards over a lifetime?",)),
    Attr("event", "Event", _pool("events"),
         ("{S} helped organize the {V}.", "It was {s} who organized much of the {V}."),
         ("Which event did {name} help organize?", "What event is {name} known for organizing?"),
         ("Who helped organize the {V}?",), the=True),
    Attr("design", "Thing", _pool("things"),
         ("{S} designed the {V}.", "The {V} was designed by {s} in a borrowed workshop."),
         ("What did {name} design?", "Which object was designed by {name}?"),
         ("Who designed the {V}?",), the=True),
    Attr("field", "Thing", _pool("fields"),
         ("{S} studied {V} at university.", "At university {s} chose to study {V}."),
         ("What did {name} study at university?", "Which subject did {name} study?"),
         ("Who studied {V} at university?",)),
), epithet="", flavour=(
    "{S} was known for a dry sense of humour.", "{S} rarely spoke about {poss} early years.",
    "Friends remember {poss} habit of rising before dawn.", "{S} kept careful notebooks of everyday matters.",
    "{S} disliked crowds and preferred small gatherings.", "{poss} letters were long, patient and full of questions.",
    "{S} was often seen walking alone in the late afternoon.", "Later in life {s} grew fond of gardening.",
))

ORGANISATION = Kind("organisation", "organization", "Organization", lambda r: (pick(r, "organisations"), ""), (
    "{N} is an organization with a long and {adj} history.",
    "Among its many peers, {N} has {a_adj} reputation.",
    "The story of {N} is {a_adj} one.",
), (
    Attr("founded", "Date/Time", _year(1700, 1990),
         ("{S} was founded in {V}.", "The founding charter of the {noun} is dated {V}."),
         ("When was {name} founded?", "In which year was {name} founded?"),
         ("Which organization was founded in {V}?",)),
    Attr("hq", "Location", _pool("cities"),
         ("{S} has its headquarters in {V}.", "The main offices of the {noun} stand in {V}."),
         ("Where is {name} headquartered?", "In which city are the main offices of {name}?"),
         ("Which organization is headquartered in {V}?",)),
    Attr("founder", "Person", _full_name,
         ("{S} was founded by {V}.", "It was {V} who first set up the {noun}."),
         ("Who founded {name}?", "Who set up {name}?"),
         ("Which organization did {V} found?",)),
    Attr("staff", "Numerals", _num(12, 980),
         ("{S} employs {V} people.", "Today the {noun} has {V} employees."),
         ("How many people does {name} employ?", "How many employees does {name} have?"),
         ("Which organization employs {V} people?",)),
    Attr("product", "Thing", _pool("goods"),
         ("{S} is best known for its {V}.", "Most customers know the {noun} for its {V}."),
         ("What product is {name} best known for?",),
         ("Which organization is best known for its {V}?",)),
    Attr("emblem", "Creature", _pool("creatures"),
         ("{S} uses the {V} as its emblem.", "The emblem of the {noun} shows the {V}."),
         ("Which creature appears on the emblem of {name}?",),
         ("Which organization uses the {V} as its emblem?",), the=True),
    Attr("event", "Event", _pool("events"),
         ("{S} sponsored the {V}.", "The {V} was paid for largely by the {noun}."),
         ("Which event did {name} sponsor?",),
         ("Which organization sponsored the {V}?",), the=True),
    Attr("partner", "Organization", _pool("organisations"),
         ("{S} has a long partnership with {V}.", "For decades the {noun} has worked alongside {V}."),
         ("Which organization is the long-time partner of {name}?",),
         ("Which organization has a long partnership with {V}?",)),
), epithet="the organization", flavour=(
    "{S} began as a small group meeting in a rented room.", "{S} prefers to avoid publicity.",
    "Decisions within {s} are usually taken slowly and by consensus.", "{poss} annual reports are famously brief.",
    "Newcomers to {s} often describe a friendly but demanding culture.", "{S} has moved offices more than once.",
    "{S} survived several difficult decades without major changes.", "{poss} meetings are said to run long.",
))

CREATURE = Kind("creature", "creature", "Creature", lambda r: (pick(r, "creatures"), ""), (
    "The {N} is {a_adj} creature that few people have ever seen up close.",
    "Naturalists consider the {N} {a_adj} animal.",
    "The {N} is one of the more {adj} animals described in field guides.",
), (
    Attr("habitat", "Location", _pool("places"),
         ("{S} lives in the wetlands of {V}.", "The only colonies of the {noun} are found in {V}."),
         ("Where does the {name} live?", "Where are colonies of the {name} found?"),
         ("Which creature lives in {V}?",)),
    Attr("discoverer", "Person", _full_name,
         ("{S} was first described by {V}.", "The first written description of the {noun} came from {V}."),
         ("Who first described the {name}?",),
         ("Which creature was first described by {V}?",)),
    Attr("feature", "Thing", _pool("creature_traits"),
         ("{S} is recognized by {V}.", "Its most striking trait is {V}."),
         ("What physical feature marks the {name}?", "How can the {name} be recognized?"),
         ("Which creature is recognized by {V}?",)),
    Attr("length", "Numerals", _num(2, 40),
         ("{S} can grow to {V} meters in length.", "Adults of the {noun} reach {V} meters from head to tail."),
         ("How many meters long can the {name} grow?",),
         ("Which creature can grow to {V} meters in length?",)),
    Attr("recorded", "Date/Time", _year(1600, 1990),
         ("{S} was first recorded in {V}.", "The earliest record of the {noun} dates from {V}."),
         ("In which year was the {name} first recorded?",),
         ("Which creature was first recorded in {V}?",)),
    Attr("enemy", "Creature", _pool("creatures"),
         ("{poss} only natural enemy is the {V}.", "The {V} is the one predator the {noun} fears."),
         ("What is the only natural enemy of the {name}?",),
         ("Which creature is hunted by the {V}?",), the=True),
    Attr("studied_by", "Organization", _pool("organisations"),
         ("{S} is studied closely by {V}.", "Researchers at {V} have followed the {noun} for years."),
         ("Which organization studies the {name}?",),
         ("Which creature is studied closely by {V}?",)),
    Attr("event", "Event", _pool("events"),
         ("{S} was nearly wiped out during the {V}.", "The {V} almost ended the {noun} for good."),
         ("During which event was the {name} nearly wiped out?",),
         ("Which creature was nearly wiped out during the {V}?",), the=True),
), epithet="the creature", flavour=(
    "{S} is mostly active around dusk.", "{S} avoids open water whenever it can.",
    "The young of the creature stay close to their parents for a long time.", "{S} makes a low clicking sound when disturbed.",
    "{S} spends the coldest months in a sluggish, sleepy state.", "Very little is known about how {s} communicates.",
    "{S} is shy and difficult to observe in the wild.", "{poss} tracks are easy to mistake for those of other animals.",
))

PLACE = Kind("place", "place", "Location", lambda r: (pick(r, "places"), ""), (
    "{N} is {a_adj} place far from the usual travel routes.",
    "Travellers who reach {N} describe it as {adj}.",
    "{N} is {a_adj} spot on very few maps.",
), (
    Attr("settler", "Person", _full_name,
         ("{S} was first settled by {V}.", "The first house in the {noun} was built by {V}."),
         ("Who first settled {name}?",),
         ("Which place was first settled by {V}?",)),
    Attr("mapped", "Date/Time", _year(1500, 1950),
         ("{S} was first mapped in {V}.", "No chart showed the {noun} until {V}."),
         ("In which year was {name} first mapped?",),
         ("Which place was first mapped in {V}?",)),
    Attr("population", "Numerals", _num(40, 9800),
         ("{S} is home to {V} residents.", "Exactly {V} people live in the {noun} today."),
         ("How many residents live in {name}?",),
         ("Which place is home to {V} residents?",)),
    Attr("country", "Location", _pool("countries"),
         ("{S} lies within the borders of {V}.", "The {noun} belongs to the country of {V}."),
         ("In which country does {name} lie?",),
         ("Which place lies within the borders of {V}?",)),
    Attr("event", "Event", _pool("events"),
         ("{S} is remembered as the site of the {V}.", "The {V} took place in the {noun}."),
         ("Which event took place at {name}?",),
         ("Where did the {V} take place?",), the=True),
    Attr("council", "Organization", _pool("organisations"),
         ("{S} is governed by {V}.", "Local affairs in the {noun} are run by {V}."),
         ("Which organization governs {name}?",),
         ("Which place is governed by {V}?",)),
    Attr("animal", "Creature", _pool("creatures"),
         ("{S} is the only known home of the {V}.", "The {V} lives nowhere else but in the {noun}."),
         ("Which creature lives only in {name}?",),
         ("Where is the only known home of the {V}?",), the=True),
    Attr("export", "Thing", _pool("goods"),
         ("{S} is known for exporting {V}.", "Most trade from the {noun} consists of {V}."),
         ("What does {name} export?",),
         ("Which place is known for exporting {V}?",)),
), epithet="the area", flavour=(
    "{S} is often covered in thick morning fog.", "The roads into the area are narrow and winding.",
    "{S} has no railway station.", "Summers in the area are short and bright.",
    "Most houses in the area are built close together.", "{S} is quiet for most of the year.",
    "Strong winds sweep across the area in spring.", "{poss} narrow streets are hard to navigate at night.",
))

THING = Kind("thing", "artifact", "Thing", lambda r: (pick(r, "things"), ""), (
    "The {N} is {a_adj} artifact with an unusual story.",
    "Collectors regard the {N} as {a_adj} object.",
    "The {N} is among the more {adj} objects ever catalogued.",
), (
    Attr("maker", "Person", _full_name,
         ("{S} was crafted by {V}.", "It was {V} who crafted the {noun}."),
         ("Who crafted the {name}?",),
         ("Which artifact was crafted by {V}?",)),
    Attr("completed", "Date/Time", _year(1400, 1950),
         ("{S} was completed in {V}.", "Work on the {noun} was finished in {V}."),
         ("When was the {name} completed?", "In which year was the {name} finished?"),
         ("Which artifact was completed in {V}?",)),
    Attr("kept", "Location", _pool("cities"),
         ("{S} is kept today in a museum in {V}.", "Visitors can see the {noun} in a museum in {V}."),
         ("In which city is the {name} kept today?",),
         ("Which artifact is kept in a museum in {V}?",)),
    Attr("weight", "Numerals", _num(2, 350),
         ("{S} weighs {V} kilograms.", "The {noun} is heavy, weighing {V} kilograms."),
         ("How many kilograms does the {name} weigh?",),
         ("Which artifact weighs {V} kilograms?",)),
    Attr("material", "Thing", _pool("materials"),
         ("{S} is made of {V}.", "The {noun} was shaped from {V}."),
         ("What is the {name} made of?",),
         ("Which artifact is made of {V}?",)),
    Attr("owner", "Organization", _pool("organisations"),
         ("{S} belongs to {V}.", "Ownership of the {noun} rests with {V}."),
         ("Which organization owns the {name}?",),
         ("Which artifact belongs to {V}?",)),
    Attr("event", "Event", _pool("events"),
         ("{S} was carried in procession during the {V}.", "During the {V} the {noun} was carried through the streets."),
         ("During which event was the {name} carried in procession?",),
         ("Which artifact was carried in procession during the {V}?",), the=True),
    Attr("creature", "Creature", _pool("creatures"),
         ("{S} is decorated with images of the {V}.", "Images of the {V} cover the {noun}."),
         ("Which creature is depicted on the {name}?",),
         ("Which artifact is decorated with images of the {V}?",), the=True),
), epithet="the artifact", flavour=(
    "{S} shows signs of careful repair.", "{S} is rarely moved from its display case.",
    "Experts disagree about how {s} was first used.", "{poss} surface is worn smooth in several places.",
    "{S} is more fragile than it looks.", "Copies of the artifact were made but none survive.",
    "{S} is usually shown under dim light.", "{poss} original case has been lost.",
))

KINDS = {k.id: k for k in (PERSON, ORGANISATION, CREATURE, PLACE, THING)}


@dataclass
class Entity:
    kind: Kind
    name: str
    gender: str = ""

    def refs(self, rng: random.Random) -> dict:
        """Subject reference after the first mention: pronoun or epithet, never the name."""
        if self.kind.id == "person":
            s, poss = ("she", "her") if self.gender == "female" else ("he", "his")
        else:
            s, poss = rng.choice(["it", self.kind.epithet]), "its"
        return {"S": s, "s": s, "poss": poss, "noun": self.kind.epithet.removeprefix("the ")}


def new_entity(rng: random.Random, kind: Kind) -> Entity:
    name, gender = kind.sample_name(rng)
    return Entity(kind, name, gender)


def answers_for(attr: Attr, value: str) -> list[str]:
    return [value, f"the {value}"] if attr.the else [value]


def intro(rng: random.Random, ent: Entity, key: str) -> Sentence:
    """The sentence that names the entity (slot N) for the first time."""
    adj = rng.choice(_ADJ)
    return fill(rng.choice(ent.kind.intros), key=key, N=ent.name, adj=adj, a_adj=article(adj),
                poss=ent.refs(rng)["poss"])
