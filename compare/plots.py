"""Figures built on ``matplotlib.figure.Figure`` (no pyplot, no global style state)."""

from __future__ import annotations

import io
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .io import atomic_write_bytes

__all__ = ["new_figure", "save_figure", "error_bars"]

THEORY_COLOR = "#1f4e79"
MEASURED_COLOR = "#c0392b"
ALT_COLOR = "#7f8c8d"


def new_figure(width: float = 5.5, height: float = 3.8):
    """A ``Figure`` with one gridded axes, drawn by the Agg canvas (no pyplot state): ``(fig, ax)``."""
    fig = Figure(figsize=(width, height), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.grid(True, alpha=0.3)
    return fig, ax


def error_bars(value, low, high):
    """``[value - low, high - value]`` for matplotlib, clipped at 0 (an interval can end a rounding
    error inside its estimate, e.g. a Wilson interval at a proportion of exactly 1) and NaN -> 0."""
    import numpy as np

    value, low, high = (np.asarray(v, dtype=float) for v in (value, low, high))
    return np.nan_to_num(np.clip([value - low, high - value], 0.0, None))


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Render ``fig`` as PNG and write it atomically to ``path``."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return atomic_write_bytes(path, buf.getvalue())
