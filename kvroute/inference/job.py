"""The ``infer`` stage: one model, one dataset, one regime, every press x ratio.

Writes a predictions table (one row per question x press x ratio) and the
last-prompt-token hidden states for probing. Work is checkpointed per passage
in a side folder, so a killed job resumes where it stopped; the final files
appear atomically only when every passage is done.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from kvroute import artifacts
from kvroute import config as kvconfig
from kvroute.datasets import load_jsonl
from kvroute.inference import attention, passage, prompts
from kvroute.inference import presses as press_registry
from kvroute.models import load as load_model
from kvroute.models import read_manifest

log = logging.getLogger(__name__)


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("inference.device is 'cuda' but no CUDA device is visible")
    return device


# What ``inference.dtype: auto`` resolves to, forced: lets one machine run (and test) both outcomes.
AUTO_DTYPE_ENV = "KVROUTE_AUTO_DTYPE"
AUTO_DTYPES = ("float32", "bfloat16")


def resolve_dtype(dtype: str, device: str) -> str:
    """``auto``: bf16 on CUDA and on CPUs with native bf16 kernels (AVX-512), else fp32.

    Without them bf16 is emulated: on a 2-core AVX2-only EPYC a default-grid
    base passage took 227 s in bf16, where AVX-512 machines take ~14 s. So
    ``auto`` gives different answers on different CPUs: a study spread over
    several machines names its dtype (docs/cpu-and-dtype.md). The environment
    variable ``KVROUTE_AUTO_DTYPE`` decides ``auto`` instead of the machine.
    """
    if dtype != "auto":
        return dtype
    forced = os.environ.get(AUTO_DTYPE_ENV)
    if forced:
        if forced not in AUTO_DTYPES:
            raise ValueError(f"environment variable {AUTO_DTYPE_ENV}: {forced!r} is not allowed; "
                             f"allowed values: {', '.join(AUTO_DTYPES)}")
        return forced
    if device == "cuda" or attention.code_path() == "cuda":  # the GPU's choice, also when its path runs on a CPU
        return "bfloat16"
    return "bfloat16" if cpu_has_bf16() else "float32"


def cpu_has_bf16() -> bool:
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def probe_layer_indices(fractions: list[float], n_layers: int) -> list[int]:
    """Depth fractions -> indices into ``hidden_states`` (0 = embeddings, n_layers = last)."""
    return sorted({int(round(f * n_layers)) for f in fractions})


def settings_digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def select_passages(records: list[dict], passages: str | None) -> list[dict]:
    """``"START-END"`` (0-based, end exclusive) picks a shard of the dataset; None keeps all."""
    if not passages:
        return records
    start, end = (int(x) for x in passages.split("-"))
    if not 0 <= start < end <= len(records):
        raise ValueError(f"passage range {passages} is outside the dataset's {len(records)} passages")
    return records[start:end]


def run(manifest: str, dataset: str, regime: str, presses: dict, ratios: list[float], inference: dict,
        outputs: dict, model_name: str | None = None, passages: str | None = None, oracle: dict | None = None) -> None:
    """Run one infer job; ``outputs`` maps predictions, hidden, routing, ledger to paths.

    ``inference`` is the config's inference section; keys it lacks take the schema's defaults.
    ``oracle`` is ``kvroute.config.oracle_plan`` for this job's regime ({} or None: no oracle rows).
    """
    inference = kvconfig.section("inference", inference)
    oracle = oracle or {}
    for name, spec in presses.items():
        press_registry.validate_spec(name, spec)
    for name, o in oracle.get("presses", {}).items():
        press_registry.validate_spec(name, o["spec"])
        if o["base"] not in presses:
            raise ValueError(f"oracle press {name!r}: base press {o['base']!r} is not a press of this job; "
                             f"allowed values: {', '.join(presses)}")
    if regime not in prompts.REGIMES:
        raise ValueError(f"regime {regime!r} is not allowed; allowed values: {', '.join(prompts.REGIMES)}")
    bad = [r for r in ratios if not 0.0 <= r < 1.0]
    if bad:
        raise ValueError(f"study.ratios: {bad} outside [0, 1)")
    # Validate the whole dataset before any model time is spent.
    records = select_passages(load_jsonl(dataset), passages)
    ratios = sorted(set(float(r) for r in ratios))
    model_name = model_name or read_manifest(manifest)["name"]

    torch.manual_seed(0)
    torch.set_num_threads(inference["threads"])
    device = resolve_device(inference["device"])
    dtype = resolve_dtype(inference["dtype"], device)
    t0 = time.time()
    model, tokenizer = load_model(manifest, device=device, dtype=dtype,
                                  attn_implementation=inference["attn_implementation"])
    log.info("loaded %s on %s (%s) in %.1fs", model_name, device, dtype, time.time() - t0)
    probe_layers = probe_layer_indices(inference["probe_layers"], model.config.num_hidden_layers)

    # Per-passage checkpoints beside the outputs, keyed by everything that changes the answers.
    # The resolved dtype, not "auto": a checkpoint from a bf16 machine must not resume on an fp32 one.
    digest = settings_digest(read_manifest(manifest), regime, presses, ratios, {**inference, "dtype": dtype},
                             passages, Path(dataset).stat().st_size, oracle)
    parts = Path(outputs["predictions"]).parent / f".checkpoints-{digest}"
    done = [r for r in records if artifacts.paths_in(parts / r["passage_id"])["predictions"].exists()]
    if done:
        log.info("resuming: %d of %d passages already done", len(done), len(records))
    totals = {"prefill_tokens": 0, "question_tokens": 0, "decode_steps": 0, "decode_tokens": 0}
    todo = [r for r in records if r not in done]
    max_batch = inference["max_batch_questions"]
    for record in tqdm(todo, desc=f"{model_name}/{records[0]['dataset']}/{regime}", unit="passage", mininterval=5):
        out = passage.answer_passage(
            model, tokenizer, record, regime, presses, ratios, inference["max_new_tokens"],
            max_batch, probe_layers, inference["reachability_threshold"], oracle)
        max_batch = out.max_batch  # after an out-of-memory retry, stay at the size that fit
        for key in totals:
            totals[key] += out.counters[key]
        for row in out.rows + out.ledger:
            row["model"] = model_name
        for row in out.rows:
            row["dtype"] = dtype  # answers depend on it; studies refuse to mix dtypes
        arrays = {k: np.stack(v) for k, v in out.arrays.items()}
        hidden = {"states": arrays.pop("states"), "question_only": arrays.pop("question_only"),
                  "layers": np.asarray(probe_layers)}
        artifacts.write(artifacts.paths_in(parts / record["passage_id"]), out.rows, out.ledger, hidden, arrays)
    log.info("done in %.1fs: %s", time.time() - t0, totals)
    artifacts.merge([artifacts.paths_in(parts / r["passage_id"]) for r in records], outputs)
    shutil.rmtree(parts, ignore_errors=True)
