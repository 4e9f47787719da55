"""The ``infer`` stage: one model, one dataset, one regime, every press x ratio.

Writes a predictions table (one row per question x press x ratio) and the
last-prompt-token hidden states for probing. Work is checkpointed per passage
in a side folder, so a killed job resumes where it stopped; the final files
appear atomically only when every passage is done.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from kvroute import artifacts, engine, evidence, ledger, prompts, reachability
from kvroute import oracle as oracle_variants
from kvroute import config as kvconfig
from kvroute import presses as press_registry
from kvroute.datasets import load_jsonl
from kvroute.models import load as load_model
from kvroute.models import read_manifest

log = logging.getLogger(__name__)


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("inference.device is 'cuda' but no CUDA device is visible")
    return device


# What ``inference.dtype: auto`` resolves to, forced: lets one machine run (and test) both outcomes.
AUTO_DTYPE_ENV = "KVROUTE_AUTO_DTYPE"
AUTO_DTYPES = ("float32", "bfloat16")


def resolve_dtype(dtype: str, device: str) -> str:
    """``auto``: bf16 on CUDA and on CPUs with native bf16 kernels (AVX-512), else fp32.

    Without them bf16 is emulated: on a 2-core AVX2-only EPYC a default-grid
    base passage took 227 s in bf16, where AVX-512 machines take ~14 s. So
    ``auto`` gives different answers on different CPUs: a study spread over
    several machines names its dtype (docs/cpu-and-dtype.md). The environment
    variable ``KVROUTE_AUTO_DTYPE`` decides ``auto`` instead of the machine.
    """
    if dtype != "auto":
        return dtype
    forced = os.environ.get(AUTO_DTYPE_ENV)
    if forced:
        if forced not in AUTO_DTYPES:
            raise ValueError(f"environment variable {AUTO_DTYPE_ENV}: {forced!r} is not allowed; "
                             f"allowed values: {', '.join(AUTO_DTYPES)}")
        return forced
    return "bfloat16" if device == "cuda" or cpu_has_bf16() else "float32"


def cpu_has_bf16() -> bool:
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def probe_layer_indices(fractions: list[float], n_layers: int) -> list[int]:
    """Depth fractions -> indices into ``hidden_states`` (0 = embeddings, n_layers = last)."""
    return sorted({int(round(f * n_layers)) for f in fractions})


def _cells_for(model, pre, presses: dict, ratios: list[float], banks: dict):
    """Yield every (press name, ratio, Cell); ratio 0 is the uncompressed cache, shared by all presses."""
    if 0.0 in ratios:
        yield None, 0.0, engine.uncompressed_cell(pre)
    for name, spec in presses.items():
        for ratio in ratios:
            if ratio == 0.0:
                continue
            if name in banks:
                yield name, ratio, engine.compress_cell(pre, name, spec, ratio, banks[name])
            else:
                yield name, ratio, engine.stock_cell(model, pre, name, spec, ratio)


@dataclass
class DeferredCell:
    """An oracle cell, built only when its batch runs.

    Oracle cells are per question (T_ans differs), so a passage has many; per-
    question Chunk caches of a long passage would not fit in memory at once.
    ``like`` is the base cell: same press, ratio and budget, so the same shape.
    After the batch only the kept mask stays (ledger, reachability).
    """

    press: str
    ratio: float
    like: engine.Cell
    build: Callable[[], engine.Cell]
    kept: list[torch.Tensor] | None = None


def _shape_of(cell) -> engine.Cell:
    return cell.like if isinstance(cell, DeferredCell) else cell


def _built(cell) -> engine.Cell:
    if not isinstance(cell, DeferredCell):
        return cell
    built = cell.build()
    cell.kept = built.kept
    return built


def answer_in_batches(model, tokenizer, row_cells, context_length, question_ids, evidence_positions,
                      max_new_tokens, max_batch, probe_layers, reach_threshold=None):
    """Answer rows (a cell and a question each) in batches of at most ``max_batch`` rows.

    Rows are batched in order; a cell whose layers keep different numbers of
    slots is never mixed with others. On CUDA out-of-memory the batch is
    halved and the work retried. Returns the per-batch outputs and the batch
    size that worked, which later passages start from.
    """
    max_batch = min(max_batch, len(row_cells))
    while True:
        try:
            outs = []
            for rows in _batches(row_cells, max_batch):
                outs.append(engine.answer(
                    model, tokenizer, [_built(row_cells[i]) for i in rows], context_length,
                    [question_ids[i] for i in rows], max_new_tokens, probe_layers, routing=True,
                    evidence=[evidence_positions[i] for i in rows], reach_threshold=reach_threshold))
            return outs, max_batch
        except torch.cuda.OutOfMemoryError:
            if max_batch == 1:
                raise
            torch.cuda.empty_cache()
            max_batch = max(1, max_batch // 2)
            log.warning("CUDA out of memory: retrying with %d rows per batch", max_batch)


def _batches(row_cells, max_batch: int) -> list[list[int]]:
    """Consecutive runs of at most ``max_batch`` rows whose caches can be stacked."""
    batches: list[list[int]] = []
    for i, cell in enumerate(row_cells):
        if batches and len(batches[-1]) < max_batch and _stackable(row_cells[batches[-1][0]], cell):
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def _stackable(a, b) -> bool:
    # Padding to a common length needs every layer of both cells to keep the same number of slots.
    a, b = _shape_of(a), _shape_of(b)
    return a is b or (engine.layer_uniform_length(a) is not None and engine.layer_uniform_length(b) is not None)


def _row_order(cells: list, question_lengths: list[int],
               rows: list[tuple[int, int]] | None = None) -> list[tuple[int, int]]:
    """(cell, question) rows in the order they are batched (``rows``: which pairs exist; default all).

    Stackable cells' rows are sorted by question length: a batch's question
    padding costs full forward FLOPs, while padding shorter caches only costs
    attention over masked slots. Cells that must be batched alone follow, each
    with its rows together.
    """
    lengths = [engine.layer_uniform_length(_shape_of(cell)) for cell in cells]
    if rows is None:
        rows = [(c, q) for c in range(len(cells)) for q in range(len(question_lengths))]

    def key(row):
        c, q = row
        ragged = lengths[c] is None
        return (ragged, c if ragged else 0, question_lengths[q], -(lengths[c] or 0))

    return sorted(rows, key=key)


@dataclass
class OracleRow:
    """One oracle cell of a passage: an oracle press at a ratio, for one question."""

    press: str
    variant: str
    base: str
    ratio: float
    question: int
    steering: oracle_variants.Steering


def _oracle_rows(record: dict, oracle: dict, presses: dict, t_ans: list[list[int]],
                 passage_tokens: tuple[int, int], context_length: int) -> list[OracleRow]:
    """Every oracle cell of the passage, with the positions its variant steers (kvroute.oracle)."""
    out = []
    for name, o in oracle.get("presses", {}).items():
        if o["base"] not in presses:
            raise ValueError(f"oracle press {name!r}: its base press {o['base']!r} is not run by this job")
        pool = np.zeros(context_length, dtype=bool)
        pool[passage_tokens[0]:passage_tokens[1]] = True
        pool[press_registry.sink_positions(presses[o["base"]], context_length)] = False
        for j, q in enumerate(record["questions"]):
            # the same generator at every ratio: a question's random spans do not move with the ratio
            steering = oracle_variants.steered_positions(
                o["variant"], t_ans[j], pool, oracle_variants.rng_for(oracle["seed"], record["passage_id"], q["qid"]))
            out += [OracleRow(name, o["variant"], o["base"], float(r), j, steering) for r in oracle["ratios"]]
    return out


def answer_passage(model, tokenizer, record: dict, regime: str, presses: dict, ratios: list[float],
                   max_new_tokens: int, max_batch: int, probe_layers: list[int],
                   reach_threshold: float | None = None, oracle: dict | None = None) -> dict:
    """Everything one passage contributes: prediction rows, hidden states, routing, ledger rows.

    Every (press, ratio) cell x question of the passage is one row; rows of all
    cells are answered together in batches of similar question length.
    ``oracle`` (``kvroute.config.oracle_plan``) adds one cell per oracle press,
    ratio and question, steered on the base press's memoised scores.
    """
    questions = [q["question"] for q in record["questions"]]
    context = prompts.build_context(record["passage"], questions, regime)
    context_ids, question_ids, context_text = engine.tokenize(
        tokenizer, context, [prompts.build_question(q) for q in questions])
    offsets = evidence.context_offsets(tokenizer, context_text)
    t_ans = [evidence.token_positions(tokenizer, context_text, record["passage"], q["evidence"], offsets)
             for q in record["questions"]]
    mentions = [evidence.mention_positions(context_text, q["answers"], offsets) for q in record["questions"]]
    passage_tokens = evidence.passage_token_range(context_text, record["passage"], offsets)
    pre = engine.prefill(model, context_ids)
    banks = {name: engine.ScoreBank(spec) for name, spec in presses.items() if press_registry.shares_prefill(spec)}
    cells = list(_cells_for(model, pre, presses, ratios, banks))
    pairs = [(c, q) for c in range(len(cells)) for q in range(len(question_ids))]
    oracle_rows = _oracle_rows(record, oracle or {}, presses, t_ans, passage_tokens, pre.length)
    base_of = {(name, ratio): cell for name, ratio, cell in cells}
    for o in oracle_rows:
        steer = engine.Steer(tuple(o.steering.first), o.steering.direction, tuple(o.steering.second))
        build = functools.partial(engine.compress_cell, pre, o.press, presses[o.base], o.ratio, banks[o.base], steer)
        pairs.append((len(cells), o.question))
        cells.append((o.press, o.ratio, DeferredCell(o.press, o.ratio, base_of[(o.base, o.ratio)], build)))
    rows = _row_order([cell for _, _, cell in cells], [q.shape[1] for q in question_ids], pairs)
    row_cells = [cells[c][2] for c, _ in rows]
    answers, max_batch = answer_in_batches(
        model, tokenizer, row_cells, pre.length, [question_ids[q] for _, q in rows],
        [t_ans[q] for _, q in rows], max_new_tokens, max_batch, probe_layers, reach_threshold)
    row_of = {cq: i for i, cq in enumerate(rows)}

    texts = [t for a in answers for t in a.texts]
    arrays = {"states": torch.cat([a.hidden for a in answers]).to(torch.float16).numpy(),
              "argmax": torch.cat([a.routing.argmax for a in answers]).to(torch.int32).numpy(),
              "argmax_content": torch.cat([a.routing.argmax_content for a in answers]).to(torch.int32).numpy(),
              "answer_mass": torch.cat([a.routing.answer_mass for a in answers]).to(torch.float16).numpy()}
    alone = question_only_states(model, tokenizer, questions, probe_layers, max_batch)
    arrays["question_only"] = alone[[q for _, q in rows]].numpy()
    if reach_threshold:
        reach = reachability.walk(pre, reach_threshold, torch.cat([a.routing.entries for a in answers]),
                                  [cell.kept for cell in row_cells], [t_ans[q] for _, q in rows])
        arrays |= {name: getattr(reach, name).to(torch.float16).numpy() for name in artifacts.REACH_ARRAYS}
    else:  # reachability off: unknown, never "unreachable"
        arrays |= {name: np.full(len(texts), np.nan, dtype=np.float16) for name in artifacts.REACH_ARRAYS}
    out = {"rows": [], "arrays": {k: [] for k in arrays}, "ledger": [],
           "counters": {"prefill_tokens": pre.length,
                        "question_tokens": sum(a.prompt_tokens for a in answers),
                        "decode_steps": sum(a.decode_steps for a in answers),
                        "decode_tokens": sum(a.decode_tokens for a in answers)},
           "max_batch": max_batch}
    n_base = len(cells) - len(oracle_rows)
    for c, (name, ratio, cell) in enumerate(cells):
        kept_fraction = float(torch.stack(cell.kept).float().mean())
        entry = ledger.pack(cell.kept)
        o = oracle_rows[c - n_base] if c >= n_base else None
        # Ratio 0 is the same cache for every press: report it under each.
        for press in ([name] if name is not None else list(presses)):
            base = o.base if o else press
            steering = {"oracle": o.variant if o else oracle_variants.NONE, "base_press": base}
            out["ledger"].append({"dataset": record["dataset"], "regime": regime, "passage_id": record["passage_id"],
                                  "press": press, "ratio": float(ratio), **entry,
                                  "passage_start": passage_tokens[0], "passage_end": passage_tokens[1],
                                  "sink_positions": press_registry.sink_positions(presses[base], pre.length),
                                  # an oracle cell serves one question; shared cells serve all (qid null)
                                  "qid": record["questions"][o.question]["qid"] if o else None, **steering})
            for j, q in enumerate(record["questions"]):
                if o and j != o.question:
                    continue
                i = row_of[(c, j)]
                out["rows"].append({
                    "dataset": record["dataset"], "regime": regime, "press": press, "ratio": float(ratio),
                    "passage_id": record["passage_id"], "qid": q["qid"], "question": q["question"],
                    "prediction": texts[i], "answers": json.dumps(q["answers"], ensure_ascii=False),
                    "answer_type": q["answer_type"], "question_type": q["question_type"],
                    "direction": q["direction"], "hop": q.get("hop"),
                    "n_context_tokens": pre.length, "kept_fraction": kept_fraction,
                    "evidence_positions": t_ans[j], "mention_positions": mentions[j],
                    **steering, "oracle_positions": o.steering.positions if o else [],
                })
                for key, values in arrays.items():
                    out["arrays"][key].append(values[i])
    return out


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
    outs, _ = answer_in_batches(model, tokenizer, [cell] * len(questions), pre.length, question_ids,
                                [[] for _ in questions], 1, max_batch, probe_layers)
    return torch.cat([o.hidden for o in outs]).to(torch.float16)


def settings_digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def select_passages(records: list[dict], passages: str | None) -> list[dict]:
    """``"START-END"`` (0-based, end exclusive) picks a shard of the dataset; None keeps all."""
    if not passages:
        return records
    start, end = (int(x) for x in passages.split("-"))
    if not 0 <= start < end <= len(records):
        raise ValueError(f"passage range {passages} is outside the dataset's {len(records)} passages")
    return records[start:end]


def run(manifest: str, dataset: str, regime: str, presses: dict, ratios: list[float], inference: dict,
        outputs: dict, model_name: str | None = None, passages: str | None = None, oracle: dict | None = None) -> None:
    """Run one infer job; ``outputs`` maps predictions, hidden, routing, ledger to paths.

    ``inference`` is the config's inference section; keys it lacks take the schema's defaults.
    ``oracle`` is ``kvroute.config.oracle_plan`` for this job's regime ({} or None: no oracle rows).
    """
    inference = kvconfig.section("inference", inference)
    oracle = oracle or {}
    for name, spec in presses.items():
        press_registry.validate_spec(name, spec)
    for name, o in oracle.get("presses", {}).items():
        press_registry.validate_spec(name, o["spec"])
        if o["base"] not in presses or not press_registry.shares_prefill(presses[o["base"]]):
            raise ValueError(f"oracle press {name!r}: base press {o['base']!r} is not a prefill-sharing press "
                             f"of this job; allowed values: {', '.join(presses)}")
    if regime not in prompts.REGIMES:
        raise ValueError(f"regime {regime!r} is not allowed; allowed values: {', '.join(prompts.REGIMES)}")
    bad = [r for r in ratios if not 0.0 <= r < 1.0]
    if bad:
        raise ValueError(f"study.ratios: {bad} outside [0, 1)")
    # Validate the whole dataset before any model time is spent.
    records = select_passages(load_jsonl(dataset), passages)
    ratios = sorted(set(float(r) for r in ratios))
    model_name = model_name or read_manifest(manifest)["name"]

    torch.manual_seed(0)
    torch.set_num_threads(inference["threads"])
    device = resolve_device(inference["device"])
    dtype = resolve_dtype(inference["dtype"], device)
    t0 = time.time()
    model, tokenizer = load_model(manifest, device=device, dtype=dtype,
                                  attn_implementation=inference["attn_implementation"])
    log.info("loaded %s on %s (%s) in %.1fs", model_name, device, dtype, time.time() - t0)
    probe_layers = probe_layer_indices(inference["probe_layers"], model.config.num_hidden_layers)

    # Per-passage checkpoints beside the outputs, keyed by everything that changes the answers.
    # The resolved dtype, not "auto": a checkpoint from a bf16 machine must not resume on an fp32 one.
    digest = settings_digest(read_manifest(manifest), regime, presses, ratios, {**inference, "dtype": dtype},
                             passages, Path(dataset).stat().st_size, oracle)
    parts = Path(outputs["predictions"]).parent / f".checkpoints-{digest}"
    done = [r for r in records if artifacts.paths_in(parts / r["passage_id"])["predictions"].exists()]
    if done:
        log.info("resuming: %d of %d passages already done", len(done), len(records))
    totals = {"prefill_tokens": 0, "question_tokens": 0, "decode_steps": 0, "decode_tokens": 0}
    todo = [r for r in records if r not in done]
    max_batch = inference["max_batch_questions"]
    for record in tqdm(todo, desc=f"{model_name}/{records[0]['dataset']}/{regime}", unit="passage", mininterval=5):
        out = answer_passage(
            model, tokenizer, record, regime, presses, ratios, inference["max_new_tokens"],
            max_batch, probe_layers, inference["reachability_threshold"], oracle)
        max_batch = out["max_batch"]  # after an out-of-memory retry, stay at the size that fit
        for key in totals:
            totals[key] += out["counters"][key]
        for row in out["rows"] + out["ledger"]:
            row["model"] = model_name
        for row in out["rows"]:
            row["dtype"] = dtype  # answers depend on it; studies refuse to mix dtypes
        arrays = {k: np.stack(v) for k, v in out["arrays"].items()}
        hidden = {"states": arrays.pop("states"), "question_only": arrays.pop("question_only"),
                  "layers": np.asarray(probe_layers)}
        artifacts.write(artifacts.paths_in(parts / record["passage_id"]), out["rows"], out["ledger"], hidden, arrays)
    log.info("done in %.1fs: %s", time.time() - t0, totals)
    artifacts.merge([artifacts.paths_in(parts / r["passage_id"]) for r in records], outputs)
    shutil.rmtree(parts, ignore_errors=True)
