#!/usr/bin/env python
"""Stock kvpress loop vs kvroute on the same grid, side by side in one run.

The stock loop is what a user of kvpress writes: for every passage, regime,
press and ratio, ``pipeline("kv-press-text-generation")`` prefills the context
with the press and answers the passage's questions one by one. kvroute
prefills each passage once per regime, derives every press x ratio from it and
answers each cell's questions as one batch (and also records the eviction
ledger, first-step routing and hidden states, which the stock loop does not).

Prints wall time, prefill tokens, decode steps (forward passes of one new
token per sequence), answer agreement and the speed ratio; writes the numbers
as JSON with --out.

    python scripts/bench_inference.py                       # embedded default grid
    python scripts/bench_inference.py --passages 2 --datasets base
    # on a GPU: random weights in the paper's architectures, no download
    python scripts/bench_inference.py --arch config/arch/llama-3-8b.json --passages 1

With --arch, answers are meaningless (random weights) but every sequence
decodes the same number of steps in both loops, so the timings and the
prefill model-FLOPs utilisation (MFU) are those of the real model.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import torch  # noqa: E402
from kvpress.attention_patch import attention_patch  # noqa: E402
from transformers import DynamicCache, pipeline  # noqa: E402
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS  # noqa: E402

from kvroute.inference import attention as kvattention  # noqa: E402
from kvroute import config as kvconfig  # noqa: E402
from kvroute import models  # noqa: E402
from kvroute.inference import engine, prompts  # noqa: E402
from kvroute.inference import job as inference  # noqa: E402
from kvroute.inference.passage import answer_passage  # noqa: E402
from kvroute.inference import presses as press_registry  # noqa: E402
from kvroute.datasets import generate  # noqa: E402
from kvroute.io import write_text  # noqa: E402


class ForwardCounter:
    """Counts tokens entering the decoder: prefill (empty cache), question, and decode steps."""

    def __init__(self, model):
        self.counts = Counter()
        self.handle = model.model.register_forward_pre_hook(self.hook, with_kwargs=True)

    def hook(self, module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        cache = kwargs.get("past_key_values")
        batch, length = ids.shape
        if cache is None or cache.get_seq_length() == 0:
            self.counts["prefill_tokens"] += batch * length
        elif length == 1:
            self.counts["decode_steps"] += 1
            self.counts["decode_tokens"] += batch
        else:
            self.counts["question_tokens"] += batch * length

    def take(self) -> dict:
        out = dict(self.counts)
        self.counts.clear()
        return out


def stock_loop(pipe, records, regimes, presses, ratios, max_new_tokens):
    answers = {}
    for record in records:
        questions = [q["question"] for q in record["questions"]]
        for regime in regimes:
            context = prompts.build_context(record["passage"], questions, regime)
            asked = [prompts.build_question(q) for q in questions]
            cells = [(None, 0.0)] if 0.0 in ratios else []
            cells += [(name, r) for name in presses for r in ratios if r > 0]
            for name, ratio in cells:
                press = press_registry.build(presses[name], ratio) if name else None
                out = pipe(context, questions=asked, press=press, max_new_tokens=max_new_tokens)["answers"]
                for q, text in zip(record["questions"], out):
                    answers[(regime, name, ratio, q["qid"])] = text
    return answers


def kvroute_loop(model, tokenizer, records, regimes, presses, ratios, max_new_tokens, probe_layers, max_batch,
                 reach_threshold, oracle_plans=None):
    answers = {}
    for record in records:
        for regime in regimes:
            out = answer_passage(model, tokenizer, record, regime, presses, ratios, max_new_tokens,
                                 max_batch, probe_layers, reach_threshold,
                                 (oracle_plans or {}).get(regime))
            for row in out.rows:
                # ratio 0 is reported under every press; key it once like the stock loop
                name = None if row["ratio"] == 0.0 else row["press"]
                answers[(regime, name, row["ratio"], row["qid"])] = row["prediction"]
    return answers


@torch.inference_mode()
def answer_alone(model, tokenizer, record, regime, presses, name, ratio, qid, max_new_tokens) -> str:
    """kvroute's answer to one question of one cell, in a batch of one row."""
    questions = [q["question"] for q in record["questions"]]
    context = prompts.build_context(record["passage"], questions, regime)
    context_ids, question_ids, _ = engine.tokenize(tokenizer, context, [prompts.build_question(q) for q in questions])
    pre = engine.prefill(model, context_ids)
    if name is None:
        cell = engine.uncompressed_cell(pre)
    else:
        bank = engine.decided_bank(presses[name], pre, [ratio], model)
        cell = engine.press_cell(model, pre, name, presses[name], ratio, bank)
    j = next(i for i, q in enumerate(record["questions"]) if q["qid"] == qid)
    return engine.answer(model, tokenizer, cell, pre.length, [question_ids[j]], max_new_tokens).texts[0]


