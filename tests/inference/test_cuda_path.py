"""The code path a GPU takes, run on this CPU (``KVROUTE_CODE_PATH=cuda``), and kept off CUDA tensors otherwise.

On a GPU the engine never takes the CPU-only attention paths (grouped-head SDPA,
batched reduced-precision matmuls): transformers' sdpa runs under kvroute's
AdaKV masking. These tests run that path here against stock kvpress and
against the CPU path, and check that a CUDA tensor never reaches a CPU-only path.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from transformers import pipeline

from kvroute.inference import attention, engine, presses
from kvroute.inference import job as inference

from passages import ready

PASSAGE = (
    "Torvald Imbrecht is a Norwegian sculptor born in the coastal town of Vesterhavn. "
    "He received his first commission in 1987 from the Ostmark Maritime Museum, a bronze figure of a diver. "
    "Later he co-founded the Saltlight Cooperative, a collective of eleven artists who share a studio near the harbour."
)
QUESTIONS = ["In which town was Torvald Imbrecht born?", "Who gave Torvald Imbrecht his first commission?",
             "What does the Saltlight Cooperative share?"]
SPECS = {"adakv_ea": {"press": "AdaKVPress", "scorer": "ExpectedAttentionPress"},
         "chunk_ea": {"press": "ChunkPress", "scorer": "ExpectedAttentionPress", "args": {"chunk_length": 48}}}


def fake_query(device: str, dtype=torch.bfloat16, batch: int = 4, q_len: int = 1):
    """Stands in for a query tensor: the dispatcher reads only its device, dtype and shape."""
    return SimpleNamespace(device=torch.device(device), dtype=dtype, shape=(batch, 9, q_len, 64))


GROUPED = SimpleNamespace(num_key_value_groups=3)


def test_a_cuda_tensor_never_takes_a_cpu_only_path(monkeypatch):
    monkeypatch.delenv(attention.CODE_PATH_ENV, raising=False)
    for dtype in (torch.float32, torch.bfloat16, torch.float16):
        for batch, q_len in ((1, 1), (8, 1), (8, 12)):
            q = fake_query("cuda", dtype, batch, q_len)
            assert not attention._use_gqa(GROUPED, q)
            assert not attention._use_matmul(q, attention_mask=object())
    # ...while the same call on a CPU tensor does (so the check above can fail)
    assert attention._use_gqa(GROUPED, fake_query("cpu"))
    assert attention._use_matmul(fake_query("cpu", torch.bfloat16, 8, 1), attention_mask=None)


def test_the_cuda_switch_sends_cpu_tensors_to_transformers_sdpa(monkeypatch):
    calls = []
    monkeypatch.setattr(attention, "sdpa_attention_forward", lambda *a, **k: calls.append("sdpa") or ("out", None))
    monkeypatch.setattr(attention, "gqa_sdpa_attention", lambda *a, **k: calls.append("gqa") or ("out", None))
    monkeypatch.setattr(attention, "matmul_attention", lambda *a, **k: calls.append("matmul") or ("out", None))
    q = torch.zeros(8, 9, 1, 64, dtype=torch.bfloat16)
    k = torch.zeros(8, 3, 5, 64, dtype=torch.bfloat16)
    mask = torch.ones(8, 1, 1, 5, dtype=torch.bool)
    monkeypatch.delenv(attention.CODE_PATH_ENV, raising=False)
    attention._dispatch(GROUPED, q, k, k, mask)
    monkeypatch.setenv(attention.CODE_PATH_ENV, "cuda")
    attention._dispatch(GROUPED, q, k, k, mask)
    attention._dispatch(GROUPED, q.float(), k.float(), k.float(), mask)
    assert calls == ["matmul", "sdpa", "sdpa"]


def test_the_cuda_switch_takes_the_gpu_dtype_and_refuses_a_bad_value(monkeypatch):
    monkeypatch.delenv(inference.AUTO_DTYPE_ENV, raising=False)
    monkeypatch.setattr(inference, "cpu_has_bf16", lambda: False)
    monkeypatch.delenv(attention.CODE_PATH_ENV, raising=False)
    assert inference.resolve_dtype("auto", "cpu") == "float32"
    monkeypatch.setenv(attention.CODE_PATH_ENV, "cuda")
    assert inference.resolve_dtype("auto", "cpu") == "bfloat16"
    monkeypatch.setenv(attention.CODE_PATH_ENV, "gpu")
    with pytest.raises(ValueError, match="KVROUTE_CODE_PATH: 'gpu' is not allowed; allowed values: auto, cuda"):
        inference.resolve_dtype("auto", "cpu")


@pytest.fixture(scope="module")
def prepared(smollm2):
    r = ready(*smollm2, PASSAGE, QUESTIONS)
    return r.context, r.questions, r.question_ids, r.pre


@pytest.mark.parametrize("name", list(SPECS))
def test_the_gpu_path_on_this_cpu_answers_as_stock_kvpress_and_as_the_cpu_path(smollm2, prepared, name, monkeypatch):
    """fp32, batched: the GPU path equals kvpress's pipeline, and so does the CPU path."""
    model, tokenizer = smollm2
    context, questions, question_ids, pre = prepared
    ratio = 0.7
    pipe = pipeline("kv-press-text-generation", model=model, tokenizer=tokenizer)
    stock = pipe(context, questions=questions, press=presses.build(SPECS[name], ratio), max_new_tokens=8)["answers"]
    out = {}
    for path in ("auto", "cuda"):
        monkeypatch.setenv(attention.CODE_PATH_ENV, path)
        cell = engine.press_cell(model, pre, name, SPECS[name], ratio,
                                 engine.decided_bank(SPECS[name], pre, [ratio], model))
        answers = engine.answer(model, tokenizer, cell, pre.length, question_ids, 8, routing=True,
                                evidence=[[5, 6]] * len(question_ids))
        out[path] = (cell, answers)
    assert out["cuda"][1].texts == stock, f"{name}: the GPU path differs from stock kvpress"
    assert out["auto"][1].texts == out["cuda"][1].texts
    for mine, theirs in zip(out["auto"][0].kept, out["cuda"][0].kept):
        assert torch.equal(mine, theirs)
    assert torch.equal(out["auto"][1].routing.argmax, out["cuda"][1].routing.argmax)
