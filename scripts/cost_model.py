#!/usr/bin/env python
"""What a study grid costs: GPU-hours of the stock kvpress loop vs kvroute, and per infer job the GPU
memory, host memory and time it needs.

Time is a roofline, not a measurement: prefill and question forwards are compute-bound (FLOPs / (peak x
MFU)), decode steps are memory-bound (weight and cache bytes / (bandwidth x efficiency)). Token counts come
from the config's dataset sizes (words per passage from paper Table 1, x1.35 tokens per word, plus the prompt
template). Replace the efficiency assumptions with measured ones (--mfu, --bw-efficiency: the prefill MFU
scripts/bench_inference.py prints on the target GPU; scripts/device_check.sh runs it) when you have them. On
a CPU, a model's measured seconds per answer (CPU_SECONDS_PER_ANSWER) replace the roofline.

Memory follows the infer job's code path (kvroute/inference/: engine, passage, batching, routing,
reachability; kvroute/artifacts.py), term by term: ``job_memory`` returns every named term and the peak of
each phase. Each term's formula is beside it in ``device_terms`` and ``host_terms``. Nothing grows as
layers x heads x T^2: reachability recomputes the prefill's attention one layer, and within it one KV group,
at a time (``reachability_attention``). ``--check-cpu`` compares the model with peaks measured on CPU runs.

    python scripts/cost_model.py --config config/paper.yaml          # GPU-hours, every infer job, LLaMA-3-8B terms
    python scripts/cost_model.py --terms qwen-2.5-7b-instruct --tokens 1500
    python scripts/cost_model.py --config config/replication.yaml --device cpu --dtype float32
    python scripts/cost_model.py --check-cpu                         # the model against measured CPU peaks
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kvroute import config as kvconfig  # noqa: E402  (torch-free)

GIB = 2 ** 30


@dataclass(frozen=True)
class Shape:
    """A model's shape as the infer job loads it (public model cards; the converted GGUFs as converted)."""

    params: float  # the model card's count, for FLOPs
    layers: int
    kv_heads: int
    head_dim: int
    hidden: int
    heads: int
    intermediate: int
    vocab: int
    tied: bool  # one matrix for the input embedding and the lm_head, as loaded
    qkv_bias: bool = False  # Qwen2 has q/k/v biases
    stored_dtype: str = "bfloat16"  # the checkpoint's dtype on disk

    @property
    def groups(self) -> int:
        """Query heads per KV head."""
        return self.heads // self.kv_heads


MODELS = {
    # The paper's models (hub checkpoints, bf16 on disk).
    "llama-3.2-3b-instruct": Shape(3.21e9, 28, 8, 128, 3072, 24, 8192, 128256, tied=True),
    "llama-3-8b-instruct": Shape(8.03e9, 32, 8, 128, 4096, 32, 14336, 128256, tied=False),  # config/arch/llama-3-8b.json
    "qwen-2.5-3b-instruct": Shape(3.09e9, 36, 2, 128, 2048, 16, 11008, 151936, tied=True, qkv_bias=True),
    "qwen-2.5-7b-instruct": Shape(7.62e9, 28, 4, 128, 3584, 28, 18944, 152064, tied=False, qkv_bias=True),  # qwen2.5-7b.json
    "qwen-2.5-14b-instruct": Shape(14.7e9, 48, 8, 128, 5120, 40, 13824, 152064, tied=False, qkv_bias=True),
    # The CPU models: GGUFs from PyPI, converted once to float32 safetensors. The Qwen conversions save the
    # lm_head apart from the embedding (tie_word_embeddings: false): 630M and 1.78B parameters in memory.
    "qwen2.5-coder-0.5b-instruct": Shape(0.49e9, 24, 2, 64, 896, 14, 4864, 151936, tied=False, qkv_bias=True,
                                         stored_dtype="float32"),
    "qwen2.5-coder-1.5b-instruct": Shape(1.54e9, 28, 2, 128, 1536, 12, 8960, 151936, tied=False, qkv_bias=True,
                                         stored_dtype="float32"),
    "smollm2-135m-instruct": Shape(0.135e9, 30, 3, 64, 576, 9, 1536, 49152, tied=True, stored_dtype="float32"),
}
# Words per passage and questions per passage (paper Table 1).
DATASETS = {
    "base": (175, 6), "knowledge_manipulation": (32, 13), "multi_presence": (500, 10), "multi_entity": (500, 10),
    "long_context": (1100, 10), "coreference": (44, 9), "hops": (1100, 16),
}
TOKENS_PER_WORD = 1.35
TEMPLATE_TOKENS = 60  # chat template + instruction
QUESTION_TOKENS = 20  # question + assistant header, on average (time)
QUESTION_WIDTH = 32  # a batch's padded question width: its longest question (35 tokens measured on hops)
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}

