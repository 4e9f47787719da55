"""Config loading and validation, free of torch so the Snakefile can use it.

Schema errors are reported as ``config key a.b[2]: <problem>``; cross-key
checks (a study naming an unregistered model, ...) name the key the same way.
"""

from __future__ import annotations

import copy
import functools
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

from kvroute import press_specs

SCHEMA_PATH = Path(str(resources.files("kvroute") / "schemas" / "config.schema.yaml"))
# The model registry every config shares (the Snakefile loads it with `configfile:` first).
MODELS_PATH = Path(__file__).resolve().parents[1] / "config" / "models.yaml"

class ConfigError(ValueError):
    """A config problem; the message starts with the offending key."""


@functools.lru_cache(maxsize=1)
def load_schema() -> dict:
    """The parsed schema (read once per process: the CLI asks it for every default). Do not modify it."""
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _key(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _describe(error: jsonschema.ValidationError) -> str:
    if error.validator == "enum":
        return f"{error.instance!r} is not allowed; allowed values: {', '.join(map(str, error.validator_value))}"
    if error.validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        sch = error.schema
        bounds = [f">= {sch['minimum']}" if "minimum" in sch else "",
                  f"> {sch['exclusiveMinimum']}" if "exclusiveMinimum" in sch else "",
                  f"<= {sch['maximum']}" if "maximum" in sch else "",
                  f"< {sch['exclusiveMaximum']}" if "exclusiveMaximum" in sch else ""]
        return f"{error.instance!r} is out of range; allowed values: {' and '.join(b for b in bounds if b)}"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        return f"{error.message}" + (f"; allowed keys: {', '.join(allowed)}" if allowed else "")
    return error.message


def validate(config: dict) -> None:
    """Raise ConfigError naming the first offending key, schema checks first."""
    validator = jsonschema.Draft202012Validator(load_schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        # The deepest error under the first failing key is the most specific one.
        best = jsonschema.exceptions.best_match(errors)
        raise ConfigError(f"config key {_key(best.absolute_path)}: {_describe(best)}")
    _check_references(config)


def _check_references(config: dict) -> None:
    study = config["study"]
    for section in ("models", "datasets", "presses"):
        registered = config[section]
        for i, name in enumerate(study[section]):
            if name not in registered:
                raise ConfigError(
                    f"config key study.{section}[{i}]: {name!r} is not registered under {section}; "
                    f"allowed values: {', '.join(sorted(registered))}"
                )
    for name in study.get("dataset_regimes", {}):
        if name not in study["datasets"]:
            raise ConfigError(f"config key study.dataset_regimes.{name}: {name!r} is not in study.datasets; "
                              f"allowed values: {', '.join(study['datasets'])}")
    for name in study.get("passages_per_model", {}):
        if name not in study["models"]:
            raise ConfigError(f"config key study.passages_per_model.{name}: {name!r} is not in study.models; "
                              f"allowed values: {', '.join(study['models'])}")
    for name, spec in config["presses"].items():
        for key, problem in press_specs.problems(name, spec):
            raise ConfigError(f"config key {key}: {problem}")
    _check_oracle(config)
    generators = generator_names()
    for name, spec in config["datasets"].items():
        if ("path" in spec) == ("passages" in spec):
            raise ConfigError(f"config key datasets.{name}: give either passages (generated) or path (your JSONL)")
        generator = spec.get("generator", name)
        if "path" not in spec and generator not in generators:
            key = f"datasets.{name}.generator" if "generator" in spec else f"datasets.{name}"
            raise ConfigError(f"config key {key}: {generator!r} is not a generator name, so name one under "
                              f"datasets.{name}.generator; allowed values: {', '.join(generators)}")
    for name in study["datasets"]:
        if "path" in config["datasets"][name]:
            _check_dataset_file(name, config["datasets"][name]["path"])
    # The eviction map draws one studied unit: it must be one the study runs.
    chosen = config.get("figures", {}).get("eviction_map", {})
    for field, studied in (("dataset", study["datasets"]), ("regime", studied_regimes(config))):
        if chosen.get(field) is not None and chosen[field] not in studied:
            raise ConfigError(f"config key figures.eviction_map.{field}: {chosen[field]!r} is not in study; "
                              f"allowed values: {', '.join(studied)}")
    if chosen.get("dataset") and chosen.get("regime"):
        own = [r for d, r in study_units(config) if d == chosen["dataset"]]
        if chosen["regime"] not in own:
            raise ConfigError(f"config key figures.eviction_map.regime: {chosen['dataset']} does not run the "
                              f"{chosen['regime']} regime (study.dataset_regimes); allowed values: {', '.join(own)}")


def _check_oracle(config: dict) -> None:
    """Oracle presses run only under study.oracle, on a studied base press whose prefill they can share."""
    from kvroute.press_specs import base_press_of

    study, presses = config["study"], config["presses"]
    for i, name in enumerate(study["presses"]):
        if "oracle" in presses[name]:
            raise ConfigError(f"config key study.presses[{i}]: {name!r} is an oracle press; "
                              f"list it under study.oracle.presses")
    for name, spec in presses.items():
        if "oracle" in spec and not press_specs.steerable(spec):
            raise ConfigError(f"config key presses.{name}.oracle: an oracle steers the scores a press ranks "
                              f"contiguous context spans by; {spec['press']} has none to steer "
                              f"({press_specs.CATALOG[spec['press']].note})")
    oracle = study.get("oracle")
    if not oracle:
        return
    oracles = sorted(n for n, spec in presses.items() if "oracle" in spec)
    for i, name in enumerate(oracle["presses"]):
        if name not in oracles:
            raise ConfigError(f"config key study.oracle.presses[{i}]: {name!r} is not a press with an oracle; "
                              f"allowed values: {', '.join(oracles) or '(none registered)'}")
        if base_press_of(presses[name], presses, study["presses"]) is None:
            raise ConfigError(f"config key study.oracle.presses[{i}]: {name!r} has no base press: no press in "
                              f"study.presses has its spec without the oracle; allowed values: "
                              f"{', '.join(study['presses'])} (with an oracle key added)")
    for field, studied in (("ratios", [float(r) for r in study["ratios"]]), ("regimes", studied_regimes(config))):
        for i, value in enumerate(oracle[field]):
            if (float(value) if field == "ratios" else value) not in studied:
                raise ConfigError(f"config key study.oracle.{field}[{i}]: {value!r} is not in study.{field} "
                                  f"(the base rows it is compared with); allowed values: "
                                  f"{', '.join(map(str, studied))}")


def study_units(config: dict) -> list[tuple[str, str]]:
    """The (dataset, regime) pairs a study runs, datasets in study order: study.regimes for each dataset,
    or its own list under study.dataset_regimes."""
    study = config["study"]
    own = study.get("dataset_regimes") or {}
    return [(d, r) for d in study["datasets"] for r in own.get(d, study["regimes"])]


def studied_regimes(config: dict) -> list[str]:
    """Every regime some dataset runs, in the order agnostic, aware."""
    found = {r for _, r in study_units(config)}
    return [r for r in ("agnostic", "aware") if r in found]


def oracle_plan(config: dict, regime: str) -> dict:
    """What one infer job of ``regime`` runs beyond its presses: {} or {presses: {name: ...}, ratios, seed}."""
    from kvroute.press_specs import base_press_of

    study, presses = config["study"], config["presses"]
    oracle = study.get("oracle")
    if not oracle or regime not in oracle["regimes"] or not oracle["presses"] or not oracle["ratios"]:
        return {}
    return {"presses": {name: {"spec": presses[name], "variant": presses[name]["oracle"],
                               "base": base_press_of(presses[name], presses, study["presses"])}
                        for name in oracle["presses"]},
            "ratios": sorted(float(r) for r in oracle["ratios"]), "seed": int(config.get("seed", 0))}


def generator_names() -> tuple[str, ...]:
    """Dataset generators, from their registry (the schema's enum is kept equal to it by a test)."""
    from kvroute.datasets.registry import GENERATORS

    return tuple(GENERATORS)


def _check_dataset_file(name: str, path: str) -> None:
    """A user's JSONL must exist, hold passages and parse, before any job runs (and any model loads)."""
    from kvroute.datasets import load_jsonl

    key = f"config key datasets.{name}.path"
    if not Path(path).is_file():
        raise ConfigError(f"{key}: {path} does not exist" + (" (it is a folder)" if Path(path).exists() else ""))
    try:
        records = load_jsonl(path)
    except ValueError as err:  # "<path>:<line>: <problem>"
        raise ConfigError(f"{key}: {err}") from None
    if not records:
        raise ConfigError(f"{key}: {path} has no passages")


def with_defaults(config: dict) -> dict:
    """A copy of ``config`` with the schema's defaults filled in (nested objects too)."""
    schema = load_schema()
    out = copy.deepcopy(config)

    def fill(node: dict, sch: dict):
        for key, sub in sch.get("properties", {}).items():
            if key not in node and "default" in sub:
                node[key] = copy.deepcopy(sub["default"])
            if isinstance(node.get(key), dict) and sub.get("type") == "object":
                fill(node[key], sub)
        entry = sch.get("additionalProperties")
        if isinstance(entry, dict) and not sch.get("properties"):  # a registry: fill every entry
            for value in node.values():
                if isinstance(value, dict):
                    fill(value, _resolved(schema, entry))

    fill(out, schema)
    return out


def schema_at(key: str) -> dict:
    """The schema of a dotted config key (``"scoring.threshold"``), with ``$ref`` resolved."""
    schema = load_schema()
    node = schema
    for part in key.split("."):
        node = _resolved(schema, node["properties"][part])
    return node


def _resolved(schema: dict, node: dict) -> dict:
    """``node`` with its local ``$ref`` resolved; its own keys (default, description) win."""
    if "$ref" not in node:
        return node
    return {**schema["$defs"][node["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in node.items() if k != "$ref"}}


def default(key: str):
    """The schema's default for a dotted config key: the one place defaults live."""
    return copy.deepcopy(schema_at(key)["default"])


def section(name: str, given: dict | None = None) -> dict:
    """Config section ``name`` with the schema's defaults under ``given`` (for callers outside Snakemake)."""
    return with_defaults({name: dict(given or {})})[name]


def merged(base: dict, override: dict) -> dict:
    """``override`` on top of ``base``, nested dicts merged key by key (as Snakemake merges config files)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load(path: str | Path) -> dict:
    """A config file on top of the model registry, validated, with the schema's defaults filled in."""
    config = yaml.safe_load(Path(path).read_text()) or {}
    if MODELS_PATH.exists():
        config = merged(yaml.safe_load(MODELS_PATH.read_text()), config)
    validate(config)
    return with_defaults(config)