def forward_flops(config, tokens: int) -> float:
    """Model FLOPs of one causal forward over ``tokens`` tokens (matmuls, attention, lm_head on every token)."""
    hidden, layers = config.hidden_size, config.num_hidden_layers
    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
    head_dim = getattr(config, "head_dim", None) or hidden // heads
    per_layer = (2 * hidden * head_dim * (heads + 2 * kv_heads)  # q, k, v
                 + 2 * heads * head_dim * hidden  # o
                 + 3 * 2 * hidden * config.intermediate_size)  # gate, up, down
    attention = layers * 2 * 2 * heads * head_dim * tokens * (tokens + 1) / 2  # causal QK^T and AV
    return tokens * (layers * per_layer + 2 * hidden * config.vocab_size) + attention


@torch.inference_mode()
def prefill_mfu(model, tokenizer, records, peak_tflops: float, repeats: int = 3) -> dict:
    """Prefill throughput on the records' agnostic contexts, as kvroute runs it (with layer-input capture)."""
    contexts = [engine.tokenize(tokenizer, prompts.build_context(r["passage"], [], "agnostic"), [])[0] for r in records]
    engine.prefill(model, contexts[0])  # warm-up
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(repeats):
        for ids in contexts:
            engine.prefill(model, ids)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    flops = repeats * sum(forward_flops(model.config, ids.shape[1]) for ids in contexts)
    tokens = repeats * sum(ids.shape[1] for ids in contexts)
    return {"tokens_per_s": tokens / seconds, "tflops": flops / seconds / 1e12,
            "mfu": flops / seconds / (peak_tflops * 1e12)}


def oracle_cost(base: dict, steered: dict, repeats: int) -> dict:
    """An oracle row's time relative to a base row's, from a run with and a run without the oracle rows."""
    n_base, n_oracle = len(base["answers"]), len(steered["answers"]) - len(base["answers"])
    per_base = base["wall_s"] / n_base
    per_oracle = (steered["wall_s"] - base["wall_s"]) / n_oracle
    extra_prefill = steered["prefill_tokens"] - base["prefill_tokens"]
    print(f"oracle rows: {n_oracle} beside {n_base} base rows; {per_oracle:.3f} s per oracle row vs "
          f"{per_base:.3f} s per base row ({per_oracle / per_base:.2f}x; fastest of {repeats} runs each); "
          f"extra prefill tokens: {extra_prefill}", flush=True)
    return {"base_rows": n_base, "oracle_rows": n_oracle, "s_per_base_row": per_base, "s_per_oracle_row": per_oracle,
            "relative": per_oracle / per_base, "extra_prefill_tokens": extra_prefill}


def without_grouped_sdpa(run):
    """``run()`` with kvroute's grouped-head SDPA off: transformers' repeat_kv path, as before it existed."""
    use_gqa = kvattention._use_gqa
    kvattention._use_gqa = lambda module, query: False
    try:
        return run()
    finally:
        kvattention._use_gqa = use_gqa


def dynamic_cache(layout):
    """transformers' DynamicCache over the layout, as before kvroute.cache: every new token copies the layer."""
    cache = DynamicCache()
    for layer, (k, v, n) in enumerate(zip(layout.keys, layout.values, layout.filled)):
        cache.update(k[:, :, :n], v[:, :, :n], layer)
    layout.keys, layout.values = [], []
    return cache


def with_dynamic_cache(run):
    """``run()`` with the engine decoding through DynamicCache instead of kvroute's reserved cache."""
    reserved = engine.cache_from_layout
    engine.cache_from_layout = dynamic_cache
    try:
        return run()
    finally:
        engine.cache_from_layout = reserved