# Measured here: peak RSS of `python -c "import torch, transformers, kvpress, kvroute.inference.job"`
# under /usr/bin/time -v (torch 2.13 CPU, transformers 5.2): what an infer process holds before its model.
RUNTIME_BYTES = 521_660 * 1024
# Assumed, not measured: the CUDA context, cuBLAS workspaces and allocator slack on the GPU.
CUDA_CONTEXT_BYTES = 0.5 * GIB
# Assumed: one prediction row in a pandas table (a dozen strings, two lists of positions).
PREDICTION_ROW_BYTES = 1024
# Measured seconds per answer on 2 CPU cores, a + b x T (context tokens), batch of 128 rows: a least-squares
# fit over 25 infer jobs of config/replication.yaml (float32 on a 2-core AVX-512 EPYC; benchmarks/infer/,
# T 99-1,437; model load included).
CPU_SECONDS_PER_ANSWER = {("qwen2.5-coder-0.5b-instruct", "float32"): (0.247, 0.00034)}


@dataclass
class Hardware:
    peak_flops: float = 989e12  # H100 SXM dense bf16
    bandwidth: float = 3.35e12  # H100 SXM HBM3, bytes/s
    mfu: float = 0.35  # prefill model-FLOPs utilisation
    bw_efficiency: float = 0.6  # achieved share of bandwidth in decode
    mean_answer_tokens: float = 10.0  # greedy steps per answer (concise models stop early)


@dataclass(frozen=True)
class Job:
    """One passage of an infer job, as the engine answers it (kvroute.inference.passage)."""

    tokens: int  # context length T
    questions: int
    ratios: tuple[float, ...]  # nonzero ratios of the grid
    uncompressed: bool  # ratio 0 in the grid: one uncompressed cell every press shares
    dropping: int  # presses whose caches drop entries (Chunk, SnapKV...): a cache of (1 - r) T per ratio
    masking: int  # presses that mask entries (AdaKV): the cache is the prefill's, entries hidden at decode
    max_batch: int  # inference.max_batch_questions
    answer_tokens: int  # inference.max_new_tokens
    probe_layers: int
    dtype: str
    device: str  # cuda or cpu
    oracle_ratios: tuple[float, ...] = ()
    oracle_dropping: int = 0  # oracle presses on a dropping base press (a cell per question and ratio)
    oracle_masking: int = 0
    question_width: int = QUESTION_WIDTH
    passages: int = 1  # passages in the infer job (its end-of-job merge)

    @property
    def shared_cells(self) -> int:
        return int(self.uncompressed) + (self.dropping + self.masking) * len(self.ratios)

    @property
    def oracle_cells(self) -> int:
        """Oracle cells per question."""
        return (self.oracle_dropping + self.oracle_masking) * len(self.oracle_ratios)

    @property
    def rows(self) -> int:
        """Rows answered per passage: every question from every shared cell, plus its oracle cells."""
        return self.questions * (self.shared_cells + self.oracle_cells)

    @property
    def reported_rows(self) -> int:
        """Prediction rows per passage: ratio 0 is reported under every press."""
        return self.rows + (self.questions * (self.dropping + self.masking - 1) if self.uncompressed else 0)

    @property
    def batch_rows(self) -> int:
        return min(self.max_batch, self.rows)

    @property
    def slots(self) -> int:
        """Cache slots of a batch row: rows are padded to the longest cell of their batch. Every question's
        uncompressed and AdaKV rows are T long and sit beside its other rows (batching.row_order)."""
        if self.uncompressed or self.masking:
            return self.tokens
        return math.ceil((1 - min(self.ratios)) * self.tokens)


def dtype_bytes(dtype: str) -> int:
    if dtype not in DTYPE_BYTES:
        raise ValueError(f"dtype {dtype!r} is not allowed; allowed values: {', '.join(DTYPE_BYTES)}")
    return DTYPE_BYTES[dtype]


def shape_of(name: str, key: str = "--model") -> Shape:
    """The model's shape; an unknown name is an error naming the key it came from."""
    if name not in MODELS:
        raise ValueError(f"{key}: {name!r} has no shape in scripts/cost_model.py (MODELS); "
                         f"allowed values: {', '.join(MODELS)}")
    return MODELS[name]


def stored_params(s: Shape) -> int:
    """Parameters the loaded model holds: embedding, lm_head unless tied, attention, MLP, norms."""
    attention = s.hidden * s.head_dim * (s.heads + 2 * s.kv_heads) + s.heads * s.head_dim * s.hidden
    if s.qkv_bias:
        attention += s.head_dim * (s.heads + 2 * s.kv_heads)
    per_layer = attention + 3 * s.hidden * s.intermediate + 2 * s.hidden
    return s.vocab * s.hidden * (1 if s.tied else 2) + s.layers * per_layer + s.hidden


def weight_bytes(s: Shape, dtype: str) -> float:
    return stored_params(s) * dtype_bytes(dtype)


def kv_bytes_per_token(s: Shape, dtype: str) -> float:
    """One token's keys and values in every layer: layers x kv_heads x head_dim x 2 (K, V) x bytes."""
    return s.layers * s.kv_heads * s.head_dim * 2 * dtype_bytes(dtype)


def context_tokens(generator: str, regime: str) -> int:
    words, q = DATASETS[generator]
    return round(words * TOKENS_PER_WORD + TEMPLATE_TOKENS + (q * QUESTION_TOKENS if regime == "aware" else 0))


