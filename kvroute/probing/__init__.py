"""Linear probes on stored hidden states: is the answer type still decodable?

- data:    load hidden states aligned with predictions
- control: Hewitt & Liang control tags (random but consistent per question wording)
- core:    cross-validated, passage-disjoint, class-balanced probes with baselines
- run:     the grid (regime x press x ratio x layer), per-tag F1, accessibility drift
"""

from kvroute.probing.control import control_tags
from kvroute.probing.core import probe_cv
from kvroute.probing.data import load_states
from kvroute.probing.run import drift_probes, run_probes

__all__ = ["control_tags", "probe_cv", "load_states", "drift_probes", "run_probes"]
