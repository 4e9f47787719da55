"""A passage made ready for the engine tests: prompt text, token ids and the uncompressed prefill."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from kvroute.inference import engine, prompts


@dataclass
class Ready:
    context: str  # the context as kvpress's pipeline receives it
    questions: list[str]  # the questions as the pipeline receives them
    context_ids: torch.Tensor
    question_ids: list[torch.Tensor]
    pre: engine.Prefill


def ready(model, tokenizer, passage: str, questions: list[str], regime: str = "agnostic") -> Ready:
    context = prompts.build_context(passage, questions, regime)
    asked = [prompts.build_question(q) for q in questions]
    context_ids, question_ids, _ = engine.tokenize(tokenizer, context, asked)
    return Ready(context, asked, context_ids, question_ids, engine.prefill(model, context_ids))