def device_terms(s: Shape, job: Job) -> dict[str, float]:
    """Bytes on the model's device (the GPU; host RAM on a CPU run), one term per kind of tensor."""
    b, t, w = dtype_bytes(job.dtype), job.tokens, job.question_width
    kv = kv_bytes_per_token(s, job.dtype)
    rows = job.batch_rows
    # Share of a batch's rows that are AdaKV rows, and the share of their entries they mask.
    masking_rows = job.masking * len(job.ratios) / max(1, job.shared_cells)
    mean_ratio = sum(job.ratios) / max(1, len(job.ratios))
    questions_per_batch = math.ceil(rows / max(1, job.shared_cells + job.oracle_cells))
    return {
        "weights": weight_bytes(s, job.dtype),
        # engine.prefill: the uncompressed cache (ratio 0 and AdaKV cells share it) ...
        "prefill_cache": t * kv,
        # ... and every layer's input, so that each ratio is compressed from this one prefill
        "layer_inputs": s.layers * t * s.hidden * b,
        # passage.plan_cells builds every cell before answering; dropping presses copy (1 - r) T entries
        "press_caches": job.dropping * sum(1 - r for r in job.ratios) * t * kv,
        # oracle cells of dropping presses are built when their batch runs (batching.DeferredCell)
        "oracle_caches": questions_per_batch * job.oracle_dropping * sum(1 - r for r in job.oracle_ratios) * t * kv,
        # AdaKV: kvpress's (head, slot) indices per cell and layer (int64), and per batch the
        # (row, head, slot) triples and slot masks that hide them (engine.Layout.masked, attention._hidden_slots)
        "adakv_masks": (job.masking * sum(job.ratios) * t * s.kv_heads * s.layers * 2 * 8
                        + rows * masking_rows * mean_ratio * t * s.kv_heads * s.layers * 3 * 8
                        + rows * s.kv_heads * t * s.layers * (1 if job.masking else 0)),
        # engine.stack_cells: each row's cache padded to the batch's longest cell, with room for the
        # question and the answer (kvroute.inference.cache.reserve)
        "batch_cache": rows * (job.slots + w + job.answer_tokens) * kv,
        # engine.question_forward asks for output_hidden_states: every layer's states of the whole batch
        "question_hidden_states": (s.layers + 1) * rows * w * s.hidden * b,
        # routing.RoutingProbe, one layer at a time (freed before the next): per row, question token and slot,
        # fp32 scores, their masked copy and the softmax for every query head; or, later, scores and weights
        # beside the int64 edge targets per KV head (a where and its permuted copy) and their mask
        "routing_attention": rows * w * (job.slots + w) * max(3 * 4 * s.heads, 2 * 4 * s.heads + 17 * s.kv_heads),
        # one layer's MLP in the question forward: gate, up and their product
        "mlp_activations": 3 * rows * w * s.intermediate * b,
        "logits": rows * s.vocab * 4,
        # reachability.head_edges, after the passage's rows: one layer, one KV group at a time: fp32 scores,
        # masked, softmax (groups x T x T each), the layer's boolean edges and their fp32 copy for the walk.
        # Bounded layer by layer: no factor of layers, nor of heads beyond one group.
        "reachability_attention": reachability_attention(s, t),
        "cuda_context": CUDA_CONTEXT_BYTES if job.device == "cuda" else 0.0,
    }


def reachability_attention(s: Shape, tokens: int) -> float:
    """Peak bytes of reachability's prefill attention: one layer and one KV group at a time, never layers x T^2."""
    return tokens * tokens * (3 * 4 * s.groups + 2 * s.kv_heads + 4)


def host_terms(s: Shape, job: Job) -> dict[str, float]:
    """Bytes in host RAM besides the device terms: the process, loading, one passage's records, the merge."""
    t, w, rows = job.tokens, job.question_width, job.rows
    cells = job.shared_cells + job.questions * job.oracle_cells
    stored = stored_params(s) * dtype_bytes(s.stored_dtype)
    hidden_row = 2 * job.probe_layers * s.hidden * 2  # states and question_only, fp16 (artifacts.py)
    routing_row = s.layers * s.heads * (4 + 4 + 2) + 4 * 2  # argmax, argmax_content int32; mass, reach fp16
    ledger_cell = s.layers * s.kv_heads * t / 8  # packed kept bits (ledger.pack)
    job_rows = job.passages * job.reported_rows
    return {
        "runtime": RUNTIME_BYTES,
        # models.load: the checkpoint's pages (safetensors are memory-mapped), plus a converted copy when the
        # run's dtype is not the stored one; the pages are let go once the model is on its device
        "checkpoint_pages": stored,
        "dtype_conversion": stored_params(s) * dtype_bytes(job.dtype) if job.dtype != s.stored_dtype else 0.0,
        # per passage: every cell's kept mask (bool) and ledger bits, dropping cells' slot positions (int64)
        "ledger": cells * ledger_cell * 9 + job.dropping * sum(1 - r for r in job.ratios) * t * s.kv_heads
        * s.layers * 8,
        # per passage: routing per row (int64 argmaxes and fp32 mass, then their numpy copies) and the
        # question-token entries reachability starts from (rows x layers x T bool)
        "routing": rows * (s.layers * s.heads * (8 + 8 + 4) + routing_row) + rows * s.layers * t,
        # per batch: every question token's edges at every layer (RoutingProbe._question_edges, bool)
        "question_edges": s.layers * job.batch_rows * w * (t + w + 1),
        # per passage: probed hidden states, fp32 from the device, then fp16 arrays
        "hidden_outputs": rows * job.probe_layers * s.hidden * (4 + 2) + job.questions * job.probe_layers * s.hidden * 2,
        # end of the job: artifacts.merge holds every passage's arrays and their concatenation
        "merge": 2 * job_rows * max(hidden_row, routing_row) + job_rows * PREDICTION_ROW_BYTES
        + 2 * job.passages * cells * ledger_cell,
    }


