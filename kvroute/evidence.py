"""Evidence spans (characters in the passage) -> token positions in the prompt (T_ans)."""

from __future__ import annotations


def passage_offset(context_text: str, passage: str) -> int:
    """Character offset of the passage inside the templated context.

    The passage is the last thing the user message holds in both regimes, so
    its last occurrence is the right one even if the question list repeats words.
    """
    start = context_text.rfind(passage)
    if start < 0:
        raise ValueError("passage not found verbatim in the prompt; the chat template altered it")
    return start


def token_positions(tokenizer, context_text: str, passage: str, spans: list[list[int]]) -> list[int]:
    """Context token positions whose characters overlap any evidence span."""
    offset = passage_offset(context_text, passage)
    enc = tokenizer(context_text, add_special_tokens=False, return_offsets_mapping=True)
    wanted = [(offset + s, offset + e) for s, e in spans]
    return [i for i, (a, b) in enumerate(enc["offset_mapping"])
            if b > a and any(a < e and s < b for s, e in wanted)]
