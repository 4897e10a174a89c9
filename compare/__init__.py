"""Reconcile theory with simulation: one experiment driver, the registry, tidy tables, plots and the CLI.

Attribute access is lazy so that ``regimes theory`` never imports torch or matplotlib.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "DEFAULT_EXPERIMENT": "registry",
    "EXPERIMENTS": "registry",
    "ExperimentSpec": "registry",
    "get_experiment": "registry",
    "ComparisonRow": "table",
    "make_table": "table",
    "write_table": "table",
    "Experiment": "driver",
    "Stage": "driver",
    "StageContext": "driver",
    "Reconciliation": "driver",
    "ExperimentResult": "driver",
    "SimulationResult": "driver",
    "run": "driver",
    "simulate": "driver",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'compare' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
