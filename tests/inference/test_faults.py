"""Faults of a shared cluster: a SIGKILLed job resumes, OOM lowers the batch, nothing half-written survives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch

from kvroute import artifacts
from kvroute.inference import passage
from kvroute.inference import engine
from kvroute.datasets import generate, load_jsonl, write_jsonl

PRESSES = {"chunk_ea": {"press": "ChunkPress", "scorer": "ExpectedAttentionPress", "args": {"chunk_length": 32}}}
# One oracle press on top: its per-question cells must resume and survive OOM retries like the others.
ORACLE = {"presses": {"chunk_ea_protect": {"spec": {**PRESSES["chunk_ea"], "oracle": "protect"}, "variant": "protect",
                                           "base": "chunk_ea"}}, "ratios": [0.6], "seed": 1}
SETTINGS = {"device": "cpu", "dtype": "float32", "max_new_tokens": 4, "probe_layers": [1.0], "threads": 1}


def infer_cmd(manifest, data, out_dir):
    return [sys.executable, "-m", "kvroute", "infer", "--manifest", str(manifest), "--dataset", str(data),
            "--regime", "agnostic", "--presses", json.dumps(PRESSES), "--ratios", "[0.0, 0.6]",
            "--oracle", json.dumps(ORACLE),
            "--inference", json.dumps(SETTINGS), "--out-dir", str(out_dir)]


@pytest.mark.slow
def test_sigkilled_job_resumes_from_its_last_finished_passage(smollm2_manifest, tmp_path):
    data = tmp_path / "coreference.jsonl"
    write_jsonl(generate("coreference", 3, 3), data)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = tmp_path / "killed"
    proc = subprocess.Popen(infer_cmd(smollm2_manifest, data, out), env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not list(out.glob(".checkpoints-*/*/predictions.parquet")):
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() < deadline, "no passage finished in 5 minutes"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "predictions.parquet").exists(), "a killed job must not leave finished-looking output"

    resumed = subprocess.run(infer_cmd(smollm2_manifest, data, out), env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming:" in resumed.stderr and "of 3 passages already done" in resumed.stderr
    # Every row once: resumed rows equal a clean run's (test_job.py's crash test), here nothing is doubled or lost.
    rows = pd.read_parquet(out / "predictions.parquet")
    key = ["passage_id", "qid", "press", "ratio"]
    assert not rows.duplicated(key).any()
    asked = {(r["passage_id"], q["qid"]) for r in load_jsonl(data) for q in r["questions"]}
    assert set(zip(rows["passage_id"], rows["qid"])) == asked
    assert rows.groupby(["passage_id", "qid"]).size().nunique() == 1  # every question has every cell
    assert not list(out.glob(".checkpoints-*")) and not list(out.glob(".*.tmp*"))


def test_cuda_out_of_memory_halves_the_batch_and_retries(smollm2, monkeypatch, caplog):
    model, tokenizer = smollm2
    record = generate("knowledge_manipulation", 1, 0)[0]
    real = engine.answer
    sizes = []

    def small_gpu(model, tokenizer, cell, context_length, question_ids, *args, **kwargs):
        sizes.append(len(question_ids))
        if len(question_ids) > 3:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(model, tokenizer, cell, context_length, question_ids, *args, **kwargs)

    monkeypatch.setattr(engine, "answer", small_gpu)
    with caplog.at_level("WARNING"):
        out = passage.answer_passage(model, tokenizer, record, "agnostic", PRESSES, [0.0, 0.5], 3, 64, [1])
    assert len(out.rows) == 13 * 2  # every question answered at both ratios
    # 13 questions x 2 cells in one batch, then halved until it fits
    assert sizes[:4] == [26, 13, 6, 3] and max(sizes[4:]) <= 3  # the question-only baseline too
    assert "retrying with 3 rows per batch" in caplog.text
    assert out.max_batch == 3  # later passages start from the size that fit


def test_out_of_memory_retries_rebuild_oracle_cells(smollm2, monkeypatch):
    model, tokenizer = smollm2
    record = generate("knowledge_manipulation", 1, 0)[0]
    plan = {**ORACLE, "ratios": [0.5]}
    clean = passage.answer_passage(model, tokenizer, record, "agnostic", PRESSES, [0.0, 0.5], 3, 64, [1],
                                   oracle=plan)
    real = engine.answer

    def small_gpu(model, tokenizer, cell, context_length, question_ids, *args, **kwargs):
        if len(question_ids) > 3:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(model, tokenizer, cell, context_length, question_ids, *args, **kwargs)

    monkeypatch.setattr(engine, "answer", small_gpu)
    retried = passage.answer_passage(model, tokenizer, record, "agnostic", PRESSES, [0.0, 0.5], 3, 64, [1],
                                     oracle=plan)
    assert retried.max_batch <= 3
    assert len(retried.rows) == 13 * 3  # both ratios, and one protect row per question
    key = lambda r: (r["press"], r["ratio"], r["qid"])
    assert sorted((key(r), r["prediction"]) for r in retried.rows) == sorted(
        (key(r), r["prediction"]) for r in clean.rows)
    assert [e["kept_bits"] for e in retried.ledger] == [e["kept_bits"] for e in clean.ledger]


def test_merge_refuses_misaligned_shards(tmp_path):
    rows = [{"qid": f"q{i}", "press": "p", "ratio": 0.0, "hop": None} for i in range(2)]
    for name, order in (("a", rows), ("b", rows[::-1])):
        paths = artifacts.paths_in(tmp_path / name)
        artifacts.write(paths, order, [{"passage_id": "x"}], {"states": torch.zeros(2, 1, 3).numpy(), "layers": [1]},
                        {"argmax": torch.zeros(2, 1, 1).numpy(), "answer_mass": torch.zeros(2, 1, 1).numpy()})
    # corrupt b: predictions reordered relative to its arrays
    b = artifacts.paths_in(tmp_path / "b")
    pd.read_parquet(b["predictions"]).iloc[::-1].to_parquet(b["predictions"], index=False)
    with pytest.raises(ValueError, match="not aligned"):
        artifacts.merge([artifacts.paths_in(tmp_path / "a"), b], artifacts.paths_in(tmp_path / "m"))
