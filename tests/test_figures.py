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
