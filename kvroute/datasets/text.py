"""Passage assembly with exact character spans for every filled slot.

Generators write sentences as templates ("{S} was born in {V}.") and keep the
slot spans, so evidence offsets are computed, never searched for afterwards.
"""

import string
from dataclasses import dataclass, field

_FMT = string.Formatter()


@dataclass
class Sentence:
    text: str
    slots: dict = field(default_factory=dict)  # slot name -> (start, end) within text
    key: str | None = None                     # fact id; None for filler


def fill(template: str, key: str | None = None, **values: str) -> Sentence:
    """Render a template, recording where each slot landed."""
    out, slots, pos = [], {}, 0
    for literal, name, _spec, _conv in _FMT.parse(template):
        out.append(literal)
        pos += len(literal)
        if name is not None:
            value = str(values[name])
            slots[name] = (pos, pos + len(value))
            out.append(value)
            pos += len(value)
    text = "".join(out)
    return Sentence(text[0].upper() + text[1:], slots, key)


class Passage:
    """Concatenated paragraphs; ``span(key, slot)`` gives absolute offsets."""

    def __init__(self, paragraphs: list[list[Sentence]]):
        parts, self.spans, pos = [], {}, 0
        for p_i, para in enumerate(paragraphs):
            if p_i:
                parts.append("\n\n")
                pos += 2
            for s_i, sent in enumerate(para):
                if s_i:
                    parts.append(" ")
                    pos += 1
                if sent.key is not None:
                    for slot, (a, b) in sent.slots.items():
                        # first sentence with a key wins: facts are stated once
                        self.spans.setdefault((sent.key, slot), (pos + a, pos + b))
                parts.append(sent.text)
                pos += len(sent.text)
        self.text = "".join(parts)

    def span(self, key: str, slot: str) -> list[int]:
        a, b = self.spans[(key, slot)]
        return [a, b]


def n_words(text: str) -> int:
    return len(text.split())


def word_count(sentences: list[Sentence]) -> int:
    return sum(n_words(s.text) for s in sentences)
