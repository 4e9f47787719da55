import numpy as np
import pandas as pd
import pytest

from kvroute import tables
from kvroute.metrics.answers import answer_breakdown


def _stats():
    return pd.DataFrame(dict(dataset=["base", "knowledge_manipulation"], passages=[5, 2], queries=[30, 26],
                             words_per_passage_mean=[176.6, 29.0], words_per_passage_std=[10.59, 1.0],
                             queries_per_passage_mean=[6.0, 13.0]))


def _answers(ratios=(0.0, 0.5), presses=("adakv_ea", "chunk_ea")):
    rows = []
    for model in ("org/m-a", "m_b"):
        for dataset in ("base", "knowledge_manipulation"):
            for regime in ("agnostic", "aware"):
                for press in presses:
                    for r in ratios:
                        for q in range(4):
                            # ratio 0: 3 of 4 right everywhere; higher ratios: chunk loses one more
                            good = q < 3 - (r > 0) - (r > 0 and press == "chunk_ea")
                            rows.append(dict(model=model, dataset=dataset, regime=regime, press=press, ratio=r,
                                             passage_id="p", qid=f"q{q}",
                                             error_class="correct" if good else "hallucination",
                                             f1=1.0 if good else 0.0, recall=1.0 if good else 0.0))
    scores = pd.DataFrame(rows)
    scores["error_class"] = scores["error_class"].astype("string")
    return answer_breakdown(scores)


def test_table1_formats_and_latex_escapes():
    t1 = tables.table1(_stats())
    assert list(t1.columns) == ["dataset", "passages", "queries", "words / passage", "queries / passage"]
    assert t1.loc[0, "words / passage"] == "176.6 ± 10.6"
    tex = tables.to_latex(t1, "Datasets.", "tab:datasets", float_format="%.1f")
    assert r"knowledge\_manipulation" in tex and r"176.6 $\pm$ 10.6" in tex
    assert r"\toprule" in tex and r"\label{tab:datasets}" in tex and r"\caption{Datasets.}" in tex
    assert "±" not in tex


def test_table2_ratio0_and_mean():
    t2 = tables.table2(_answers())
    assert list(t2.columns) == ["model", "regime", "base", "knowledge_manipulation"]
    assert len(t2) == 4 and np.allclose(t2[["base", "knowledge_manipulation"]], 0.75)
    mean = tables.table2(_answers(), agg="mean")
    assert list(mean.columns[:3]) == ["model", "regime", "press"] and len(mean) == 8
    chunk = mean[mean["press"] == "chunk_ea"]["base"]
    ada = mean[mean["press"] == "adakv_ea"]["base"]
    assert np.allclose(ada, (0.75 + 0.5) / 2) and np.allclose(chunk, (0.75 + 0.25) / 2)
    tex = tables.to_latex(t2, "F1.", "tab:f1")
    assert "0.750" in tex and r"org/m-a" in tex and r"m\_b" in tex


def test_table2_hallucination_has_h_cond_next_to_it():
    mean = tables.table2(_answers(), agg="mean", metric="hallucination_rate")
    assert list(mean.columns) == ["model", "regime", "press", "base", "base (H_cond)", "knowledge_manipulation",
                                  "knowledge_manipulation (H_cond)"]
    chunk = mean[mean["press"] == "chunk_ea"].iloc[0]
    ada = mean[mean["press"] == "adakv_ea"].iloc[0]
    # H: 1/4 at ratio 0 for both; at 0.5 adakv 2/4, chunk 3/4. H_cond (q0-q2 correct at 0): 0, then 1/3 and 2/3
    assert ada["base"] == pytest.approx(3 / 8) and chunk["base"] == pytest.approx(1 / 2)
    assert ada["base (H_cond)"] == pytest.approx(1 / 6) and chunk["base (H_cond)"] == pytest.approx(1 / 3)
    # at ratio 0 alone H_cond is 0 by construction: not shown
    assert list(tables.table2(_answers(), metric="hallucination_rate").columns) == [
        "model", "regime", "base", "knowledge_manipulation"]
    assert tables.table2(_answers(), agg="mean", metric="hallucination_cond_rate")["base"].max() == pytest.approx(1 / 3)


def test_write_tables_csv_and_tex(tmp_path):
    paths = [tmp_path / n for n in ("t1.csv", "t1.tex", "t2.csv", "t2.tex")]
    tables.write_tables(_stats(), _answers(), *paths)
    assert pd.read_csv(paths[0])["queries"].tolist() == [30, 26]
    assert pd.read_csv(paths[2]).shape == (4, 4)
    assert "compression ratio 0" in paths[3].read_text() and r"\begin{tabular}" in paths[1].read_text()


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match="words_per_passage_std"):
        tables.table1(_stats().drop(columns="words_per_passage_std"))
    with pytest.raises(ValueError, match="twice"):
        tables.table1(pd.concat([_stats(), _stats()]))
    with pytest.raises(ValueError, match="agg must be"):
        tables.table2(_answers(), agg="median")
    with pytest.raises(ValueError, match="no ratio 0"):
        tables.table2(_answers(ratios=(0.5, 0.9)))
    with pytest.raises(ValueError, match="metric must be"):
        tables.table2(_answers(), metric="bleu")
    with pytest.raises(ValueError, match="is empty"):
        tables.table2(_answers().iloc[:0])
