"""The workflow as users drive it: dry-runs of the grids, the SLURM profile, lint,
and the CI small-model target run for real on SmolLM2."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO, SMALL_CONFIG, run_snakemake, small_target_run

from kvroute.inference import job as inference


def snakemake(repo: Path, *args: str, env: dict | None = None):
    return run_snakemake(*args, cwd=repo, env=env)


def job_counts(output: str) -> dict[str, int]:
    table = output.split("Job stats:")[1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def test_paper_grid_dry_run_lists_every_job(repo):
    config = yaml.safe_load((repo / "config" / "paper.yaml").read_text())
    study = config["study"]
    n_models, n_data, n_regimes = len(study["models"]), len(study["datasets"]), len(study["regimes"])
    per_job = config["inference"]["passages_per_job"]
    n_shards = sum(-(-config["datasets"][d]["passages"] // per_job) for d in study["datasets"])
    out = snakemake(repo, "-n", "-F", "--configfile", "config/paper.yaml")
    assert out.returncode == 0, out.stderr[-3000:]
    counts = job_counts(out.stdout)
    assert counts["generate_dataset"] == n_data == 7
    assert counts["prepare_model"] == n_models == 5
    assert counts["merge_shards"] == counts["score"] == n_models * n_data * n_regimes == 70
    assert counts["infer"] == n_models * n_regimes * n_shards == 5 * 2 * (5 + 8 + 16)
    assert counts["probe"] == counts["stats"] == n_models
    assert counts["figure_safety_cliff"] == counts["dataset_stats"] == 1
    # every press and ratio is covered inside each infer job
    assert "--ratios '[0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]'" in snakemake(
        repo, "-n", "-p", "--configfile", "config/paper.yaml").stdout


def test_replication_dry_run_plans_three_models_and_the_claims(repo):
    config = yaml.safe_load((repo / "config" / "replication.yaml").read_text())
    out = snakemake(repo, "-n", "-F", "--configfile", "config/replication.yaml")
    assert out.returncode == 0, out.stderr[-3000:]
    counts = job_counts(out.stdout)
    assert len(config["study"]["models"]) == 3 and len(config["study"]["datasets"]) == 7
    # The agnostic regime everywhere, the aware one on coreference only (study.dataset_regimes).
    assert counts["merge_shards"] == counts["metrics"] == 3 * (7 + 1)
    assert "results/qwen2.5-coder-0.5b-instruct/coreference/aware/metrics/questions.parquet" in out.stdout
    assert "base/aware" not in out.stdout
    assert counts["prepare_model"] == counts["stats"] == 3
    assert counts["claims"] == 1


def test_default_dry_run_builds_the_safety_cliff(repo):
    out = snakemake(repo, "-n", "-F", "figures/safety_cliff.pdf")
    assert out.returncode == 0, out.stderr[-3000:]
    counts = job_counts(out.stdout)
    assert counts["infer"] == counts["merge_shards"] == 3 * 2  # three datasets x two regimes, one shard each
    assert counts["prepare_model"] == 1


def test_a_model_capped_by_passages_per_model_runs_a_prefix_of_each_dataset(repo, tmp_path):
    config = yaml.safe_load((repo / "config.yaml").read_text())
    config["study"]["models"] = ["qwen2.5-coder-0.5b-instruct", "smollm2-135m-instruct"]
    config["study"]["passages_per_model"] = {"smollm2-135m-instruct": 2}
    config["inference"]["passages_per_job"] = 1
    (tmp_path / "capped.yaml").write_text(yaml.safe_dump(config))
    out = snakemake(repo, "-n", "-F", "-p", "--configfile", str(tmp_path / "capped.yaml"))
    assert out.returncode == 0, out.stderr[-3000:]
    infer = re.findall(r"results/([\w.-]+)/(\w+)/(\w+)/shards/(\d+)-(\d+)/predictions.parquet", out.stdout)
    passages = {}
    for model, dataset, regime, start, end in set(infer):
        passages.setdefault((model, dataset, regime), set()).update(range(int(start), int(end)))
    sizes = {d: spec["passages"] for d, spec in config["datasets"].items()}
    for (model, dataset, regime), got in passages.items():
        want = min(sizes[dataset], 2) if model == "smollm2-135m-instruct" else sizes[dataset]
        assert got == set(range(want)), (model, dataset, regime)
    assert len(passages) == 2 * 3 * 2  # two models x three datasets x two regimes


@pytest.fixture
def fake_apptainer(tmp_path) -> dict:
    """Apptainer cannot be installed here; Snakemake only asks it for its version in a dry-run."""
    binary = tmp_path / "bin" / "apptainer"
    binary.parent.mkdir()
    binary.write_text('#!/bin/sh\necho "apptainer version 1.3.6"\n')
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    return {"PATH": f"{binary.parent}{os.pathsep}{os.environ['PATH']}"}


def test_slurm_profile_resolves_from_repo_root(repo, fake_apptainer):
    out = snakemake(repo, "-n", "--profile", "slurm", env=fake_apptainer)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    text = out.stdout + out.stderr
    assert "Using profile slurm" in text
    infer_blocks = [b for b in text.split("\n\n") if "rule infer:" in b]
    assert infer_blocks and all("gpu=1" in b for b in infer_blocks)
    profile = yaml.safe_load((repo / "slurm" / "config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert profile["software-deployment-method"] == "apptainer" and "--nv" in profile["apptainer-args"]
    assert "gpu" not in json.dumps(profile.get("default-resources", {}))
    assert "slurm_extra" not in json.dumps(profile)


def test_lint_is_clean(repo):
    out = snakemake(repo, "--lint")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Lints for" not in out.stdout + out.stderr


def test_bad_config_stops_before_any_job(repo, tmp_path, default_config):
    bad = dict(default_config, study={**default_config["study"], "regimes": ["agnostic", "sideways"]})
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    out = snakemake(repo, "-n", "--configfile", str(path))
    assert out.returncode != 0
    said = out.stdout + out.stderr  # Snakemake prints workflow errors to either, by version and logger
    assert "config key study.regimes[1]" in said and "agnostic, aware" in said


@pytest.mark.slow
def test_small_model_target_runs_for_real(small_target):
    """SmolLM2-135M, one dataset, two ratios, both presses and regimes: every stage for real."""
    tmp_path = small_target
    config = yaml.safe_load(SMALL_CONFIG.read_text())
    model = config["study"]["models"][0]
    (dataset,) = config["study"]["datasets"]
    presses, ratios = config["study"]["presses"], sorted(config["study"]["ratios"])

    records = [json.loads(line) for line in (tmp_path / "data" / f"{dataset}.jsonl").read_text().splitlines()]
    n_questions = sum(len(r["questions"]) for r in records)
    oracle = config["study"]["oracle"]
    for regime in config["study"]["regimes"]:
        scores = pd.read_parquet(tmp_path / "results" / model / dataset / regime / "scores.parquet")
        # Oracle rows (one per oracle press, ratio and question, in their regimes only) sit beside the grid.
        steered = scores[scores["oracle"] != "none"]
        n_oracle = len(oracle["presses"]) * len(oracle["ratios"]) * n_questions if regime in oracle["regimes"] else 0
        assert len(steered) == n_oracle
        assert set(steered["press"]) == (set(oracle["presses"]) if n_oracle else set())
        assert (steered["base_press"] != steered["press"]).all()
        scores = scores[scores["oracle"] == "none"]
        assert len(scores) == n_questions * len(presses) * len(ratios)
        assert set(scores["press"]) == set(presses) and sorted(set(scores["ratio"])) == ratios
        assert set(scores["error_class"]) <= {"correct", "unknown", "empty", "hallucination"}
        assert scores["correct_at_0"].notna().all()  # every item has its ratio-0 answer
        assert scores["prediction"].str.len().gt(0).all()
        # Ratio 0 is one uncompressed cache, reported under every press.
        base = scores[scores["ratio"] == 0].pivot(index="qid", columns="press", values="prediction")
        assert (base.nunique(axis=1) == 1).all()
        # The press removed about the share of KV entries the ratio asks for.
        for (press, ratio), kept in scores.groupby(["press", "ratio"])["kept_fraction"]:
            assert abs(kept.mean() - (1 - ratio)) < 0.06, (press, ratio)
        # The model answers something right when nothing is compressed.
        assert (scores[scores["ratio"] == 0]["error_class"] == "correct").any()
        # ci_small asks for `dtype: auto`: the jobs answered in what auto resolves to here (the pytest header says).
        predictions = pd.read_parquet(tmp_path / "results" / model / dataset / regime / "predictions.parquet")
        assert set(predictions["dtype"]) == {inference.resolve_dtype("auto", inference.resolve_device("auto"))}
        questions = pd.read_parquet(tmp_path / "results" / model / dataset / regime / "metrics" / "questions.parquet")
        assert {"reachable_def2", "reachable_prefill", "ger_all_mentions", "null_ger_span", "null_ger_indep",
                "correct_f1"} <= set(questions.columns)
        erased = questions["erased"] == 1
        assert not questions.loc[erased, "reachable_def2"].any(), "erased evidence is unreachable (Definition 2)"
        assert questions.loc[questions["ratio"] == 0, "reachable_def2"].astype(float).mean() > 0.9, "uncompressed: reachable"

    curves = pd.read_csv(tmp_path / "results" / model / "stats" / "curves.csv")
    assert set(curves["dataset"]) == {dataset, "pooled"}  # every stats table: each dataset and pooled
    assert len(curves) == 2 * len(presses) * len(config["study"]["regimes"]) * len(ratios)
    for name in ("rigidity.csv", "consensus.csv", "breakpoint.csv"):
        assert "dataset" in pd.read_csv(tmp_path / "results" / model / "stats" / name).columns, name
    assert curves["hallucination_rate"].between(0, 1).all()
    assert {"hallucination_cond_rate", "n_cond", "empty_rate"} <= set(curves.columns)
    probes = pd.read_csv(tmp_path / "results" / model / "probe" / "probe_scores.csv")
    assert set(probes["ratio"]) == set(ratios)
    assert set(probes["target"]) == {"answer_type", "correct"} and probes["question_only_f1"].notna().any()
    figure = tmp_path / "figures" / "safety_cliff.pdf"
    assert figure.read_bytes()[:4] == b"%PDF" and figure.with_suffix(".png").stat().st_size > 10_000
    # The oracle comparison: every variant against its base at the oracle ratio, and its figure.
    table = pd.read_csv(tmp_path / "results" / model / "stats" / "oracle.csv")
    h = table[(table["measure"] == "H") & (table["ratio"].isin(oracle["ratios"]))]
    assert set(h["arm"]) == {"base", "protect", "target", "placebo", "protect_diluted"}
    assert set(table["measure"]) >= {"effect_survival", "effect_singling_out", "rise_removed"}
    evicted = table[(table["measure"] == "evidence_evicted") & (table["dataset"] == "pooled")
                    & (table["ratio"] == oracle["ratios"][0])].set_index("arm")
    assert evicted.loc["protect", "estimate"] <= evicted.loc["base", "estimate"] <= evicted.loc["target", "estimate"]
    assert (tmp_path / "figures" / "oracle.pdf").read_bytes()[:4] == b"%PDF"
    assert "auc" in pd.read_csv(tmp_path / "results" / model / "stats" / "evidence_predictors.csv").columns
    for rule_log in ["logs/dataset_stats.log", f"logs/prepare_model/{model}.log"]:
        assert (tmp_path / rule_log).exists()
    # No leftover temporary or checkpoint files that could pass for results.
    leftovers = [p for p in tmp_path.rglob(".*") if p.is_file() and ".snakemake" not in p.parts]
    assert not leftovers, leftovers
    assert len((tmp_path / f"logs/prepare_model/{model}.log").read_text()) < 20_000, "log flooded by progress bars"


def _answers(workdir: Path, model: str, dataset: str) -> pd.DataFrame:
    frames = [pd.read_parquet(p) for p in sorted((workdir / "results" / model / dataset).glob("*/predictions.parquet"))]
    return pd.concat(frames, ignore_index=True)[["regime", "press", "ratio", "qid", "prediction"]]


@pytest.mark.slow
def test_two_runs_give_identical_datasets_and_answers(small_target, tmp_path):
    config = yaml.safe_load(SMALL_CONFIG.read_text())
    model, dataset = config["study"]["models"][0], config["study"]["datasets"][0]
    # One regime is enough to catch nondeterminism, and halves the rerun CI pays for (the SLURM test reruns both).
    again = small_target_run(tmp_path, f"results/{model}/{dataset}/agnostic/predictions.parquet")
    assert (again / "data" / f"{dataset}.jsonl").read_bytes() == (small_target / "data" / f"{dataset}.jsonl").read_bytes()
    first = _answers(small_target, model, dataset)
    pd.testing.assert_frame_equal(_answers(again, model, dataset), first[first["regime"] == "agnostic"].reset_index(drop=True))


@pytest.mark.slow
def test_report_renders_every_caption(small_target):
    """The generated figure rules hand their captions what they read (params, wildcards, config)."""
    config = yaml.safe_load(SMALL_CONFIG.read_text())
    out = run_snakemake("--configfile", str(SMALL_CONFIG), "--directory", str(small_target),
                        "--report", "report.zip", timeout=600)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    import zipfile

    with zipfile.ZipFile(small_target / "report.zip") as z:
        text = "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist() if n.endswith((".html", ".js")))
    for phrase in ("The safety cliff", "Which KV entries survive", f"dataset {config['study']['datasets'][0]}",
                   "Layer-wise routing consensus"):
        assert phrase in text, phrase


@pytest.mark.slow
def test_run_summary_reads_a_finished_run(small_target, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_summary", REPO / "scripts" / "run_summary.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = yaml.safe_load(SMALL_CONFIG.read_text())
    ratios = [r for r in config["study"]["ratios"] if r > 0]
    assert module.main(["--config", str(SMALL_CONFIG), "--results", str(small_target / "results"),
                        "--ratios", *map(str, ratios)]) == 0
    printed = capsys.readouterr().out
    for title in ("Reachability and accuracy", "GER against its nulls", "H and H_cond"):
        assert title in printed
    # One H row per press x regime x ratio asked for.
    h_rows = printed.split("H and H_cond")[1].split("\n## ")[0]
    assert h_rows.count("\n| ") == 1 + len(config["study"]["presses"]) * len(config["study"]["regimes"]) * len(ratios)


@pytest.mark.slow
def test_replication_report_is_assembled_from_a_runs_piece(small_target, tmp_path):
    """collect one finished run into a piece, then assemble the report and its figures from the piece alone."""
    import subprocess
    import sys

    model = yaml.safe_load(SMALL_CONFIG.read_text())["study"]["models"][0]
    time_file = tmp_path / "time.txt"
    time_file.write_text("\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:02:03\n"
                         "\tMaximum resident set size (kbytes): 4194304\n")
    script = [sys.executable, str(REPO / "scripts" / "replication_report.py")]
    pieces = tmp_path / "pieces"
    subprocess.run([*script, "collect", model, "--config", str(SMALL_CONFIG), "--results",
                    str(small_target / "results"), "--time", str(time_file), "--command", "snakemake test",
                    "--out", str(pieces / model)], check=True, cwd=REPO)
    run = json.loads((pieces / model / "run.json").read_text())
    assert run["wall_s"] == 3723 and run["peak_rss_gb"] == 4.0
    questions = pd.concat(pd.read_parquet(p) for p in (small_target / "results" / model).glob("*/*/metrics/questions.parquet"))
    assert run["answers"] == len(questions)
    shares = pd.read_csv(pieces / model / "sink_share.csv")
    assert set(shares["press"]) == {"chunk_ea"} and (shares["chunk_length"] == 32).all()
    assert shares["sink_share"].between(0, 1).all()

    out = tmp_path / "replication.md"
    subprocess.run([*script, "assemble", "--pieces", str(pieces), "--out", str(out), "--figures",
                    str(tmp_path / "figures")], check=True, cwd=REPO)
    text = out.read_text()
    claims = pd.read_csv(pieces / "claims.csv")
    # Every claim for the model, and C9's missing-family row recomputed over the pieces (no Qwen2 model here).
    assert set(claims[claims["model"] == model]["claim"]) == {f"C{i}" for i in range(1, 15)}
    assert "(no qwen2 model)" in set(claims["model"])
    # The study's other models have no piece: every one of their claims is listed as not run, with the reason.
    unrun = claims[claims["model"] == "qwen2.5-coder-1.5b-instruct"]
    assert len(unrun) == 14 and set(unrun["verdict"]) == {"not run"}
    assert (unrun["note"] == "no committed run on this machine yet").all()
    assert "| 62 min |" in text and "## Chunk length" in text and "has not run yet" in text
    # The chunk length the run used, and ChunkPress's per-chunk budget: 64 keeps int(64 * 0.05) = 3 at 0.95, all sinks.
    assert "chunk length is **32**" in text and "| 64 | 6 (2) | 3 (0) | 1 (0) |" in text
    figures = {p.name for p in (tmp_path / "figures").glob("*.png")}
    assert figures == {f"safety_cliff_{model}.png", "oracle.png", "routing_consensus_llama.png"}
    for name in figures:
        assert f"figures/{name}" in text
