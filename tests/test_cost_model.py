"""scripts/cost_model.py: the memory terms scale as the engine's tensors do, and the model meets measured peaks.

No model is loaded: the shapes are numbers, and the measured peaks are the script's own record of CPU runs.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import replace

import pytest
import yaml

from conftest import REPO

spec = importlib.util.spec_from_file_location("cost_model", REPO / "scripts" / "cost_model.py")
cm = importlib.util.module_from_spec(spec)
sys.modules["cost_model"] = cm  # dataclasses look their module up
spec.loader.exec_module(cm)

LLAMA = cm.MODELS["llama-3-8b-instruct"]
PAPER_MODELS = ["llama-3.2-3b-instruct", "llama-3-8b-instruct", "qwen-2.5-3b-instruct", "qwen-2.5-7b-instruct",
                "qwen-2.5-14b-instruct"]


def job(**changes) -> cm.Job:
    """A paper-grid passage: 1,500 tokens, 16 questions, both presses at nine ratios, 128 rows a batch."""
    base = cm.Job(tokens=1500, questions=16, ratios=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9), uncompressed=True,
                  dropping=1, masking=1, max_batch=128, answer_tokens=32, probe_layers=4, dtype="bfloat16",
                  device="cuda")
    return replace(base, **changes)


def terms(shape=LLAMA, **changes) -> dict:
    return cm.device_terms(shape, job(**changes))


def test_kv_cache_terms_grow_linearly_with_the_context_and_the_batch_rows():
    # No question or answer room, so the batch cache is rows x T tokens of cache.
    short, long = terms(tokens=750, question_width=0, answer_tokens=0), terms(tokens=1500, question_width=0,
                                                                            answer_tokens=0)
    for name in ("prefill_cache", "layer_inputs", "press_caches", "batch_cache"):
        assert long[name] == pytest.approx(2 * short[name]), name
    half, full = terms(max_batch=64), terms(max_batch=128)
    assert full["batch_cache"] == pytest.approx(2 * half["batch_cache"])
    assert full["question_hidden_states"] == pytest.approx(2 * half["question_hidden_states"])
    # one token of cache: layers x kv_heads x head_dim x 2 (K, V) x bytes
    assert cm.kv_bytes_per_token(LLAMA, "bfloat16") == 32 * 8 * 128 * 2 * 2
    assert terms(question_width=0, answer_tokens=0)["batch_cache"] == 128 * 1500 * 32 * 8 * 128 * 2 * 2


def test_weights_do_not_depend_on_the_context_or_the_batch():
    assert terms(tokens=100)["weights"] == terms(tokens=1900)["weights"] == terms(max_batch=1)["weights"]
    assert terms()["weights"] == cm.stored_params(LLAMA) * 2


def test_reachability_attention_grows_as_t_squared_and_is_bounded_layer_by_layer():
    assert terms(tokens=3000)["reachability_attention"] == pytest.approx(4 * terms(tokens=1500)["reachability_attention"])
    # The walk holds one layer's (and one KV group's) attention at a time: the layer count must not enter.
    two_layers, many_layers = replace(LLAMA, layers=2), replace(LLAMA, layers=64)
    assert terms(two_layers)["reachability_attention"] == terms(many_layers)["reachability_attention"]
    # ... and it stays below one layer's full fp32 attention over every head (3 copies), far below all layers'.
    t = 1500
    one_layer = 3 * LLAMA.heads * t * t * 4
    assert terms()["reachability_attention"] < one_layer < LLAMA.layers * LLAMA.heads * t * t * 4


def test_routing_attention_is_one_layer_at_a_time_too():
    assert terms(replace(LLAMA, layers=2))["routing_attention"] == terms(replace(LLAMA, layers=64))["routing_attention"]


def test_bfloat16_halves_the_byte_terms_and_leaves_the_float32_ones():
    fp32, bf16 = terms(dtype="float32"), terms(dtype="bfloat16")
    for name in ("weights", "prefill_cache", "layer_inputs", "press_caches", "batch_cache", "question_hidden_states",
                 "mlp_activations"):
        assert bf16[name] == pytest.approx(fp32[name] / 2), name
    for name in ("routing_attention", "reachability_attention", "logits", "adakv_masks"):  # fp32 or int64 either way
        assert bf16[name] == fp32[name], name


def test_adakv_cells_share_the_prefill_and_pad_every_batch_row_to_the_context():
    assert terms(dropping=0, masking=2)["press_caches"] == 0
    assert job(masking=0, uncompressed=False).slots == 1350  # (1 - 0.1) x 1500: the longest dropped cache
    assert job().slots == 1500


def test_rows_follow_the_grid():
    assert job().rows == 16 * 19  # ratio 0 once, two presses at nine ratios
    assert job().reported_rows == 16 * 20  # ratio 0 reported under both presses
    replication = cm.Job(tokens=1397, questions=16, question_width=35, **cm.REPLICATION, **cm.REPLICATION_ORACLES)
    assert replication.rows == 432  # what the measured hops job answered: 16 x (19 + 8 oracle cells)


def test_shapes_hold_the_parameters_the_models_load():
    # Counted on the meta device from config/arch/*.json (tests/inference/test_bench.py builds those models).
    assert cm.stored_params(cm.MODELS["llama-3-8b-instruct"]) == 8_030_261_248
    assert cm.stored_params(cm.MODELS["qwen-2.5-7b-instruct"]) == 7_615_616_512
    # The converted Qwen2.5-Coder-0.5B: a 2,520,702,368-byte float32 safetensors file (header included).
    assert 0 < 2_520_702_368 - 4 * cm.stored_params(cm.MODELS["qwen2.5-coder-0.5b-instruct"]) < 100_000
    for name, arch in (("llama-3-8b-instruct", "llama-3-8b"), ("qwen-2.5-7b-instruct", "qwen2.5-7b")):
        config, s = json.loads((REPO / "config" / "arch" / f"{arch}.json").read_text()), cm.MODELS[name]
        assert (s.hidden, s.intermediate, s.layers, s.heads, s.kv_heads, s.vocab) == (
            config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"],
            config["num_attention_heads"], config["num_key_value_heads"], config["vocab_size"])
        assert s.tied == config["tie_word_embeddings"]


def test_the_memory_model_is_within_30_percent_of_every_measured_cpu_peak():
    checked = cm.check_cpu()
    assert len(checked) >= 40
    assert {m.model for m, _ in checked} == {"qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct",
                                              "smollm2-135m-instruct"}
    for m, estimate in checked:
        assert abs(estimate - m.gib) / m.gib <= 0.30, f"{m.model} {m.what}: {estimate:.2f} vs {m.gib:.2f} GiB"


def test_the_paper_config_prints_every_paper_model_job_and_llama_terms(capsys):
    assert cm.main(["--config", str(REPO / "config" / "paper.yaml")]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    # the GPU-hours projection as before
    assert any(line.split()[:1] == ["total"] and "513.5" in line and "12.2" in line for line in lines)
    jobs = out[out.index("Per infer job"):]
    for model in PAPER_MODELS:
        block = jobs[jobs.index(f"\n{model}\n"):]
        rows = block.splitlines()[2:16]
        assert len(rows) == 14 and all(line.startswith("  ") for line in rows), model  # 7 datasets x 2 regimes
        assert rows[-2].split()[:2] == ["hops,", "agnostic"]
    assert "GPU GiB" in out and "host GiB" in out and "h (roofline)" in out
    terms_block = out[out.index("llama-3-8b-instruct on one 1,500-token passage"):]
    for name in ("weights", "batch_cache", "routing_attention", "reachability_attention", "ledger", "merge"):
        assert f"    {name} " in terms_block, name
    assert "not layers x heads x T^2" in terms_block


def test_an_unknown_model_is_refused_naming_the_key(tmp_path, capsys):
    with pytest.raises(ValueError, match=r"--model: 'nope' has no shape"):
        cm.shape_of("nope")
    with pytest.raises(SystemExit):
        cm.main(["--config", str(REPO / "config" / "paper.yaml"), "--model", "nope"])
    assert "--model: 'nope'" in capsys.readouterr().err
    # A registered model the cost model has no shape for: the error names the config key.
    cfg = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    cfg["models"] = {"mine": {"source": "local", "path": str(tmp_path), "family": "llama", "mem_mb": 1000}}
    cfg["study"]["models"] = ["mine"]
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(SystemExit):
        cm.main(["--config", str(path)])
    assert "config key study.models[0]: 'mine' has no shape" in capsys.readouterr().err
