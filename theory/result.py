"""The result object every solver returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["SolverResult"]


@dataclass(frozen=True)
class SolverResult:
    """Outcome of a root solve or closed-form evaluation.

    Attributes
    ----------
    value : float, numpy.ndarray or mpmath.mpf
        The solution (same shape as the broadcast inputs on the float64 path; an ``mpf`` or an
        object array of ``mpf`` on the mpmath path).
    converged : bool or numpy.ndarray of bool
        Whether the tolerance was met (always True for a closed form).
    iterations : int or numpy.ndarray of int
        Iterations used (0 for a closed form).
    residual : float, numpy.ndarray or mpmath.mpf
        The defining function evaluated at ``value``.
    method : str
        Name of the algorithm, e.g. ``"chandrupatla-float64"`` or ``"illinois-mpmath(dps=30)"``.
    """

    value: Any
    converged: Any
    iterations: Any
    residual: Any
    method: str

    def __float__(self) -> float:
        return float(self.value)

    @property
    def all_converged(self) -> bool:
        return bool(np.all(self.converged))
