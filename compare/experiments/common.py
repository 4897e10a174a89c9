"""What every experiment shares: the result object, the cached stage loop and the output files."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from ..io import atomic_write_text, cached_stage
from ..plots import save_figure
from ..table import write_table

__all__ = ["ExperimentResult", "check_stages", "run_stages", "summary_line", "table_writer", "write_outputs"]


@dataclass
class ExperimentResult:
    """``table`` (tidy DataFrame), ``theory`` (JSON-ready predictions), ``figures`` (name ->
    matplotlib Figure), ``raw`` (stage -> arrays), ``timings`` (stage -> seconds) and ``cached``
    (stage -> loaded from ``OUT/raw`` instead of computed)."""

    name: str
    preset: dict
    table: pd.DataFrame
    theory: dict
    figures: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    cached: dict = field(default_factory=dict)


def summary_line(table: pd.DataFrame) -> str:
    return f"{int((table['agrees'] == 'yes').sum())}/{len(table)} rows agree"


def check_stages(stages, allowed) -> None:
    unknown = set(stages) - set(allowed)
    if unknown:
        raise ValueError(f"stages must be among {tuple(allowed)}, got {sorted(unknown)}")


def run_stages(out, jobs: dict[str, tuple[dict, Callable[[], dict]]], *, resume: bool, log=None):
    """Run ``jobs`` (key -> (configuration, compute)) in order, each cached under ``OUT/raw`` by
    its configuration. Returns ``(raw, timings, cached, paths)`` keyed like ``jobs``."""
    log = log or (lambda msg: None)
    raw, timings, cached, paths = {}, {}, {}, {}
    for key, (config, compute) in jobs.items():
        log(f"{key} ...")
        t0 = time.perf_counter()
        raw[key], cached[key], paths[key] = cached_stage(out, key, config, compute, resume=resume)
        timings[key] = time.perf_counter() - t0
    return raw, timings, cached, paths


def table_writer(to_markdown: Callable[[pd.DataFrame], str]) -> Callable:
    """A writer of ``table.{csv,md,tex}`` for experiments whose table has its own columns."""

    def write(table: pd.DataFrame, out) -> None:
        out = Path(out)
        atomic_write_text(out / "table.csv", table.to_csv(index=False))
        atomic_write_text(out / "table.md", to_markdown(table) + "\n")
        atomic_write_text(out / "table.tex", table.to_latex(index=False, float_format="%.4g"))

    return write


def write_outputs(out, result: ExperimentResult, *, writer: Callable = write_table) -> None:
    """``table.{csv,md,tex}``, ``theory.json``, ``preset.json`` and one PNG per figure, atomically."""
    out = Path(out)
    writer(result.table, out)
    atomic_write_text(out / "theory.json", json.dumps(result.theory, indent=2, default=float))
    atomic_write_text(out / "preset.json", json.dumps(result.preset, indent=2))
    for name, fig in result.figures.items():
        save_figure(fig, out / f"{name}.png")
