"""Tidy metric tables computed offline from the inference artifacts.

- answers:   F1 / recall / error-class breakdowns by tag
- eviction:  eviction rate, GER (global and per layer), erasure, null-model GER
- consensus: first-decode-step routing consensus and agreement rho per layer

Definitions: docs/definitions.md (paper sections 5.1 and 6). The erasure decomposition is a statistic
(kvroute.stats.erasure), computed once, per dataset and pooled, by the stats stage.
"""

from kvroute.metrics.answers import TAGS, answer_breakdown
from kvroute.metrics.consensus import head_agreement, routing_per_question, routing_summary
from kvroute.metrics.eviction import eviction_per_question, eviction_summary, ledger_stats, null_evicted_probability
from kvroute.metrics.build import build_metrics

__all__ = ["TAGS", "answer_breakdown", "head_agreement", "routing_per_question", "routing_summary",
           "eviction_per_question", "eviction_summary", "ledger_stats",
           "null_evicted_probability", "build_metrics"]
