"""Hidden-manifold data with a linear map: collapse, onset of traps, basin size [AALMV25 framework]
(physics.md section 6; the nonlinear replica-symmetric formulas are not implemented here).

Data ``xi = F z / sqrt(D)``, ``F`` an ``N x D`` matrix, ``D = alpha_D N``. Everything depends on
``t`` through ``g = 1/(e^{2t} - 1)``. With ``c_k`` the eigenvalues of ``C = F F^T / D``::

    i(g) = (1/2N) sum_k ln(1 + g c_k),        B(g) = (1/N) sum_k g c_k / (1 + g c_k),
    collapse   alpha = i(g_c),                 t_c = (1/2) ln(1 + 1/g_c),
    onset      alpha = i(g_o) + B(g_o)/2,
    basin      r*(t) = 1 + 2 (i(g) - alpha) / B(g)    (r*(t_o) = 0, r*(t_c) = 1).

Spectra: ``"mp"`` (large-N Marchenko–Pastur: for alpha_D <= 1, D eigenvalues lambda/alpha_D with
lambda ~ MP(alpha_D) and N - D zeros; for alpha_D > 1, lambda ~ MP(1/alpha_D)), ``"orthogonal"``
(all D nonzero eigenvalues equal to 1/alpha_D), ``"isotropic"`` (alpha_D -> infinity, ``C = I``).
MP expectations use ``l = 1 + c + 2 sqrt(c) cos(theta)``, ``rho dl = (2/pi) sin^2(theta)/l d(theta)``.
For the orthogonal spectrum, ``u_c`` solving ``alpha/alpha_D = (1/2) ln(1 + u) - u/(2 (1 + u)^2)``
gives the generalisation noise ``tau_g = Gamma_g = (2 + u_c)/(1 + u_c)^2`` (definition reconstructed,
medium-low confidence, physics.md).
"""

from __future__ import annotations

from functools import lru_cache

import mpmath as mp
import numpy as np

from .result import SolverResult
from .roots import find_root_float64, find_root_mpmath
from .validation import require_positive

__all__ = ["LinearHMM", "SPECTRA"]

SPECTRA = ("mp", "orthogonal", "isotropic")


@lru_cache(maxsize=None)
def _theta_rule(n: int = 800):
    x, w = np.polynomial.legendre.leggauss(n)
    theta = 0.5 * np.pi * (x + 1)
    return theta, 0.5 * np.pi * w * (2 / np.pi) * np.sin(theta) ** 2


