"""Statistics for the study: curves and cliffs, GER-hallucination tests, rigidity, paired tests.

- bootstrap:  passage cluster bootstrap, stratified by dataset
- curves:     error-rate curves, susceptibility chi = dH/dalpha, argmax-chi cliff (secondary)
- breakpoint: the cliff: broken-stick / sigmoid vs line, break with a bootstrap CI (primary)
- clustered:  logistic models with passage-clustered errors (GEE, cluster-robust GLM)
- ger:        GER-hallucination correlation across cells and an item-level model
- rigidity:   does routing consensus predict failure when the evidence survives?
- consensus:  consensus and rho curves with bootstrap bands
- paired:     agnostic vs aware McNemar tests per question
- tags:       per-tag hallucination tests with Benjamini-Hochberg control
- erasure:    erasure vs rigidity: Pr(F|E), Pr(E), Pr(F|not E) (paper 6.4)
- oracle:     oracle presses vs their base press: H, H_cond, F1, paired effects, rise removed
- predictors: partial eviction (evidence_evicted_mean) vs GER as predictors of hallucination
- leaderboard: every press's accuracy, cliff and evidence measures in one long table (pooled datasets)
- ranking:    the leaderboard ranked, one row per press, and the accuracy vs evidence ordering agreement
- build:      every table of the stats rule, per dataset and pooled
"""

from kvroute.intervals import wilson_interval
from kvroute.stats.curves import CLASSES, DEFAULT_GROUP, cliff_location, rate_curves, susceptibility
from kvroute.stats.multiple import bh_adjust
from kvroute.stats.breakpoint import breakpoint_test
from kvroute.stats.ger import ger_aggregate, ger_item_model, ger_verdict
from kvroute.stats.rigidity import rigidity_model
from kvroute.stats.consensus import consensus_curves
from kvroute.stats.paired import mcnemar_table
from kvroute.stats.tags import tag_tests
from kvroute.stats.erasure import erasure_table
from kvroute.stats.oracle import oracle_table
from kvroute.stats.predictors import evidence_predictors
from kvroute.stats.build import POOLED, build_stats, per_dataset

__all__ = ["CLASSES", "DEFAULT_GROUP", "cliff_location", "rate_curves", "susceptibility", "wilson_interval",
           "bh_adjust", "breakpoint_test", "ger_aggregate", "ger_item_model", "ger_verdict", "rigidity_model",
           "consensus_curves", "mcnemar_table", "tag_tests", "oracle_table", "evidence_predictors", "POOLED",
           "build_stats", "per_dataset", "erasure_table"]
