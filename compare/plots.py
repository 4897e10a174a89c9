"""Figures built on ``matplotlib.figure.Figure`` (no pyplot, no global style state)."""

from __future__ import annotations

import io
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure

from .io import atomic_write_bytes
from .style import STYLE, FigureStyle, styled  # noqa: F401 - re-exported

__all__ = ["new_figure", "new_panels", "save_figure", "error_bars", "figure_format", "figure_problems", "FIGURE_FORMATS",
           "FigureStyle", "STYLE", "styled"]


THEORY_COLOR = STYLE.theory
MEASURED_COLOR = STYLE.measured
ALT_COLOR = STYLE.alternative


def new_figure(width="page", height: float | None = None):
    """A ``Figure`` with one gridded axes, drawn by the Agg canvas (no pyplot state): ``(fig, ax)``.
    ``width``: ``"page"`` (default), ``"column"`` or inches; ``height`` defaults to the style's aspect."""
    w = STYLE.width(width)
    fig = Figure(figsize=(w, STYLE.aspect * w if height is None else height), dpi=STYLE.dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.grid(True, alpha=0.3)
    return fig, ax


def new_panels(rows: int, cols: int, *, width="page", panel_aspect: float = 0.75, **subplots):
    """A page-wide (or ``width``) ``Figure`` with a ``rows x cols`` grid of gridded axes, each panel
    ``panel_aspect`` as high as it is wide: ``(fig, axes)`` with ``axes`` a 2-D array.
    ``subplots`` go to ``Figure.subplots`` (``sharex=``, ...)."""
    w = STYLE.width(width)
    fig = Figure(figsize=(w, rows * panel_aspect * w / cols), dpi=STYLE.dpi, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False, **subplots)
    for ax in axes.ravel():
        ax.grid(True, alpha=0.3)
    return fig, axes


def error_bars(value, low, high):
    """``[value - low, high - value]`` for matplotlib, clipped at 0 (an interval can end a rounding
    error inside its estimate, e.g. a Wilson interval at a proportion of exactly 1) and NaN -> 0."""
    import numpy as np

    value, low, high = (np.asarray(v, dtype=float) for v in (value, low, high))
    return np.nan_to_num(np.clip([value - low, high - value], 0.0, None))


#: Figure file formats, by suffix: PNG for the screen, PDF and SVG (vector) for papers.
FIGURE_FORMATS = ("png", "pdf", "svg")


def figure_format(path: str | Path) -> str:
    """The format a figure path asks for (its suffix); a ``ValueError`` naming the allowed ones."""
    from theory.validation import InputError

    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FIGURE_FORMATS:
        raise InputError(f"plot file must end in {', '.join('.' + f for f in FIGURE_FORMATS)}, got {str(path)!r}")
    return suffix


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Render ``fig`` in the format its suffix names (PNG, PDF or SVG) and write it atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format=figure_format(path), dpi=STYLE.dpi)
    return atomic_write_bytes(path, buf.getvalue())


def figure_problems(fig: Figure) -> list[str]:
    """What a referee would flag that can be checked automatically: an axes without x or y label,
    a figure without any title, non-finite axis limits, drawn data outside the limits, several
    labelled artists without a legend. Empty when none."""
    import numpy as np

    problems = []
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    if not (fig._suptitle is not None and fig._suptitle.get_text()) and not any(ax.get_title() for ax in axes):
        problems.append("no title")
    for k, ax in enumerate(axes):
        if not ax.has_data():
            continue
        name = ax.get_title() or f"axes {k}"
        # a twin axes shares the other coordinate's label with its sibling
        xlabel = any(a.get_xlabel() for a in ax.get_shared_x_axes().get_siblings(ax))
        ylabel = any(a.get_ylabel() for a in ax.get_shared_y_axes().get_siblings(ax))
        if not xlabel or not ylabel:
            problems.append(f"{name}: missing axis label")
        limits = np.array([*ax.get_xlim(), *ax.get_ylim()], dtype=float)
        if not np.all(np.isfinite(limits)):
            problems.append(f"{name}: non-finite axis limits")
            continue
        x0, x1 = sorted(ax.get_xlim())
        y0, y1 = sorted(ax.get_ylim())
        for line in ax.get_lines():
            if line.get_transform() != ax.transData:  # axvline / axhline: one coordinate in axes units
                continue
            xs, ys = (np.asarray(v, dtype=float) for v in line.get_data())
            ok = np.isfinite(xs) & np.isfinite(ys)
            if ok.any() and (xs[ok].min() < x0 - 1e-9 * abs(x0) or xs[ok].max() > x1 + 1e-9 * abs(x1)
                             or ys[ok].min() < y0 - 1e-9 * abs(y0) or ys[ok].max() > y1 + 1e-9 * abs(y1)):
                if not line.get_label().startswith("_"):
                    problems.append(f"{name}: '{line.get_label()}' extends outside the axis limits")
        labelled = [h for h in ax.get_lines() + ax.collections + ax.containers
                    if not str(getattr(h, "get_label", lambda: "_")()).startswith("_")]
        if len(labelled) > 1 and ax.get_legend() is None and not fig.legends:
            problems.append(f"{name}: {len(labelled)} labelled series without a legend")
        # the level may be stated once for the panel: in its title, its axis label or the figure's title
        shared = " ".join([ax.get_title(), ax.get_ylabel(), ax.get_xlabel(),
                           fig._suptitle.get_text() if fig._suptitle is not None else ""])
        for bars in ax.containers:
            label = str(bars.get_label())
            if isinstance(bars, ErrorbarContainer) and not label.startswith("_") and not _states_level(label + shared):
                problems.append(f"{name}: error bars '{label}' do not state their level")
    problems += _text_outside(fig)
    return problems


#: Words by which a legend entry states what its error bars or band are.
_LEVEL_WORDS = ("%", "s.e.", "interval", "CI", "band")


def _states_level(label: str) -> bool:
    return any(word in label for word in _LEVEL_WORDS)


def _text_outside(fig: Figure) -> list[str]:
    """Titles and legends cut off by the figure's edge (drawn once to measure them)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    texts = [("suptitle", fig._suptitle)] if fig._suptitle is not None else []
    for ax in fig.axes:
        if ax.get_visible():
            texts += [(f"title {ax.get_title()!r}", ax.title)]
            if ax.get_legend() is not None:
                texts.append((f"legend of {ax.get_title()!r}", ax.get_legend()))
    texts += [("figure legend", legend) for legend in fig.legends]
    out = []
    for what, artist in texts:
        if not artist.get_visible() or (hasattr(artist, "get_text") and not artist.get_text()):
            continue
        box = artist.get_window_extent(renderer)
        if box.x0 < -1 or box.x1 > width + 1 or box.y0 < -1 or box.y1 > height + 1:
            out.append(f"{what} is cut off by the figure's edge")
    return out
