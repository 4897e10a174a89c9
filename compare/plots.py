"""Figures built on ``matplotlib.figure.Figure`` (no pyplot, no global style state)."""

from __future__ import annotations

import io
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .io import atomic_write_bytes

__all__ = ["new_figure", "save_figure"]

THEORY_COLOR = "#1f4e79"
MEASURED_COLOR = "#c0392b"
ALT_COLOR = "#7f8c8d"


def new_figure(width: float = 5.5, height: float = 3.8):
    fig = Figure(figsize=(width, height), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.grid(True, alpha=0.3)
    return fig, ax


def save_figure(fig: Figure, path: str | Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return atomic_write_bytes(path, buf.getvalue())
