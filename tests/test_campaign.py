"""The replication campaign: its plan, the shards it keeps, and a report assembled from shards alone."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from kvroute import artifacts, campaign
from kvroute.inference import job as inference
from kvroute.config import load, oracle_plan
from kvroute.datasets import generate, write_jsonl
from kvroute.metrics import build_metrics
from kvroute.scoring import score_predictions

from conftest import REPO

MODEL = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def plan_config():
    return load(REPO / "config" / "replication.yaml")


def test_the_plan_spreads_passages_over_every_unit_first(plan_config):
    shards = campaign.plan(plan_config, "qwen2.5-coder-0.5b-instruct")
    units = [(s.dataset, s.regime) for s in shards[:8]]
    # Passage 0 of every unit comes before any passage 1; coreference alone runs both regimes.
    assert units == [("base", "agnostic"), ("knowledge_manipulation", "agnostic"), ("multi_presence", "agnostic"),
                     ("multi_entity", "agnostic"), ("long_context", "agnostic"), ("coreference", "agnostic"),
                     ("coreference", "aware"), ("hops", "agnostic")]
    assert {s.index for s in shards[:8]} == {0}
    counts = pd.Series([f"{s.dataset}/{s.regime}" for s in shards]).value_counts()
    assert counts["hops/agnostic"] == counts["coreference/aware"] == 20 and counts["base/agnostic"] == 10
    # A capped model gets the cap in every dataset.
    capped = pd.Series([s.dataset for s in campaign.plan(plan_config, "qwen2.5-coder-1.5b-instruct")]).value_counts()
    assert set(capped) == {5, 10}  # coreference: 5 passages x 2 regimes


def test_the_plan_digest_follows_what_changes_answers(plan_config):
    digest = campaign.plan_digest(plan_config, MODEL, "agnostic")
    assert digest == campaign.plan_digest(copy.deepcopy(plan_config), MODEL, "agnostic")
    assert digest != campaign.plan_digest(plan_config, MODEL, "aware")  # the oracle plan differs by regime
    for key, value in (("ratios", [0.0, 0.5]), ("passages_per_model", {MODEL: 3})):
        changed = copy.deepcopy(plan_config)
        changed["study"][key] = value
        same = key == "passages_per_model"  # how many passages: not what one passage gives
        assert (campaign.plan_digest(changed, MODEL, "agnostic") == digest) == same, key
    for key, value, same in (("dtype", "bfloat16", False), ("max_new_tokens", 4, False), ("passages_per_job", 9, True)):
        changed = copy.deepcopy(plan_config)
        changed["inference"][key] = value
        assert (campaign.plan_digest(changed, MODEL, "agnostic") == digest) == same, key


def test_a_dataset_file_another_config_wrote_is_refused_before_any_shard(tmp_path):
    config = load(REPO / "config" / "ci_small.yaml")
    name = "knowledge_manipulation"  # ci_small's one dataset
    spec = config["datasets"][name]
    data = tmp_path / "data"
    data.mkdir()
    assert campaign.foreign_datasets(config, tmp_path) == []  # missing: the workflow generates it
    write_jsonl(generate(name, spec["passages"], config["seed"]), data / f"{name}.jsonl")
    assert campaign.foreign_datasets(config, tmp_path) == []  # the config's own
    for passages, seed in ((spec["passages"] + 1, config["seed"]), (spec["passages"], config["seed"] + 1)):
        write_jsonl(generate(name, passages, seed), data / f"{name}.jsonl")  # another size, another seed
        assert campaign.foreign_datasets(config, tmp_path) == [str(data / f"{name}.jsonl")]
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "campaign.py"), "run", "--model", MODEL,
                          "--config", str(REPO / "config" / "ci_small.yaml"), "--shards", str(tmp_path / "shards"),
                          "--directory", str(tmp_path)], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 2 and f"{name}.jsonl" in out.stderr and "another passage" in out.stderr, out.stderr
    assert not (tmp_path / "shards").exists()


def test_a_model_with_shards_of_two_dtypes_or_plans_is_refused():
    shard = campaign.Shard("m", "base", "agnostic", 0)
    ok = {"dtype": "float32", "plan_digest": "a"}
    campaign.check_model([(shard, ok), (shard, dict(ok))])
    with pytest.raises(ValueError, match="several dtypes \\(bfloat16, float32\\)"):
        campaign.check_model([(shard, ok), (shard, {**ok, "dtype": "bfloat16"})])
    with pytest.raises(ValueError, match="shards of 2 different plans"):
        campaign.check_model([(shard, ok), (shard, {**ok, "plan_digest": "b"})])


TINY_PLAN = {
    "seed": 5,
    "datasets": {"knowledge_manipulation": {"passages": 2}},
    "presses": {"chunk_ea": {"press": "ChunkPress", "scorer": "ExpectedAttentionPress", "args": {"chunk_length": 32}},
                "chunk_ea_target": {"press": "ChunkPress", "scorer": "ExpectedAttentionPress",
                                    "args": {"chunk_length": 32}, "oracle": "target"}},
    "study": {"models": [MODEL], "datasets": ["knowledge_manipulation"], "presses": ["chunk_ea"],
              "regimes": ["agnostic"], "ratios": [0.0, 0.5],
              "oracle": {"presses": ["chunk_ea_target"], "ratios": [0.5], "regimes": ["agnostic"]}},
    "inference": {"device": "cpu", "dtype": "float32", "max_new_tokens": 4, "probe_layers": [0.5, 1.0], "threads": 2},
    "stats": {"n_boot": 50, "n_boot_breakpoint": 0},
}


@pytest.fixture(scope="module")
def two_passages(smollm2_manifest, tmp_path_factory):
    """Two knowledge_manipulation passages answered as two one-passage infer jobs and as one job of both."""
    tmp = tmp_path_factory.mktemp("campaign")
    (tmp / "plan.yaml").write_text(yaml.safe_dump(TINY_PLAN))
    config = load(tmp / "plan.yaml")
    data = tmp / "knowledge_manipulation.jsonl"
    write_jsonl(generate("knowledge_manipulation", 2, config["seed"]), data)
    presses = {"chunk_ea": config["presses"]["chunk_ea"]}
    dirs = {}
    for passages in ("0-1", "1-2", "0-2"):
        dirs[passages] = tmp / passages
        inference.run(str(smollm2_manifest), str(data), "agnostic", presses, [0.0, 0.5], config["inference"],
                      artifacts.paths_in(dirs[passages]), model_name=MODEL, passages=passages,
                      oracle=oracle_plan(config, "agnostic"))
    return config, dirs, tmp


def test_shards_assemble_to_the_tables_of_one_job_over_both_passages(two_passages):
    config, dirs, tmp = two_passages
    root = tmp / "shards"
    for i, passages in enumerate(("0-1", "1-2")):
        shard = campaign.Shard(MODEL, "knowledge_manipulation", "agnostic", i)
        folder = campaign.write_shard(shard, dirs[passages], root, config, {"infer_s": 1.0})
        facts = json.loads((folder / "shard.json").read_text())
        assert facts["dtype"] == "float32" and facts["passage_id"] == f"knowledge_manipulation-000{i}"
        assert facts["answers"] == 13 * (1 + 1 + 1)  # ratio 0, chunk_ea at 0.5, its target oracle at 0.5
    found = campaign.assemble(root, MODEL, tmp / "results")
    assert found["passages"] == {("knowledge_manipulation", "agnostic"): 2}

    whole = artifacts.paths_in(dirs["0-2"])
    scores = score_predictions(pd.read_parquet(whole["predictions"]))
    with np.load(whole["routing"]) as z:
        expected = build_metrics(scores, pd.read_parquet(whole["ledger"]), {k: z[k] for k in z.files})
    unit = tmp / "results" / MODEL / "knowledge_manipulation" / "agnostic"
    pd.testing.assert_frame_equal(pd.read_parquet(unit / "scores.parquet"), scores)
    for name in ("questions", "layers"):
        pd.testing.assert_frame_equal(pd.read_parquet(unit / "metrics" / f"{name}.parquet"),
                                      expected[name].reset_index(drop=True))
    # The probe's rows: ratio 0 and 0.5, base rows, with the very states the job stored.
    rows = pd.read_parquet(unit / "probe_rows.parquet")
    keep = campaign.probe_rows(scores)
    assert len(rows) == keep.sum() == 2 * 13 * 2
    with np.load(unit / "probe_states.npz") as kept, np.load(whole["hidden"]) as full:
        assert np.array_equal(kept["states"], full["states"][keep])
        assert list(kept["qid"]) == list(rows["qid"])


def test_the_campaign_script_answers_a_shard_through_the_workflow(smollm2_manifest, tmp_path):
    """One shard of a tiny plan: snakemake runs its infer job, the shard is kept, plan counts it done."""
    config = yaml.safe_load((REPO / "config" / "ci_small.yaml").read_text())
    config["study"].update(regimes=["agnostic"], ratios=[0.0, 0.8], presses=["adakv_ea"])
    del config["study"]["oracle"]
    config["inference"].update(dtype="float32", passages_per_job=1)
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(config))
    # The converted model, where the workflow looks for it: no second conversion.
    models = tmp_path / "work" / "resources" / "models"
    models.mkdir(parents=True)
    (models / MODEL).symlink_to(smollm2_manifest.parent)
    script = [sys.executable, str(REPO / "scripts" / "campaign.py")]
    common = ["--config", str(path), "--shards", str(tmp_path / "shards")]
    out = subprocess.run([*script, "run", "--model", MODEL, "--max-shards", "1", *common,
                          "--directory", str(tmp_path / "work")], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "knowledge_manipulation agnostic passage 0: 26 answers" in out.stdout
    facts = json.loads((tmp_path / "shards" / MODEL / "shards" / "knowledge_manipulation" / "agnostic" / "00000" /
                        "shard.json").read_text())
    assert facts["dtype"] == "float32" and facts["infer_s"] > 0
    planned = subprocess.run([*script, "plan", *common], capture_output=True, text=True, cwd=REPO)
    assert planned.returncode == 0, planned.stderr[-3000:]
    assert "| knowledge_manipulation | agnostic | 2 (1) |" in planned.stdout and "1 of 2 shards done" in planned.stdout


def test_a_models_piece_is_built_from_its_shards_alone(two_passages):
    """replication_report.py shards: the stats, probe and claims stages on the assembled shards."""
    config, dirs, tmp = two_passages
    root = tmp / "piece-shards"
    for i, passages in enumerate(("0-1", "1-2")):
        campaign.write_shard(campaign.Shard(MODEL, "knowledge_manipulation", "agnostic", i), dirs[passages], root,
                             config, {"infer_s": 2.5, "kvroute_commit": "abc", "machine": "test"})
    piece = tmp / "piece"
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "replication_report.py"), "shards", MODEL,
                          "--config", str(tmp / "plan.yaml"), "--shards", str(root), "--out", str(piece)],
                         capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr[-3000:]
    run = json.loads((piece / "run.json").read_text())
    assert run["passages"] == {"knowledge_manipulation/agnostic": 2} and run["dtype"] == "float32"
    assert run["answers"] == 2 * 13 * 3 and run["infer_s"] == 5
    claims = pd.read_csv(piece / "claims.csv")
    assert set(claims[claims["model"] == MODEL]["claim"]) == {f"C{i}" for i in range(1, 15)}
    probe = pd.read_csv(piece / "stats" / "probe_scores.csv")
    assert set(probe["ratio"]) == {0.0, 0.5}  # the rows the shards keep states for
    assert {"curves.csv", "breakpoint.csv", "oracle.csv"} <= {p.name for p in (piece / "stats").iterdir()}
    shares = pd.read_csv(piece / "sink_share.csv")
    assert set(shares["passages"]) == {2} and (shares["chunk_length"] == 32).all()
