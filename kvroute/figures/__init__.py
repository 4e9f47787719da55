"""Paper figures. All plots share kvroute.figures.style (colours, sizes, saving)."""

from kvroute.figures.style import save_figure, use_style

__all__ = ["save_figure", "use_style"]
