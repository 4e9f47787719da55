# Shared by every .smk file here: config validation, the study grid, shards, helpers.
import json
import sys

from kvroute.config import ConfigError, oracle_plan, study_units, validate as validate_kvroute_config, with_defaults
from kvroute.paths import (LEADERBOARD_FILES, METRICS_FILES, PROBE, PROBE_FILES, STATS, STATS_FILES, UNIT,
                           probe_file, stats_file)

try:
    validate_kvroute_config(config)
except ConfigError as err:
    # One line that names the key, before any job runs; a traceback would only hide it.
    sys.exit(f"Invalid configuration: {err}")
# Fills the schema's defaults into config (the checks above already passed).
validate(config, "../kvroute/schemas/config.schema.yaml")
config.update(with_defaults(config))

STUDY = config["study"]
MODELS = STUDY["models"]
DATASETS = STUDY["datasets"]
REGIMES = STUDY["regimes"]
# (dataset, regime) pairs: study.regimes for every dataset unless study.dataset_regimes names its own.
UNITS = study_units(config)
PRESSES = {name: config["presses"][name] for name in STUDY["presses"]}
RATIOS = sorted(float(r) for r in STUDY["ratios"])
SEED = config["seed"]
INFERENCE_IMAGE = config["containers"]["inference"]
ANALYSIS_IMAGE = config["containers"]["analysis"]


def as_json(obj):
    return json.dumps(obj, sort_keys=True)


def model_mem_mb(w, attempt=1):
    """A model's memory need; a retried job (attempt 2, 3 ...) asks for proportionally more."""
    return config["models"][w.model]["mem_mb"] * attempt


def question_batch(w, attempt=1):
    """Rows (question x press x ratio) decoded together; halved on every retry so an out-of-memory job can finish."""
    return max(1, config["inference"]["max_batch_questions"] // 2 ** (attempt - 1))


def n_passages(dataset):
    spec = config["datasets"][dataset]
    if "passages" in spec:
        return spec["passages"]
    with open(spec["path"], encoding="utf-8") as lines:
        return sum(1 for line in lines if line.strip())


def shards(dataset, model):
    """Passage ranges START-END, one infer job each (inference.passages_per_job), up to the model's cap
    (study.passages_per_model)."""
    n = min(n_passages(dataset), STUDY.get("passages_per_model", {}).get(model, n_passages(dataset)))
    per = config["inference"]["passages_per_job"] or n
    return [f"{start:05d}-{min(start + per, n):05d}" for start in range(0, n, per)]


def unit_files(name, model="{model}"):
    """``results/MODEL/DATASET/REGIME/name`` for every unit of the study (``{model}`` left open by default)."""
    return [f"results/{model}/{d}/{r}/{name}" for d, r in UNITS]


def leaderboard_questions(wildcards):
    """Every model's questions tables, for the leaderboard (rules/leaderboard.smk). The ranking ratio is checked
    here, where only a run that wants the leaderboard sees it, rather than with the config: a study without
    the ratio runs everything else, and a leaderboard off the grid stops before any job instead of after
    inference."""
    at = float(config["leaderboard"]["at_ratio"])
    if not any(abs(at - r) < 1e-9 for r in RATIOS):
        raise ValueError(f"config key leaderboard.at_ratio: {at:g} is not in study.ratios; allowed values: "
                         f"{', '.join(f'{r:g}' for r in RATIOS if r > 0)}")
    return [f for m in MODELS for f in unit_files(f"metrics/{METRICS_FILES['questions']}", model=m)]
