"""scripts/device_check.sh and scripts/device_wheels.sh: both parse, and the check stops before any work, in one line,
where no CUDA device is visible (here; on a GPU machine CUDA_VISIBLE_DEVICES="" hides it)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import REPO

CHECK = REPO / "scripts" / "device_check.sh"
WHEELS = REPO / "scripts" / "device_wheels.sh"


@pytest.mark.parametrize("script", [CHECK, WHEELS], ids=lambda p: p.name)
def test_the_script_parses(script):
    subprocess.run(["bash", "-n", str(script)], check=True)


def test_the_device_check_stops_in_one_line_naming_cuda_without_a_gpu(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHON": sys.executable, "OUT": str(out)}
    proc = subprocess.run(["bash", str(CHECK)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert len(lines) == 1 and "CUDA" in lines[0], proc.stdout + proc.stderr
    assert not out.exists(), "nothing may start before the CUDA check"
