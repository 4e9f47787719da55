"""The slurm profile against a real one-node SLURM cluster (slurmctld + slurmd on loopback).

Opt-in locally (KVROUTE_SLURM_TEST=1, as root on Debian); CI always sets it.
The fixture installs slurm-wlm and munge if missing, starts the daemons and
stops exactly the ones it started.
"""

from __future__ import annotations

import os
import subprocess

import pandas as pd
import pytest
import yaml
from conftest import REPO, SMALL_CONFIG, real_path, small_target_run

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
CLUSTER = REPO / "scripts" / "slurm_local_cluster.sh"


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    if os.environ.get("KVROUTE_SLURM_TEST") != "1":
        pytest.skip("set KVROUTE_SLURM_TEST=1 to run against a local one-node SLURM (CI does)")
    if os.geteuid() != 0:
        pytest.skip("starting slurmctld/slurmd needs root")
    state = tmp_path_factory.mktemp("slurm-state")
    env = {**os.environ, "KVROUTE_SLURM_STATE": str(state), "PATH": real_path()}
    started = subprocess.run([str(CLUSTER), "start"], env=env, capture_output=True, text=True, timeout=900)
    assert started.returncode == 0, started.stdout + started.stderr
    yield state
    subprocess.run([str(CLUSTER), "stop"], env=env, timeout=60)


def test_small_target_through_slurm_matches_a_local_run(slurm_cluster, small_target, tmp_path):
    # The CPU-only test node has no GPU and 2 cores: override what the profile asks for GPU jobs, and run
    # without apptainer (it cannot be installed here). The job that matters is infer, which the profile sends to
    # the GPU partition with its own resources: the local run's converted model and dataset are handed over, so
    # one regime's infer job is the only sbatch round trip (each costs status polls; the CPU jobs after it are
    # the same kinds as the local run's).
    config = yaml.safe_load(SMALL_CONFIG.read_text())
    model, dataset = config["study"]["models"][0], config["study"]["datasets"][0]
    regime = config["study"]["regimes"][0]
    for given in (f"resources/models/{model}", f"data/{dataset}.jsonl"):
        (tmp_path / given).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / given).symlink_to(small_target / given)
    predictions = f"results/{model}/{dataset}/{regime}/predictions.parquet"
    workdir = small_target_run(
        tmp_path, predictions, "--profile", str(REPO / "slurm"), "--sdm", "env-modules",
        "--set-resources", "infer:gpu=0", "--set-threads", "infer=2",
        "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2",
        "--latency-wait", "10", "--jobs", "2",
        "--slurm-logdir", str(tmp_path / "slurm_logs"), "--slurm-keep-successful-logs",
        env={"PATH": real_path()},
    )
    slurm_logs = list((tmp_path / "slurm_logs").rglob("*.log"))
    assert any("infer" in str(p) for p in slurm_logs), "infer did not go through sbatch"
    pd.testing.assert_frame_equal(pd.read_parquet(workdir / predictions), pd.read_parquet(small_target / predictions))
