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
from transformers import pipeline  # noqa: E402

from kvroute import config as kvconfig  # noqa: E402
from kvroute import inference, models, prompts  # noqa: E402
from kvroute import presses as press_registry  # noqa: E402
from kvroute.datasets import generate  # noqa: E402


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
                 reach_threshold):
    answers = {}
    for record in records:
        for regime in regimes:
            out = inference.answer_passage(model, tokenizer, record, regime, presses, ratios, max_new_tokens,
                                           max_batch, probe_layers, reach_threshold)
            for row in out["rows"]:
                # ratio 0 is reported under every press; key it once like the stock loop
                name = None if row["ratio"] == 0.0 else row["press"]
                answers[(regime, name, row["ratio"], row["qid"])] = row["prediction"]
    return answers


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="config.yaml")
    p.add_argument("--model", help="model name from the config (default: the study's first)")
    p.add_argument("--datasets", nargs="+", help="default: the study's datasets")
    p.add_argument("--passages", type=int, help="passages per dataset (default: the config's sizes)")
    p.add_argument("--dtype", help="override inference.dtype")
    p.add_argument("--max-batch-questions", type=int, help="override inference.max_batch_questions (1 = stock-exact)")
    p.add_argument("--models-dir", default="resources/models", help="where prepare_model put the models")
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
    presses = {n: cfg["presses"][n] for n in study["presses"]}
    ratios = sorted(float(r) for r in study["ratios"])
    regimes = study["regimes"]
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

    counter = ForwardCounter(model)
    pipe = pipeline("kv-press-text-generation", model=model, tokenizer=tokenizer)
    results = {}
    for label, run in [
        ("kvroute", lambda: kvroute_loop(model, tokenizer, records, regimes, presses, ratios,
                                         inf["max_new_tokens"], probe_layers,
                                         a.max_batch_questions or inf["max_batch_questions"],
                                         inf["reachability_threshold"])),
        ("stock", lambda: stock_loop(pipe, records, regimes, presses, ratios, inf["max_new_tokens"])),
    ]:
        t0 = time.perf_counter()
        with torch.inference_mode():
            answers = run()
        results[label] = {"wall_s": time.perf_counter() - t0, **counter.take(), "answers": answers}
        print(f"{label}: {results[label]['wall_s']:.1f} s", flush=True)

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
    for key, s, o in diffs[:20]:
        print(f"  differs {key}: stock {s!r} / kvroute {o!r}")
    if a.out:
        summary = {label: {k: v for k, v in r.items() if k != "answers"} for label, r in results.items()}
        summary.update(agreement=agree, cells=len(stock), model=name, device=device, dtype=dtype,
                       passages=len(records), questions=n_questions,
                       disagreements=[{"key": list(map(str, k)), "stock": s, "kvroute": o} for k, s, o in diffs])
        Path(a.out).write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
