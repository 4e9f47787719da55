"""The infer stage on a real model: aligned outputs, a usable ledger, resume after a crash."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kvroute import artifacts
from kvroute.inference import batching, ledger, passage
from kvroute.inference import job as inference
from kvroute.datasets import generate, write_jsonl

PRESSES = {
    "adakv_ea": {"press": "AdaKVPress", "scorer": "ExpectedAttentionPress"},
    "chunk_ea": {"press": "ChunkPress", "scorer": "ExpectedAttentionPress", "args": {"chunk_length": 32}},
}
SETTINGS = {"device": "cpu", "dtype": "float32", "max_new_tokens": 4, "probe_layers": [0.5, 1.0], "threads": 2}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "knowledge_manipulation.jsonl"
    write_jsonl(generate("knowledge_manipulation", 2, 5), path)
    return path


def run(manifest, dataset, out_dir, **kw):
    outputs = artifacts.paths_in(out_dir)
    inference.run(str(manifest), str(dataset), "agnostic", PRESSES, [0.0, 0.5], SETTINGS, outputs, **kw)
    return outputs


@pytest.fixture(scope="module")
def clean_run(smollm2_manifest, dataset, tmp_path_factory):
    return run(smollm2_manifest, dataset, tmp_path_factory.mktemp("clean"))


def test_outputs_are_aligned_and_complete(clean_run):
    table = pd.read_parquet(clean_run["predictions"])
    assert len(table) == 2 * 13 * 2 * 2  # passages x questions x presses x ratios
    with np.load(clean_run["hidden"]) as hidden, np.load(clean_run["routing"]) as routing:
        assert hidden["states"].shape[:2] == (len(table), 2) and hidden["states"].dtype == np.float16
        assert (hidden["qid"] == table["qid"].to_numpy(str)).all()
        assert routing["argmax"].shape[0] == len(table)
        assert (routing["answer_mass"] >= 0).all()
        # The question-only baseline depends on the question alone: equal across presses and ratios.
        alone = pd.DataFrame({"qid": table["qid"], "state": list(hidden["question_only"].reshape(len(table), -1))})
        assert hidden["question_only"].shape == hidden["states"].shape
        for _, same in alone.groupby("qid"):
            assert all(np.array_equal(same["state"].iloc[0], s) for s in same["state"])
        assert not np.array_equal(hidden["question_only"], hidden["states"])
    assert table["evidence_positions"].map(len).gt(0).all()


def test_reachability_and_span_null_inputs_are_recorded(clean_run):
    table = pd.read_parquet(clean_run["predictions"])
    book = pd.read_parquet(clean_run["ledger"]).set_index(["passage_id", "press", "ratio"])
    with np.load(clean_run["routing"]) as routing:
        reach = {name: routing[name].astype(float) for name in artifacts.REACH_ARRAYS}
        content = routing["argmax_content"]
    # Content argmax: never a sink or a question token; the plain argmax often is.
    assert ((content >= 4) & (content < table["n_context_tokens"].to_numpy()[:, None, None])).all()
    for name in ("reachable_def2", "reachable_prefill"):
        assert set(np.unique(reach[name])) <= {0.0, 1.0}, name
    assert (reach["reachable_def2"] <= reach["reachable_prefill"]).all()
    erased = 0
    for i, row in table.iterrows():
        entry = book.loc[(row.passage_id, row.press, row.ratio)]
        kept = ledger.unpack(entry)
        if not kept[:, :, list(row.evidence_positions)].any():
            erased += 1
            assert reach["reachable_def2"][i] == 0, "erased evidence is unreachable under Definition 2"
        assert 0 <= entry.passage_start < entry.passage_end <= entry.tokens
        assert all(row.evidence_positions >= entry.passage_start) and all(row.evidence_positions < entry.passage_end)
        if row.press == "chunk_ea":
            assert {0, 1, 2, 3, 32, 33, 34, 35} <= set(entry.sink_positions), "ExpectedAttention sinks per chunk"
        assert set(row.mention_positions) <= set(range(entry.tokens))


def test_ledger_matches_the_kept_fraction(clean_run):
    table = pd.read_parquet(clean_run["predictions"])
    book = pd.read_parquet(clean_run["ledger"])
    assert len(book) == 2 * 2 * 2  # passages x presses x ratios
    for _, row in book.iterrows():
        kept = ledger.unpack(row)
        frac = table[(table.passage_id == row.passage_id) & (table.press == row.press)
                     & (table.ratio == row.ratio)]["kept_fraction"].iloc[0]
        assert kept.mean() == pytest.approx(frac)
        if row.ratio == 0:
            assert kept.all()
        else:
            assert abs(kept.mean() - 0.5) < 0.05


def crash_on_second(calls: list):
    """answer_passage that records each passage and is killed on the second one."""
    real = passage.answer_passage

    def answer(model, tokenizer, record, *args):
        calls.append(record["passage_id"])
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        return real(model, tokenizer, record, *args)

    return answer


def test_a_crashed_job_resumes_from_its_last_passage(smollm2_manifest, dataset, tmp_path, clean_run, monkeypatch):
    real = passage.answer_passage
    calls = []
    monkeypatch.setattr(passage, "answer_passage", crash_on_second(calls))
    with pytest.raises(KeyboardInterrupt):
        run(smollm2_manifest, dataset, tmp_path)
    assert not artifacts.paths_in(tmp_path)["predictions"].exists(), "a killed job must not look finished"

    calls.clear()
    monkeypatch.setattr(passage, "answer_passage", lambda *a: (calls.append(a[2]["passage_id"]), real(*a))[1])
    outputs = run(smollm2_manifest, dataset, tmp_path)
    assert calls == ["knowledge_manipulation-0001"], "only the unfinished passage is recomputed"
    pd.testing.assert_frame_equal(pd.read_parquet(outputs["predictions"]), pd.read_parquet(clean_run["predictions"]))
    assert not list(tmp_path.glob(".checkpoints-*")), "checkpoints are removed once merged"


def test_a_checkpoint_resumes_only_under_the_dtype_that_wrote_it(smollm2_manifest, dataset, tmp_path, monkeypatch):
    """``dtype: auto`` resolves per machine: a bf16 machine must not resume an fp32 machine's passages."""
    calls = []
    auto = {**SETTINGS, "dtype": "auto"}
    outputs = artifacts.paths_in(tmp_path)
    monkeypatch.setattr(passage, "answer_passage", crash_on_second(calls))
    monkeypatch.setenv(inference.AUTO_DTYPE_ENV, "float32")
    with pytest.raises(KeyboardInterrupt):
        inference.run(str(smollm2_manifest), str(dataset), "agnostic", PRESSES, [0.0, 0.5], auto, outputs)
    assert calls == ["knowledge_manipulation-0000", "knowledge_manipulation-0001"]

    for resolved, first in [("bfloat16", "knowledge_manipulation-0000"), ("float32", "knowledge_manipulation-0001")]:
        calls.clear()
        monkeypatch.setenv(inference.AUTO_DTYPE_ENV, resolved)
        monkeypatch.setattr(passage, "answer_passage", lambda *a: (calls.append(a[2]["passage_id"]), 1 / 0))
        with pytest.raises(ZeroDivisionError):
            inference.run(str(smollm2_manifest), str(dataset), "agnostic", PRESSES, [0.0, 0.5], auto, outputs)
        assert calls == [first], resolved  # bf16 starts afresh; fp32 resumes after its finished passage