class LinearHMM:
    """Linear hidden-manifold model at ``alpha_D`` with spectrum ``"mp"``, ``"orthogonal"`` or
    ``"isotropic"`` (for which ``alpha_D`` is ignored)."""

    def __init__(self, alpha_D: float = 1.0, spectrum: str = "mp"):
        if spectrum not in SPECTRA:
            raise ValueError(f"spectrum must be one of {SPECTRA}, got {spectrum!r}")
        self.alpha_D = float(require_positive("alpha_D", alpha_D))
        self.spectrum = spectrum

    def _average(self, f, g):
        """``(1/N) sum_k f(g c_k)`` over the spectrum of ``C`` (``f(0) = 0`` assumed for the zeros)."""
        g = np.asarray(g, dtype=float)[..., None]
        if self.spectrum == "isotropic" or (self.spectrum == "orthogonal" and self.alpha_D > 1):
            # C = I (for D > N an orthogonal F gives N unit eigenvalues)
            return f(g)[..., 0]
        if self.spectrum == "orthogonal":
            # D eigenvalues 1/alpha_D, N - D zeros
            return self.alpha_D * f(g / self.alpha_D)[..., 0]
        c = self.alpha_D if self.alpha_D <= 1 else 1 / self.alpha_D
        theta, w = _theta_rule()
        lam = 1 + c + 2 * np.sqrt(c) * np.cos(theta)
        if self.alpha_D <= 1:
            return self.alpha_D * np.sum(w / lam * f(g * lam / self.alpha_D), axis=-1)
        return np.sum(w / lam * f(g * lam), axis=-1)

    def mutual_information(self, g):
        """``i(g)``: mutual information per ambient dimension between the data and ``x_t``."""
        g = require_positive("g", g)
        out = 0.5 * self._average(np.log1p, g)
        return float(out) if np.ndim(out) == 0 else out

    def B(self, g):
        """``B(g) = (1/N) sum_k g c_k / (1 + g c_k)``."""
        g = require_positive("g", g)
        out = self._average(lambda v: v / (1 + v), g)
        return float(out) if np.ndim(out) == 0 else out

    def _solve_g(self, func, alpha) -> SolverResult:
        a = require_positive("alpha", alpha)
        res = find_root_float64(lambda u, a: func(np.exp(u)) - a, -40.0, 40.0, args=(a,))
        g = np.exp(res.value)
        t = 0.5 * np.log1p(1 / g)
        return SolverResult(float(t) if np.ndim(t) == 0 else t, res.converged, res.iterations, res.residual,
                            res.method + " (in ln g)")

    def collapse_time(self, alpha) -> SolverResult:
        """``t_c`` from ``alpha = i(g_c)`` (vectorised in ``alpha``)."""
        return self._solve_g(self.mutual_information, alpha)

    def onset_time(self, alpha) -> SolverResult:
        """``t_o`` from ``alpha = i(g_o) + B(g_o)/2``."""
        return self._solve_g(lambda g: self.mutual_information(g) + 0.5 * self.B(g), alpha)

    def basin(self, t, alpha):
        """``r*(t) = 1 + 2 (i(g) - alpha)/B(g)``: basin radius^2 is ``N r* Delta_t``."""
        t = require_positive("t", t)
        g = 1.0 / np.expm1(2 * t)
        return 1 + 2 * (np.asarray(self.mutual_information(g)) - alpha) / np.asarray(self.B(g))

    def generalization_noise(self, alpha) -> float:
        """``tau_g = (2 + u_c)/(1 + u_c)^2`` (orthogonal and isotropic spectra only)."""
        if self.spectrum == "mp":
            raise ValueError("tau_g is implemented for the 'orthogonal' and 'isotropic' spectra only")
        aD = 1.0 if self.spectrum == "isotropic" else self.alpha_D
        target = float(require_positive("alpha", alpha)) / aD
        res = find_root_float64(lambda u: 0.5 * np.log1p(np.exp(u)) - np.exp(u) / (2 * (1 + np.exp(u)) ** 2) - target,
                                -40.0, 40.0)
        u = float(np.exp(res.value))
        return (2 + u) / (1 + u) ** 2

    def collapse_time_mpmath(self, alpha, *, dps: int = 30) -> SolverResult:
        """mpmath path for ``t_c`` (MP spectrum by ``mp.quad`` over theta)."""
        with mp.workdps(dps + 10):
            aD = mp.mpf(self.alpha_D)

            def i_of(g):
                if self.spectrum == "isotropic" or (self.spectrum == "orthogonal" and aD > 1):
                    return mp.log1p(g) / 2
                if self.spectrum == "orthogonal":
                    return aD * mp.log1p(g / aD) / 2
                c = aD if aD <= 1 else 1 / aD
                scale = aD if aD <= 1 else 1
                f = lambda th: (2 / mp.pi) * mp.sin(th) ** 2 / (1 + c + 2 * mp.sqrt(c) * mp.cos(th)) * mp.log1p(
                    g * (1 + c + 2 * mp.sqrt(c) * mp.cos(th)) / scale)
                return (scale if aD <= 1 else 1) * mp.quad(f, [0, mp.pi]) / 2

            a = mp.mpf(alpha)
            res = find_root_mpmath(lambda u: i_of(mp.exp(u)) - a, -40, 40, dps=dps)
            t = mp.log1p(1 / mp.exp(res.value)) / 2
        return SolverResult(t, res.converged, res.iterations, res.residual, res.method)
