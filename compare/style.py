"""The one figure style of the tool (:class:`FigureStyle`, :data:`STYLE`) and the decorator that
applies it. No matplotlib import at module level: the CLI and the scaling module import it at
start-up for free."""

from __future__ import annotations

import dataclasses
import functools

__all__ = ["FigureStyle", "STYLE", "styled"]


@dataclasses.dataclass(frozen=True)
class FigureStyle:
    """The one figure style of the tool: widths that fit a paper, fonts legible at those widths, a
    colour-blind-safe palette (Okabe and Ito), mathtext for symbols. Applied through
    :meth:`context` (a ``matplotlib.rc_context``: nothing global is changed), which the experiment
    driver wraps around every experiment's ``figures``; ``dpi`` is the PNG resolution."""

    column_width: float = 3.4   # inches: one column of a two-column paper
    page_width: float = 7.0     # inches: the full text width
    aspect: float = 0.62        # height / width of a one-panel figure
    font_size: float = 9.0
    small_font_size: float = 7.5  # legends and tick labels
    dpi: int = 160
    #: Okabe-Ito: theory, measured, alternative, then further series
    palette: tuple = ("#0072B2", "#D55E00", "#6E6E6E", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442")

    @property
    def theory(self) -> str:
        """Colour of theory curves and lines."""
        return self.palette[0]

    @property
    def measured(self) -> str:
        """Colour of measurements (points with their intervals)."""
        return self.palette[1]

    @property
    def alternative(self) -> str:
        """Colour of a second measured or reference series."""
        return self.palette[2]

    @property
    def series(self) -> tuple:
        """Colours for series of equal standing (blocks, sizes): the palette without its grey."""
        return tuple(c for c in self.palette if c != self.alternative)

    def width(self, width) -> float:
        """``"column"``, ``"page"`` or a width in inches."""
        return {"column": self.column_width, "page": self.page_width}.get(width, width)

    def rc(self) -> dict:
        """The matplotlib settings of the style."""
        from cycler import cycler

        return {"font.size": self.font_size, "axes.titlesize": self.font_size, "axes.labelsize": self.font_size,
                "legend.fontsize": self.small_font_size, "xtick.labelsize": self.small_font_size,
                "ytick.labelsize": self.small_font_size, "figure.titlesize": self.font_size + 1,
                "axes.prop_cycle": cycler(color=list(self.palette[3:]) + list(self.palette[:3])),
                "mathtext.fontset": "dejavusans", "legend.framealpha": 0.85, "savefig.dpi": self.dpi}

    def context(self):
        """``with STYLE.context():`` figures drawn inside use the style (nothing global changes)."""
        import matplotlib

        return matplotlib.rc_context(self.rc())


STYLE = FigureStyle()


def styled(func):
    """Decorator: ``func`` draws its figures inside :meth:`FigureStyle.context` of :data:`STYLE`."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with STYLE.context():
            return func(*args, **kwargs)

    return wrapper
