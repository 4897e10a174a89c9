"""Hidden-manifold data with a linear map: collapse, onset of traps, basin size [AALMV25 framework]
(physics.md section 6; the nonlinear replica-symmetric formulas are not implemented here).

Data ``xi = F z / sqrt(D)``, ``F`` an ``N x D`` matrix, ``D = alpha_D N``. Everything depends on
``t`` through ``g = 1/(e^{2t} - 1)``. With ``c_k`` the eigenvalues of ``C = F F^T / D``::

    i(g) = (1/2N) sum_k ln(1 + g c_k),        B(g) = (1/N) sum_k g c_k / (1 + g c_k),
    collapse   alpha = i(g_c),                 t_c = (1/2) ln(1 + 1/g_c),
    onset      alpha = i(g_o) + B(g_o)/2,
    basin      r*(t) = 1 + 2 (i(g) - alpha) / B(g)    (r*(t_o) = 0, r*(t_c) = 1).

Spectra: an array of the ``N`` eigenvalues of a given ``C`` (the finite-``F`` path, see
:meth:`LinearHMM.from_features`), ``"mp"`` (large-N Marchenko–Pastur: for alpha_D <= 1, D eigenvalues lambda/alpha_D with
lambda ~ MP(alpha_D) and N - D zeros; for alpha_D > 1, lambda ~ MP(1/alpha_D)), ``"orthogonal"``
(all D nonzero eigenvalues equal to 1/alpha_D), ``"isotropic"`` (alpha_D -> infinity, ``C = I``).
MP expectations use ``l = 1 + c + 2 sqrt(c) cos(theta)``, ``rho dl = (2/pi) sin^2(theta)/l d(theta)``.
The generalisation noise ``tau_g = Gamma_g`` is the typical nearest-neighbour squared distance per
component between a fresh point and the training set (definition reconstructed, medium-low
confidence, physics.md): with ``x_k = v c_k``,

    alpha = (1/N) sum_k [ (1/2) ln(1 + x_k) - x_k / (2 (1 + x_k)^2) ],
    Gamma_g = (1/(N v)) sum_k [ x_k/(1 + x_k) + x_k/(1 + x_k)^2 ],

which for the orthogonal spectrum (``u = v/alpha_D``) is ``Gamma_g = (2 + u_c)/(1 + u_c)^2``. The
planted free entropy is linear in the noise fraction ``r``:
``Phi(1; g, r) = -i(g) - B(g)/2 - r (1 - B(g))/2``.
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
    """Linear hidden-manifold model at ``alpha_D`` with spectrum ``"mp"``, ``"orthogonal"``,
    ``"isotropic"`` (for which ``alpha_D`` is ignored) or an array of the eigenvalues of ``C``."""

    phi = "linear"

    def __init__(self, alpha_D: float = 1.0, spectrum="mp"):
        self.alpha_D = float(require_positive("alpha_D", alpha_D))
        if isinstance(spectrum, str):
            if spectrum not in SPECTRA:
                raise ValueError(f"spectrum must be one of {SPECTRA} or an array of eigenvalues, got {spectrum!r}")
            self.eigenvalues = None
        else:
            eig = np.asarray(spectrum, dtype=float)
            if eig.ndim != 1 or eig.size < 1 or not np.all(np.isfinite(eig)) or np.any(eig < 0):
                raise ValueError("spectrum must be a 1-d array of finite eigenvalues >= 0 of C = F F^T / D")
            self.eigenvalues, spectrum = eig, "empirical"
        self.spectrum = spectrum

    @classmethod
    def from_features(cls, F) -> "LinearHMM":
        """Finite-``F`` path: the exact spectrum of ``C = F F^T / D`` for a given ``N x D`` matrix."""
        F = np.asarray(F, dtype=float)
        if F.ndim != 2 or not np.all(np.isfinite(F)):
            raise ValueError(f"F must be a finite N x D matrix, got shape {F.shape}")
        N, D = F.shape
        eig = np.clip(np.linalg.eigvalsh(F @ F.T / D), 0.0, None)
        return cls(D / N, eig)

    def _average(self, f, g):
        """``(1/N) sum_k f(g c_k)`` over the spectrum of ``C`` (``f(0) = 0`` assumed for the zeros)."""
        g = np.asarray(g, dtype=float)[..., None]
        if self.eigenvalues is not None:
            return np.mean(f(g * self.eigenvalues), axis=-1)
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

    def free_entropy(self, g, r) -> float:
        """Planted REM free entropy ``Phi(1; g, r) = -i(g) - B(g)/2 - r (1 - B(g))/2``."""
        return -self.mutual_information(g) - 0.5 * self.B(g) - 0.5 * r * (1 - self.B(g))

    def generalization(self, alpha) -> dict:
        """Fresh-point REM: ``tau_g = Gamma_g`` (nearest-neighbour squared distance per component),
        the condensation signal-to-noise ``g_star`` of the kernel estimate and ``t_g``."""
        target = float(require_positive("alpha", alpha))
        lhs = lambda v: self._average(lambda x: 0.5 * np.log1p(x) - x / (2 * (1 + x) ** 2), v)
        res = find_root_float64(lambda u: lhs(np.exp(u)) - target, -40.0, 60.0)
        v = float(np.exp(res.value))
        gamma = float(self._average(lambda x: x / (1 + x) + x / (1 + x) ** 2, v)) / v
        return {"tau_g": gamma, "t_g": 0.5 * np.log1p(gamma), "g_star": v, "converged": bool(res.converged)}

    def generalization_noise(self, alpha) -> float:
        """``tau_g``: see :meth:`generalization` (orthogonal: ``(2 + u_c)/(1 + u_c)^2``)."""
        return self.generalization(alpha)["tau_g"]

    def asymptotic_collapse_time(self, alpha) -> float:
        """``alpha_D -> 0`` form ``alpha = (alpha_D/2) ln(1 + g/alpha_D)`` (kappa = 1 for linear phi)."""
        a = require_positive("alpha", alpha)
        return 0.5 * np.log1p(1 / (self.alpha_D * np.expm1(2 * a / self.alpha_D)))

    def collapse_time_mpmath(self, alpha, *, dps: int = 30) -> SolverResult:
        """mpmath path for ``t_c`` (MP spectrum by ``mp.quad`` over theta)."""
        if self.eigenvalues is not None:
            raise ValueError("the mpmath path takes the 'mp', 'orthogonal' or 'isotropic' spectrum")
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
