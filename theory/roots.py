"""Root finding for every solver in :mod:`theory`; all return :class:`~theory.result.SolverResult`.

* :func:`find_root_float64`: vectorised, bracketed (scipy's elementwise Chandrupatla solver,
  guaranteed to converge on a valid bracket).
* :func:`find_root_mpmath`: scalar, bracketed, arbitrary precision (Illinois regula falsi, which
  keeps a bracket at every step).
* :func:`secant`: scalar, unbracketed secant iteration with a step cap (used where one evaluation
  is expensive and a good starting point is known: the replica-symmetric hidden-manifold model).
* :func:`newton`: scalar Newton iteration kept inside an interval.

``converged`` means both that the step (or bracket) test was met and that the residual is within
``ftol``; a bracket that shrinks onto a discontinuity is reported with
:data:`~theory.result.RESIDUAL_TOO_LARGE`. The hand-written finders are tested on a shared
collection of known-root problems (``tests/root_problems.py``).
"""

from __future__ import annotations

import math
from typing import Callable

import mpmath as mp
import numpy as np
from scipy.optimize import elementwise

from .result import (CONVERGED, MAX_ITERATIONS, NO_BRACKET, NON_FINITE, RESIDUAL_TOO_LARGE, STALLED,
                     SolverResult)
from .validation import InputError

__all__ = ["find_root_float64", "find_root_mpmath", "secant", "newton"]

_SCIPY_FLAGS = {0: CONVERGED, -1: NO_BRACKET, -2: MAX_ITERATIONS, -3: NON_FINITE, -4: "stopped by callback"}


def find_root_float64(
    func: Callable[..., np.ndarray],
    lower,
    upper,
    *,
    args: tuple = (),
    xrtol: float = 4 * np.finfo(float).eps,
    ftol=None,
    maxiter: int = 200,
) -> SolverResult:
    """Solve ``func(x, *args) = 0`` elementwise on the bracket ``[lower, upper]``.

    Parameters
    ----------
    func : callable
        Vectorised: ``func(x, *args)`` returns an array shaped like ``x``.
    lower, upper : float or array_like
        Bracket ends (broadcast together); ``func`` must change sign between them.
    args : tuple
        Extra arguments, broadcast with the bracket.
    xrtol : float
        Relative width at which the bracket counts as converged.
    ftol : float or array_like, optional
        Residual tolerance. Default ``sqrt(eps)`` times the larger ``|func|`` at the initial
        bracket ends (infinite where that is not finite): orders of magnitude above the rounding
        of a smooth function at its root, far below the jump of a discontinuity.
    maxiter : int
        Iteration cap.

    Returns
    -------
    SolverResult
        Scalars for scalar inputs, arrays otherwise; ``function_calls`` counts abscissae.
    """
    lower, upper = np.broadcast_arrays(np.asarray(lower, float), np.asarray(upper, float))
    scale_calls = 0
    if ftol is None:  # from the function's scale at the initial bracket
        scale_calls = 2
        with np.errstate(all="ignore"):
            scale = np.maximum(np.abs(np.asarray(func(lower, *args), float)), np.abs(np.asarray(func(upper, *args), float)))
        ftol = math.sqrt(np.finfo(float).eps) * np.where(np.isfinite(scale), np.maximum(scale, np.finfo(float).tiny), np.inf)
    res = elementwise.find_root(
        func,
        (lower, upper),
        args=args,
        tolerances=dict(xrtol=xrtol, xatol=1e-300, fatol=0.0, frtol=0.0),
        maxiter=maxiter,
    )
    x = np.asarray(res.x, dtype=float)
    fx = np.asarray(res.f_x, dtype=float)
    status = np.asarray(res.status)
    small = np.abs(fx) <= ftol
    # status 0 needs the bracket to shrink to xrtol; an exact zero of func also counts
    stepped = (status == 0) | (fx == 0)
    converged = stepped & small
    flag = np.vectorize(lambda s: _SCIPY_FLAGS.get(int(s), f"status {int(s)}"), otypes=[object])(status)
    flag = np.where(fx == 0, CONVERGED, flag)
    flag = np.where(stepped & ~small, RESIDUAL_TOO_LARGE, flag)
    nfev, nit = np.asarray(res.nfev) + scale_calls, np.asarray(res.nit)
    if x.ndim == 0:
        return SolverResult(float(x), bool(converged), str(flag), int(nit), int(nfev), float(fx),
                            "chandrupatla-float64")
    return SolverResult(x, converged, flag.astype(object), nit, nfev, fx, "chandrupatla-float64")


