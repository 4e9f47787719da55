import pandas as pd
import pytest

from kvroute.figures.safety_cliff import plot_safety_cliff
from kvroute.figures.style import FALLBACK_COLORS, PRESS_COLORS, press_color, regime_linestyle, save_figure
from kvroute.stats import cliff_location, rate_curves, susceptibility


def _scores(models=("org/model-a",), presses=("adakv_ea",), ratios=(0.0, 0.9)):
    rows = []
    for m in models:
        for press in presses:
            for regime in ("agnostic", "aware"):
                for p in range(3):
                    for r in ratios:
                        for q in range(4):
                            bad = r >= 0.9 and q < 3 - (p == 0)
                            rows.append(dict(model=m, press=press, regime=regime, ratio=r, passage_id=f"p{p}",
                                             error_class="hallucination" if bad else ("unknown" if q == 3 else "correct"),
                                             f1=0.0 if bad else 1.0))
    return pd.DataFrame(rows)


def _plot(scores, out):
    return plot_safety_cliff(rate_curves(scores, n_boot=50), susceptibility(scores, n_boot=50),
                             cliff_location(scores, n_boot=50), out)


def _assert_written(pdf, png):
    assert pdf.read_bytes()[:4] == b"%PDF" and pdf.stat().st_size > 1000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    assert sorted(p.name for p in pdf.parent.iterdir()) == sorted([pdf.name, png.name])  # no temp files left


def test_minimal_input_one_model_one_press_two_ratios(tmp_path):
    pdf, png = _plot(_scores(), tmp_path / "cliff.pdf")
    assert pdf == tmp_path / "cliff.pdf" and png == tmp_path / "cliff.png"
    _assert_written(pdf, png)


def test_several_models_presses_and_unknown_press(tmp_path):
    s = _scores(models=("org/model-a", "model-b"), presses=("adakv_ea", "chunk_ea", "snapkv"),
                ratios=(0.0, 0.5, 0.8, 0.9, 0.95))
    _assert_written(*_plot(s, tmp_path / "sub" / "cliff.pdf"))


def test_rejects_missing_columns_and_ambiguous_curves(tmp_path):
    s = _scores()
    curves, chi, cl = rate_curves(s, n_boot=10), susceptibility(s, n_boot=10), cliff_location(s, n_boot=10)
    with pytest.raises(ValueError, match="unknown_rate"):
        plot_safety_cliff(curves.drop(columns="unknown_rate"), chi, cl, tmp_path / "x.pdf")
    two_datasets = pd.concat([curves.assign(dataset="a"), curves.assign(dataset="b")])
    with pytest.raises(ValueError, match="one dataset"):
        plot_safety_cliff(two_datasets, chi, cl, tmp_path / "x.pdf")
    assert not list(tmp_path.iterdir())


def test_safety_cliff_draws_h_cond_and_refuses_curves_without_it(tmp_path):
    from kvroute.figures.safety_cliff import COND_LABEL, _legend_groups

    rows = _scores(ratios=(0.0, 0.5, 0.9))
    rows["qid"] = rows.groupby(["regime", "ratio"]).cumcount().astype(str)  # items, so H_cond exists
    curves = rate_curves(rows, n_boot=20)
    assert curves["hallucination_cond_rate"].notna().all()
    labels = lambda c: [h.get_label() for g in _legend_groups(c) for h in g]  # noqa: E731
    assert COND_LABEL == "H_cond (correct at α=0)" and COND_LABEL in labels(curves)
    chi, cl = susceptibility(rows, n_boot=20), cliff_location(rows, n_boot=20)
    _assert_written(*plot_safety_cliff(curves, chi, cl, tmp_path / "new.pdf"))
    old = curves.drop(columns=[c for c in curves if "cond" in c])
    with pytest.raises(ValueError, match="hallucination_cond_rate"):
        plot_safety_cliff(old, chi, cl, tmp_path / "old" / "old.pdf")


