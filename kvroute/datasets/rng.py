"""Per-passage random streams.

Each passage gets its own ``random.Random`` seeded from a SHA-256 of
(seed, dataset, index, attempt).  Python's ``hash()`` is salted per process, so
it cannot be used; a stable digest makes passage i independent of how many
passages are requested and identical across machines and runs.
"""

import hashlib
import random


def passage_rng(seed: int, dataset: str, index: int, attempt: int = 0) -> random.Random:
    key = f"kvroute|{seed}|{dataset}|{index}|{attempt}".encode("utf-8")
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))
