#!/usr/bin/env bash
# The GPU check: one call on a lent H100/H200 (Python 3.12, torch with CUDA, no kvpress, no registry), under
# 10 minutes. docs/performance.md ("GPU check") says how to run it and what it prints.
#
#   0. stops at once, in one line, where no CUDA device is visible;
#   1. installs the carried wheels (.gpu/wheels/, made here by scripts/device_wheels.sh) into /tmp/kvroute-site;
#   2. runs (a) tests/gpu/: kvroute's engine against stock kvpress on CUDA, random-weight LLaMA-3-8B and
#      Qwen-2.5-7B with two layers, float32 and bfloat16; (b) scripts/bench_inference.py --arch for both
#      architectures at full size on a paper-length passage (hops, ~1,400 tokens, 16 questions), bf16: the
#      stock kvpress loop and kvroute side by side at ratios 0, 0.5 and 0.9, then kvroute alone on the paper's
#      ten ratios; with peak GPU memory per loop and the memory model's estimate (scripts/cost_model.py);
#   3. leaves its log, the tests' report, every benchmark JSON and a summary in $OUT (the device tool's
#      output folder; /tmp/kvroute-device-check elsewhere): seven files.
#
# Each step has a time limit, clamped to what is left of the budget (KVROUTE_CHECK_BUDGET_S, default 540 s);
# a step that fails or runs out of time is reported and the next one runs. Exit status: 0 when every step
# passed. Usage, through the device tool: command "bash scripts/device_check.sh", carry [".gpu"].
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

# 0. CUDA, or one line and out
if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
  echo "device_check: no CUDA device: torch.cuda.is_available() is not True under $PY; run this on a GPU machine (the device tool), not here" >&2
  exit 2
fi

START=$(date +%s)
DEADLINE=$(( START + ${KVROUTE_CHECK_BUDGET_S:-540} - 20 ))  # 20 s kept for the summary
OUT=${OUT:-/tmp/kvroute-device-check}
GPU_DIR=${KVROUTE_GPU_DIR:-.gpu}
WORK=/tmp/kvroute-device
SITE=/tmp/kvroute-site
mkdir -p "$OUT" "$WORK"
exec > >(tee -a "$OUT/device_check.log") 2>&1
TEE_PID=$!
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1
STEPS=()

step() {  # step NAME SECONDS COMMAND...: COMMAND under a time limit clamped to the budget; its status recorded
  local name=$1 want=$2
  shift 2
  local left=$(( DEADLINE - $(date +%s) ))
  local limit=$(( want < left ? want : left ))
  if [ "$limit" -lt 15 ]; then
    echo "== $name: SKIPPED, ${left}s left of the budget"
    STEPS+=("$name=skipped")
    return 0
  fi
  echo "== $name (limit ${limit}s)"
  local t0 rc
  t0=$(date +%s)
  timeout -k 10 "$limit" "$@"
  rc=$?
  case $rc in
    0) echo "== $name: ok in $(( $(date +%s) - t0 ))s" ;;
    124|137) echo "== $name: TIMED OUT after $(( $(date +%s) - t0 ))s" ;;
    *) echo "== $name: FAILED (exit $rc) after $(( $(date +%s) - t0 ))s" ;;
  esac
  STEPS+=("$name=$rc")
}

