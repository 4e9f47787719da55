"""The replication report: a verdict on each of the paper's claims C1-C14 per model.

- rules:    the claims, their measured quantities and decision rules (the one place they are written)
- inputs:   one model's answers, per-layer routing and stats / probe tables
- measure:  quantities the stats stage does not already give (paired passage-bootstrap differences,
            Spearman against the paper's order, a clustered interaction)
- evaluate: each claim measured and judged, per model (and press, dataset, items as the claim needs)
- build:    claims.csv from a run's files
- report:   the CSV's layout and results/replication.md
"""

from kvroute.claims.build import build_claims
from kvroute.claims.evaluate import Settings
from kvroute.claims.report import COLUMNS, render
from kvroute.claims.rules import CLAIMS, CONTRADICTED, INCONCLUSIVE, NOT_RUN, SUPPORTED, VERDICTS

__all__ = ["build_claims", "Settings", "COLUMNS", "render", "CLAIMS", "SUPPORTED", "CONTRADICTED", "INCONCLUSIVE",
           "NOT_RUN", "VERDICTS"]
