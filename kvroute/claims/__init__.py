"""The replication report: a verdict on each of the paper's claims C1-C14 per model.

- base:      verdicts, the Claim class, the rows a claim writes, decision helpers
- cNN_*:     one module per claim: its statement, what it needs, how it is measured, its rule
- registry:  every claim, found by its module; evaluating one model
- inputs:    one model's answers, per-layer routing and stats / probe tables
- measure:   quantities the stats stage does not already give (paired passage-bootstrap differences,
             Spearman against the paper's order, a clustered interaction)
- build:     claims.csv from a run's files
- report:    the CSV's layout and results/replication.md
"""

from kvroute.claims.base import CONTRADICTED, INCONCLUSIVE, NOT_RUN, SUPPORTED, VERDICTS, Settings
from kvroute.claims.build import build_claims
from kvroute.claims.registry import CLAIMS
from kvroute.claims.report import COLUMNS, render

__all__ = ["build_claims", "Settings", "COLUMNS", "render", "CLAIMS", "SUPPORTED", "CONTRADICTED", "INCONCLUSIVE",
           "NOT_RUN", "VERDICTS"]
