"""Reconcile theory with simulation: experiment registry, tidy tables, plots and the CLI."""

from .registry import DEFAULT_EXPERIMENT, EXPERIMENTS, Experiment, get_experiment
from .table import ComparisonRow, make_table, write_table

__all__ = ["DEFAULT_EXPERIMENT", "EXPERIMENTS", "ComparisonRow", "Experiment", "get_experiment", "make_table", "write_table"]
