#!/usr/bin/env python
"""The replication campaign: answer the plan one passage at a time, keep each passage as a shard.

    python scripts/campaign.py plan                 # per model and dataset: passages, answers, CPU hours, CI widths
    python scripts/campaign.py run --model qwen2.5-coder-0.5b-instruct --hours 1.5 --commit

`run` takes the plan's next unanswered passage (passage index first, so every
dataset grows together), runs its infer job through the workflow
(`snakemake results/MODEL/DATASET/REGIME/shards/NNNNN-NNNNN/...`), scores it,
computes its metrics and keeps the compact tables under
docs/replication/MODEL/shards/ (kvroute/campaign.py); with --commit each shard
is committed as it lands. Stop it any time: a finished shard is never redone,
and an unfinished passage is answered again from the start. It refuses a run
directory whose data/ files another config wrote (another size or seed), since
a shard's passage is named by its index. Run it alone on the machine: two torch
processes on 2 cores slow each other about 10x.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kvroute import campaign  # noqa: E402
from kvroute import config as kvconfig  # noqa: E402
from kvroute.datasets import generate  # noqa: E402

DEFAULT_CONFIG = "config/replication.yaml"


def questions_per_passage(config: dict, dataset: str) -> int:
    spec = config["datasets"][dataset]
    return len(generate(spec.get("generator", dataset), 1, config["seed"])[0]["questions"])


def rows_per_question(config: dict, regime: str) -> int:
    """Answer rows per question in one regime: every press at every ratio (the uncompressed answer is reported
    under each press), and the oracle presses at theirs."""
    study = config["study"]
    oracle = kvconfig.oracle_plan(config, regime)
    return len(study["presses"]) * len(study["ratios"]) + len(oracle.get("presses", {})) * len(oracle.get("ratios", []))


def seconds_per_answer(root: Path, model: str) -> dict[str, float]:
    """Measured infer seconds per answer, per dataset, from the model's shards (plus "all"); without shards,
    "all" from the model's committed piece (docs/replication/MODEL/run.json: its grid and machine)."""
    rows = [dict(dataset=s.dataset, s=f["infer_s"], n=f["answers"]) for s, f in campaign.model_shards(root, model)]
    if not rows:
        run = ROOT / campaign.SHARDS / model / "run.json"
        if run.exists():
            facts = json.loads(run.read_text())
            return {"all": facts["infer_s"] / facts["answers"], "from": f"{run.relative_to(ROOT)}"}
        return {}
    t = pd.DataFrame(rows).groupby("dataset")[["s", "n"]].sum()
    out = (t["s"] / t["n"]).to_dict()
    out["all"] = float(t["s"].sum() / t["n"].sum())
    return out


def expected_half_widths(piece: Path, passages: int) -> list[tuple[str, float, float, float]]:
    """(claim, half-width then, passages then, half-width expected at ``passages``) per claim, from a committed
    piece's pooled rows: a passage-bootstrap half-width shrinks as 1/sqrt(passages), so the piece's median
    half-width is scaled by sqrt(its passages / the plan's). A rough guide, not a promise."""
    path = piece / "claims.csv"
    if not path.exists():
        return []
    t = pd.read_csv(path)
    t = t[(t["items"] == "all") & (t["dataset"] == "pooled")].assign(half=(t["ci_hi"] - t["ci_lo"]) / 2)
    t = t[t["half"].notna() & (t["n_passages"] > 0)]
    out = []
    for claim, g in t.groupby("claim", sort=False):
        half, n = float(g["half"].median()), float(g["n_passages"].median())
        out.append((claim, half, n, half * (n / passages) ** 0.5))
    return sorted(out, key=lambda r: int(r[0][1:]))


def cmd_plan(a) -> int:
    config = kvconfig.load(a.config)
    root = Path(a.shards)
    for model in a.models or config["study"]["models"]:
        shards = campaign.plan(config, model)
        finished = set(campaign.done(root, shards))
        speed = seconds_per_answer(root, model)
        print(f"\n## {model}\n")
        print("| dataset | regime | passages (done) | answers | CPU hours left |")
        print("|---|---|---|---|---|")
        total = 0.0
        for dataset, regime in kvconfig.study_units(config):
            unit = [s for s in shards if (s.dataset, s.regime) == (dataset, regime)]
            answers = len(unit) * questions_per_passage(config, dataset) * rows_per_question(config, regime)
            left = answers * (1 - sum(s in finished for s in unit) / max(len(unit), 1))
            rate = speed.get(dataset, speed.get("all"))
            hours = f"{left * rate / 3600:.1f}" if rate else "not measured"
            total += left * rate / 3600 if rate else 0.0
            print(f"| {dataset} | {regime} | {len(unit)} ({sum(s in finished for s in unit)}) | {answers:,} | "
                  f"{hours} |")
        where = f"the committed piece {speed['from']} (another grid)" if "from" in speed else "the shards"
        print(f"\n{len(finished)} of {len(shards)} shards done; {total:.1f} CPU hours left at "
              f"{speed['all']:.2f} s per answer, measured on {where}" if speed else
              f"\n{len(finished)} of {len(shards)} shards done; no measured speed yet (run a shard first)")
        agnostic = sum(1 for s in shards if s.regime == "agnostic")
        widths = expected_half_widths(ROOT / campaign.SHARDS / model, agnostic)
        if widths:
            print(f"\nExpected 95% CI half-width of pooled rows at the plan's {agnostic} passages, scaled from the "
                  f"committed piece (docs/replication/{model}/claims.csv):\n")
            print("| claim | half-width then | passages then | expected |\n|---|---|---|---|")
            for claim, half, n, expected in widths:
                print(f"| {claim} | ±{half:.3f} | {n:.0f} | ±{expected:.3f} |")
    return 0