def find_root_mpmath(
    func: Callable[[mp.mpf], mp.mpf],
    lower,
    upper,
    *,
    dps: int,
    ftol=None,
    maxiter: int = 500,
) -> SolverResult:
    """Solve the scalar ``func(x) = 0`` on ``[lower, upper]`` at ``dps`` decimal digits.

    The bracket counts as converged when narrower than ``10**(-dps - 2)`` relative to ``x`` (or
    absolute below 1); ``ftol`` defaults to ``10**(-dps // 2)`` times the larger ``|func|`` at the
    ends. Raises :class:`~theory.validation.InputError` if the ends do not bracket a sign change.
    """
    method = f"illinois-mpmath(dps={dps})"
    with mp.workdps(dps + 10):
        a, b = mp.mpf(lower), mp.mpf(upper)
        fa, fb = func(a), func(b)
        calls = 2
        if fa == 0 or fb == 0:
            root, froot = (a, fa) if fa == 0 else (b, fb)
            with mp.workdps(dps):
                return SolverResult(+root, True, CONVERGED, 0, calls, +froot, method)
        if mp.sign(fa) == mp.sign(fb):
            raise InputError(f"bracket [{lower}, {upper}] does not contain a sign change")
        tol = mp.mpf(10) ** (-dps - 2)
        ftol = mp.mpf(10) ** (-(dps // 2)) * max(abs(fa), abs(fb)) if ftol is None else mp.mpf(ftol)
        side, stepped, it = 0, False, 0
        c, fc = a, fa
        for it in range(1, maxiter + 1):
            c = (a * fb - b * fa) / (fb - fa)
            if not (min(a, b) < c < max(a, b)):  # regula falsi stalled at an end point: bisect
                c = (a + b) / 2
            fc = func(c)
            calls += 1
            if fc == 0 or abs(b - a) <= tol * max(abs(c), mp.mpf(1)):
                stepped = True
                break
            if mp.sign(fc) == mp.sign(fb):
                b, fb = c, fc
                if side == -1:
                    fa /= 2
                side = -1
            else:
                a, fa = c, fc
                if side == 1:
                    fb /= 2
                side = 1
            if abs(b - a) <= tol * max(abs(c), mp.mpf(1)):
                stepped = True
                break
        small = abs(fc) <= ftol
        flag = CONVERGED if stepped and small else (RESIDUAL_TOO_LARGE if stepped else MAX_ITERATIONS)
    with mp.workdps(dps):
        return SolverResult(+c, bool(stepped and small), flag, it, calls, +fc, method)


def secant(func: Callable[[float], float], x0: float, x1: float, *, xtol: float = 1e-11, ftol: float = 1e-12,
           max_step: float = math.inf, maxiter: int = 80, method: str = "secant") -> SolverResult:
    """Scalar secant iteration from ``x0, x1``; each step is capped at ``max_step``.

    Stops when a step is below ``xtol`` or ``|func| <= ftol``; ``converged`` also needs
    ``|func(x)| <= ftol`` at the last point (the residual test the step test alone does not give).
    """
    f0, f1 = float(func(x0)), float(func(x1))
    calls, it, flag = 2, 0, MAX_ITERATIONS
    for it in range(1, maxiter + 1):
        if not (math.isfinite(f0) and math.isfinite(f1)):
            flag = NON_FINITE
            break
        if f1 == 0 or abs(f1) <= ftol:
            flag = CONVERGED
            break
        if f1 == f0:
            flag = STALLED
            break
        x2 = x1 - f1 * (x1 - x0) / (f1 - f0)
        x2 = min(max(x2, x1 - max_step), x1 + max_step)
        x0, f0, x1 = x1, f1, x2
        f1 = float(func(x1))
        calls += 1
        if abs(x1 - x0) < xtol:
            flag = CONVERGED if abs(f1) <= ftol else RESIDUAL_TOO_LARGE
            break
    converged = flag == CONVERGED and math.isfinite(f1) and abs(f1) <= ftol
    return SolverResult(x1, converged, flag, it, calls, f1, method)


def newton(func: Callable[[float], float], fprime: Callable[[float], float], x0: float, *,
           bounds: tuple[float, float] = (-math.inf, math.inf), xtol: float = 1e-10, ftol: float = 1e-12,
           max_step: float = math.inf, maxiter: int = 50, method: str = "newton") -> SolverResult:
    """Scalar Newton iteration from ``x0``, each step capped at ``max_step`` and each iterate
    clipped to ``bounds``.

    Stops when a step is below ``xtol`` or ``|func| <= ftol``; ``converged`` needs the residual
    test at the last point. A zero derivative stops with :data:`~theory.result.STALLED`.
    """
    lo, hi = bounds
    x = min(max(float(x0), lo), hi)
    f = float(func(x))
    calls, it, flag = 1, 0, MAX_ITERATIONS
    for it in range(1, maxiter + 1):
        if not math.isfinite(f):
            flag = NON_FINITE
            break
        if abs(f) <= ftol:
            flag = CONVERGED
            break
        d = float(fprime(x))
        calls += 1
        if d == 0 or not math.isfinite(d):
            flag = STALLED
            break
        new = min(max(x - min(max(f / d, -max_step), max_step), lo), hi)
        step = abs(new - x)
        x, f = new, float(func(new))
        calls += 1
        if step < xtol:
            flag = CONVERGED if abs(f) <= ftol else RESIDUAL_TOO_LARGE
            break
    converged = flag == CONVERGED and math.isfinite(f) and abs(f) <= ftol
    return SolverResult(x, converged, flag, it, calls, f, method)
