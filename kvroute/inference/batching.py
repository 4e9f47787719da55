"""Rows of a passage (a compressed cache and a question each) in batches that share every forward pass."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import torch

from kvroute.inference import engine

log = logging.getLogger(__name__)


@dataclass
class DeferredCell:
    """An oracle cell, built only when its batch runs.

    Oracle cells are per question (T_ans differs), so a passage has many; per-
    question Chunk caches of a long passage would not fit in memory at once.
    ``like`` is the base cell: same press, ratio and budget, so about the same
    shape (batches are ordered by it; any shapes stack).
    After the batch only the kept mask stays (ledger, reachability).
    """

    press: str
    ratio: float
    like: engine.Cell
    build: Callable[[], engine.Cell]
    kept: list[torch.Tensor] | None = None


def shape_of(cell) -> engine.Cell:
    return cell.like if isinstance(cell, DeferredCell) else cell


def built(cell) -> engine.Cell:
    if not isinstance(cell, DeferredCell):
        return cell
    real = cell.build()
    cell.kept = real.kept
    return real


def answer_in_batches(model, tokenizer, row_cells, context_length, question_ids, evidence_positions,
                      max_new_tokens, max_batch, probe_layers, reach_threshold=None):
    """Answer rows (a cell and a question each) in batches of at most ``max_batch`` rows.

    Rows are batched in order, whatever their caches. On CUDA out-of-memory the batch is
    halved and the work retried. Returns the per-batch outputs and the batch
    size that worked, which later passages start from.
    """
    max_batch = min(max_batch, len(row_cells))
    while True:
        try:
            outs = []
            for rows in batches(row_cells, max_batch):
                outs.append(engine.answer(
                    model, tokenizer, [built(row_cells[i]) for i in rows], context_length,
                    [question_ids[i] for i in rows], max_new_tokens, probe_layers, routing=True,
                    evidence=[evidence_positions[i] for i in rows], reach_threshold=reach_threshold))
            return outs, max_batch
        except torch.cuda.OutOfMemoryError:
            if max_batch == 1:
                raise
            torch.cuda.empty_cache()
            max_batch = max(1, max_batch // 2)
            log.warning("CUDA out of memory: retrying with %d rows per batch", max_batch)


def batches(row_cells, max_batch: int) -> list[list[int]]:
    """Consecutive runs of at most ``max_batch`` rows (any caches stack: ``engine.stack_cells``)."""
    return [list(range(i, min(i + max_batch, len(row_cells)))) for i in range(0, len(row_cells), max_batch)]


def row_order(cells: list, question_lengths: list[int],
              rows: list[tuple[int, int]] | None = None) -> list[tuple[int, int]]:
    """(cell, question) rows in the order they are batched (``rows``: which pairs exist; default all).

    Rows are sorted by question length, then longer caches first: a batch's
    question padding costs full forward FLOPs, while padding shorter caches
    only costs attention over masked slots.
    """
    # A cache's length once evened: its longest layer.
    lengths = [max(k.shape[2] for k in shape_of(cell).keys) for cell in cells]
    if rows is None:
        rows = [(c, q) for c in range(len(cells)) for q in range(len(question_lengths))]
    return sorted(rows, key=lambda row: (question_lengths[row[1]], -lengths[row[0]]))
