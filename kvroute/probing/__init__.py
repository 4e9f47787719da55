"""Linear probes on stored hidden states: what can be decoded, beyond the question itself?

- data:    hidden states (and question-only states) aligned with answer rows; targets
           (answer type, answer correctness); layer views (each probed layer and "pooled")
- control: Hewitt & Liang control tags, keyed on the masked question template
- core:    cross-validated, passage-disjoint, class-balanced probes with baselines
- run:     the grid (regime x press x ratio x target x layer) with the question-only
           baseline, per-tag F1, accessibility drift
"""

from kvroute.probing.control import control_tags, masked_question
from kvroute.probing.core import probe_cv
from kvroute.probing.data import layer_views, load_states, targets
from kvroute.probing.run import drift_probes, run_probes

__all__ = ["control_tags", "masked_question", "probe_cv", "layer_views", "load_states", "targets", "drift_probes",
           "run_probes"]