def test_style_colours_and_linestyles():
    assert press_color("adakv_ea") != press_color("chunk_ea")
    assert press_color("adakv_ea") == PRESS_COLORS["adakv_ea"]
    # fallback is stable (hash, not order of appearance) and from the cycle
    assert press_color("snapkv") == press_color("snapkv") in FALLBACK_COLORS
    assert regime_linestyle("agnostic") == "-" and regime_linestyle("aware") == "--"


def test_save_figure_replaces_existing_file(tmp_path):
    import matplotlib.pyplot as plt

    target = tmp_path / "f.pdf"
    target.write_bytes(b"old")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    save_figure(fig, target)
    plt.close(fig)
    _assert_written(target, tmp_path / "f.png")


# ---------------------------------------------------------------------------
# Every other figure family, from small constructed tables (CI has no results/).

import numpy as np  # noqa: E402

from kvroute.figures import errors, erasure, eviction_maps, ger, performance, probing, routing, tags  # noqa: E402
from kvroute.figures.safety_cliff import pool_ger  # noqa: E402
from kvroute.inference.ledger import pack  # noqa: E402
from kvroute.stats import erasure_table  # noqa: E402
from kvroute.metrics.answers import answer_breakdown  # noqa: E402

FULL = dict(models=("org/model-a", "model-b"), datasets=("base", "hops"), presses=("adakv_ea", "chunk_ea"),
            regimes=("agnostic", "aware"), ratios=(0.0, 0.3, 0.6, 0.9))
MINIMAL = dict(models=("m",), datasets=("base",), presses=("adakv_ea",), regimes=("agnostic",), ratios=(0.0, 0.9))
GRIDS = pytest.mark.parametrize("grid", [MINIMAL, FULL], ids=["minimal", "full"])