# 1. the carried wheels
if ! ls "$GPU_DIR"/wheels/*.whl >/dev/null 2>&1; then
  echo "== install: FAILED: no wheels in $GPU_DIR/wheels (run scripts/device_wheels.sh here, carry $GPU_DIR)"
  STEPS+=("install=missing")
else
  step install 90 "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$SITE" "$GPU_DIR"/wheels/*.whl
fi
export PYTHONPATH=$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}

step versions 60 "$PY" - <<'EOF'
import platform, shutil, subprocess, torch, transformers, tokenizers, kvpress  # noqa: F401 (kvpress: it imports)
from importlib.metadata import version
print(f"python {platform.python_version()}, torch {torch.__version__} (CUDA {torch.version.cuda}), "
      f"transformers {transformers.__version__}, tokenizers {tokenizers.__version__}, kvpress {version('kvpress')}")
print(f"{torch.cuda.get_device_name()}, {torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB")
if shutil.which("nvidia-smi"):
    print(subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                         capture_output=True, text=True).stdout.strip())
EOF

# 2a. engine against stock kvpress on CUDA
step equivalence 180 "$PY" -m pytest -q -p no:cacheprovider -rfEs tests/gpu --junitxml="$OUT/equivalence.xml"

# 2b. benchmarks: a tokenizer model (SmolLM2's vocabulary, one random layer: --arch replaces it), two configs
# from config/paper.yaml (hops, one passage, agnostic; 3 ratios side by side, the paper's 10 kvroute alone),
# and a driver around bench_inference.main that records peak GPU memory per loop and the memory model's
# estimate, and re-answers at most KVROUTE_REANSWER_LIMIT (8) disagreeing rows alone (bf16 may flip many).
step prepare 60 "$PY" - "$GPU_DIR/tokenizer" "$WORK" <<'EOF'
import shutil, sys
from pathlib import Path

import torch
import yaml
from transformers import AutoConfig, AutoModelForCausalLM

src, work = Path(sys.argv[1]), Path(sys.argv[2])
model_dir = work / "tokenizer-model"
shutil.rmtree(model_dir, ignore_errors=True)
shutil.copytree(src, model_dir)
torch.manual_seed(0)
AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(model_dir)).save_pretrained(model_dir)
paper = yaml.safe_load(Path("config/paper.yaml").read_text())
paper["models"] = {"gpu-tokenizer": {"source": "local", "path": str(model_dir), "family": "llama", "mem_mb": 4000}}
paper["datasets"] = {"hops": {"passages": 1}}
paper["study"].update(models=["gpu-tokenizer"], datasets=["hops"], regimes=["agnostic"])
(work / "paper_grid.yaml").write_text(yaml.safe_dump(paper))
paper["study"]["ratios"] = [0.0, 0.5, 0.9]
(work / "side_by_side.yaml").write_text(yaml.safe_dump(paper))
print(f"tokenizer model in {model_dir}; configs in {work}")
EOF

cat > "$WORK/bench_driver.py" <<'EOF'
"""scripts/bench_inference.py's main, plus peak GPU memory per loop and the memory model's estimate."""
import importlib.util
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import torch


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


bench = load("bench_inference", "scripts/bench_inference.py")
cost = load("cost_model", "scripts/cost_model.py")
peaks = {}


def measured(label, loop):
    def run(*args, **kwargs):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        try:
            return loop(*args, **kwargs)
        finally:
            torch.cuda.synchronize()
            peaks[label] = max(peaks.get(label, 0), torch.cuda.max_memory_allocated())
    return run


bench.stock_loop = measured("stock", bench.stock_loop)
bench.kvroute_loop = measured("kvroute", bench.kvroute_loop)
limit, asked, alone = int(os.environ.get("KVROUTE_REANSWER_LIMIT", "8")), [0], bench.answer_alone


def capped(*args, **kwargs):
    asked[0] += 1
    return alone(*args, **kwargs) if asked[0] <= limit else None


bench.answer_alone = capped
argv = sys.argv[1:]
rc = bench.main(argv)


def opt(flag):
    return argv[argv.index(flag) + 1]


from transformers import AutoTokenizer  # noqa: E402

from kvroute import config as kvconfig  # noqa: E402
from kvroute.datasets import generate  # noqa: E402
from kvroute.inference import engine, prompts  # noqa: E402

cfg = kvconfig.load(opt("--config"))
dataset, regime = opt("--datasets"), opt("--regimes")
record = generate(cfg["datasets"][dataset].get("generator", dataset), 1, cfg["seed"])[0]
questions = [q["question"] for q in record["questions"]]
tokenizer = AutoTokenizer.from_pretrained(cfg["models"][opt("--model")]["path"])
context, question_ids, _ = engine.tokenize(tokenizer, prompts.build_context(record["passage"], questions, regime),
                                           [prompts.build_question(q) for q in questions])
model = {"llama-3-8b": "llama-3-8b-instruct", "qwen2.5-7b": "qwen-2.5-7b-instruct"}[Path(opt("--arch")).stem]
job = replace(cost.job_for(cfg, model, dataset, regime, "cuda", cfg["inference"]["dtype"], tokens=context.shape[1]),
              question_width=max(q.shape[1] for q in question_ids))
memory = cost.job_memory(cost.MODELS[model], job)
estimate = memory.peak - memory.device["cuda_context"]  # max_memory_allocated counts tensors only

out = Path(opt("--out"))
result = json.loads(out.read_text())
if "answers_per_s" not in result["kvroute"]:  # --skip-stock: one answer per row
    result["kvroute"]["answers_per_s"] = job.rows / result["kvroute"]["wall_s"]
result.update(gpu=torch.cuda.get_device_name(), context_tokens=context.shape[1], rows=job.rows,
              batch_rows=job.batch_rows, peak_gpu_allocated_bytes=peaks,
              memory_model={"model": model, "estimate_bytes": estimate,
                            "terms_bytes": {k: v for k, v in memory.device.items() if k != "cuda_context"}},
              rows_reanswered_alone=min(asked[0], limit), disagreements_seen=asked[0])
out.write_text(json.dumps(result, indent=2))
print(f"T {context.shape[1]} tokens, {job.rows} rows ({job.batch_rows} a batch); peak GPU memory allocated: "
      + ", ".join(f"{k} {v / 2**30:.2f} GiB" for k, v in peaks.items())
      + f"; memory model: {estimate / 2**30:.2f} GiB ({(estimate - peaks.get('kvroute', 0)) / max(1, peaks.get('kvroute', 0)):+.0%})")
sys.exit(rc)
EOF

bench_args=(--model gpu-tokenizer --models-dir "$WORK/models" --datasets hops --passages 1 --regimes agnostic)
for arch in llama-3-8b qwen2.5-7b; do
  step "bench_$arch" 170 "$PY" "$WORK/bench_driver.py" --config "$WORK/side_by_side.yaml" "${bench_args[@]}" \
    --arch "config/arch/$arch.json" --out "$OUT/bench_$arch.json"
done
for arch in llama-3-8b qwen2.5-7b; do
  step "paper_grid_$arch" 90 "$PY" "$WORK/bench_driver.py" --config "$WORK/paper_grid.yaml" "${bench_args[@]}" \
    --arch "config/arch/$arch.json" --skip-stock --out "$OUT/paper_grid_$arch.json"
done

# 3. summary: every step's status and the figures docs/performance.md reports (in the 20 s kept for it)
echo "== summary"
STEPS_DONE="${STEPS[*]}" timeout -k 5 20 "$PY" - "$OUT" <<'EOF'
import json, os, sys
from pathlib import Path

out = Path(sys.argv[1])
steps = dict(s.split("=", 1) for s in os.environ.get("STEPS_DONE", "").split())
rows = {}
for path in sorted(out.glob("*.json")):
    if path.name == "summary.json":
        continue
    r = json.loads(path.read_text())
    ours, stock = r.get("kvroute", {}), r.get("stock")
    mfu = r.get("prefill_mfu") or {}
    rows[path.stem] = {
        "gpu": r.get("gpu"), "context_tokens": r.get("context_tokens"), "rows": r.get("rows"),
        "kvroute_answers_per_s": ours.get("answers_per_s"), "kvroute_wall_s": ours.get("wall_s"),
        "stock_answers_per_s": stock and stock.get("answers_per_s"), "stock_wall_s": stock and stock.get("wall_s"),
        "speedup": stock and stock["wall_s"] / ours["wall_s"],
        "prefill_tokens_per_s": mfu.get("tokens_per_s"), "mfu": mfu.get("mfu"),
        "agreement": r.get("agreement"), "cells": r.get("cells"),
        "peak_gpu_gib": {k: v / 2**30 for k, v in r.get("peak_gpu_allocated_bytes", {}).items()},
        "memory_model_gib": r.get("memory_model", {}).get("estimate_bytes", 0) / 2**30}
(out / "summary.json").write_text(json.dumps({"steps": steps, "runs": rows}, indent=2))
print("steps: " + ", ".join(f"{k} {'ok' if v == '0' else v}" for k, v in steps.items()))


def fmt(x, spec):
    return "-" if x is None else format(x, spec)


print("| run | T | rows | stock answers/s | kvroute answers/s | speedup | prefill tokens/s | MFU | agreement | "
      "peak GPU GiB (kvroute / stock) | memory model GiB |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for name, r in rows.items():
    peak = r["peak_gpu_gib"]
    agreement = "-" if r["agreement"] is None else f"{r['agreement']}/{r['cells']}"
    print(f"| {name} | {r['context_tokens']} | {r['rows']} | {fmt(r['stock_answers_per_s'], '.2f')} | "
          f"{fmt(r['kvroute_answers_per_s'], '.2f')} | {fmt(r['speedup'], '.1f')} | "
          f"{fmt(r['prefill_tokens_per_s'], ',.0f')} | {fmt(r['mfu'], '.1%')} | {agreement} | "
          f"{fmt(peak.get('kvroute'), '.1f')} / {fmt(peak.get('stock'), '.1f')} | {r['memory_model_gib']:.1f} |")
EOF

summary_rc=$?
[ $summary_rc -eq 0 ] || echo "== summary: FAILED (exit $summary_rc)"
STEPS+=("summary=$summary_rc")
failed=0
for s in "${STEPS[@]}"; do
  [ "${s#*=}" = 0 ] || failed=1
done
echo "device_check: $(( $(date +%s) - START ))s; steps: ${STEPS[*]}; figures in $OUT"
exec >&- 2>&-
wait "$TEE_PID" 2>/dev/null
exit $failed
