"""scripts/replication_report.py: which commit a campaign piece names, and the warning on pieces decided
under the earlier rules."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pandas as pd
import pytest

from conftest import REPO

spec = importlib.util.spec_from_file_location("replication_report", REPO / "scripts" / "replication_report.py")
rr = importlib.util.module_from_spec(spec)
sys.modules["replication_report"] = rr
spec.loader.exec_module(rr)


def test_a_campaign_piece_names_its_newest_commit_not_the_last_hash_in_sort_order():
    log = subprocess.run(["git", "-C", str(REPO), "log", "--format=%H", "-40"], capture_output=True, text=True)
    commits = log.stdout.split()
    if len(commits) < 2:
        pytest.skip("needs a git history of at least two commits")
    newest = commits[0]
    # Choose an older commit whose hash sorts after the newest one, so sort order and time disagree.
    older = next((c for c in commits[1:] if c > newest), None) or commits[1]
    assert rr.newest_commit({older, newest}) == newest
    assert rr.newest_commit({"not-a-commit"}) == "unknown"


def test_pieces_without_a_jackknife_are_named_as_decided_under_the_earlier_rules(tmp_path):
    new, old = tmp_path / "new", tmp_path / "old"
    for piece, columns in ((new, ["claim", "verdict", "jk_lo", "jk_hi"]), (old, ["claim", "verdict"])):
        piece.mkdir()
        pd.DataFrame(columns=columns).to_csv(piece / "claims.csv", index=False)
    note = "\n".join(rr.earlier_rules_note([new, old], [{"model": "model-new"}, {"model": "model-old"}]))
    assert "model-old" in note and "model-new" not in note
    assert rr.earlier_rules_note([new], [{"model": "model-new"}]) == []