@dataclass
class Memory:
    device: dict[str, float]
    host: dict[str, float]
    phases: dict[str, float]  # peak bytes of each phase on the job's device (host RAM on a CPU run)
    host_phases: dict[str, float]  # a GPU run's host RAM per phase

    @property
    def peak(self) -> float:
        return max(self.phases.values())

    @property
    def host_peak(self) -> float:
        return max(self.host_phases.values())


def job_memory(s: Shape, job: Job) -> Memory:
    """Every term of ``device_terms`` and ``host_terms``, and the peak of each phase of the job.

    Phases: ``load`` (before any passage), ``answer`` (one batch's question forward: the batch's cache, every
    layer's hidden states and the largest per-layer transient), ``reachability`` (after a passage's rows)
    and ``merge`` (end of the job). Passage-long terms (weights, prefill, cells) are under the last three.
    """
    d, h = device_terms(s, job), host_terms(s, job)
    held = d["weights"] + d["prefill_cache"] + d["layer_inputs"] + d["press_caches"] + d["adakv_masks"] + d["cuda_context"]
    answer = (d["batch_cache"] + d["oracle_caches"] + d["question_hidden_states"]
              + max(d["routing_attention"], d["mlp_activations"], d["logits"]))
    passage_host = h["ledger"] + h["routing"] + h["question_edges"] + h["hidden_outputs"]
    load = h["runtime"] + h["checkpoint_pages"] + h["dtype_conversion"]
    if job.device == "cuda":
        phases = {"answer": held + answer, "reachability": held + d["reachability_attention"]}
        host_phases = {"load": load, "answer": h["runtime"] + passage_host, "merge": h["runtime"] + h["merge"]}
    else:  # one memory: the device terms live in host RAM beside the process
        base = h["runtime"] + held + passage_host
        phases = {"load": load, "answer": base + answer, "reachability": base + d["reachability_attention"],
                  "merge": h["runtime"] + d["weights"] + h["merge"]}
        host_phases = dict(phases)
    return Memory(d, h, phases, host_phases)


