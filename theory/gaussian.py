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

import mpmath as mp
import numpy as np

from .result import SolverResult
from .roots import find_root_float64, find_root_mpmath
from .validation import (InputError, require_finite, require_nonnegative, require_positive, scalar_or_array,
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
    if dps is not None:
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
    if dps is not None:
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
    if dps is not None:
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


def _log_tau_bracket(lam_max: float, n: int, alpha: np.ndarray):
    """Bracket for ``u = ln tau`` of the root of ``sum_i log1p(lam_i / tau) = 2 N alpha``.

    ``(1/2N) log1p(lam_max/tau) <= F(tau) <= (1/2) log1p(lam_max/tau)`` gives
    ``lam_max / expm1(2 N alpha) <= tau_C <= lam_max / expm1(2 alpha)``.
    """

    def log_expm1(x):
        return np.where(x > 30, x + np.log1p(-np.exp(-np.minimum(x, 700.0))), np.log(np.expm1(np.minimum(x, 30.0))))

    upper = np.log(lam_max) - log_expm1(2.0 * alpha)
    lower = np.log(lam_max) - log_expm1(2.0 * n * alpha)
    # Widen slightly so that a root sitting exactly on a bound is still bracketed; tau below
    # e^{-700} underflows and has no physical meaning.
    lower = np.maximum(lower - 1e-6 - 1e-12 * np.abs(lower), -700.0)
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
    if dps is not None:
        _require_scalar("alpha", a)
        with mp.workdps(dps + 10):
            lam_mp = [mp.mpf(float(x)) for x in lam if x > 0]
            a_mp = mp.mpf(float(a))

            def g(u):
                tau = mp.exp(u)
                return mp.fsum(mp.log1p(x / tau) for x in lam_mp) / (2 * n) - a_mp

            res = find_root_mpmath(g, float(lo), float(hi), dps=dps)
            t_c = mp.log1p(mp.exp(res.value)) / 2
            resid = -g(res.value)
        with mp.workdps(dps):
            return res.with_value(+t_c, residual=+resid)

    positive = lam[lam > 0]

    def g(u, a):
        tau = np.exp(u)[..., None]
        return np.sum(np.log1p(positive / tau), axis=-1) / (2.0 * n) - a

    res = find_root_float64(g, lo, hi, args=(a,))
    t_c = 0.5 * np.log1p(np.exp(res.value))
    return res.with_value(scalar_or_array(t_c), residual=scalar_or_array(-np.asarray(res.residual)))
