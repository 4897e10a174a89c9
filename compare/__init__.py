"""Reconcile theory with simulation: one experiment driver, the registry, tidy tables, plots and the CLI.

Attribute access is lazy so that ``regimes theory`` never imports torch or matplotlib.
"""

from __future__ import annotations

from theory._lazy import lazy_exports

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
    "run_experiment": "driver",
    "simulate_experiment": "driver",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
