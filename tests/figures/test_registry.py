"""The figure registry: one entry per family drives the rules, the target list and the CLI."""

from __future__ import annotations

import copy
import inspect
import subprocess
import sys

import pytest

from kvroute.config import load, schema_at
from kvroute.figures import registry


@pytest.fixture(scope="module")
def config(repo):
    return load(repo / "config.yaml")


def test_figure_help_lists_every_family():
    out = subprocess.run([sys.executable, "-m", "kvroute", "figure", "--help"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    for fam in registry.FAMILIES:
        assert fam.name in out.stdout, fam.name


@pytest.mark.parametrize("fam", registry.FAMILIES, ids=lambda f: f.name)
def test_entry_matches_its_plot_function_caption_and_schema(repo, fam):
    params = inspect.signature(registry.plot_function(fam)).parameters
    wildcard_args = ["dataset"] if "{dataset}" in fam.output else []
    for name in [inp.name for inp in fam.inputs] + list(fam.options) + wildcard_args + ["out_pdf"]:
        assert name in params, f"{fam.plot} takes no {name!r}"
    for inp in fam.inputs:
        assert inp.kind in registry.KINDS
        if not inp.required:
            assert params[inp.name].default is None, f"optional input {inp.name} needs a None default"
    assert (repo / "report" / f"{fam.caption or fam.key}.rst").exists()
    for opt in fam.options:
        assert "default" in schema_at(f"figures.{fam.key}.{opt}"), opt  # defaults live in the schema only


def test_every_figures_config_section_belongs_to_a_family():
    sections = set(schema_at("figures")["properties"])
    assert sections == {f.key for f in registry.FAMILIES} | {"table2"}


def test_targets_follow_the_study_and_the_figures_section(config):
    targets = registry.targets(config)
    assert "figures/hops.pdf" not in targets  # no multi-hop dataset in the default study
    assert {f"figures/tags/{d}_{k}.pdf" for d in config["study"]["datasets"]
            for k in ("answer_type", "question_type")} <= set(targets)
    changed = copy.deepcopy(config)
    changed["datasets"]["hops"] = {"passages": 1}
    changed["study"]["datasets"] = ["hops"]
    changed["figures"]["performance"]["metric"] = ["hallucination"]
    targets = registry.targets(changed)
    assert "figures/hops.pdf" in targets and "figures/performance_hallucination.pdf" in targets
    assert "figures/performance_f1.pdf" not in targets and "figures/tags/hops_answer_type.pdf" in targets


def test_input_files_expand_the_study_and_leave_per_figure_wildcards_open(config):
    study = config["study"]
    tags = registry.input_files(registry.family("tags"), config)["answers"]
    assert len(tags) == len(study["models"]) * len(study["regimes"]) == len(set(tags))
    assert all("/{dataset}/" in f for f in tags)
    answers = registry.input_files(registry.family("error-rates"), config)["answers"]
    assert len(set(answers)) == len(study["models"]) * len(study["datasets"]) * len(study["regimes"])
    one = copy.deepcopy(config)
    one["figures"]["eviction_map"].update(dataset=study["datasets"][-1], regime="aware")
    ledger = registry.input_files(registry.family("eviction-map"), one)["ledger"]
    assert ledger == [f"results/{m}/{study['datasets'][-1]}/aware/ledger.parquet" for m in study["models"]]


def test_command_arguments_carry_inputs_wildcards_and_options_quoted(config):
    from types import SimpleNamespace

    odd = copy.deepcopy(config)
    odd["figures"]["eviction_map"]["passage_id"] = "my passage {1}"
    args = registry.command_arguments(registry.family("eviction-map"), odd)
    line = args(SimpleNamespace(), SimpleNamespace(ledger=["l 1.parquet"], evidence=["p.parquet"]))
    assert line == "--ledger 'l 1.parquet' --evidence p.parquet --ratios 0.1 0.9 --passage-id 'my passage {1}'"
    routing = registry.command_arguments(registry.family("routing"), config)  # another family, made first
    tags = registry.command_arguments(registry.family("tags"), config)
    assert routing(SimpleNamespace(measure="rho"), SimpleNamespace(routing=["r.csv"])) == (
        "--routing r.csv --measure rho --targets 0.1 0.5 0.9")
    assert tags(SimpleNamespace(tag_kind="answer_type", dataset="base"), SimpleNamespace(answers=["a.csv"])) == (
        "--answers a.csv --tag-kind answer_type --dataset base --metric f1 --placeholder-if-empty")


def test_unknown_family_names_the_allowed_ones():
    with pytest.raises(ValueError, match="safety-cliff"):
        registry.family("cliff")
