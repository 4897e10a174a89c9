"""Bracketed root finding: a vectorised float64 path and an arbitrary-precision mpmath path.

Both return :class:`theory.result.SolverResult`. The float64 path is scipy's elementwise
Chandrupatla solver (guaranteed to converge on a valid bracket); the mpmath path is the
Illinois variant of regula falsi, which keeps a bracket at every step.
"""

from __future__ import annotations

from typing import Callable

import mpmath as mp
import numpy as np
from scipy.optimize import elementwise

from .result import SolverResult

__all__ = ["find_root_float64", "find_root_mpmath"]


def find_root_float64(
    func: Callable[..., np.ndarray],
    lower,
    upper,
    *,
    args: tuple = (),
    xrtol: float = 4 * np.finfo(float).eps,
    maxiter: int = 200,
) -> SolverResult:
    """Solve ``func(x, *args) = 0`` elementwise on the bracket ``[lower, upper]``."""
    lower, upper = np.broadcast_arrays(np.asarray(lower, float), np.asarray(upper, float))
    res = elementwise.find_root(
        func,
        (lower, upper),
        args=args,
        tolerances=dict(xrtol=xrtol, xatol=1e-300, fatol=0.0, frtol=0.0),
        maxiter=maxiter,
    )
    x = np.asarray(res.x, dtype=float)
    converged = np.asarray(res.success, dtype=bool)
    # "status 0" needs the bracket to shrink to xrtol; a bracket end that is an exact zero of
    # func also counts as converged.
    fx = np.asarray(res.f_x, dtype=float)
    converged = converged | (fx == 0)
    if x.ndim == 0:
        return SolverResult(float(x), bool(converged), int(res.nit), float(fx), "chandrupatla-float64")
    return SolverResult(x, converged, np.asarray(res.nit), fx, "chandrupatla-float64")


def find_root_mpmath(
    func: Callable[[mp.mpf], mp.mpf],
    lower,
    upper,
    *,
    dps: int,
    maxiter: int = 500,
) -> SolverResult:
    """Solve the scalar ``func(x) = 0`` on ``[lower, upper]`` at ``dps`` decimal digits.

    Converges when the bracket is narrower than ``10**(-dps + 2)`` relative to ``x``.
    """
    with mp.workdps(dps + 10):
        a, b = mp.mpf(lower), mp.mpf(upper)
        fa, fb = func(a), func(b)
        if fa == 0:
            return SolverResult(+a, True, 0, fa, f"illinois-mpmath(dps={dps})")
        if fb == 0:
            return SolverResult(+b, True, 0, fb, f"illinois-mpmath(dps={dps})")
        if mp.sign(fa) == mp.sign(fb):
            raise ValueError(f"bracket [{lower}, {upper}] does not contain a sign change")
        tol = mp.mpf(10) ** (-dps - 2)
        side = 0
        converged = False
        it = 0
        c, fc = a, fa
        for it in range(1, maxiter + 1):
            c = (a * fb - b * fa) / (fb - fa)
            # Fall back to bisection if regula falsi stalls at an end point.
            if not (min(a, b) < c < max(a, b)):
                c = (a + b) / 2
            fc = func(c)
            if fc == 0 or abs(b - a) <= tol * max(abs(c), mp.mpf(1)):
                converged = True
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
                converged = True
                break
    with mp.workdps(dps):
        return SolverResult(+c, converged, it, +fc, f"illinois-mpmath(dps={dps})")
