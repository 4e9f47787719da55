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


def test_the_sink_share_table_marks_a_ratio_no_run_answered_for_a_chunk_length():
    # Two runs: chunk 512 answered up to 0.95, chunk 64 also at 0.975. The 512 row has no 0.975 share.
    rows = [{"chunk_length": c, "dataset": "base", "ratio": r, "kept_sinks": 4, "kept": 16, "tokens_mean": 300.0}
            for c, ratios in ((512, (0.5, 0.8, 0.9, 0.95)), (64, (0.5, 0.8, 0.9, 0.95, 0.975))) for r in ratios]
    table = rr.share_table(pd.DataFrame(rows))
    line_512 = next(line for line in table.splitlines() if line.startswith("| 512 "))
    line_64 = next(line for line in table.splitlines() if line.startswith("| 64 "))
    assert line_512.rstrip(" |").endswith("–") and "nan" not in table, table
    assert line_64.rstrip(" |").endswith("0.25"), table


def test_the_header_names_the_datasets_that_run_a_regime_the_study_default_does_not():
    study = {"regimes": ["agnostic"], "dataset_regimes": {"coreference": ["agnostic", "aware"], "base": ["agnostic"]}}
    assert rr.regimes_line(study) == "agnostic; coreference: agnostic, aware"
    assert rr.regimes_line({"regimes": ["agnostic", "aware"]}) == "agnostic, aware"
