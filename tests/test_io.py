"""kvroute.io is the one write path: outputs are atomic and get the mode the umask asks for."""

from __future__ import annotations

import json
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from kvroute import artifacts, datasets, io, tables
from kvroute.figures.style import save_figure


@pytest.fixture(params=[(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)], ids=["umask022", "umask027"])
def umask(request):
    """Run the test under a given umask; yields the (file, dir) modes it implies."""
    mask, file_mode, dir_mode = request.param
    old = os.umask(mask)
    try:
        yield file_mode, dir_mode
    finally:
        os.umask(old)


def _mode(path) -> str:
    return oct(os.stat(path).st_mode & 0o777)  # octal, so a failure reads 0o600 != 0o644


def _no_temps(folder) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_every_writer_honours_the_umask(tmp_path, umask):
    file_mode, dir_mode = umask
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    io.write_csv(df, tmp_path / "t.csv")
    io.write_parquet(df, tmp_path / "t.parquet")
    io.write_text(tmp_path / "t.txt", "hello\n")
    io.write_json(tmp_path / "t.json", {"a": 1})
    io.write_npz({"x": np.arange(3)}, tmp_path / "c.npz", compressed=True)
    datasets.write_jsonl(datasets.generate("base", 1, 0), tmp_path / "data" / "base.jsonl")

    # artifacts: two npz and two parquet files
    unit = artifacts.paths_in(tmp_path / "unit")
    artifacts.write(unit, [{"qid": "q0", "press": "p", "ratio": 0.0, "hop": 1}], [{"passage_id": "p0", "kept": b"\x01"}],
                    hidden={"states": np.zeros((1, 1, 2), np.float16), "layers": np.asarray([0])},
                    routing={"argmax": np.zeros((1, 1, 1), np.int32), "answer_mass": np.zeros((1, 1, 1), np.float16)})

    stats = pd.DataFrame(dict(dataset=["base"], passages=[1], queries=[2], words_per_passage_mean=[10.0],
                              words_per_passage_std=[1.0], queries_per_passage_mean=[2.0]))
    answers = pd.DataFrame(dict(model=["m"], dataset=["base"], regime=["agnostic"], press=["p"], ratio=[0.0],
                                tag_kind=["all"], n=[2], f1_mean=[0.5]))
    tabs = [tmp_path / "tables" / n for n in ("t1.csv", "t1.tex", "t2.csv", "t2.tex")]
    tables.write_tables(stats, answers, *tabs)

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    figs = save_figure(fig, tmp_path / "figs" / "f.pdf")
    plt.close(fig)

    with io.atomic_dir(tmp_path / "model") as d:
        io.write_json(d / "kvroute_model.json", {"name": "m"})

    files = [tmp_path / n for n in ("t.csv", "t.parquet", "t.txt", "t.json", "c.npz", "data/base.jsonl",
                                    "model/kvroute_model.json")]
    files += [*unit.values(), *tabs, *figs]
    assert {str(p.relative_to(tmp_path)): _mode(p) for p in files} == {
        str(p.relative_to(tmp_path)): oct(file_mode) for p in files}
    assert _mode(tmp_path / "model") == oct(dir_mode)
    for folder in {p.parent for p in files}:
        assert _no_temps(folder) == []


def test_dataset_bytes_are_plain_sorted_utf8_jsonl(tmp_path):
    recs = datasets.generate("base", 2, 3)
    datasets.write_jsonl(recs, tmp_path / "d.jsonl")
    expected = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in recs)
    assert (tmp_path / "d.jsonl").read_bytes() == expected.encode("utf-8")


def _lines_then_fail():
    yield {"a": 1}
    raise RuntimeError("killed midway")


class _BrokenFigure:
    def savefig(self, fname, **kwargs):
        with open(fname, "wb") as fh:
            fh.write(b"%PDF-partial")
        raise RuntimeError("killed midway")


def _text_then_fail(path):
    with io.atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed midway")


@pytest.mark.parametrize("write", [
    lambda p: io.write_jsonl(_lines_then_fail(), p),
    lambda p: io.write_figure(_BrokenFigure(), p, "pdf"),
    _text_then_fail,
], ids=["jsonl", "figure", "atomic_path"])
def test_a_writer_failing_midway_leaves_no_target_and_no_temp(tmp_path, write):
    target = tmp_path / "out" / "result.x"
    with pytest.raises(RuntimeError, match="midway"):
        write(target)
    assert list(target.parent.iterdir()) == []


def test_a_failed_rewrite_keeps_the_old_file(tmp_path):
    target = tmp_path / "result.txt"
    io.write_text(target, "old\n")
    with pytest.raises(RuntimeError):
        _text_then_fail(target)
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["result.txt"]


def test_a_failed_atomic_dir_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with io.atomic_dir(tmp_path / "model") as d:
            (d / "weights.bin").write_bytes(b"partial")
            raise RuntimeError("killed midway")
    assert list(tmp_path.iterdir()) == []
