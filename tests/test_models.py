"""Prepared models stay loadable wherever the repository lives."""

from __future__ import annotations

import json
import os
import shutil

from kvroute import models


def test_a_converted_model_loads_after_its_folder_moves(smollm2_manifest, tmp_path):
    # Hard links: a cheap copy of the converted weights into a new place.
    moved = tmp_path / "elsewhere" / "smollm2"
    shutil.copytree(smollm2_manifest.parent, moved, copy_function=os.link)
    manifest = json.loads((moved / models.MANIFEST).read_text())
    manifest["path"] = "."  # what prepare() writes for a converted model
    (moved / models.MANIFEST).write_text(json.dumps(manifest))

    assert models.read_manifest(moved)["path"] == str(moved.resolve())
    model, tokenizer = models.load(moved / models.MANIFEST)
    assert model.config.architectures == ["LlamaForCausalLM"]
    assert tokenizer.decode(tokenizer.encode("hello", add_special_tokens=False)) == "hello"


def test_prepare_writes_a_relative_path_for_converted_models(smollm2_manifest):
    # A fresh test cache runs prepare(); an older cache may hold an absolute path.
    path = json.loads(smollm2_manifest.read_text())["path"]
    assert path == "." or os.path.isabs(path)
    assert models.read_manifest(smollm2_manifest)["path"] == str(smollm2_manifest.parent.resolve())