def _questions(models, datasets, presses, regimes, ratios, passages=3, per=4):
    """One row per answer with every column the metric tables carry."""
    rng = np.random.default_rng(0)
    rows = []
    for m in models:
        for d in datasets:
            for g in regimes:
                for p in presses:
                    for r in ratios:
                        for i in range(passages):
                            for q in range(per):
                                ger_q = float(min(1.0, max(0.0, r ** 3 + rng.normal(0, 0.05))))
                                bad = rng.random() < 0.2 + 0.7 * r
                                cls = "hallucination" if bad else ("unknown" if q == 3 and r > 0.5 else "correct")
                                rows.append(dict(
                                    model=m, dataset=d, regime=g, press=p, ratio=r, passage_id=f"{d}-{i}",
                                    qid=f"{d}-{i}-q{q}", error_class=cls, f1=0.0 if bad else 1.0,
                                    recall=0.0 if bad else 1.0, answer_type=["Person", "Location"][q % 2],
                                    question_type=["Standard", "Manipulated"][q // 2 % 2],
                                    direction=["FWD", "REV"][q % 2], hop=(q % 2 + 1) if d == "hops" else None,
                                    ger=ger_q, erased=float(ger_q > 0.5), evidence_positions=[2 + q, 3 + q]))
    df = pd.DataFrame(rows)
    df["hop"] = df["hop"].astype("Int64")
    df["error_class"] = df["error_class"].astype("string")
    return df


def _answers(grid):
    return answer_breakdown(_questions(**grid))


def _eviction(grid):
    q = _questions(**grid)
    out = q.groupby(["model", "dataset", "regime", "press", "ratio"], as_index=False).agg(
        n=("ger", "size"), ger=("ger", "mean"))
    out["n_with_evidence"] = out["n"]
    out["eviction_rate"] = out["ratio"] ** 2
    out["null_ger_indep"] = out["ratio"] ** 4
    out["null_ger_span"] = out["ratio"] ** 3
    return out


def _routing(grid, layers=4):
    rows = []
    for m in grid["models"]:
        for d in grid["datasets"]:
            for g in grid["regimes"]:
                for p in grid["presses"]:
                    for r in grid["ratios"]:
                        for layer in range(layers):
                            rows.append(dict(model=m, dataset=d, regime=g, press=p, ratio=r, layer=layer, n=6,
                                             consensus=0.3 + 0.1 * layer * (1 - r), rho=0.5 - 0.05 * layer,
                                             on_answer=0.1, answer_mass=0.05))
    return pd.DataFrame(rows)


def _ledger(grid, tokens=40, layers=3, heads=2):
    rng = np.random.default_rng(1)
    rows = []
    for m in grid["models"]:
        for p in grid["presses"]:
            for r in grid["ratios"]:
                for i in range(2):
                    kept = rng.random((layers, heads, tokens)) >= r
                    rows.append(dict(model=m, dataset="base", regime="agnostic", passage_id=f"base-{i}", press=p,
                                     ratio=r, **pack(kept)))
    return pd.DataFrame(rows)


def _probe(grid, layers=("6", "12", "pooled")):
    scores, tag_rows, drift = [], [], []
    for m in grid["models"]:
        for g in grid["regimes"]:
            for p in grid["presses"]:
                for r in grid["ratios"]:
                    for target, tags in (("answer_type", ("Person", "Location", "Event")),
                                         ("correct", ("correct", "incorrect"))):
                        for layer in layers:
                            key = dict(model=m, dataset="all", regime=g, press=p, target=target, layer=layer)
                            scores.append(dict(key, ratio=r, macro_f1=0.8 - 0.3 * r, control_macro_f1=0.3,
                                               majority_macro_f1=0.2, question_only_f1=0.6))
                            drift.append(dict(key, train_ratio=0.0, ratio=r, macro_f1=0.8 - 0.5 * r))
                            for t in tags:
                                tag_rows.append(dict(key, ratio=r, tag=t, f1=0.9 - 0.4 * r, support=5))
    return pd.DataFrame(scores), pd.DataFrame(tag_rows), pd.DataFrame(drift)


def _chi_cliff(grid):
    """Per dataset and pooled, as the stats rule writes them."""
    from kvroute.stats import cliff_location, per_dataset, susceptibility

    q = _questions(**grid)
    return tuple(per_dataset(f, q, ("model", "press", "regime"), n_boot=20) for f in (susceptibility, cliff_location))


def _verdict(grid):
    # One row per dataset and one pooled, as stats/ger_hallucination.csv; the figure reads the pooled rows.
    return pd.DataFrame([dict(model=m, dataset=d, regime=g, pearson_r=0.8 if d == "pooled" else 0.1, pearson_lo=0.5,
                              pearson_hi=0.9, item_ger_coef=1.2, item_ger_p=0.03, item_significant=True,
                              common_trend_only=False, item_note="" if d == "pooled" else "3 clusters for 9 parameters")
                         for m in grid["models"] for g in grid["regimes"] for d in (*grid["datasets"], "pooled")])


def _draw(name, grid, out):
    """Draw family `name` from inputs built for `grid`."""
    if name == "performance":
        return performance.plot_performance(_answers(grid), out)
    if name == "recall":
        return performance.plot_performance(_answers(grid), out, metric="recall_mean")
    if name == "h_cond":
        return performance.plot_performance(_answers(grid), out, metric="hallucination_cond_rate")
    if name == "direction":
        return performance.plot_direction(_answers(grid), out)
    if name == "tags":
        return tags.plot_tags(_answers(grid), out, dataset="base", tag_kind="answer_type")
    if name == "error_rates":
        return errors.plot_error_rates(_answers(grid), out)
    if name == "eviction_rates":
        return errors.plot_eviction_rates(_eviction(grid), out)
    if name == "susceptibility":
        return errors.plot_susceptibility(*_chi_cliff(grid), out)
    if name == "routing":
        return routing.plot_consensus(_routing(grid), out)
    if name == "eviction_maps":
        return eviction_maps.plot_eviction_maps(_ledger(grid), _questions(**grid), out)
    if name == "ger":
        return ger.plot_ger_hallucination(ger.ger_cells(_questions(**grid)), _verdict(grid), out)
    if name == "probe_tags":
        scores, tag_rows, _ = _probe(grid)
        return probing.plot_probe_tags(tag_rows, scores, out)
    if name == "probe_drift":
        scores, _, drift = _probe(grid)
        return probing.plot_probe_drift(drift, out, scores=scores)
    if name == "erasure":
        from kvroute.stats import per_dataset

        cells = ("model", "regime", "press", "ratio")
        return erasure.plot_erasure(per_dataset(erasure_table, _questions(**grid), cells), out)
    if name == "reachability":
        curves = rate_curves(_questions(**grid), n_boot=10).rename(columns={"correct_rate": "reachable_rate"})
        return erasure.plot_reachability(curves, out)
    raise AssertionError(name)


FAMILIES = ["performance", "recall", "h_cond", "direction", "tags", "error_rates", "eviction_rates", "susceptibility",
            "routing", "eviction_maps", "ger", "probe_tags", "probe_drift", "erasure", "reachability"]


@GRIDS
@pytest.mark.parametrize("name", FAMILIES)
def test_family_writes_pdf_and_png(tmp_path, name, grid):
    pdf, png = _draw(name, grid, tmp_path / f"{name}.pdf")
    assert (pdf, png) == (tmp_path / f"{name}.pdf", tmp_path / f"{name}.png")
    _assert_written(pdf, png)


@GRIDS
def test_hops_figure_and_safety_cliff_with_ger_and_breakpoint(tmp_path, grid):
    from kvroute.stats import breakpoint_test, per_dataset

    answers = _answers(grid)
    if "hops" in grid["datasets"]:
        _assert_written(*performance.plot_hops(answers, tmp_path / "h" / "hops.pdf"))
    else:
        with pytest.raises(ValueError, match="no hop tags"):
            performance.plot_hops(answers, tmp_path / "h" / "hops.pdf")
    q = _questions(**grid)
    chi, cl = _chi_cliff(grid)
    out = tmp_path / "c" / "cliff.pdf"
    keys = ("model", "press", "regime")
    _assert_written(*plot_safety_cliff(per_dataset(rate_curves, q, keys, n_boot=20), chi, cl, out,
                                       eviction=_eviction(grid),
                                       breakpoint=per_dataset(breakpoint_test, q, keys, n_boot=20)))
    assert not pool_ger(_eviction(grid)).duplicated(["model", "press", "regime", "ratio"]).any()


def test_nearest_grid_ratios_and_pooling():
    from kvroute.figures.common import nearest, pool

    assert nearest([0.0, 0.1, 0.2, 0.5, 0.9, 0.95], [0.1, 0.5, 0.9]) == [0.1, 0.5, 0.9]
    assert nearest([0.3, 0.8], [0.1, 0.5, 0.9]) == [0.3, 0.8]  # no repeats
    df = pd.DataFrame(dict(k=["a", "a"], v=[0.0, 1.0], n=[1, 3]))
    assert pool(df, ["k"], ["v"]).loc[0, "v"] == 0.75


def test_bad_input_is_a_clear_value_error(tmp_path):
    out = tmp_path / "x.pdf"
    answers = _answers(MINIMAL)
    with pytest.raises(ValueError, match="f1_mean"):
        performance.plot_performance(answers.drop(columns="f1_mean"), out)
    with pytest.raises(ValueError, match="metric must be"):
        performance.plot_performance(answers, out, metric="bleu")
    with pytest.raises(ValueError, match="both forward"):
        performance.plot_direction(answers[answers["tag"] != "REV"], out)
    with pytest.raises(ValueError, match="tag_kind must be"):
        tags.plot_tags(answers, out, dataset="base", tag_kind="colour")
    with pytest.raises(ValueError, match="no answer_type tags for dataset 'nope'"):
        tags.plot_tags(answers, out, dataset="nope")
    with pytest.raises(ValueError, match="is empty"):
        errors.plot_error_rates(answers.iloc[:0], out)
    with pytest.raises(ValueError, match="must be a pandas DataFrame"):
        errors.plot_eviction_rates([1, 2], out)
    with pytest.raises(ValueError, match="targets"):
        routing.plot_consensus(_routing(MINIMAL), out, targets=(1.5,))
    with pytest.raises(ValueError, match="measure"):
        routing.plot_consensus(_routing(MINIMAL), out, measure="entropy")
    with pytest.raises(ValueError, match="not in the ledger"):
        eviction_maps.plot_eviction_maps(_ledger(MINIMAL), _questions(**MINIMAL), out, passage_id="zzz")
    with pytest.raises(ValueError, match="no question with evidence"):
        eviction_maps.plot_eviction_maps(_ledger(MINIMAL), _questions(**MINIMAL).assign(evidence_positions=None), out)
    cells = ger.ger_cells(_questions(**MINIMAL))
    with pytest.raises(ValueError, match="pool datasets first"):
        ger.plot_ger_hallucination(pd.concat([cells, cells]), None, out)
    scores, tag_rows, drift = _probe(MINIMAL)
    with pytest.raises(ValueError, match="layer 3 was not probed"):
        probing.plot_probe_tags(tag_rows, scores, out, layer=3)
    with pytest.raises(ValueError, match="no rows for dataset"):
        probing.plot_probe_drift(drift, out, dataset="base")
    with pytest.raises(ValueError, match="p_E_lo"):
        erasure.plot_erasure(erasure_table(_questions(**MINIMAL)).drop(columns="p_E_lo"), out)
    with pytest.raises(ValueError, match="no reachability column"):
        erasure.plot_reachability(rate_curves(_questions(**MINIMAL), n_boot=5), out)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_probe_figures_take_layers_as_written_to_csv(tmp_path):
    """Layers are text ("12", "pooled"); a CSV with integer layers only reads back as int."""
    def csv(df, name):
        df.to_csv(tmp_path / name, index=False)
        return pd.read_csv(tmp_path / name)

    scores, tag_rows, drift = (csv(df, f"{i}.csv") for i, df in enumerate(_probe(MINIMAL)))
    _assert_written(*probing.plot_probe_tags(tag_rows, scores, tmp_path / "pooled" / "t.pdf", layer="pooled"))
    _assert_written(*probing.plot_probe_drift(drift, tmp_path / "drift" / "d.pdf", scores=scores))
    numeric = [csv(df, f"n{i}.csv") for i, df in enumerate(_probe(MINIMAL, layers=(6, 12)))]
    assert numeric[0]["layer"].dtype.kind == "i"
    _assert_written(*probing.plot_probe_tags(numeric[1], numeric[0], tmp_path / "int" / "t.pdf", layer=12))
    with pytest.raises(ValueError, match="layer must be"):
        probing.plot_probe_tags(tag_rows, scores, tmp_path / "x.pdf", layer="middle")


def test_cli_draws_and_writes_placeholders(tmp_path):
    from kvroute.cli import main

    answers = tmp_path / "answers.csv"
    _answers(MINIMAL).to_csv(answers, index=False)
    main(["figure", "performance", "--answers", str(answers), "--metric", "recall",
          "--out", str(tmp_path / "f" / "perf.pdf")])
    _assert_written(tmp_path / "f" / "perf.pdf", tmp_path / "f" / "perf.png")
    with pytest.raises(SystemExit, match="no hop tags"):
        main(["figure", "hops", "--answers", str(answers), "--out", str(tmp_path / "h" / "hops.pdf")])
    main(["figure", "hops", "--answers", str(answers), "--placeholder-if-empty",
          "--out", str(tmp_path / "h" / "hops.pdf")])
    _assert_written(tmp_path / "h" / "hops.pdf", tmp_path / "h" / "hops.png")


def test_main_cli_routes_figure_commands():
    from kvroute.cli import figures as figure_cli
    from kvroute.cli import parser

    args = parser().parse_args(["figure", "routing", "--routing", "r.csv", "--targets", "0.2", "0.8", "--out", "x.pdf"])
    assert args.targets == [0.2, 0.8] and args.func is figure_cli.cmd_figure
    assert args.measure == "consensus"  # a per-figure option draws one value: the schema default's first
    args = parser().parse_args(["tables", "--dataset-stats", "d.csv", "--answers", "a.csv", "--table1-csv", "1.csv",
                                "--table1-tex", "1.tex", "--table2-csv", "2.csv", "--table2-tex", "2.tex"])
    assert (args.agg, args.metric) == ("ratio0", "f1")  # defaults from the schema's figures.table2
