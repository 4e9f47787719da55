# Shared by all rule files: config validation, the study grid, path helpers.
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


def as_json(obj):
    return json.dumps(obj, sort_keys=True)


def model_mem_mb(w):
    return config["models"][w.model].get("mem_mb", 16000)