def same_python() -> dict:
    """The environment with this Python's folder first on PATH: the rules' ``python -m kvroute`` is this one."""
    return {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}


def git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)


def cmd_run(a) -> int:
    config = kvconfig.load(a.config)
    root = Path(a.shards)
    workdir = Path(a.directory).resolve()
    deadline = time.time() + a.hours * 3600 if a.hours else None
    foreign = campaign.foreign_datasets(config, workdir)
    if foreign:
        print(f"{', '.join(foreign)}: not what {a.config} generates (another config's run rewrote it?); a shard "
              "answered from it would hold another passage. Delete it and the workflow generates the right one.",
              file=sys.stderr)
        return 2
    shards = campaign.plan(config, a.model)
    finished = set(campaign.done(root, shards))
    todo = [s for s in shards if s not in finished]
    if a.datasets:
        todo = [s for s in todo if s.dataset in a.datasets]
    print(f"{a.model}: {len(todo)} shards to answer", flush=True)
    for n, shard in enumerate(todo[:a.max_shards] if a.max_shards else todo):
        if deadline and time.time() > deadline:
            print("time is up: stopping before the next shard", flush=True)
            break
        if a.stop_file and Path(a.stop_file).exists():
            print(f"{a.stop_file} exists: stopping before the next shard", flush=True)
            break
        target = shard.infer_dir() / "predictions.parquet"
        start = time.time()
        out = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
                              "--configfile", str(Path(a.config).resolve()), "--directory", str(workdir),
                              "--cores", str(a.cores), "--nolock", "--rerun-incomplete", str(target)], cwd=ROOT, capture_output=True,
                             text=True, env=same_python())
        if out.returncode != 0:
            print((out.stdout + out.stderr)[-4000:], file=sys.stderr)
            return out.returncode
        infer_s = round(time.time() - start, 1)
        commit = git("rev-parse", "HEAD").stdout.strip() or "unknown"
        folder = campaign.write_shard(shard, workdir / shard.infer_dir(), root, config, {
            "infer_s": infer_s, "kvroute_commit": commit, "config": a.config,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, torch threads "
                       f"{config['inference']['threads']}"})
        facts = campaign.read_facts(folder)
        line = (f"{shard.model} {shard.dataset} {shard.regime} passage {shard.index}: {facts['answers']} answers "
                f"in {infer_s:.0f} s ({infer_s / facts['answers']:.2f} s each, {facts['dtype']})")
        print(f"[{n + 1}] {line}", flush=True)
        if a.commit:
            git("add", str(folder))
            done = git("commit", "-q", "-m", f"Replication shard: {line}", "--", str(folder))
            if done.returncode != 0:
                print(done.stdout + done.stderr, file=sys.stderr)
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("plan", help="per model and dataset: planned and finished passages, answers, CPU hours")
    s.add_argument("--config", default=DEFAULT_CONFIG)
    s.add_argument("--shards", default=str(ROOT / campaign.SHARDS), help="where shards are kept (MODEL/shards/)")
    s.add_argument("--models", nargs="+")
    s.set_defaults(fn=cmd_plan)
    s = sub.add_parser("run", help="answer the plan's next passages, one shard each")
    s.add_argument("--config", default=DEFAULT_CONFIG)
    s.add_argument("--model", required=True)
    s.add_argument("--datasets", nargs="+", help="only these datasets")
    s.add_argument("--max-shards", type=int, help="stop after this many shards")
    s.add_argument("--hours", type=float, help="start no new shard after this many hours")
    s.add_argument("--stop-file", help="start no new shard once this file exists (a gentle stop from outside)")
    s.add_argument("--cores", type=int, default=2)
    s.add_argument("--commit", action="store_true", help="git commit each shard as it lands")
    s.add_argument("--shards", default=str(ROOT / campaign.SHARDS), help="where shards are kept (MODEL/shards/)")
    s.add_argument("--directory", default=str(ROOT), help="the workflow's working directory (results/, data/)")
    s.set_defaults(fn=cmd_run)
    a = p.parse_args(argv)
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
