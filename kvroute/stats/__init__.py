"""Statistics for the study: curves and cliffs, GER-hallucination tests, paired tests.

- curves:     error-rate curves, susceptibility chi = dH/dalpha, argmax-chi cliff
- breakpoint: is there a cliff at all? broken-stick / sigmoid vs line
- ger:        GER-hallucination correlation across cells and an item-level model
- paired:     agnostic vs aware McNemar tests per question
- tags:       per-tag hallucination tests with Benjamini-Hochberg control
"""

from kvroute.stats.curves import (CLASSES, DEFAULT_GROUP, cliff_location, rate_curves, susceptibility,
                                  wilson_interval)
from kvroute.stats.multiple import bh_adjust
from kvroute.stats.breakpoint import breakpoint_test
from kvroute.stats.ger import ger_aggregate, ger_item_model, ger_verdict
from kvroute.stats.paired import mcnemar_table
from kvroute.stats.tags import tag_tests

__all__ = ["CLASSES", "DEFAULT_GROUP", "cliff_location", "rate_curves", "susceptibility", "wilson_interval",
           "bh_adjust", "breakpoint_test", "ger_aggregate", "ger_item_model", "ger_verdict", "mcnemar_table",
           "tag_tests"]