def with_kvpress_masking(run):
    """``run()`` with AdaKV's keys hidden by kvpress's own attention_patch (index scatter) instead of kvroute's."""
    ours = ALL_ATTENTION_FUNCTIONS["sdpa"]
    stock = attention_patch(kvattention._dispatch)
    stock._kvroute = True
    ALL_ATTENTION_FUNCTIONS["sdpa"] = stock
    try:
        return run()
    finally:
        ALL_ATTENTION_FUNCTIONS["sdpa"] = ours


def compare(ours: dict, theirs: dict, ours_name: str, theirs_name: str, keys: tuple[str, str], repeats: int) -> dict:
    """Print and return kvroute's wall time against a variant's (under ``keys``), and whether the answers agree."""
    same = ours["answers"] == theirs["answers"]
    print(f"{ours_name}: {ours['wall_s']:.1f} s vs {theirs['wall_s']:.1f} s with {theirs_name} "
          f"({theirs['wall_s'] / ours['wall_s']:.2f}x faster; fastest of {repeats} runs each); "
          f"answers {'identical' if same else 'DIFFER'}", flush=True)
    return {keys[0]: ours["wall_s"], keys[1]: theirs["wall_s"], "speedup": theirs["wall_s"] / ours["wall_s"],
            "same_answers": same}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="config.yaml")
    p.add_argument("--model", help="model name from the config (default: the study's first)")
    p.add_argument("--datasets", nargs="+", help="default: the study's datasets")
    p.add_argument("--passages", type=int, help="passages per dataset (default: the config's sizes)")
    p.add_argument("--regimes", nargs="+", choices=["agnostic", "aware"], help="default: the study's regimes")
    p.add_argument("--dtype", help="override inference.dtype")
    p.add_argument("--max-batch-questions", type=int, help="override inference.max_batch_questions (1 = stock-exact)")
    p.add_argument("--models-dir", default="resources/models", help="where prepare_model put the models")
    p.add_argument("--arch", help="config.json of an architecture to run with random weights (config/arch/)")
    p.add_argument("--peak-tflops", type=float, default=989.0,
                   help="accelerator peak dense TFLOP/s for MFU (default: H100 SXM bf16)")
    p.add_argument("--reachability-cost", action="store_true",
                   help="also time kvroute with reachability off and print what reachability costs")
    p.add_argument("--oracle-cost", action="store_true",
                   help="also time kvroute with the config's oracle presses and print an oracle row's cost "
                        "relative to a base row, and whether the oracle added a prefill")
    p.add_argument("--attention-cost", action="store_true",
                   help="also time kvroute with transformers' repeat_kv attention instead of kvroute's grouped-head "
                        "SDPA (kvroute.inference.attention) and check that the answers are the same")
    p.add_argument("--cache-cost", action="store_true",
                   help="also time kvroute decoding through transformers' DynamicCache (a copy of the cache per "
                        "token) instead of kvroute's reserved cache (kvroute.inference.cache), and check the answers match")
    p.add_argument("--mask-cost", action="store_true",
                   help="also time kvroute hiding AdaKV's masked keys with kvpress's attention_patch (an index "
                        "scatter) instead of kvroute's masked where (kvroute.inference.attention), and check the answers match")
    p.add_argument("--repeats", type=int, default=2,
                   help="runs of each variant compared by --reachability-cost / --oracle-cost / --attention-cost / "
                        "--cache-cost / --mask-cost, "
                        "alternated, the "
                        "fastest kept (default 2: a 2-core machine drifts by a few percent between runs)")
    p.add_argument("--skip-stock", action="store_true", help="time kvroute only (no stock loop, no agreement)")
    p.add_argument("--out", help="write the figures as JSON here")
    a = p.parse_args(argv)

    cfg = kvconfig.load(a.config)
    study, inf = cfg["study"], cfg["inference"]
    name = a.model or study["models"][0]
    manifest = Path(a.models_dir) / name / models.MANIFEST
    if not manifest.exists():
        models.prepare(name, cfg["models"][name], manifest.parent, "resources/cache")
    device = inference.resolve_device(inf["device"])
    dtype = inference.resolve_dtype(a.dtype or inf["dtype"], device)
    torch.set_num_threads(inf["threads"])
    model, tokenizer = models.load(manifest, device=device, dtype=dtype, attn_implementation=inf["attn_implementation"])
    if a.arch:
        # The tokenizer of `name` drives a random-weight model of the given shape.
        model = models.random_model(a.arch, device=device, dtype=dtype, attn_implementation=inf["attn_implementation"])
        if len(tokenizer) > model.config.vocab_size:
            p.error(f"--arch {a.arch}: vocabulary {model.config.vocab_size} is smaller than {name}'s tokenizer "
                    f"({len(tokenizer)}); pick a model with a smaller vocabulary with --model")
        name = f"{Path(a.arch).stem} (random weights, {name} tokenizer)"
    # Both loops on kvroute's attention paths, so the comparison measures the loops themselves.
    kvattention.install()
    presses = {n: cfg["presses"][n] for n in study["presses"]}
    ratios = sorted(float(r) for r in study["ratios"])
    regimes = a.regimes or study["regimes"]
    records = []
    for ds in a.datasets or study["datasets"]:
        spec = cfg["datasets"][ds]
        n = a.passages or spec["passages"]
        recs = generate(spec.get("generator", ds), n, cfg["seed"])
        for r in recs:
            r["dataset"] = ds
        records += recs
    n_questions = sum(len(r["questions"]) for r in records)
    probe_layers = inference.probe_layer_indices(inf["probe_layers"], model.config.num_hidden_layers)
    print(f"model {name} on {device} ({dtype}), {len(records)} passages, {n_questions} questions, "
          f"{len(presses)} presses x {len(ratios)} ratios x {len(regimes)} regimes", flush=True)

    mfu = prefill_mfu(model, tokenizer, records, a.peak_tflops) if device == "cuda" else None
    counter = ForwardCounter(model)
    pipe = pipeline("kv-press-text-generation", model=model, tokenizer=tokenizer)
    results = {}
    plans = {regime: kvconfig.oracle_plan(cfg, regime) for regime in regimes}
    if a.oracle_cost and not any(plans.values()):
        p.error(f"--oracle-cost: {a.config} runs no oracle presses (study.oracle)")

    def ours(threshold, oracle_plans=None):
        return kvroute_loop(model, tokenizer, records, regimes, presses, ratios, inf["max_new_tokens"], probe_layers,
                            a.max_batch_questions or inf["max_batch_questions"], threshold, oracle_plans)

    # Variants are alternated and repeated (--repeats), keeping each one's fastest run: a difference
    # of a few percent is smaller than a 2-core machine's drift between consecutive runs.
    variants = [("kvroute", lambda: ours(inf["reachability_threshold"]))]
    if a.reachability_cost:
        variants.append(("kvroute_no_reachability", lambda: ours(None)))
    if a.oracle_cost:
        variants.append(("kvroute_oracle", lambda: ours(inf["reachability_threshold"], plans)))
    if a.attention_cost:
        variants.append(("kvroute_repeat_kv", lambda: without_grouped_sdpa(lambda: ours(inf["reachability_threshold"]))))
    if a.cache_cost:
        variants.append(("kvroute_dynamic_cache", lambda: with_dynamic_cache(lambda: ours(inf["reachability_threshold"]))))
    if a.mask_cost:
        variants.append(("kvroute_kvpress_masking",
                         lambda: with_kvpress_masking(lambda: ours(inf["reachability_threshold"]))))
    runs = variants * (max(1, a.repeats) if len(variants) > 1 else 1)
    if not a.skip_stock:
        runs.append(("stock", lambda: stock_loop(pipe, records, regimes, presses, ratios, inf["max_new_tokens"])))
    for label, run in runs:
        t0 = time.perf_counter()
        with torch.inference_mode():
            answers = run()
        wall = time.perf_counter() - t0
        print(f"{label}: {wall:.1f} s", flush=True)
        if label not in results or wall < results[label]["wall_s"]:
            results[label] = {"wall_s": wall, **counter.take(), "answers": answers}
        else:
            counter.take()
    if a.reachability_cost:
        on, off = results["kvroute"]["wall_s"], results["kvroute_no_reachability"]["wall_s"]
        print(f"reachability (threshold {inf['reachability_threshold']}, both variants; "
              f"fastest of {a.repeats} runs each): "
              f"{on - off:.1f} s of {on:.1f} s, {100 * (on - off) / off:+.1f}% over kvroute without it", flush=True)
        results["reachability_cost"] = {"with_s": on, "without_s": off, "overhead": (on - off) / off}
    # Each speedup against the code it replaced: (flag, variant, what kvroute does, what the variant does, keys).
    speedups = [(a.attention_cost, "kvroute_repeat_kv", "attention_cost", "grouped-head SDPA", "repeat_kv",
                 ("grouped_s", "repeat_kv_s")),
                (a.cache_cost, "kvroute_dynamic_cache", "cache_cost", "reserved cache", "DynamicCache",
                 ("reserved_s", "dynamic_s")),
                (a.mask_cost, "kvroute_kvpress_masking", "mask_cost", "masked-where key hiding", "kvpress's scatter",
                 ("where_s", "scatter_s"))]
    for wanted, variant, key, ours_name, theirs_name, keys in speedups:
        if wanted:
            results[key] = compare(results["kvroute"], results[variant], ours_name, theirs_name, keys, a.repeats)
    if a.oracle_cost:
        results["oracle_cost"] = oracle_cost(results["kvroute"], results["kvroute_oracle"], a.repeats)
    if a.skip_stock:
        if a.out:
            write_text(a.out, json.dumps({k: {x: y for x, y in v.items() if x != "answers"} for k, v in results.items()},
                                         indent=2))
        return 0

    stock, ours = results["stock"]["answers"], results["kvroute"]["answers"]
    agree = sum(stock[k] == ours.get(k) for k in stock)
    diffs = [(k, stock[k], ours.get(k)) for k in stock if stock[k] != ours.get(k)]
    rows = ["wall_s", "prefill_tokens", "question_tokens", "decode_steps", "decode_tokens"]
    print(f"\n{'':18}{'stock kvpress':>16}{'kvroute':>14}{'ratio':>10}")
    for key in rows:
        s, o = results["stock"].get(key, 0), results["kvroute"].get(key, 0)
        ratio = f"{s / o:.1f}x" if o else "-"
        print(f"{key:18}{s:>16,.1f}{o:>14,.1f}{ratio:>10}" if key == "wall_s" else f"{key:18}{s:>16,}{o:>14,}{ratio:>10}")
    print(f"{'answer agreement':18}{agree}/{len(stock)} ({100 * agree / len(stock):.1f}%)")
    for label in ("stock", "kvroute"):
        results[label]["answers_per_s"] = len(stock) / results[label]["wall_s"]
    print(f"{'answers/s':18}{results['stock']['answers_per_s']:>16.2f}{results['kvroute']['answers_per_s']:>14.2f}")
    if mfu is not None:
        print(f"prefill: {mfu['tokens_per_s']:,.0f} tokens/s, {mfu['tflops']:.0f} TFLOP/s, "
              f"MFU {100 * mfu['mfu']:.1f}% of {a.peak_tflops:.0f} TFLOP/s")
    # Explain each disagreement: answer that row again alone (batch of one row,
    # no padding), which is stock kvpress's numerics.
    by_qid = {q["qid"]: r for r in records for q in r["questions"]}
    explained = 0
    for key, s, o in diffs:
        regime, name, ratio, qid = key
        alone = answer_alone(model, tokenizer, by_qid[qid], regime, presses, name, ratio, qid, inf["max_new_tokens"])
        explained += alone == s
        print(f"  differs {key}: stock {s!r} / kvroute batched {o!r} / kvroute alone {alone!r}")
    if diffs:
        print(f"{explained}/{len(diffs)} disagreements vanish when the row is answered alone: they come from "
              f"{dtype} batch numerics, not from the shared prefill")
    if a.out:
        summary = {label: {k: v for k, v in r.items() if k != "answers"} for label, r in results.items()}
        summary.update(prefill_mfu=mfu, agreement=agree, cells=len(stock), model=name, device=device, dtype=dtype,
                       passages=len(records), questions=n_questions,
                       disagreements=[{"key": list(map(str, k)), "stock": s, "kvroute": o} for k, s, o in diffs],
                       disagreements_explained_by_batching=explained)
        write_text(a.out, json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
