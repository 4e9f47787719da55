"""Entity pools (one item per line in ``pools/*.txt``) and small samplers.

All names are invented or generic so a model cannot answer from memory: the
passage is the only source of the answer.
"""

import functools
import random
from pathlib import Path

POOL_DIR = Path(__file__).parent / "pools"

MONTHS = ["January", "February", "March", "April", "May", "June", "July",
          "August", "September", "October", "November", "December"]


@functools.lru_cache(maxsize=None)
def pool(name: str) -> tuple[str, ...]:
    path = POOL_DIR / f"{name}.txt"
    items = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    if not items:
        raise ValueError(f"empty pool: {path}")
    return items


def pick(rng: random.Random, name: str) -> str:
    return rng.choice(pool(name))


def picks(rng: random.Random, name: str, k: int) -> list[str]:
    """k distinct items (sampling without replacement keeps facts distinguishable)."""
    return rng.sample(pool(name), k)


def person(rng: random.Random, gender: str | None = None) -> tuple[str, str, str]:
    """(first, last, gender) with gender in {"female", "male"}."""
    gender = gender or rng.choice(["female", "male"])
    return pick(rng, f"first_names_{gender}"), pick(rng, "surnames"), gender


def date(rng: random.Random, lo: int = 1931, hi: int = 2004) -> tuple[str, str, str]:
    """(full date "Month D, YYYY", month, year)."""
    month, year = rng.choice(MONTHS), str(rng.randint(lo, hi))
    return f"{month} {rng.randint(1, 28)}, {year}", month, year


def location(rng: random.Random) -> tuple[str, str]:
    """(full "City, Region, Country", city): a three-part address as in the paper's coreference template."""
    city = pick(rng, "cities")
    return f"{city}, {pick(rng, 'regions')}, {pick(rng, 'countries')}", city


def year(rng: random.Random, lo: int = 1650, hi: int = 1995) -> str:
    return str(rng.randint(lo, hi))
