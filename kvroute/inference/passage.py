"""One passage, in three steps: prepare it, answer its rows, build its records.

1. ``prepare``: the context and questions as token ids, each question's evidence
   positions (T_ans) and the uncompressed prefill.
2. ``plan_cells`` and ``answer_rows``: every (press, ratio) cache of the passage
   (plus one per oracle press, ratio and question), each question answered from
   each cache, all rows batched together.
3. ``build_records``: prediction rows, ledger rows and per-row arrays (hidden
   states, routing, reachability) as a ``PassageResult``.

``answer_passage`` chains the three.
"""

from __future__ import annotations

import functools
import json
import zlib
from dataclasses import dataclass, field

import numpy as np
import torch

from kvroute import artifacts
from kvroute.inference import batching, engine, evidence, ledger, prompts, reachability
from kvroute.inference import oracle as oracle_variants
from kvroute.inference import presses as press_registry


@dataclass
class Prepared:
    """A passage ready to answer: its token ids, evidence positions and uncompressed prefill."""

    record: dict
    regime: str
    question_ids: list[torch.Tensor]  # each question's ids, with the template's suffix
    t_ans: list[list[int]]  # per question: context positions of its evidence
    mentions: list[list[int]]  # per question: context positions where a gold answer is written
    passage_tokens: tuple[int, int]  # the passage's token range inside the context
    pre: engine.Prefill

    @property
    def questions(self) -> list[dict]:
        return self.record["questions"]


def prepare(model, tokenizer, record: dict, regime: str) -> Prepared:
    """Tokenize the passage as kvpress's pipeline does, locate every question's evidence, run the prefill."""
    questions = [q["question"] for q in record["questions"]]
    context = prompts.build_context(record["passage"], questions, regime)
    context_ids, question_ids, context_text = engine.tokenize(
        tokenizer, context, [prompts.build_question(q) for q in questions])
    offsets = evidence.context_offsets(tokenizer, context_text)
    t_ans = [evidence.token_positions(tokenizer, context_text, record["passage"], q["evidence"], offsets)
             for q in record["questions"]]
    mentions = [evidence.mention_positions(context_text, q["answers"], offsets) for q in record["questions"]]
    passage_tokens = evidence.passage_token_range(context_text, record["passage"], offsets)
    return Prepared(record, regime, question_ids, t_ans, mentions, passage_tokens, engine.prefill(model, context_ids))


@dataclass
class OracleRow:
    """One oracle cell of a passage: an oracle press at a ratio, for one question."""

    press: str
    variant: str
    base: str
    ratio: float
    question: int
    steering: oracle_variants.Steering


@dataclass
class PlannedCell:
    """One compressed cache of the passage and the questions answered from it."""

    press: str | None  # None: ratio 0, the uncompressed cache every press shares
    ratio: float
    cell: engine.Cell | batching.DeferredCell
    questions: list[int]
    oracle: OracleRow | None = None


def oracle_rows(p: Prepared, oracle: dict, presses: dict) -> list[OracleRow]:
    """Every oracle cell of the passage, with the positions its variant steers (kvroute.inference.oracle)."""
    out = []
    for name, o in oracle.get("presses", {}).items():
        if o["base"] not in presses:
            raise ValueError(f"oracle press {name!r}: its base press {o['base']!r} is not run by this job")
        pool = np.zeros(p.pre.length, dtype=bool)
        pool[p.passage_tokens[0]:p.passage_tokens[1]] = True
        pool[press_registry.sink_positions(presses[o["base"]], p.pre.length)] = False
        for j, q in enumerate(p.questions):
            # the same generator at every ratio: a question's random spans do not move with the ratio
            steering = oracle_variants.steered_positions(
                o["variant"], p.t_ans[j], pool, oracle_variants.rng_for(oracle["seed"], p.record["passage_id"], q["qid"]))
            out += [OracleRow(name, o["variant"], o["base"], float(r), j, steering) for r in oracle["ratios"]]
    return out


