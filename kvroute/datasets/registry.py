"""Generator registry and the deterministic ``generate`` driver.

Adding a dataset = one module with ``NAME`` and ``generate(rng, index)`` plus
one line in ``GENERATORS``.
"""

from . import base, coreference, hops, knowledge_manipulation, long_context, multi_entity, multi_presence
from .rng import passage_rng
from .schema import validate_record

GENERATORS = {m.NAME: m.generate for m in (base, knowledge_manipulation, multi_presence, multi_entity,
                                             long_context, coreference, hops)}

# A draw can fail validation (e.g. a sampled name reused by chance); redraw
# from a fresh stream keyed by attempt, so passage i still depends only on
# (seed, name, i) and the passages before it within the same dataset.
MAX_ATTEMPTS = 100


def generate(name: str, n_passages: int, seed: int) -> list[dict]:
    if name not in GENERATORS:
        raise ValueError(f"unknown dataset {name!r}; valid names: {sorted(GENERATORS)}")
    if n_passages < 0:
        raise ValueError(f"n_passages must be >= 0, got {n_passages}")
    gen, records, seen = GENERATORS[name], [], set()
    for index in range(n_passages):
        for attempt in range(MAX_ATTEMPTS):
            try:  # a generator may raise ValueError itself to ask for a redraw (hops: word range)
                rec = gen(passage_rng(seed, name, index, attempt), index)
                validate_record(rec)
            except ValueError:
                continue
            if rec["passage"] not in seen:  # passages within a dataset are unique
                break
        else:
            raise RuntimeError(f"{name}: no valid unique passage for index {index} after {MAX_ATTEMPTS} attempts")
        seen.add(rec["passage"])
        records.append(rec)
    return records
