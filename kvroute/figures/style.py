"""One plotting style for every kvroute figure.

Colour encodes the press, line style the regime; sizes are set for a
two-column paper so fonts stay readable when the PDF is placed at 100%.
"""

from __future__ import annotations

import logging
import zlib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: figures are built on cluster nodes and in CI

import matplotlib.pyplot as plt  # noqa: E402

# Font subsetting while writing PDFs logs dozens of INFO lines per figure.
logging.getLogger("fontTools").setLevel(logging.WARNING)
from matplotlib.colors import to_rgb  # noqa: E402

from kvroute.io import write_figure  # noqa: E402

COLUMN_WIDTH = 3.3  # inches, one paper column
FULL_WIDTH = 6.9  # inches, both columns

# Okabe-Ito: distinguishable under the common colour-vision deficiencies.
PRESS_COLORS = {
    "adakv_ea": "#0072B2",  # blue
    "chunk_ea": "#D55E00",  # vermillion
}
FALLBACK_COLORS = ("#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")

REGIME_LINESTYLES = {"agnostic": "-", "aware": "--"}

RC = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "lines.linewidth": 1.2,
    "lines.markersize": 3.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "pdf.fonttype": 42,  # embed TrueType so text stays editable/searchable
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
}


def use_style() -> None:
    """Apply the kvroute rcParams to the current process."""
    plt.rcParams.update(RC)


def press_color(press: str) -> str:
    """Fixed colour per press; unknown presses hash into a fallback cycle.

    Hashing (not order of appearance) keeps a press's colour identical
    across figures that show different subsets of presses.
    """
    if press in PRESS_COLORS:
        return PRESS_COLORS[press]
    return FALLBACK_COLORS[zlib.crc32(str(press).encode()) % len(FALLBACK_COLORS)]


def regime_linestyle(regime: str) -> str:
    return REGIME_LINESTYLES.get(regime, ":")


def lighter(color: str, amount: float = 0.55) -> tuple[float, float, float]:
    """Blend a colour towards white (for secondary series such as 'unknown')."""
    r, g, b = to_rgb(color)
    return (r + (1 - r) * amount, g + (1 - g) * amount, b + (1 - b) * amount)


def save_figure(fig, path, png_dpi: int = 200) -> tuple[Path, Path]:
    """Write `fig` as PDF to `path` and as PNG next to it (same stem), atomically.

    Returns (pdf_path, png_path). The PNG is for the HTML/markdown report.
    """
    path = Path(path)
    png = path.with_suffix(".png")
    write_figure(fig, path, "pdf")
    write_figure(fig, png, "png", dpi=png_dpi)
    return path, png
