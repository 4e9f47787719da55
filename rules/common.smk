# Shared by every rule file: config validation, the study grid, path helpers.
import re
import json

from kvroute.config import ConfigError, validate as validate_kvroute_config, with_defaults

try:
    validate_kvroute_config(config)
except ConfigError as err:
    raise WorkflowError(f"Invalid configuration: {err}") from None
# Fills the schema's defaults into config (the checks above already passed).
validate(config, "../kvroute/schemas/config.schema.yaml")
config.update(with_defaults(config))

STUDY = config["study"]
MODELS = STUDY["models"]
DATASETS = STUDY["datasets"]
REGIMES = STUDY["regimes"]
PRESSES = {name: config["presses"][name] for name in STUDY["presses"]}
RATIOS = sorted(float(r) for r in STUDY["ratios"])
SEED = config["seed"]
INFERENCE_IMAGE = config["containers"]["inference"]
ANALYSIS_IMAGE = config["containers"]["analysis"]


wildcard_constraints:
    model="|".join(map(re.escape, config["models"])),
    dataset="|".join(map(re.escape, config["datasets"])),
    regime="agnostic|aware",


def as_json(obj):
    return json.dumps(obj, sort_keys=True)


def run_dir(w):
    return f"results/{w.model}/{w.dataset}/{w.regime}"


def model_mem_mb(w):
    return config["models"][w.model].get("mem_mb", 16000)
