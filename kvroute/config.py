"""Config loading and validation, free of torch so the Snakefile can use it.

Schema errors are reported as ``config key a.b[2]: <problem>``; cross-key
checks (a study naming an unregistered model, ...) name the key the same way.
"""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

SCHEMA_PATH = Path(str(resources.files("kvroute") / "schemas" / "config.schema.yaml"))

# kvpress 0.5.5's press classes, listed here so the Snakefile can reject an
# unknown press without importing kvpress (and torch). A test keeps this list
# equal to kvpress's own.
KVPRESS_PRESSES = (
    "AdaKVPress", "BlockPress", "CAMPress", "CURPress", "CapPress", "ChunkKVPress", "ChunkPress",
    "CompactorPress", "ComposedPress", "CompressionRatioDecodingPress", "CriticalAdaKVPress",
    "CriticalKVPress", "DMSPress", "DecodingPress", "DuoAttentionPress", "EntropyGatedChunkKVPress",
    "ExpectedAttentionPress", "ExpectedAttentionStatsPress", "FastKVzipPress", "FinchPress",
    "KVComposePress", "KVgradPress", "KVzapPress", "KVzipPress", "KeyDiffPress", "KeyRerotationPress",
    "KnormPress", "LUKVPress", "LagKVPress", "LeverageScorePress", "MergingPress", "NonCausalAttnPress",
    "ObservedAttentionPress", "PerLayerCompressionPress", "PrefillDecodingPress", "PyramidKVPress",
    "QFilterPress", "RandomPress", "RestoreKVPress", "ScorerPress", "SimLayerKVPress", "SnapKVPress",
    "StreamingLLMPress", "TOVAPress", "ThinKPress",
)


class ConfigError(ValueError):
    """A config problem; the message starts with the offending key."""


def load_schema() -> dict:
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
    for name, spec in config["presses"].items():
        for field in ("press", "scorer"):
            if field in spec and spec[field] not in KVPRESS_PRESSES:
                raise ConfigError(
                    f"config key presses.{name}.{field}: {spec[field]!r} is not a kvpress press; "
                    f"allowed values: {', '.join(KVPRESS_PRESSES)}"
                )
    for name, spec in config["datasets"].items():
        if ("path" in spec) == ("passages" in spec):
            raise ConfigError(f"config key datasets.{name}: give either passages (generated) or path (your JSONL)")
        if "path" not in spec and "generator" not in spec and name not in GENERATOR_NAMES:
            raise ConfigError(
                f"config key datasets.{name}.generator: {name!r} is not a generator name, so name one; "
                f"allowed values: {', '.join(GENERATOR_NAMES)}"
            )


GENERATOR_NAMES = ("base", "knowledge_manipulation", "multi_presence", "multi_entity", "long_context", "coreference", "hops")


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

    fill(out, schema)
    return out


def load(path: str | Path) -> dict:
    config = yaml.safe_load(Path(path).read_text())
    validate(config)
    return with_defaults(config)


def sorted_ratios(config: dict) -> list[float]:
    return sorted(float(r) for r in config["study"]["ratios"])
