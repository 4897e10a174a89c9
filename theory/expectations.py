"""Gaussian expectations that appear in the two-class mixture, to ~1e-14 in float64.

Both are of the form ``E_z h(kappa + c sqrt(kappa) z)``, ``z ~ N(0, 1)``. Instead of a plain
Gauss–Hermite rule (which fails when ``kappa`` is large because the poles of ``h`` approach the
real axis in ``z``), each is rewritten, with the Nishimori symmetry ``p(x) = e^{x} p(-x)`` of
``N(2 kappa, 4 kappa)``, as a closed-form term plus a smooth, exponentially small integral over
``x >= 0`` done by a fixed Gauss–Legendre rule on a kappa-dependent window. The mpmath paths
integrate the defining expectation directly (a check independent of the rewriting).
"""

from __future__ import annotations

from functools import lru_cache

import mpmath as mp
import numpy as np
from scipy.special import ndtr

from .validation import InputError, require_dps, require_nonnegative, scalar_or_array

__all__ = [
    "cloning_probability_from_kappa",
    "expected_log_cosh",
]

_NODES = 256


@lru_cache(maxsize=None)
def _gauss_legendre01(n: int):
    x, w = np.polynomial.legendre.leggauss(n)
    return 0.5 * (x + 1.0), 0.5 * w


def _integrate_0_to(upper: np.ndarray, integrand) -> np.ndarray:
    """``int_0^upper integrand(x) dx`` elementwise, ``integrand`` vectorised over a trailing axis."""
    x01, w01 = _gauss_legendre01(_NODES)
    x = upper[..., None] * x01
    return upper * np.sum(w01 * integrand(x), axis=-1)


def _normal_pdf(x, mean, var):
    return np.exp(-((x - mean) ** 2) / (2.0 * var)) / np.sqrt(2.0 * np.pi * var)


def cloning_probability_from_kappa(kappa, *, dps: int | None = None):
    """``phi(kappa) = E_z sigmoid(2 kappa + 2 sqrt(kappa) z)`` for ``kappa >= 0``.

    Float64 identity used (``X ~ N(2 kappa, 4 kappa)``, ``p(-x) = e^{-x} p(x)``)::

        phi = Phi(sqrt(kappa)) - int_0^inf N(x; -2 kappa, 4 kappa) tanh(x / 2) dx

    The integral is below ``Phi(-sqrt(kappa))`` and is cut where its Gaussian factor is
    below 1e-18 relative. ``phi(0) = 1/2`` and ``phi(1) = 0.7752002454``.
    """
    given, kappa = kappa, require_nonnegative("kappa", kappa)
    if require_dps(dps) is not None:
        if np.ndim(kappa):
            raise InputError("kappa must be a scalar on the mpmath path (dps given)")
        with mp.workdps(dps + 10):
            k = mp.mpf(given)  # an mpf argument keeps its precision
            if k == 0:
                return mp.mpf(1) / 2
            s = mp.sqrt(k)
            f = lambda z: mp.npdf(z) / (1 + mp.exp(-(2 * k + 2 * s * z)))
            # the sigmoid switches at z = -s over a width ~1/s; the Gaussian mass sits at z ~ 0
            val = mp.quad(f, sorted({-mp.inf, -s - 8 / s, -s, -s + 8 / s, mp.mpf(0), mp.inf}))
        with mp.workdps(dps):
            return +val
    root = np.sqrt(kappa)
    upper = np.maximum(-2.0 * kappa + 18.0 * root, 0.0)
    safe_var = np.where(kappa > 0, 4.0 * kappa, 1.0)[..., None]
    mean = (-2.0 * kappa)[..., None]
    corr = _integrate_0_to(upper, lambda x: _normal_pdf(x, mean, safe_var) * np.tanh(x / 2.0))
    out = ndtr(root) - corr
    return scalar_or_array(out)


def expected_log_cosh(kappa, *, dps: int | None = None):
    """``E_z log cosh(kappa + sqrt(kappa) z)`` for ``kappa >= 0``.

    With ``X ~ N(kappa, kappa)``: ``log cosh x = |x| - log 2 + log1p(e^{-2|x|})``; ``E|X|`` is
    closed-form and the remainder is a smooth integral over ``x >= 0`` of
    ``[p(x) + p(-x)] log1p(e^{-2x})``, cut at ``min(25, kappa + 12 sqrt(kappa))``.
    """
    given, kappa = kappa, require_nonnegative("kappa", kappa)
    if require_dps(dps) is not None:
        if np.ndim(kappa):
            raise InputError("kappa must be a scalar on the mpmath path (dps given)")
        with mp.workdps(dps + 10):
            k = mp.mpf(given)  # an mpf argument keeps its precision
            if k == 0:
                return mp.mpf(0)
            s = mp.sqrt(k)
            f = lambda z: mp.npdf(z) * mp.log(mp.cosh(k + s * z))
            # the kink of log cosh sits at z = -s; the Gaussian mass at z ~ 0
            val = mp.quad(f, sorted({-mp.inf, -s - 4, -s, -s + 4, mp.mpf(0), mp.inf}))
        with mp.workdps(dps):
            return +val
    root = np.sqrt(kappa)
    mean_abs = root * np.sqrt(2.0 / np.pi) * np.exp(-kappa / 2.0) + kappa * (1.0 - 2.0 * ndtr(-root))
    upper = np.minimum(25.0, kappa + 12.0 * root)
    var = np.where(kappa > 0, kappa, 1.0)[..., None]
    mean = kappa[..., None]

    def integrand(x):
        return (_normal_pdf(x, mean, var) + _normal_pdf(-x, mean, var)) * np.log1p(np.exp(-2.0 * x))

    rest = _integrate_0_to(upper, integrand)
    out = mean_abs - np.log(2.0) + rest
    out = np.where(kappa > 0, out, 0.0)
    return scalar_or_array(out)