def plan_cells(model, p: Prepared, presses: dict, ratios: list[float], oracle: dict | None = None) -> list[PlannedCell]:
    """Every cache of the passage: ratio 0 once, each press at each ratio, then the oracle cells.

    Each press is compressed from the one prefill where that is exact and gets
    a stock prefill per ratio otherwise, as its ``engine.ScoreBank`` decides on
    this passage. Oracle cells are deferred: built when their batch runs
    (``batching.DeferredCell``).
    """
    # Random presses (Random, LeverageScore, Compactor) draw from torch's generator: seeded by the
    # passage, a passage's caches are the same whether its job resumed or ran through.
    torch.manual_seed(zlib.crc32(p.record["passage_id"].encode()))
    everyone = list(range(len(p.question_ids)))
    nonzero = sorted(r for r in ratios if r > 0)
    banks = {name: engine.decided_bank(spec, p.pre, nonzero, model) for name, spec in presses.items()}
    planned = [PlannedCell(None, 0.0, engine.uncompressed_cell(p.pre), everyone)] if 0.0 in ratios else []
    for name, spec in presses.items():
        for ratio in nonzero:
            planned.append(PlannedCell(name, ratio, engine.press_cell(model, p.pre, name, spec, ratio, banks[name]),
                                       everyone))
    base_of = {(c.press, c.ratio): c.cell for c in planned}
    for o in oracle_rows(p, oracle or {}, presses):
        steer = engine.Steer(tuple(o.steering.first), o.steering.direction, tuple(o.steering.second))
        build = functools.partial(engine.press_cell, model, p.pre, o.press, presses[o.base], o.ratio, banks[o.base],
                                  steer)
        cell = batching.DeferredCell(o.press, o.ratio, base_of[(o.base, o.ratio)], build)
        planned.append(PlannedCell(o.press, o.ratio, cell, [o.question], o))
    return planned


@dataclass
class Answered:
    """The answers to every (cell, question) row, in batch order, with what each row measured."""

    order: list[tuple[int, int]]  # (planned cell, question) per row
    texts: list[str]
    arrays: dict[str, np.ndarray]  # per row: hidden states, routing, reachability
    counters: dict[str, int]
    max_batch: int

    def row(self, cell: int, question: int) -> int:
        return self._index[(cell, question)]

    def __post_init__(self):
        self._index = {cq: i for i, cq in enumerate(self.order)}


def answer_rows(model, tokenizer, p: Prepared, planned: list[PlannedCell], max_new_tokens: int, max_batch: int,
                probe_layers: list[int], reach_threshold: float | None = None) -> Answered:
    """Answer every planned row in batches of similar question length; measure routing and reachability."""
    pairs = [(c, q) for c, pc in enumerate(planned) for q in pc.questions]
    order = batching.row_order([pc.cell for pc in planned], [q.shape[1] for q in p.question_ids], pairs)
    row_cells = [planned[c].cell for c, _ in order]
    answers, max_batch = batching.answer_in_batches(
        model, tokenizer, row_cells, p.pre.length, [p.question_ids[q] for _, q in order],
        [p.t_ans[q] for _, q in order], max_new_tokens, max_batch, probe_layers, reach_threshold)
    texts = [t for a in answers for t in a.texts]
    arrays = {"states": torch.cat([a.hidden for a in answers]).to(torch.float16).numpy(),
              "argmax": torch.cat([a.routing.argmax for a in answers]).to(torch.int32).numpy(),
              "argmax_content": torch.cat([a.routing.argmax_content for a in answers]).to(torch.int32).numpy(),
              "answer_mass": torch.cat([a.routing.answer_mass for a in answers]).to(torch.float16).numpy()}
    alone = question_only_states(model, tokenizer, [q["question"] for q in p.questions], probe_layers, max_batch)
    arrays["question_only"] = alone[[q for _, q in order]].numpy()
    if reach_threshold:
        reach = reachability.walk(p.pre, reach_threshold, torch.cat([a.routing.entries for a in answers]),
                                  [cell.kept for cell in row_cells], [p.t_ans[q] for _, q in order])
        arrays |= {name: getattr(reach, name).to(torch.float16).numpy() for name in artifacts.REACH_ARRAYS}
    else:  # reachability off: unknown, never "unreachable"
        arrays |= {name: np.full(len(texts), np.nan, dtype=np.float16) for name in artifacts.REACH_ARRAYS}
    counters = {"prefill_tokens": p.pre.length,
                "question_tokens": sum(a.prompt_tokens for a in answers),
                "decode_steps": sum(a.decode_steps for a in answers),
                "decode_tokens": sum(a.decode_tokens for a in answers)}
    return Answered(order, texts, arrays, counters, max_batch)