def passage_seconds(s: Shape, tokens: float, questions: int, cells: int, batch: int, hw: Hardware,
                    oracle_cells: int = 0) -> dict[str, float]:
    """Roofline seconds for one passage: the stock loop (a prefill per cell, each question decoded alone) and
    kvroute (one prefill; every cell x question decoded in batches of ``batch`` rows). ``oracle_cells`` per
    question: kvroute decodes them with the rest, a stock loop would prefill each."""
    weight = 2 * s.params  # bf16
    kv_token = 2 * 2 * s.layers * s.kv_heads * s.head_dim  # keys and values, bf16
    flops_token = 2 * s.params

    def step(rows: float, ctx: float) -> float:
        # One decode step streams the weights once and every row's cache.
        return (weight + rows * ctx * kv_token) / (hw.bandwidth * hw.bw_efficiency)

    prefill = flops_token * tokens / (hw.peak_flops * hw.mfu)
    asked = flops_token * questions * QUESTION_TOKENS / (hw.peak_flops * hw.mfu)
    stock = cells * (prefill + asked + questions * hw.mean_answer_tokens * step(1, tokens))
    stock += questions * oracle_cells * (prefill + asked / questions + hw.mean_answer_tokens * step(1, tokens))
    rows = (cells + oracle_cells) * questions
    batches = -(-rows // batch)
    decode = batches * hw.mean_answer_tokens * step(rows / batches, tokens)
    return {"stock": stock, "kvroute": prefill + (cells + oracle_cells) * asked + decode}


def passages_of(cfg: dict, model: str, dataset: str) -> int:
    n = cfg["datasets"][dataset]["passages"]
    return min(n, cfg["study"].get("passages_per_model", {}).get(model, n))


def grid(cfg: dict, regime: str) -> dict:
    """The grid one infer job of ``regime`` runs: ratios, presses by kind, oracle cells."""
    study = cfg["study"]
    ratios = sorted(float(r) for r in study["ratios"])
    masking = sum("AdaKV" in cfg["presses"][p]["press"] for p in study["presses"])
    oracle = kvconfig.oracle_plan(cfg, regime)
    o_masking = sum("AdaKV" in o["spec"]["press"] for o in oracle.get("presses", {}).values())
    return dict(ratios=tuple(r for r in ratios if r > 0), uncompressed=0.0 in ratios, masking=masking,
                dropping=len(study["presses"]) - masking, oracle_ratios=tuple(oracle.get("ratios", ())),
                oracle_masking=o_masking, oracle_dropping=len(oracle.get("presses", {})) - o_masking)


def resolve(cfg: dict, device: str | None, dtype: str | None) -> tuple[str, str]:
    """The device and dtype the jobs run with: the flags, else the config (``auto``: cuda, and bf16 on it)."""
    inf = cfg["inference"]
    device = device or ("cpu" if inf["device"] == "cpu" else "cuda")
    dtype = dtype or inf["dtype"]
    if dtype == "auto":
        dtype = "bfloat16" if device == "cuda" else "float32"
    return device, dtype


def job_for(cfg: dict, model: str, dataset: str, regime: str, device: str, dtype: str,
            tokens: int | None = None) -> Job:
    """The largest passage of one infer job of the config: its context length, grid and batch."""
    inf = cfg["inference"]
    generator = cfg["datasets"][dataset].get("generator", dataset)
    passages = passages_of(cfg, model, dataset)
    per_job = inf.get("passages_per_job") or passages
    return Job(tokens=tokens or context_tokens(generator, regime), questions=DATASETS[generator][1],
               max_batch=inf["max_batch_questions"], answer_tokens=inf["max_new_tokens"],
               probe_layers=len(inf["probe_layers"]), dtype=dtype, device=device,
               passages=min(per_job, passages), **grid(cfg, regime))


def job_seconds(s: Shape, model: str, job: Job, hw: Hardware) -> float | None:
    """Seconds of one infer job: the roofline on a GPU, a measured rate on a CPU (None where none was)."""
    if job.device == "cpu":
        rate = CPU_SECONDS_PER_ANSWER.get((model, job.dtype))
        return None if rate is None else job.passages * job.rows * (rate[0] + rate[1] * job.tokens)
    return job.passages * passage_seconds(s, job.tokens, job.questions, job.shared_cells, job.max_batch, hw,
                                          job.oracle_cells)["kvroute"]


def seconds(cfg: dict, model: str, hw: Hardware) -> dict[str, float]:
    """The model's GPU seconds over the whole study, stock loop and kvroute."""
    s = MODELS[model]
    batch = cfg["inference"]["max_batch_questions"]
    out = {"stock": 0.0, "kvroute": 0.0}
    for ds, regime in kvconfig.study_units(cfg):
        job = job_for(cfg, model, ds, regime, "cuda", "bfloat16")
        one = passage_seconds(s, job.tokens, job.questions, job.shared_cells, batch, hw, job.oracle_cells)
        for k in out:
            out[k] += passages_of(cfg, model, ds) * one[k]
    return out


def gib(x: float) -> str:
    return f"{x / GIB:.2f}"


def print_gpu_hours(cfg: dict, models: list[str], hw: Hardware) -> None:
    print(f"GPU-hours of the whole grid (roofline): H100 bf16 peak {hw.peak_flops / 1e12:.0f} TFLOP/s at MFU "
          f"{hw.mfu:.0%}, {hw.bandwidth / 1e12:.2f} TB/s at {hw.bw_efficiency:.0%}, {hw.mean_answer_tokens:.0f} "
          f"tokens per answer, {cfg['inference']['max_batch_questions']} rows per decode batch")
    print(f"{'model':32}{'stock GPU-h':>14}{'kvroute GPU-h':>16}{'ratio':>8}")
    total = {"stock": 0.0, "kvroute": 0.0}
    for model in models:
        s = seconds(cfg, model, hw)
        for k in total:
            total[k] += s[k]
        print(f"{model:32}{s['stock'] / 3600:>14.1f}{s['kvroute'] / 3600:>16.1f}{s['stock'] / s['kvroute']:>7.1f}x")
    print(f"{'total':32}{total['stock'] / 3600:>14.1f}{total['kvroute'] / 3600:>16.1f}"
          f"{total['stock'] / total['kvroute']:>7.1f}x")


def hours(x: float | None) -> str:
    return "not measured" if x is None else f"{x / 3600:.2f}"


def print_jobs(cfg: dict, models: list[str], device: str, dtype: str, hw: Hardware) -> None:
    """One line per infer job (model x dataset x regime), at the dataset's Table 1 passage length."""
    inf = cfg["inference"]
    where = "GPU" if device == "cuda" else "RAM"
    time = "h (roofline)" if device == "cuda" else "h (measured)"
    print(f"\nPer infer job on {device} in {dtype}: {inf['max_batch_questions']} rows per decode batch, "
          f"{inf['max_new_tokens']} new tokens, {len(inf['probe_layers'])} probe layers, passages_per_job "
          f"{inf.get('passages_per_job') or 'all'}. GiB = 2^30 bytes; T = context tokens (Table 1 words "
          f"x {TOKENS_PER_WORD} + template); merge = merge_shards' host RAM for the dataset x regime")
    print(f"{'model / dataset, regime':34}{'T':>6}{'rows':>6}{'batch':>6}{where + ' GiB':>9}"
          f"{'host GiB':>10}{time:>14}{'jobs':>6}{'merge GiB':>11}")
    for model in models:
        s = MODELS[model]
        print(model)
        for ds, regime in kvconfig.study_units(cfg):
            job = job_for(cfg, model, ds, regime, device, dtype)
            mem = job_memory(s, job)
            n = passages_of(cfg, model, ds)
            jobs = -(-n // job.passages)
            everything = replace(job, passages=n)  # merge_shards concatenates every job of the unit
            merge = host_terms(s, everything)["merge"] + RUNTIME_BYTES
            host = mem.host_peak if device == "cuda" else mem.peak
            print(f"  {ds + ', ' + regime:32}{job.tokens:>6}{job.rows:>6}{job.batch_rows:>6}{gib(mem.peak):>9}"
                  f"{gib(host):>10}{hours(job_seconds(s, model, job, hw)):>14}{jobs:>6}{gib(merge):>11}")


EXPLAIN = {
    "weights": "stored parameters x bytes",
    "prefill_cache": "layers x kv_heads x head_dim x 2 (K, V) x bytes x T, held once per passage",
    "layer_inputs": "layers x T x hidden x bytes: every ratio compressed from the one prefill",
    "press_caches": "dropping presses: sum over ratios of (1 - r) x T tokens of cache",
    "oracle_caches": "dropping oracle cells built for one batch",
    "adakv_masks": "AdaKV's masked (row, head, slot) indices and slot masks (int64, bool)",
    "batch_cache": "rows x (slots + question + answer) tokens of cache, padded to the batch's longest cell",
    "question_hidden_states": "(layers + 1) x rows x question width x hidden x bytes",
    "routing_attention": "one layer: 3 fp32 copies of rows x heads x question width x slots (or 2 and edges)",
    "mlp_activations": "one layer: 3 x rows x question width x intermediate x bytes",
    "logits": "rows x vocab x 4",
    "reachability_attention": "one layer, one KV group: (12 groups + 2 kv_heads + 4) x T^2 bytes",
    "cuda_context": "CUDA context, cuBLAS workspace, allocator slack (assumed)",
    "runtime": "python, torch, transformers, kvpress (measured)",
    "checkpoint_pages": "memory-mapped checkpoint while loading",
    "dtype_conversion": "converted copy while loading (stored dtype differs)",
    "ledger": "kept masks, packed ledger bits and slot positions of every cell",
    "routing": "per row: argmaxes and mass per layer and head; reachability entries",
    "question_edges": "one batch: question-token edges at every layer (bool)",
    "hidden_outputs": "probed hidden states, fp32 then fp16",
    "merge": "the job's arrays twice while artifacts.merge concatenates them",
}


def print_terms(model: str, job: Job) -> None:
    """Every term of one passage's job, with the peak of each phase."""
    s = MODELS[model]
    mem = job_memory(s, job)
    print(f"\n{model} on one {job.tokens:,}-token passage: {job.questions} questions x {job.shared_cells} cells = "
          f"{job.rows} rows, {job.batch_rows} per batch, question width {job.question_width}, {job.answer_tokens} new "
          f"tokens, {job.dtype} on {job.device}; {stored_params(s) / 1e9:.2f}B parameters held")
    print("  on the device (GiB)" if job.device == "cuda" else "  in RAM, the device terms (GiB)")
    for name, value in mem.device.items():
        if job.device == "cpu" and name == "cuda_context":
            continue
        print(f"    {name:26}{gib(value):>8}   {EXPLAIN[name]}")
    print(f"    not layers x heads x T^2 x 4 = {gib(s.layers * s.heads * job.tokens ** 2 * 4)} GiB: reachability "
          f"holds one layer's attention, one KV group at a time")
    print("  host (GiB)")
    for name, value in mem.host.items():
        print(f"    {name:26}{gib(value):>8}   {EXPLAIN[name]}")
    label = "GPU" if job.device == "cuda" else "RAM"
    print("  peaks (GiB): " + ", ".join(f"{label} {k} {gib(v)}" for k, v in mem.phases.items())
          + (", host " + ", ".join(f"{k} {gib(v)}" for k, v in mem.host_phases.items()) if job.device == "cuda" else ""))
    print(f"  => {label} {gib(mem.peak)} GiB" + (f", host {gib(mem.host_peak)} GiB" if job.device == "cuda" else ""))


# -- measured CPU peaks ------------------------------------------------------------------------------------

# The grids of the measured runs, as their configs were when they ran.
REPLICATION = dict(ratios=(0.25, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95), uncompressed=True, dropping=1,
                   masking=1, max_batch=128, answer_tokens=12, probe_layers=2, dtype="float32", device="cpu")
REPLICATION_ORACLES = dict(oracle_ratios=(0.9,), oracle_dropping=4, oracle_masking=4)
DEFAULT = dict(ratios=(0.25, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95), uncompressed=True, dropping=1, masking=1,
               max_batch=32, answer_tokens=12, probe_layers=2, dtype="bfloat16", device="cpu")
REPLICATION_1_5B_3FDD22D = dict(ratios=(0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.925, 0.95, 0.975), uncompressed=True,
                                dropping=1, masking=1, max_batch=64, answer_tokens=12, probe_layers=4,
                                dtype="float32", device="cpu", **REPLICATION_ORACLES)
REPLICATION_B6ED217 = dict(ratios=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.775, 0.8, 0.825, 0.85, 0.875, 0.9,
                                   0.925, 0.95, 0.975), uncompressed=True, dropping=1, masking=1, max_batch=128,
                           answer_tokens=12, probe_layers=4, dtype="float32", device="cpu")
DEFAULT_9374AF1 = dict(ratios=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.925, 0.95, 0.975),
                       uncompressed=True, dropping=1, masking=1, max_batch=32, answer_tokens=12, probe_layers=2,
                       dtype="float32", device="cpu")


