"""Apptainer cannot be installed here: validate what can be validated about the images."""

from __future__ import annotations

import re

import pytest

GPU_RULES = {"prepare_model", "infer"}


def sections(text: str) -> dict[str, str]:
    """Header keys and %sections of an Apptainer definition file."""
    out, current = {"header": ""}, "header"
    for line in text.splitlines():
        if line.startswith("%"):
            current = line.split()[0][1:]
            out[current] = ""
        else:
            out[current] += line + "\n"
    return out


@pytest.mark.parametrize("stage, requirements", [("inference", "requirements.txt"),
                                                 ("analysis", "analysis-requirements.txt")])
def test_definition_pins_base_by_digest_and_installs_the_pinned_env(repo, stage, requirements):
    parts = sections((repo / "containers" / f"{stage}.def").read_text())
    header = dict(re.findall(r"^(\w+):\s*(\S+)", parts["header"], re.M))
    assert header["Bootstrap"] == "docker"
    assert re.fullmatch(r"\S+@sha256:[0-9a-f]{64}", header["From"]), header["From"]
    for section in ("files", "post", "test"):
        assert parts.get(section, "").strip(), f"%{section} is empty"
    assert f"envs/{requirements}" in parts["files"]
    assert f"-r /opt/kvroute/envs/{requirements}" in parts["post"]
    assert "set -eu" in parts["post"]


def pins(path) -> dict[str, str]:
    lines = [l.strip() for l in path.read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert all("==" in l for l in lines), "every requirement is pinned with =="
    return dict(l.split("==", 1) for l in lines)


def test_both_images_use_the_same_versions(repo):
    full = pins(repo / "envs" / "requirements.txt")
    light = pins(repo / "envs" / "analysis-requirements.txt")
    assert {k: full.get(k) for k in light} == light
    assert full["torch"] == "2.13.0" and full["kvpress"] == "0.5.5" and full["snakemake"].startswith("9.27")
    assert "torch" not in light and "kvpress" not in light


def test_each_rule_names_its_image(repo):
    rules = {}
    for smk in (repo / "rules").glob("*.smk"):
        for block in re.split(r"^rule ", smk.read_text(), flags=re.M)[1:]:
            name = block.split(":", 1)[0].strip()
            image = re.search(r"container:\s*\n\s*(\w+)", block)
            runs = re.search(r"^\s+(shell|run|script):", block, flags=re.M)
            rules[name] = (image.group(1) if image else None, bool(runs))
    assert GPU_RULES <= set(rules)
    for name, (image, runs) in rules.items():
        # a target rule (inputs only, nothing to run) needs no image; every rule that runs names one
        wanted = ("INFERENCE_IMAGE" if name in GPU_RULES else "ANALYSIS_IMAGE") if runs else None
        assert image == wanted, name
