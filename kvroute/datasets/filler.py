"""Neutral filler sentences: a small grammar with no names, numbers or dates.

Filler pads passages to the target length without restating any answer, so
the minimal-redundancy promise holds (the validator checks it anyway).
"""

import random
from typing import Callable

from .text import Sentence, fill, word_count

_WHO = ["local accounts", "several visitors", "most observers", "older residents",
        "a few travelling writers", "the surviving notes", "regional newsletters",
        "careful readers", "later commentators", "casual onlookers", "schoolteachers in the area",
        "many neighbours"]
_VERB = ["describe", "remember", "speak of", "tend to portray", "often mention", "rarely dwell on",
         "sometimes question", "quietly admire", "keep returning to", "still argue about"]
_WHAT = ["the calm that settles over everything in the evening",
         "how ordinary daily life felt during those seasons",
         "the long walks people took along the quiet roads",
         "the smell of rain drifting in from the hills",
         "the patience that such work seemed to demand",
         "the way small habits slowly became traditions",
         "the modest routines that filled most afternoons",
         "a sense of steady, unhurried progress",
         "the gentle noise of markets on busy mornings",
         "the plain wooden benches where people gathered to talk",
         "the slow change of light across the open fields",
         "the many small kindnesses exchanged between strangers"]
_WHEN = ["over the years", "in quieter times", "during the long winters", "on most ordinary days",
         "as the seasons turned", "in later accounts", "from one generation to the next",
         "whenever the weather allowed"]
_STATE = ["remains a matter of friendly debate", "is seldom written down in any detail",
          "has changed very little", "is easy to overlook", "rewards a second look",
          "is still discussed over long dinners", "seems unremarkable at first glance",
          "was rarely questioned"]
_TOPIC = ["much of the everyday routine", "the ordinary rhythm of the place", "the reason for this",
          "the general mood of the period", "the exact order of small events", "this quieter side of the story",
          "the pace of daily work", "the tone of most conversations"]
_TAIL = ["and few people seem to mind", "though opinions differ", "which suits most people well",
         "as is often the case", "and nobody is in a hurry to change it",
         "much like in many similar stories"]

_TEMPLATES = [
    lambda r: f"{r.choice(_WHO)} {r.choice(_VERB)} {r.choice(_WHAT)}.",
    lambda r: f"{r.choice(_WHEN)}, {r.choice(_WHO)} {r.choice(_VERB)} {r.choice(_WHAT)}.",
    lambda r: f"{r.choice(_TOPIC)} {r.choice(_STATE)}, {r.choice(_TAIL)}.",
    lambda r: f"{r.choice(_WHEN)}, {r.choice(_TOPIC)} {r.choice(_STATE)}.",
    lambda r: f"according to {r.choice(_WHO)}, {r.choice(_TOPIC)} {r.choice(_STATE)}.",
    lambda r: f"{r.choice(_WHO)} {r.choice(_VERB)} {r.choice(_WHAT)}, {r.choice(_TAIL)}.",
]


def filler_sentence(rng: random.Random) -> Sentence:
    return fill(rng.choice(_TEMPLATES)(rng))


# A richer grammar for long passages (long_context, hops, multi_presence):
# digressions about scenery, archives and daily life.  Still no names,
# numbers or dates; every scene phrase may appear once per passage.
_SCENE = ["the narrow lanes behind the old market", "the draughty reading room upstairs",
          "the muddy tracks that led down to the water", "the long rows of shelves in the back office",
          "the small courtyard shaded by a crooked tree", "the crowded benches near the main door",
          "the cold stone steps at the edge of the square", "the faded maps pinned along one wall",
          "the low fields that flooded every spring", "the creaking stairs of the upper gallery",
          "the workshops clustered near the western road", "the boxes of loose papers nobody had sorted",
          "the bells that rang at the start of each shift", "the kitchens where everyone met at noon",
          "the orchards planted along the southern slope", "the quiet hour before the lamps were lit",
          "the footpaths worn into the hillside", "the storerooms smelling of dust and candle wax",
          "the evening meetings held around a single long table", "the carts that rattled past at first light",
          "the gardens kept in careful, tidy squares", "the wide porch where visitors waited",
          "the little bridge that washed away in storms", "the open windows of the drafting room",
          "the piles of ledgers stacked in the corridor", "the mist that hung over the reed beds",
          "the fires kept burning through the cold months", "the chalk marks left on the doorframes",
          "the rough benches outside the workshop", "the shallow ponds at the bottom of the valley",
          "the sound of hammers from the yard below", "the worn carpets of the visiting rooms",
          "the apprentices sweeping the floors each evening", "the lanterns hung along the harbour wall",
          "the steep road climbing toward the ridge", "the crates of tools waiting to be repaired",
          "the patched roof that leaked above the stairwell", "the afternoon queues at the water pump",
          "the tall grass growing between the paving stones", "the painted signs above the shop doors",
          "the heavy curtains drawn against the afternoon sun", "the long tables covered in unfinished drawings",
          "the muddy boots lined up beside the entrance", "the copper kettles hanging over the stove",
          "the gulls circling above the fish stalls", "the narrow windows of the old granary",
          "the cramped attic where spare furniture was kept", "the washing lines strung between the houses",
          "the overgrown hedges along the cemetery path", "the dusty cabinets full of forgotten samples",
          "the noisy dormitories of the first-year students", "the rusted gates at the end of the lane",
          "the cold draughts that crept under every door", "the reading lamps that burned late into the night",
          "the boats pulled up on the shingle for repair", "the cracked flagstones of the inner yard",
          "the wooden crates stacked against the warehouse wall", "the damp cellars beneath the main hall",
          "the hand-written notices taped to the front door", "the smoke rising from the chimneys at dusk"]