@dataclass(frozen=True)
class Measured:
    what: str
    model: str
    job: Job
    gib: float  # measured peak RSS, GiB
    how: str  # "sampled": snakemake's benchmark file (psutil, every 30 s after the first 30 s); "exact": GNU time


def _replication(dataset: str, regime: str, tokens: int, width: int, questions: int, mib: float) -> Measured:
    oracles = REPLICATION_ORACLES if regime == "agnostic" else {}
    job = Job(tokens=tokens, questions=questions, question_width=width, **REPLICATION, **oracles)
    return Measured(f"{dataset}, {regime}, T {tokens}", "qwen2.5-coder-0.5b-instruct", job, mib / 1024, "sampled")


# Infer jobs of config/replication.yaml (one passage each, float32, on a 2-core AVX-512 EPYC, with today's
# engine): max_rss of benchmarks/infer/**/*.tsv (MiB), T from the shard's predictions, the
# widest question from the tokenizer.
MEASURED = [
    *(_replication("base", "agnostic", t, w, 6, m) for t, w, m in
      [(270, 19, 4140.33), (281, 19, 4147.93), (265, 20, 3769.89), (249, 20, 3761.53), (268, 21, 3770.96)]),
    *(_replication("knowledge_manipulation", "agnostic", t, w, 13, m) for t, w, m in
      [(101, 29, 3644.21), (107, 33, 3932.38), (99, 32, 3538.13), (101, 31, 3702.97), (101, 24, 3907.52)]),
    *(_replication("coreference", "agnostic", t, w, 9, m) for t, w, m in
      [(133, 21, 3787.92), (134, 26, 3632.45), (143, 24, 3625.75), (132, 23, 3884.50)]),
    *(_replication("coreference", "aware", t, w, 9, m) for t, w, m in
      [(206, 21, 3749.14), (216, 26, 3455.20), (226, 24, 3286.23), (208, 23, 3690.86)]),
    *(_replication("multi_presence", "agnostic", t, w, 10, m) for t, w, m in
      [(609, 24, 5548.23), (749, 29, 5937.06), (698, 24, 5759.59), (720, 27, 6059.47), (656, 24, 5821.23)]),
    *(_replication("multi_entity", "agnostic", t, w, 10, m) for t, w, m in
      [(629, 22, 5859.86), (713, 19, 5663.91), (719, 20, 5762.98), (669, 22, 5758.67), (759, 21, 6081.14)]),
    *(_replication("long_context", "agnostic", t, w, 10, m) for t, w, m in
      [(1225, 25, 7776.20), (1437, 26, 8596.23), (1292, 26, 7610.33), (1390, 28, 8483.51)]),
    *(_replication("hops", "agnostic", t, w, 16, m) for t, w, m in
      [(1397, 35, 8545.79), (1382, 27, 8131.97), (1361, 29, 8322.27), (1406, 33, 8853.30)]),
    # config.yaml's infer jobs (several passages each, bf16 from the float32 checkpoint, same machine):
    # the load's converted copy beside the checkpoint's pages sets the peak.
    *(Measured(f"default run: {what}", "qwen2.5-coder-0.5b-instruct",
               Job(tokens=t, questions=q, question_width=w, **DEFAULT, **o), mib / 1024, "sampled")
      for what, t, q, w, o, mib in [
          ("base, agnostic", 281, 6, 21, REPLICATION_ORACLES, 4258.83), ("base, aware", 357, 6, 21, {}, 3876.45),
          ("coreference, agnostic", 143, 9, 26, REPLICATION_ORACLES, 3382.07),
          ("coreference, aware", 226, 9, 26, {}, 3173.51),
          ("knowledge_manipulation, agnostic", 107, 13, 33, REPLICATION_ORACLES, 3904.01),
          ("knowledge_manipulation, aware", 302, 13, 33, {}, 4143.23)]),
    # Whole runs under /usr/bin/time -v (the largest single process): docs/replication.md's run.json files
    # (hops the longest passage; SmolLM2's last invocation ran hops aware) and the default run.
    Measured("replication run, hops, agnostic, T 1397 (3fdd22d)", "qwen2.5-coder-1.5b-instruct",
             Job(tokens=1397, questions=16, question_width=35, **REPLICATION_1_5B_3FDD22D), 13.36, "exact"),
    Measured("replication run, hops, aware, T 1712 (b6ed217)", "smollm2-135m-instruct",
             Job(tokens=1712, questions=16, question_width=38, **REPLICATION_B6ED217), 13.42, "exact"),
    Measured("default run (0e07c87), largest job: load", "qwen2.5-coder-0.5b-instruct",
             Job(tokens=357, questions=6, question_width=21, **DEFAULT), 4.5, "exact"),
    # Before b6ed217 (reserved cache buffers) the engine decoded through DynamicCache: older code, same shapes.
    Measured("replication run, hops, aware, T 1672 (0fec449: older code)", "qwen2.5-coder-0.5b-instruct",
             Job(tokens=1672, questions=16, question_width=35, **REPLICATION_B6ED217), 13.84, "exact"),
    Measured("default run, fp32 (9374af1: older code), largest job", "qwen2.5-coder-0.5b-instruct",
             Job(tokens=302, questions=13, question_width=33, **{**DEFAULT_9374AF1}), 4.1, "exact"),
]


