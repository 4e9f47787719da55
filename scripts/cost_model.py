#!/usr/bin/env python
"""Projected GPU-hours for a study grid, stock kvpress loop vs kvroute.

A roofline model, not a measurement: prefill and question forwards are
compute-bound (FLOPs / (peak x MFU)), decode steps are memory-bound (weight
bytes / (bandwidth x efficiency)). Token counts come from the config's dataset
sizes (words per passage from paper Table 1, x1.35 tokens per word, plus the
prompt template). Replace the efficiency assumptions with measured ones
(scripts/bench_inference.py on the target GPU) when you have them.

    python scripts/cost_model.py --config config/paper.yaml
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import yaml

from kvroute.config import study_units

# Parameter counts and shapes of the paper's models (public model cards).
MODELS = {
    "llama-3.2-3b-instruct": dict(params=3.21e9, layers=28, kv_heads=8, head_dim=128),
    "llama-3-8b-instruct": dict(params=8.03e9, layers=32, kv_heads=8, head_dim=128),
    "qwen-2.5-3b-instruct": dict(params=3.09e9, layers=36, kv_heads=2, head_dim=128),
    "qwen-2.5-7b-instruct": dict(params=7.62e9, layers=28, kv_heads=4, head_dim=128),
    "qwen-2.5-14b-instruct": dict(params=14.7e9, layers=48, kv_heads=8, head_dim=128),
    "qwen2.5-coder-0.5b-instruct": dict(params=0.49e9, layers=24, kv_heads=2, head_dim=64),
    "smollm2-135m-instruct": dict(params=0.135e9, layers=30, kv_heads=3, head_dim=64),
}
# Words per passage and questions per passage (paper Table 1).
DATASETS = {
    "base": (175, 6), "knowledge_manipulation": (32, 13), "multi_presence": (500, 10), "multi_entity": (500, 10),
    "long_context": (1100, 10), "coreference": (44, 9), "hops": (1100, 16),
}
TOKENS_PER_WORD = 1.35
TEMPLATE_TOKENS = 60  # chat template + instruction
QUESTION_TOKENS = 20  # question + assistant header


@dataclass
class Hardware:
    peak_flops: float = 989e12  # H100 SXM dense bf16
    bandwidth: float = 3.35e12  # H100 SXM HBM3, bytes/s
    mfu: float = 0.35  # prefill model-FLOPs utilisation
    bw_efficiency: float = 0.6  # achieved share of bandwidth in decode
    mean_answer_tokens: float = 10.0  # greedy steps per answer (concise models stop early)


def seconds(cfg: dict, model: str, hw: Hardware) -> dict:
    m = MODELS[model]
    study = cfg["study"]
    n_nonzero = len([r for r in study["ratios"] if r > 0])
    cells = n_nonzero * len(study["presses"]) + (1 if 0.0 in study["ratios"] else 0)
    batch = cfg.get("inference", {}).get("max_batch_questions", 64)
    weight_bytes = 2 * m["params"]  # bf16
    kv_bytes_per_token = 2 * 2 * m["layers"] * m["kv_heads"] * m["head_dim"]  # keys and values, bf16
    flops_per_token = 2 * m["params"]

    def step(rows: float, ctx: float) -> float:
        # One decode step streams the weights once and every row's cache.
        return (weight_bytes + rows * ctx * kv_bytes_per_token) / (hw.bandwidth * hw.bw_efficiency)

    out = {"stock": 0.0, "kvroute": 0.0}
    for ds, regime in study_units(cfg):
        words, q = DATASETS[cfg["datasets"][ds].get("generator", ds)]
        passages = cfg["datasets"][ds]["passages"]
        ctx = words * TOKENS_PER_WORD + TEMPLATE_TOKENS + (q * QUESTION_TOKENS if regime == "aware" else 0)
        prefill = flops_per_token * ctx / (hw.peak_flops * hw.mfu)
        questions = flops_per_token * q * QUESTION_TOKENS / (hw.peak_flops * hw.mfu)
        # stock: a prefill per cell, every question decoded on its own
        out["stock"] += passages * cells * (prefill + questions + q * hw.mean_answer_tokens * step(1, ctx))
        # kvroute: one prefill per passage; all cells x questions decoded in batches of `batch` rows
        rows = cells * q
        batches = -(-rows // batch)
        decode = batches * hw.mean_answer_tokens * step(rows / batches, ctx)
        out["kvroute"] += passages * (prefill + cells * questions + decode)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="config/paper.yaml")
    p.add_argument("--mfu", type=float, default=Hardware.mfu)
    p.add_argument("--bw-efficiency", type=float, default=Hardware.bw_efficiency)
    a = p.parse_args(argv)
    cfg = yaml.safe_load(open(a.config))
    hw = Hardware(mfu=a.mfu, bw_efficiency=a.bw_efficiency)
    print(f"rows per decode batch: {cfg.get('inference', {}).get('max_batch_questions', 64)}")
    print(f"assumptions: H100 bf16 peak {hw.peak_flops / 1e12:.0f} TFLOP/s at MFU {hw.mfu:.0%}, "
          f"{hw.bandwidth / 1e12:.2f} TB/s at {hw.bw_efficiency:.0%}, {hw.mean_answer_tokens:.0f} tokens per answer")
    print(f"{'model':32}{'stock GPU-h':>14}{'kvroute GPU-h':>16}{'ratio':>8}")
    total = {"stock": 0.0, "kvroute": 0.0}
    for model in cfg["study"]["models"]:
        s = seconds(cfg, model, hw)
        for k in total:
            total[k] += s[k]
        print(f"{model:32}{s['stock'] / 3600:>14.1f}{s['kvroute'] / 3600:>16.1f}{s['stock'] / s['kvroute']:>7.1f}x")
    print(f"{'total':32}{total['stock'] / 3600:>14.1f}{total['kvroute'] / 3600:>16.1f}"
          f"{total['stock'] / total['kvroute']:>7.1f}x")


if __name__ == "__main__":
    main()