_SCENE_VERB = ["seldom made it into official accounts", "left a lasting impression on newcomers",
               "changed slowly from one decade to the next", "drew many small complaints",
               "featured in almost every private diary of the period", "seemed ordinary to most people",
               "gave the whole place its particular character", "slowly improved thanks to volunteers",
               "turned up again and again in later memoirs", "earned real and lasting affection"]
_OPEN = ["it is worth pausing on", "little attention has been paid to", "visitors rarely noticed",
         "one detail often overlooked is", "it is easy to forget", "some accounts linger on"]
# Phrases never open a sentence here (fill() capitalizes the first letter, which
# would hide a repeat from pad()'s phrase check); the base templates that keep
# them inside the sentence are reused.
_RICH = [_TEMPLATES[i] for i in (0, 1, 3, 4, 5)] + [
    lambda r: f"{r.choice(_WHEN)}, {r.choice(_SCENE)} {r.choice(_SCENE_VERB)}.",
    lambda r: f"even {r.choice(_SCENE)} {r.choice(_SCENE_VERB)}.",
    lambda r: f"{r.choice(_OPEN)} {r.choice(_SCENE)}, {r.choice(_TAIL)}.",
    lambda r: f"{r.choice(_WHO)} {r.choice(_VERB)} {r.choice(_SCENE)}.",
    lambda r: f"in many ways, {r.choice(_TOPIC)} {r.choice(_STATE)}, {r.choice(_TAIL)}.",
]


def rich_filler_sentence(rng: random.Random) -> Sentence:
    """Filler for long passages: the base grammar plus scenery digressions."""
    return fill(rng.choice(_RICH)(rng))


_PHRASES = _WHAT + _TOPIC + _SCENE  # a phrase used twice reads as a copy-paste


def _phrases(s: Sentence) -> set[str]:
    return {p for p in _PHRASES if p in s.text}


def pad(rng: random.Random, sentences: list[Sentence], target_words: int, max_words: int,
        keep_first: int = 1, flavour: list[Sentence] = (), used: set[str] | None = None,
        sentence: Callable[[random.Random], Sentence] = filler_sentence) -> list[Sentence]:
    """Insert filler at random positions (after the first ``keep_first``
    sentences) until ``target_words`` is reached without exceeding
    ``max_words``.  ``flavour`` offers subject-specific, answer-free sentences
    that are mixed in with the generic grammar.  Pass one ``used`` set to
    several calls to keep a phrase from recurring across paragraphs, and
    ``sentence=rich_filler_sentence`` for long passages."""
    out, flavour = list(sentences), list(flavour)
    words = sum(len(s.text.split()) for s in out)
    used = set() if used is None else used
    for _ in range(400):
        if words >= target_words:
            break
        if flavour and rng.random() < 0.4:
            s = flavour.pop(rng.randrange(len(flavour)))
            phrases = set()
        else:
            s = sentence(rng)
            phrases = _phrases(s)
        n = len(s.text.split())
        if phrases & used or words + n > max_words:
            continue
        used |= phrases
        out.insert(rng.randint(keep_first, len(out)), s)
        words += n
    return out


def fit(rng: random.Random, paragraphs: list[list[Sentence]], target: int, hi: int, used: set[str],
        sentence: Callable[[random.Random], Sentence] = rich_filler_sentence) -> None:
    """Bring a multi-paragraph passage to ``target`` words without passing
    ``hi``, in place: add filler to random paragraphs (never before a
    paragraph's first sentence), then drop filler (never facts) while over
    ``hi``.  Used for the tight word ranges (hops is 1100 +- 20)."""
    words = sum(word_count(p) for p in paragraphs)
    for _ in range(400):
        if words >= target:
            break
        s = sentence(rng)
        phrases, n = _phrases(s), len(s.text.split())
        if phrases & used or words + n > hi:
            continue
        used |= phrases
        para = rng.choice(paragraphs)
        para.insert(rng.randint(1, len(para)), s)
        words += n
    while words > hi:
        para = max(paragraphs, key=lambda p: sum(s.key is None for s in p[1:]))
        s = next(s for s in reversed(para[1:]) if s.key is None)
        para.remove(s)
        words -= len(s.text.split())
