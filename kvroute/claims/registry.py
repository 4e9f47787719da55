"""Every claim, found by its module: each ``kvroute/claims/cNN_*.py`` defines ``CLAIM``, an instance of its
kvroute.claims.base.Claim subclass (the way kvpress keeps one small class per press). Adding a claim is one
new module; the report, the CSV and the verdict tables follow from it."""

from __future__ import annotations

import importlib
import pkgutil
import re

from kvroute.claims.base import NOT_RUN, Claim, ModelInputs, Settings


def _discover() -> dict[str, Claim]:
    import kvroute.claims as package

    found = {}
    for info in pkgutil.iter_modules(package.__path__):
        if re.fullmatch(r"c\d\d_\w+", info.name):
            claim = importlib.import_module(f"kvroute.claims.{info.name}").CLAIM
            found[claim.id] = claim
    return dict(sorted(found.items(), key=lambda item: int(item[0][1:])))


CLAIMS: dict[str, Claim] = _discover()


def evaluate_model(m: ModelInputs, s: Settings) -> list[dict]:
    """Every claim's rows for one model, in claim order."""
    if m.answers.empty:
        return model_not_run(m.model, "no answers for this model")
    return [r for claim in CLAIMS.values() for r in claim.evaluate(m, s)]


def model_not_run(model: str, reason: str) -> list[dict]:
    """Every claim of a model the study names but that has no results: listed as not run, never dropped."""
    return [claim.row(model, NOT_RUN, reason) for claim in CLAIMS.values()]


def missing_families(families: dict[str, str]) -> list[dict]:
    """C9 speaks of two families: one without a model in the config is not run, not dropped."""
    return CLAIMS["C9"].missing_families(families)
