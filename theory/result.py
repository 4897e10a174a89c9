"""The result object every solver returns (modelled on scipy's ``RootResults``).

Every function or method that solves an equation returns a :class:`SolverResult`; so does every
``collapse_time`` (and ``onset_time``, ``basin``, ``cloning_time``, ``generalization``), closed
forms included, so that one name always has one type. Measured quantities in ``simulate`` have
their own names (``lock_in_time``, ``condensation_time``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

__all__ = ["SolverResult", "GeneralizationResult", "CONVERGED", "CLOSED_FORM", "MAX_ITERATIONS", "NO_BRACKET",
           "NON_FINITE", "RESIDUAL_TOO_LARGE", "STALLED", "NO_TRAP"]

#: ``flag`` values: why a solver stopped.
CONVERGED = "converged"
CLOSED_FORM = "closed form"
NO_TRAP = "no trap: t is above the onset time"  # a basin asked for above the onset time
MAX_ITERATIONS = "maximum iterations reached"
NO_BRACKET = "no sign change on the bracket"
NON_FINITE = "non-finite value encountered"
RESIDUAL_TOO_LARGE = "step converged but the residual is above tolerance"
STALLED = "stalled (zero slope or no progress)"


@dataclass(frozen=True)
class SolverResult:
    """Outcome of a root solve or of a closed-form evaluation.

    Attributes
    ----------
    value : float, numpy.ndarray or mpmath.mpf
        The solution (same shape as the broadcast inputs on the float64 path; an ``mpf`` on the
        mpmath path).
    converged : bool or numpy.ndarray of bool
        True where the stopping test on the step was met *and* the residual is within its
        tolerance (always True for a closed form).
    flag : str or numpy.ndarray of str
        Why the solver stopped: one of :data:`CONVERGED`, :data:`CLOSED_FORM`,
        :data:`MAX_ITERATIONS`, :data:`NO_BRACKET`, :data:`NON_FINITE`,
        :data:`RESIDUAL_TOO_LARGE`, :data:`STALLED` (or a solver-specific explanation).
    iterations : int or numpy.ndarray of int
        Iterations used (0 for a closed form).
    function_calls : int or numpy.ndarray of int
        Evaluations of the defining function (0 for a closed form).
    residual : float, numpy.ndarray or mpmath.mpf
        The defining function at ``value`` (0 for a closed form).
    method : str
        The algorithm, e.g. ``"chandrupatla-float64"`` or ``"illinois-mpmath(dps=30)"``.
    """

    value: Any
    converged: Any
    flag: Any
    iterations: Any
    function_calls: Any
    residual: Any
    method: str

    @classmethod
    def closed_form(cls, value, method: str = "closed form") -> "SolverResult":
        """A value given by a formula: converged, no iterations, zero residual."""
        shape = np.shape(value)
        if shape == () or not isinstance(value, np.ndarray):
            return cls(value, True, CLOSED_FORM, 0, 0, 0.0, method)
        return cls(value, np.ones(shape, bool), np.full(shape, CLOSED_FORM, dtype=object), np.zeros(shape, int),
                   np.zeros(shape, int), np.zeros(shape), method)

    def with_value(self, value, **changes) -> "SolverResult":
        """The same solve reported for a transformed value (e.g. a root in ``ln tau`` as a time)."""
        return replace(self, value=value, **changes)

    def __float__(self) -> float:
        return float(self.value)

    @property
    def all_converged(self) -> bool:
        """True when every element converged."""
        return bool(np.all(self.converged))


@dataclass(frozen=True)
class GeneralizationResult(SolverResult):
    """:class:`SolverResult` of the generalisation time ``t_g`` (``value``), with the kernel
    bandwidth ``tau_g = e^{2 t_g} - 1`` and the condensation signal-to-noise ``g_star`` of the
    fresh-point REM (``docs/hmm.md``)."""

    tau_g: Any = float("nan")
    g_star: Any = float("nan")
