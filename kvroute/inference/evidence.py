"""Text spans -> token positions in the prompt: T_ans, every gold mention, the passage itself."""

from __future__ import annotations

import re


def passage_offset(context_text: str, passage: str) -> int:
    """Character offset of the passage inside the templated context.

    The passage is the last thing the user message holds in both regimes, so
    its last occurrence is the right one even if the question list repeats words.
    """
    start = context_text.rfind(passage)
    if start < 0:
        raise ValueError("passage not found verbatim in the prompt; the chat template altered it")
    return start


def context_offsets(tokenizer, context_text: str) -> list[tuple[int, int]]:
    """Character (start, end) of every context token."""
    return tokenizer(context_text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]


def overlapping(offsets: list[tuple[int, int]], spans: list[tuple[int, int]]) -> list[int]:
    """Token positions whose characters overlap any (start, end) character span of the context."""
    return [i for i, (a, b) in enumerate(offsets) if b > a and any(a < e and s < b for s, e in spans)]


def token_positions(tokenizer, context_text: str, passage: str, spans: list[list[int]],
                    offsets: list[tuple[int, int]] | None = None) -> list[int]:
    """T_ans: context token positions whose characters overlap any evidence span (passage characters)."""
    offset = passage_offset(context_text, passage)
    offsets = context_offsets(tokenizer, context_text) if offsets is None else offsets
    return overlapping(offsets, [(offset + s, offset + e) for s, e in spans])


def mention_positions(context_text: str, golds: list[str], offsets: list[tuple[int, int]]) -> list[int]:
    """Token positions of every whole-word, case-insensitive occurrence of a gold string anywhere in
    the context: the passage, repeated names, and in the aware regime the question list."""
    spans = []
    for gold in {g.strip() for g in golds if g.strip()}:
        pattern = re.compile(rf"(?<!\w){re.escape(gold)}(?!\w)", re.IGNORECASE)
        spans += [m.span() for m in pattern.finditer(context_text)]
    return overlapping(offsets, spans)


def passage_token_range(context_text: str, passage: str, offsets: list[tuple[int, int]]) -> tuple[int, int]:
    """[start, end) of the context tokens that overlap the passage text (not template, not question list)."""
    offset = passage_offset(context_text, passage)
    inside = overlapping(offsets, [(offset, offset + len(passage))])
    return inside[0], inside[-1] + 1
