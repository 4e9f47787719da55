"""Oracle presses: a base press whose selection is steered toward or away from chosen positions.

A press entry with ``oracle: VARIANT`` is its base press (same press, scorer
and args) with the scores of some context positions moved to one end before
the press's own selection runs, so the budget is the base press's:

- ``protect``: the question's evidence T_ans goes above everything, so it is kept first.
- ``target``: T_ans goes below everything, so it is evicted first.
- ``placebo``: random passage spans shaped like T_ans (same span count and
  token lengths, never overlapping it) go above: what moving budget alone does.
- ``protect_diluted``: T_ans plus ``DILUTION_SETS`` such random span sets go
  above (T_ans first): the evidence survives but is not the only protected text.

H(protect_diluted) - H(base) is the effect of the evidence surviving;
H(protect) - H(protect_diluted) the effect of singling the answer out.

This module is torch-free: the analysis stages read its names (``NONE``, ``VARIANTS``) without torch.
An oracle entry's base press is found by ``kvroute.press_specs.base_press_of``.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

NONE = "none"  # the ``oracle`` column of every base row
VARIANTS = ("protect", "target", "placebo", "protect_diluted")
DILUTION_SETS = 3
# Random span sets per variant: placebo's set is the first of protect_diluted's
# (same generator, same draws), so the two differ only by T_ans.
RANDOM_SETS = {"protect": 0, "target": 0, "placebo": 1, "protect_diluted": DILUTION_SETS}


def spans_of(positions: list[int]) -> list[int]:
    """Lengths of the runs of consecutive positions in sorted ``positions``."""
    if not positions:
        return []
    p = np.asarray(sorted(positions))
    edges = np.concatenate([[0], np.flatnonzero(np.diff(p) > 1) + 1, [len(p)]])
    return np.diff(edges).tolist()


def rng_for(seed: int, passage_id: str, qid: str) -> np.random.Generator:
    """One generator per question: its random spans are the same at every ratio and in every run."""
    return np.random.default_rng([seed, zlib.crc32(str(passage_id).encode()), zlib.crc32(str(qid).encode())])


def random_spans_like(evidence: list[int], pool: np.ndarray, sets: int, rng: np.random.Generator) -> list[int]:
    """``sets`` placements of spans shaped like ``evidence``, inside ``pool`` and never overlapping each other.

    ``pool`` (T,) bool marks positions a span may cover (the caller leaves out
    the evidence itself and the press's sinks). A span that fits nowhere is
    skipped with a warning, so a placement can be smaller than asked.
    """
    free = pool.copy()
    chosen: list[int] = []
    for _ in range(sets):
        for m in spans_of(evidence):
            # Start s is free when free[s:s+m] is all True: a sliding-window count.
            run = np.convolve(free.astype(int), np.ones(m, dtype=int), mode="valid") if len(free) >= m else []
            starts = np.flatnonzero(np.asarray(run) == m)
            if len(starts) == 0:
                log.warning("no free run of %d passage tokens left for a random span; skipped", m)
                continue
            s = int(starts[rng.integers(len(starts))])
            free[s:s + m] = False
            chosen.extend(range(s, s + m))
    return sorted(chosen)


@dataclass(frozen=True)
class Steering:
    """Positions a variant moves: ``first`` to the very top (+1) or bottom (-1), then ``second`` next to it.

    Only protect_diluted has a second tier (its random spans): T_ans ranks above
    them, so where the budget cannot keep every protected token it is the
    dilution that goes, and the evidence survives as it does under protect.
    """

    first: list[int]
    second: list[int]
    direction: int

    @property
    def positions(self) -> list[int]:
        return sorted(self.first + self.second)


def steered_positions(variant: str, evidence: list[int], pool: np.ndarray, rng: np.random.Generator) -> Steering:
    """What the variant moves, for one question (see the module docstring)."""
    if variant not in VARIANTS:
        raise ValueError(f"oracle {variant!r} is not allowed; allowed values: {', '.join(VARIANTS)}")
    evidence = sorted(evidence)
    pool = pool.copy()
    pool[evidence] = False
    spans = random_spans_like(evidence, pool, RANDOM_SETS[variant], rng)
    if variant == "target":
        return Steering(evidence, [], -1)
    if variant == "placebo":
        return Steering(spans, [], 1)
    return Steering(evidence, spans, 1)