def test_predictions_record_the_dtype_that_answered_them(clean_run):
    assert set(pd.read_parquet(clean_run["predictions"])["dtype"]) == {SETTINGS["dtype"]}


def test_shards_merge_to_the_whole(smollm2_manifest, dataset, tmp_path, clean_run):
    first = run(smollm2_manifest, dataset, tmp_path / "a", passages="0-1")
    second = run(smollm2_manifest, dataset, tmp_path / "b", passages="1-2")
    merged = artifacts.paths_in(tmp_path / "all")
    artifacts.merge([first, second], merged)
    pd.testing.assert_frame_equal(pd.read_parquet(merged["predictions"]), pd.read_parquet(clean_run["predictions"]))
    with np.load(merged["routing"]) as a, np.load(clean_run["routing"]) as b:
        assert np.array_equal(a["argmax"], b["argmax"])


def test_bad_passage_range_is_refused(smollm2_manifest, dataset, tmp_path):
    with pytest.raises(ValueError, match="outside the dataset's 2 passages"):
        run(smollm2_manifest, dataset, tmp_path, passages="1-5")


def test_answers_do_not_depend_on_how_rows_are_batched(smollm2):
    """One row per batch is stock-exact; batching questions across presses and ratios must not change fp32 output."""
    import torch

    model, tokenizer = smollm2
    record = {**generate("knowledge_manipulation", 1, 5)[0], "dataset": "knowledge_manipulation"}
    runs = {size: passage.answer_passage(model, tokenizer, record, "aware", PRESSES, [0.0, 0.8], 4, size,
                                           [15, 30], reach_threshold=0.02)
            for size in (1, 7, 64)}
    assert runs[64].counters["decode_steps"] < runs[1].counters["decode_steps"]
    texts = {size: [r["prediction"] for r in out.rows] for size, out in runs.items()}
    assert texts[1] == texts[7] == texts[64]
    arrays = {size: {k: np.stack(v) for k, v in out.arrays.items()} for size, out in runs.items()}
    for size in (7, 64):
        for name in ("argmax", "argmax_content"):
            assert np.array_equal(arrays[size][name], arrays[1][name]), name
        # Hidden states are floats from matmuls whose kernels depend on the batch shape: equal to rounding.
        for name in ("states", "question_only"):
            assert np.allclose(arrays[size][name].astype(np.float32), arrays[1][name].astype(np.float32),
                               rtol=1e-2, atol=1e-2), name
        for name in ("reachable_def2", "reachable_prefill"):
            assert np.array_equal(arrays[size][name], arrays[1][name], equal_nan=True)
        assert torch.allclose(torch.tensor(arrays[size]["answer_mass"]).float(),
                              torch.tensor(arrays[1]["answer_mass"]).float(), atol=2e-3)


def test_rows_are_batched_in_order_by_question_length_then_longer_cache_first():
    import torch

    from kvroute.inference import engine

    def cell(*lengths):
        keys = [torch.zeros(1, 2, n, 4) for n in lengths]
        return engine.Cell("p", 0.5, keys, keys, [None] * len(lengths), [], [])

    # A ragged cache (layers of 5 and 3 slots) sorts by its longest layer, the length it is evened to.
    cells = [cell(4, 4), cell(5, 3), cell(3, 3)]
    order = batching.row_order(cells, [9, 4])
    assert order == [(1, 1), (0, 1), (2, 1), (1, 0), (0, 0), (2, 0)]
    assert batching.batches([cells[c] for c, _ in order], 4) == [[0, 1, 2, 3], [4, 5]]
