"""Neutral filler sentences: a small grammar with no names, numbers or dates.

Filler pads passages to the target length without restating any answer, so
the minimal-redundancy promise holds (the validator checks it anyway).
"""

import random

from .text import Sentence, fill

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


_PHRASES = _WHAT + _TOPIC  # a phrase used twice reads as a copy-paste


def pad(rng: random.Random, sentences: list[Sentence], target_words: int, max_words: int,
        keep_first: int = 1, flavour: list[Sentence] = ()) -> list[Sentence]:
    """Insert filler at random positions (after the first ``keep_first``
    sentences) until ``target_words`` is reached without exceeding
    ``max_words``.  ``flavour`` offers subject-specific, answer-free sentences
    that are mixed in with the generic grammar."""
    out, flavour = list(sentences), list(flavour)
    words = sum(len(s.text.split()) for s in out)
    used: set[str] = set()
    for _ in range(400):
        if words >= target_words:
            break
        if flavour and rng.random() < 0.4:
            s = flavour.pop(rng.randrange(len(flavour)))
            phrases = set()
        else:
            s = filler_sentence(rng)
            phrases = {p for p in _PHRASES if p in s.text}
        n = len(s.text.split())
        if phrases & used or words + n > max_words:
            continue
        used |= phrases
        out.insert(rng.randint(keep_first, len(out)), s)
        words += n
    return out
