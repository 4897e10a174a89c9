"""Speciation and collapse of Gaussian data [BBBM24] (derivations: ``docs/gaussian-mixture.md``).

Excess entropy of Gaussian data with covariance spectrum ``{lambda_i}`` (``N`` values), at
``alpha = ln P / N`` and ``tau = e^{2t} - 1``::

    f(t) = alpha - (1 / 2N) sum_i log1p(lambda_i / tau)

The collapse time ``t_C`` is the root of ``f = 0``; for isotropic variance ``sigma^2``::

    t_C = (1/2) log(1 + sigma^2 / (e^{2 alpha} - 1))

The speciation time is ``t_S = (1/2) ln Lambda`` with ``Lambda`` the largest covariance
eigenvalue.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np

from .result import CONVERGED, SolverResult
from .roots import find_root_float64, find_root_mpmath
from .validation import (require_dps, InputError, require_finite, require_nonnegative, require_positive, scalar_or_array,
                         validate_data)

__all__ = [
    "covariance_spectrum",
    "largest_eigenvalue",
    "speciation_time",
    "excess_entropy",
    "excess_entropy_isotropic",
    "collapse_time",
    "collapse_time_isotropic",
    "collapse_time_asymptotic",
]


def covariance_spectrum(data) -> np.ndarray:
    """Eigenvalues (descending) of the sample covariance of ``data`` (rows are samples).

    The data are centred by their mean and normalised by ``P - 1``. Uses the smaller of the
    ``N x N`` covariance and the ``P x P`` Gram matrix, and pads with zeros to length ``N``.
    """
    x = validate_data(data)
    P, N = x.shape
    x = x - x.mean(axis=0)
    if N <= P:
        eig = np.linalg.eigvalsh(x.T @ x / (P - 1))
    else:
        eig = np.concatenate([np.linalg.eigvalsh(x @ x.T / (P - 1)), np.zeros(N - P)])
    return np.sort(np.clip(eig, 0.0, None))[::-1]


def largest_eigenvalue(data) -> float:
    """``Lambda``: the largest eigenvalue of the centred sample covariance of ``data``."""
    return float(covariance_spectrum(data)[0])


def speciation_time(Lambda, *, dps: int | None = None):
    """``t_S = (1/2) ln Lambda`` (vectorised; ``Lambda > 0``).

    ``Lambda <= 1`` gives ``t_S <= 0``: the data never speciate along that direction. With
    ``dps`` the value is an ``mpmath.mpf`` (scalar ``Lambda``).
    """
    lam = require_positive("Lambda", Lambda)
    if require_dps(dps) is not None:
        _require_scalar("Lambda", lam)
        with mp.workdps(dps):
            return mp.log(mp.mpf(Lambda)) / 2
    return scalar_or_array(0.5 * np.log(lam))


def _require_scalar(name: str, arr: np.ndarray) -> None:
    if np.ndim(arr):
        raise InputError(f"{name} must be a scalar on the mpmath path (dps given)")


def _spectrum(eigenvalues) -> np.ndarray:
    lam = require_nonnegative("eigenvalues", eigenvalues)
    if lam.ndim != 1 or lam.size == 0:
        raise InputError("eigenvalues must be a non-empty 1-D array (one per dimension)")
    if not np.any(lam > 0):
        raise InputError("eigenvalues must contain at least one value > 0")
    return lam


def excess_entropy(t, eigenvalues, alpha, *, clip: bool = False, dps: int | None = None):
    """Excess entropy per dimension ``f(t)`` of Gaussian data with the given spectrum.

    Parameters
    ----------
    t : float or array_like
        OU time(s), ``t > 0``.
    eigenvalues : array_like, shape (N,)
        Covariance spectrum; ``N`` is its length.
    alpha : float or array_like
        ``ln P / N``; broadcast against ``t``.
    clip : bool
        Return ``max(f, 0)``: the value the REM (and the Monte Carlo estimator) sees below
        ``t_C``, where the entropy of the empirical measure is frozen.
    dps : int, optional
        Evaluate with mpmath at this many digits (scalar ``t`` and ``alpha`` only).
    """
    lam = _spectrum(eigenvalues)
    t = require_positive("t", t)
    a = require_finite("alpha", alpha)
    if require_dps(dps) is not None:
        _require_scalar("t", t)
        _require_scalar("alpha", a)
        with mp.workdps(dps):
            tau = mp.expm1(2 * mp.mpf(float(t)))
            f = mp.mpf(float(a)) - mp.fsum(mp.log1p(mp.mpf(x) / tau) for x in lam) / (2 * lam.size)
            return max(f, mp.mpf(0)) if clip else f
    tau = np.expm1(2.0 * t)[..., None]
    f = a - np.sum(np.log1p(lam / tau), axis=-1) / (2.0 * lam.size)
    return scalar_or_array(np.maximum(f, 0.0) if clip else f)


def excess_entropy_isotropic(t, alpha, sigma2=1.0, *, clip: bool = False):
    """``f(t) = alpha - (1/2) log1p(sigma2 / tau)`` for isotropic data of variance ``sigma2``."""
    t = require_positive("t", t)
    a = require_finite("alpha", alpha)
    s2 = require_positive("sigma2", sigma2)
    f = a - 0.5 * np.log1p(s2 / np.expm1(2.0 * t))
    return scalar_or_array(np.maximum(f, 0.0) if clip else f)


def collapse_time_isotropic(alpha, sigma2=1.0, *, dps: int | None = None) -> SolverResult:
    """Closed form ``t_C = (1/2) log1p(sigma2 / expm1(2 alpha))`` (vectorised).

    Equivalently ``(1/2) ln(1 + sigma^2 / (P^{2/N} - 1))``.

    Parameters
    ----------
    alpha : float or array_like
        ``ln P / N`` (> 0).
    sigma2 : float or array_like
        Per-direction variance (> 0).
    dps : int, optional
        Evaluate with mpmath at this many digits (scalar inputs; ``value`` is an ``mpf``).

    Returns
    -------
    SolverResult
        ``value`` is ``t_C``; ``flag`` is ``"closed form"``.
    """
    a = require_positive("alpha", alpha)
    s2 = require_positive("sigma2", sigma2)
    if require_dps(dps) is not None:
        _require_scalar("alpha", a)
        _require_scalar("sigma2", s2)
        with mp.workdps(dps):
            return SolverResult.closed_form(mp.log1p(mp.mpf(float(s2)) / mp.expm1(2 * mp.mpf(float(a)))) / 2,
                                            f"closed form (mpmath, dps={dps})")
    return SolverResult.closed_form(scalar_or_array(0.5 * np.log1p(s2 / np.expm1(2.0 * a))))


def collapse_time_asymptotic(alpha, sigma2=1.0, *, regime: str) -> SolverResult:
    """Asymptotic forms of the isotropic ``t_C`` (closed forms, vectorised).

    ``regime="large_alpha"``: ``t_C ~ (sigma^2 / 2) e^{-2 alpha}`` (``alpha >> 1``).
    ``regime="small_alpha"``: ``t_C ~ (1/2) ln(sigma^2 / (2 alpha))``, i.e.
    ``(1/2) ln(sigma^2 N / (2 ln P))`` for ``P`` sub-exponential in ``N``; it grows like ``t_S``,
    so the generalisation window ``t_S - t_C`` stays O(1) (curse of dimensionality).
    """
    a = require_positive("alpha", alpha)
    s2 = require_positive("sigma2", sigma2)
    if regime == "large_alpha":
        return SolverResult.closed_form(scalar_or_array(0.5 * s2 * np.exp(-2.0 * a)), "asymptotic (alpha >> 1)")
    if regime == "small_alpha":
        return SolverResult.closed_form(scalar_or_array(0.5 * np.log(s2 / (2.0 * a))), "asymptotic (alpha << 1)")
    raise InputError(f"regime must be 'large_alpha' or 'small_alpha', got {regime!r}")


_U_FLOOR = -700.0  # lowest ln tau the float64 solvers search (tau = e^-700 ~ 1e-304)


def _log_tau_bracket(lam_max: float, n: int, alpha: np.ndarray):
    """Bracket for ``u = ln tau`` of the root of ``sum_i log1p(lam_i / tau) = 2 N alpha``.

    ``(1/2N) log1p(lam_max/tau) <= F(tau) <= (1/2) log1p(lam_max/tau)`` gives
    ``lam_max / expm1(2 N alpha) <= tau_C <= lam_max / expm1(2 alpha)``.
    """

    def log_expm1(x):
        with np.errstate(divide="ignore"):  # np.where evaluates both branches; the unused one may be -inf
            return np.where(x > 30, x + np.log1p(-np.exp(-np.minimum(x, 700.0))),
                            np.log(np.expm1(np.minimum(x, 30.0))))

    upper = np.log(lam_max) - log_expm1(2.0 * alpha)
    lower = np.log(lam_max) - log_expm1(2.0 * n * alpha)
    # Widen slightly so that a root sitting exactly on a bound is still bracketed; tau below
    # e^{-700} underflows and has no physical meaning.
    lower = np.maximum(lower - 1e-6 - 1e-12 * np.abs(lower), _U_FLOOR)
    return lower, upper + 1e-6 + 1e-12 * np.abs(upper)


def collapse_time(eigenvalues, alpha, *, dps: int | None = None) -> SolverResult:
    """Collapse time ``t_C``: root of ``f(t) = 0`` for Gaussian data with the given spectrum.

    Solved for ``u = ln tau`` (``tau = e^{2t} - 1``) on a guaranteed bracket, then converted
    with ``t = log1p(tau) / 2``. ``residual`` is ``f(t_C)``.

    Parameters
    ----------
    eigenvalues : array_like, shape (N,)
        Covariance spectrum (non-negative, at least one positive).
    alpha : float or array_like
        ``ln P / N`` (> 0); an array gives a vectorised solve.
    dps : int, optional
        Solve with mpmath at this many digits (scalar ``alpha``).
    """
    lam = _spectrum(eigenvalues)
    n = lam.size
    a = require_positive("alpha", alpha)
    lo, hi = _log_tau_bracket(float(lam.max()), n, a)
    if require_dps(dps) is not None:
        _require_scalar("alpha", a)
        return _collapse_time_mpmath(lam, float(a), float(lo), float(hi), dps)
    if np.ndim(a) and np.size(a) >= GRID_MIN:
        return _collapse_time_grid(lam, np.asarray(a, dtype=float), float(np.min(lo)), float(np.max(hi)))
    positive = lam[lam > 0]

    def g(u, a):
        tau = np.exp(u)[..., None]
        with np.errstate(divide="ignore", over="ignore"):  # at the bracket's floor: +inf, the right sign
            return np.sum(np.log1p(positive / tau), axis=-1) / (2.0 * n) - a

    res = find_root_float64(g, lo, hi, args=(a,))
    t_c = 0.5 * np.log1p(np.exp(res.value))
    res = res.with_value(scalar_or_array(t_c), residual=scalar_or_array(-np.asarray(res.residual)))
    # the bracket stops at tau = e^-700 (float64): a root below it is not a root of f, whatever the
    # bracket test says
    below = np.asarray(res.value) <= 0.5 * np.exp(_U_FLOOR) * (1 + 1e-6)
    if np.any(below):
        flag = np.where(below, "t_C below the float64 range (tau < e^-700)", np.asarray(res.flag, dtype=object))
        conv = np.asarray(res.converged, dtype=bool) & ~below
        scalar = np.ndim(res.value) == 0
        res = res.with_value(res.value, converged=bool(conv) if scalar else conv, flag=str(flag) if scalar else flag)
    return res


#: Grids of at least this many ``alpha`` are solved by monotone inversion (:mod:`theory.inversion`).
GRID_MIN = 32


def _collapse_time_grid(lam: np.ndarray, a: np.ndarray, lo: float, hi: float) -> SolverResult:
    """``t_C`` over a grid of ``alpha``: one verified Chebyshev interpolant of ``ln F(u)`` on the
    range of roots, inverted for every ``alpha`` (``theory/inversion.py``)."""
    from .inversion import ChebyshevInverse, u_range

    u_lo, u_hi = u_range(lam, float(a.min()), float(a.max()), lo, hi)
    return ChebyshevInverse(lam, u_lo, u_hi).collapse_result(a, a.shape)


def _collapse_time_mpmath(lam: np.ndarray, a: float, lo: float, hi: float, dps: int) -> SolverResult:
    """``t_C`` at ``dps`` digits: Newton in ``u = ln tau`` from the float64 root, with the analytic
    derivative, over the distinct eigenvalues (each evaluation one pass; the float64 start has 16
    digits, so two or three steps reach 50). Falls back to the bracketed mpmath solver if Newton
    leaves the bracket or stalls."""
    from .inversion import compress_spectrum

    n = lam.size
    values, counts = compress_spectrum(lam)
    start = collapse_time(lam, a)
    with mp.workdps(dps + 10):
        mult = [int(c) for c in counts]
        a_mp, two_n = mp.mpf(a), 2 * n

        # Fixed-point integers at the working precision: one product and one log per evaluation
        # instead of a log per eigenvalue, and Python integers instead of mpf objects (5x faster).
        # Every factor is >= 1, so each truncation costs at most one unit in 2^-bits of the product.
        bits = int(mp.mp.prec) + 2 * max(int(n).bit_length(), 1) + 8
        one = 1 << bits
        # lambda_j = mant_j 2^exp_j exactly (float64), so lambda_j w keeps full precision at any scale
        frexp = [math.frexp(float(v)) for v in values]
        mant = [int(m * 2 ** 53) for m, _ in frexp]
        expo = [e - 53 for _, e in frexp]

        def g_and_slope(u):
            w_mant, w_exp = mp.frexp(mp.exp(-u))  # w = w_mant 2^w_exp, w_mant in [1/2, 1)
            W = int(mp.ldexp(w_mant, bits))
            prod, slope = one, 0
            for m_j, e_j, k_j in zip(mant, expo, mult):
                shift = e_j + int(w_exp)
                x = (m_j * W) << shift if shift >= 0 else (m_j * W) >> -shift  # lambda_j w 2^bits
                f = one + x
                for _ in range(k_j):
                    prod = (prod * f) >> bits
                slope += k_j * (one - (one << bits) // f)
            total = mp.log(mp.ldexp(mp.mpf(prod), -bits))
            return total / two_n - a_mp, -mp.ldexp(mp.mpf(slope), -bits) / two_n

        u = mp.log(mp.expm1(2 * mp.mpf(float(start.value))))
        tol = mp.mpf(10) ** (-(dps + 3))
        calls, converged = 0, False
        for _ in range(12):
            g, slope = g_and_slope(u)
            calls += 1
            step = g / slope
            u -= step
            if not lo <= u <= hi:
                break
            if abs(step) <= tol * max(1, abs(u)):
                converged = True
                break
        if not converged:  # safety net: the bracketed solver (slow but guaranteed)
            def g_only(v):
                return g_and_slope(v)[0]

            res = find_root_mpmath(g_only, lo, hi, dps=dps)
            t_c = mp.log1p(mp.exp(res.value)) / 2
            resid = -g_only(res.value)
            with mp.workdps(dps):
                return res.with_value(+t_c, residual=+resid)
        t_c = mp.log1p(mp.exp(u)) / 2
    with mp.workdps(dps):
        # residual f(t_C) = -g at the last evaluated point (the final step only shrinks it)
        return SolverResult(+t_c, True, CONVERGED, calls, calls + start.function_calls, +(-g),
                            "newton (mpmath, from the float64 root; distinct eigenvalues)")