def check_cpu() -> list[tuple[Measured, float]]:
    """(measurement, estimated peak GiB) for every measured CPU peak."""
    return [(m, job_memory(MODELS[m.model], m.job).peak / GIB) for m in MEASURED]


def print_check_cpu() -> None:
    print("Estimated peak RAM against measured peaks of CPU infer jobs (GiB = 2^30 bytes). sampled: Snakemake's "
          "benchmark (psutil every 30 s after the first 30 s: short peaks can be missed); exact: GNU time")
    print(f"{'model':30}{'job':56}{'measured':>9}{'estimate':>9}{'error':>8}  how")
    errors = []
    for m, est in check_cpu():
        err = (est - m.gib) / m.gib
        errors.append(err)
        phase = max(job_memory(MODELS[m.model], m.job).phases.items(), key=lambda kv: kv[1])[0]
        print(f"{m.model:30}{m.what:56}{m.gib:>9.2f}{est:>9.2f}{err:>+8.0%}  {m.how}, peak in {phase}")
    print(f"{len(errors)} jobs: error {min(errors):+.0%} to {max(errors):+.0%}, "
          f"mean |error| {sum(map(abs, errors)) / len(errors):.0%}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="config/paper.yaml")
    p.add_argument("--model", nargs="+", help="models to cost (default: the config's study.models)")
    p.add_argument("--device", choices=["cuda", "cpu"], help="default: the config's (auto: cuda)")
    p.add_argument("--dtype", choices=list(DTYPE_BYTES), help="default: the config's (auto: bf16 on cuda, fp32 on cpu)")
    p.add_argument("--terms", nargs="*", metavar="MODEL",
                   help="print every memory term of one passage for these models (default: llama-3-8b-instruct "
                        "when the study runs it, else the study's first model)")
    p.add_argument("--tokens", type=int, default=1500, help="the --terms passage's context length (default 1500)")
    p.add_argument("--questions", type=int, default=16, help="the --terms passage's questions (default 16, hops)")
    p.add_argument("--rows", type=int, help="the --terms batch rows (default: the config's max_batch_questions)")
    p.add_argument("--check-cpu", action="store_true", help="compare the model with measured CPU peaks, then stop")
    p.add_argument("--mfu", type=float, default=Hardware.mfu)
    p.add_argument("--bw-efficiency", type=float, default=Hardware.bw_efficiency)
    a = p.parse_args(argv)
    if a.check_cpu:
        print_check_cpu()
        return 0
    cfg = kvconfig.load(a.config)
    hw = Hardware(mfu=a.mfu, bw_efficiency=a.bw_efficiency)
    try:
        if a.model:
            models = [m for m in a.model if shape_of(m, "--model")]
        else:
            models = [m for i, m in enumerate(cfg["study"]["models"]) if shape_of(m, f"config key study.models[{i}]")]
        for m in a.terms or []:
            shape_of(m, "--terms")
    except ValueError as e:
        p.error(str(e))
    unknown = [ds for ds in cfg["study"]["datasets"] if cfg["datasets"][ds].get("generator", ds) not in DATASETS]
    if unknown:
        p.error(f"config key study.datasets: {', '.join(unknown)} has no Table 1 size in scripts/cost_model.py "
                f"(DATASETS); allowed values: {', '.join(DATASETS)}")
    device, dtype = resolve(cfg, a.device, a.dtype)
    if device == "cuda":
        print_gpu_hours(cfg, models, hw)
    print_jobs(cfg, models, device, dtype, hw)
    terms = a.terms if a.terms else (["llama-3-8b-instruct"] if "llama-3-8b-instruct" in models else models[:1])
    regime = "agnostic" if "agnostic" in kvconfig.studied_regimes(cfg) else "aware"
    for model in terms:
        job = replace(job_for(cfg, model, cfg["study"]["datasets"][0], regime, device, dtype, tokens=a.tokens),
                      questions=a.questions, passages=1)
        if a.rows:
            job = replace(job, max_batch=a.rows)
        print_terms(model, job)
    return 0


if __name__ == "__main__":
    sys.exit(main())
