"""Prompt building for the two inference regimes (paper Appendix A).

The compressed *context* is what the press sees during prefill; each question is
appended after compression, as kvpress's pipeline does.

- agnostic: instruction + passage. The press cannot see the question.
- aware:    instruction + "You will be given one of the following questions:" +
            the passage's question list + passage. One prefill per passage
            serves all its questions (not kvpress's one-prefill-per-question
            ``query_aware`` mode).
"""

from __future__ import annotations

INSTRUCTION = "Read the following text and answer briefly based on it. Return only the answer. Do not generate extra."
AWARE_HEADER = "You will be given one of the following questions:"
REGIMES = ("agnostic", "aware")
# The stock pipeline glues context and question with no separator; a newline
# keeps the passage's last word from fusing with the question's first token.
QUESTION_PREFIX = "\n"


def build_context(passage: str, questions: list[str], regime: str) -> str:
    """The text that is prefilled and compressed for one passage."""
    if regime == "agnostic":
        return f"{INSTRUCTION}\n{passage}"
    if regime == "aware":
        listing = "\n".join(questions)
        return f"{INSTRUCTION}\n{AWARE_HEADER}\n{listing}\n{passage}"
    raise ValueError(f"unknown regime {regime!r}; allowed: {', '.join(REGIMES)}")


def build_question(question: str) -> str:
    """The text appended after compression (the chat template's suffix follows)."""
    return QUESTION_PREFIX + question