@dataclass
class PassageResult:
    """Everything one passage contributes to the infer job's outputs."""

    rows: list[dict] = field(default_factory=list)  # predictions: one per (press, ratio, question)
    ledger: list[dict] = field(default_factory=list)  # one per (press, ratio) cache; oracle caches per question
    arrays: dict[str, list] = field(default_factory=dict)  # per prediction row, in the same order
    counters: dict[str, int] = field(default_factory=dict)
    max_batch: int = 1  # the batch size that fit, which later passages start from


def build_records(p: Prepared, planned: list[PlannedCell], answered: Answered, presses: dict) -> PassageResult:
    """Prediction rows, ledger rows and arrays, with ratio 0 reported under every press."""
    out = PassageResult(arrays={k: [] for k in answered.arrays}, counters=answered.counters,
                        max_batch=answered.max_batch)
    record, where = p.record, {"dataset": p.record["dataset"], "regime": p.regime,
                               "passage_id": p.record["passage_id"]}
    for c, pc in enumerate(planned):
        kept = pc.cell.kept
        kept_fraction = float(torch.stack(kept).float().mean())
        entry = ledger.pack(kept)
        o = pc.oracle
        for press in ([pc.press] if pc.press is not None else list(presses)):
            base = o.base if o else press
            steering = {"oracle": o.variant if o else oracle_variants.NONE, "base_press": base}
            out.ledger.append({**where, "press": press, "ratio": float(pc.ratio), **entry,
                               "passage_start": p.passage_tokens[0], "passage_end": p.passage_tokens[1],
                               "sink_positions": press_registry.sink_positions(presses[base], p.pre.length),
                               # an oracle cell serves one question; shared cells serve all (qid null)
                               "qid": record["questions"][o.question]["qid"] if o else None, **steering})
            for j in pc.questions:
                q, i = p.questions[j], answered.row(c, j)
                out.rows.append({
                    **where, "press": press, "ratio": float(pc.ratio), "qid": q["qid"], "question": q["question"],
                    "prediction": answered.texts[i], "answers": json.dumps(q["answers"], ensure_ascii=False),
                    "answer_type": q["answer_type"], "question_type": q["question_type"],
                    "direction": q["direction"], "hop": q.get("hop"),
                    "n_context_tokens": p.pre.length, "kept_fraction": kept_fraction,
                    "evidence_positions": p.t_ans[j], "mention_positions": p.mentions[j],
                    **steering, "oracle_positions": o.steering.positions if o else [],
                })
                for key, values in answered.arrays.items():
                    out.arrays[key].append(values[i])
    return out


def answer_passage(model, tokenizer, record: dict, regime: str, presses: dict, ratios: list[float],
                   max_new_tokens: int, max_batch: int, probe_layers: list[int],
                   reach_threshold: float | None = None, oracle: dict | None = None) -> PassageResult:
    """Everything one passage contributes: prediction rows, hidden states, routing, ledger rows.

    Every (press, ratio) cell x question of the passage is one row; rows of all
    cells are answered together in batches of similar question length.
    ``oracle`` (``kvroute.config.oracle_plan``) adds one cell per oracle press,
    ratio and question, steered on the base press's scores.
    """
    p = prepare(model, tokenizer, record, regime)
    planned = plan_cells(model, p, presses, ratios, oracle)
    answered = answer_rows(model, tokenizer, p, planned, max_new_tokens, max_batch, probe_layers, reach_threshold)
    return build_records(p, planned, answered, presses)


def question_only_states(model, tokenizer, questions: list[str], probe_layers: list[int], max_batch: int) -> torch.Tensor:
    """(questions, probe_layers, hidden) fp16: each question's last-prompt-token state with an empty passage.

    The probes' baseline: what the hidden state says about a question before any
    context is read (the question wording alone). Same template as the agnostic
    regime, so only the passage is missing.
    """
    context_ids, question_ids, _ = engine.tokenize(tokenizer, prompts.build_context("", [], "agnostic"),
                                                   [prompts.build_question(q) for q in questions])
    pre = engine.prefill(model, context_ids)
    cell = engine.uncompressed_cell(pre)
    outs, _ = batching.answer_in_batches(model, tokenizer, [cell] * len(questions), pre.length, question_ids,
                                         [[] for _ in questions], 1, max_batch, probe_layers)
    return torch.cat([o.hidden for o in outs]).to(torch.float16)
