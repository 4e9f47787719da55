"""Every stage's output files, named once: the rules, the CLI, the scripts and the figure registry read them here.

Pure names (no heavy imports): the Snakefile, which SLURM jobs re-parse, imports this module.
"""

from __future__ import annotations

UNIT = "results/{model}/{dataset}/{regime}"  # one model x dataset x regime
STATS = "results/{model}/stats"
PROBE = "results/{model}/probe"

# infer (and merge_shards): what one unit of inference produces (kvroute.artifacts).
INFER_FILES = {"predictions": "predictions.parquet", "hidden": "hidden.npz", "routing": "routing.npz",
               "ledger": "ledger.parquet"}
# metrics, under UNIT/metrics/ (kvroute.metrics.build_metrics returns these tables).
METRICS_FILES = {
    "questions": "questions.parquet",  # one row per answer (oracle rows too): scores + eviction + mean routing
    "layers": "layers.parquet",        # one row per answer x layer (oracle rows too): per-layer GER and routing
    "answers": "answers.csv",          # F1 / recall / error classes by tag
    "eviction": "eviction.csv",        # eviction rate, GER, null GER, erasure rate per cell
    "layer_ger": "layer_ger.csv",      # per-layer GER per cell x layer
    "routing": "routing.csv",          # consensus, rho, answer mass per cell x layer
    "reachability": "reachability.csv",  # share of answers whose evidence the query can reach, per cell
    "leakage": "leakage.csv",          # accuracy of erased answers, split by reachable_prefill, per cell
}
# stats, under STATS/ (kvroute.stats.build_stats returns these tables).
STATS_FILES = {
    "curves": "curves.csv", "chi": "susceptibility.csv", "cliff": "cliff.csv", "breakpoint": "breakpoint.csv",
    "mcnemar": "mcnemar.csv", "tags": "tags.csv", "ger": "ger_hallucination.csv", "ger_item": "ger_item_model.csv",
    "erasure": "erasure.csv", "rigidity": "rigidity.csv", "consensus": "consensus.csv", "oracle": "oracle.csv",
    "evidence_predictors": "evidence_predictors.csv",
}
# The press leaderboard over every model (kvroute.stats.leaderboard, kvroute.stats.ranking).
LEADERBOARD_FILES = {"table": "results/leaderboard.csv",  # long: one row per model x press x measure [x ratio]
                     "summary": "results/leaderboard_summary.csv"}  # wide: one row per model x press, ranked
# probe, under PROBE/ (kvroute.probing.run_probes and drift_probes).
PROBE_FILES = {"scores": "probe_scores.csv", "tags": "probe_tags.csv", "drift": "probe_drift.csv",
               "passages": "probe_passages.csv"}


def stats_file(name: str, model: str = "{model}") -> str:
    return f"{STATS.format(model=model)}/{STATS_FILES[name]}"


def probe_file(name: str, model: str = "{model}") -> str:
    return f"{PROBE.format(model=model)}/{PROBE_FILES[name]}"
