"""Hidden-manifold data with a linear map: collapse, onset of traps, basin size [AALMV25 framework]
(docs/hmm.md; the nonlinear replica-symmetric formulas are not implemented here).

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
confidence, docs/hmm.md): with ``x_k = v c_k``,

    alpha = (1/N) sum_k [ (1/2) ln(1 + x_k) - x_k / (2 (1 + x_k)^2) ],
    Gamma_g = (1/(N v)) sum_k [ x_k/(1 + x_k) + x_k/(1 + x_k)^2 ],

which for the orthogonal spectrum (``u = v/alpha_D``) is ``Gamma_g = (2 + u_c)/(1 + u_c)^2``. The
planted free entropy is linear in the noise fraction ``r``:
``Phi(1; g, r) = -i(g) - B(g)/2 - r (1 - B(g))/2``.
"""

from __future__ import annotations

import dataclasses

from functools import lru_cache

import mpmath as mp
import numpy as np

from .gaussian import GRID_MIN
from .result import NO_TRAP, GeneralizationResult, SolverResult
from .roots import find_root_float64, find_root_mpmath
from .validation import InputError, require_positive, scalar_or_array, require_dps

__all__ = ["LinearHMM", "SPECTRA"]

SPECTRA = ("mp", "orthogonal", "isotropic")
_NO_TRAP = 1e-10  # r* this far below 0 is the onset itself (rounding), not "no trap"


@lru_cache(maxsize=None)
def _theta_rule(n: int):
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
                raise InputError(f"spectrum must be one of {SPECTRA} or an array of eigenvalues, got {spectrum!r}")
            self.eigenvalues = None
        else:
            eig = np.asarray(spectrum, dtype=float)
            if eig.ndim != 1 or eig.size < 1 or not np.all(np.isfinite(eig)) or np.any(eig < 0):
                raise InputError("spectrum must be a 1-d array of finite eigenvalues >= 0 of C = F F^T / D")
            self.eigenvalues, spectrum = eig, "empirical"
        self.spectrum = spectrum

    @classmethod
    def from_features(cls, F) -> "LinearHMM":
        """Finite-``F`` path: the exact spectrum of ``C = F F^T / D`` for a given ``N x D`` matrix."""
        F = np.asarray(F, dtype=float)
        if F.ndim != 2 or not np.all(np.isfinite(F)):
            raise InputError(f"F must be a finite N x D matrix, got shape {F.shape}")
        N, D = F.shape
        eig = np.clip(np.linalg.eigvalsh(F @ F.T / D), 0.0, None)
        return cls(D / N, eig)

    #: Gauss-Legendre nodes in theta for the Marchenko-Pastur average (part of cache keys).
    QUADRATURE_NODES = 800

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
        theta, w = _theta_rule(self.QUADRATURE_NODES)
        lam = 1 + c + 2 * np.sqrt(c) * np.cos(theta)
        if self.alpha_D <= 1:
            return self.alpha_D * np.sum(w / lam * f(g * lam / self.alpha_D), axis=-1)
        return np.sum(w / lam * f(g * lam), axis=-1)

    def _average_mp(self, f, g):
        """mpmath twin of :meth:`_average` (``mp.quad`` over theta for the MP law)."""
        if self.eigenvalues is not None:
            return mp.fsum(f(g * mp.mpf(float(c))) for c in self.eigenvalues) / self.eigenvalues.size
        aD = mp.mpf(self.alpha_D)
        if self.spectrum == "isotropic" or (self.spectrum == "orthogonal" and self.alpha_D > 1):
            return f(g)
        if self.spectrum == "orthogonal":
            return aD * f(g / aD)
        c = aD if self.alpha_D <= 1 else 1 / aD
        lam = lambda th: 1 + c + 2 * mp.sqrt(c) * mp.cos(th)
        scale = aD if self.alpha_D <= 1 else 1
        dens = lambda th: (2 / mp.pi) * mp.sin(th) ** 2 / lam(th)
        integral = mp.quad(lambda th: dens(th) * f(g * lam(th) / scale), [0, mp.pi])
        return (aD if self.alpha_D <= 1 else 1) * integral

    # the integrands of i(g), B(g) and the fresh-point REM, written once for numpy and mpmath
    @staticmethod
    def _i_term(v, lib=np):
        return 0.5 * lib.log1p(v)

    @staticmethod
    def _b_term(v, lib=np):
        return v / (1 + v)

    @staticmethod
    def _rem_term(v, lib=np):
        return 0.5 * lib.log1p(v) - v / (1 + v) / (2 * (1 + v))  # (1 + v)^2 would overflow at v ~ 1e154

    @staticmethod
    def _gamma_term(v, lib=np):
        return v / (1 + v) + v / (1 + v) / (1 + v)

    def mutual_information(self, g):
        """``i(g)``: mutual information per ambient dimension between the data and ``x_t``."""
        g = require_positive("g", g)
        return scalar_or_array(self._average(self._i_term, g))

    def B(self, g):
        """``B(g) = (1/N) sum_k g c_k / (1 + g c_k)``."""
        g = require_positive("g", g)
        return scalar_or_array(self._average(self._b_term, g))

    def _solve_g(self, term_sum, alpha, dps, what: str, upper: float = 700.0) -> SolverResult:
        """Root in ``u = ln g`` of ``term_sum(g) = alpha`` (monotone in g), reported as ``t``."""
        a = require_positive("alpha", alpha)
        if require_dps(dps) is not None:
            if np.ndim(a):
                raise InputError("alpha must be a scalar on the mpmath path (dps given)")
            with mp.workdps(dps + 10):
                target = mp.mpf(float(a))
                # i(g) grows like min(alpha_D, 1) ln(g) / 2: beyond e^700 the root needs a wider bracket
                wide = max(upper, 4 * float(a) / min(self.alpha_D, 1.0) + 80)
                res = find_root_mpmath(lambda u: term_sum(mp.exp(u), mp) - target, -40, wide, dps=dps)
                t = mp.log1p(1 / mp.exp(res.value)) / 2
            with mp.workdps(dps):
                return res.with_value(+t, method=res.method + f" (in ln g, {what})")
        if np.size(a) >= GRID_MIN:
            return self._solve_g_grid(term_sum, np.asarray(a, dtype=float), upper, what)
        res = find_root_float64(lambda u, a: term_sum(np.exp(u), np) - a, -40.0, upper, args=(a,))
        t = scalar_or_array(0.5 * np.log1p(np.exp(-np.asarray(res.value))))
        res = res.with_value(t, method=res.method + f" (in ln g, {what})")
        below = np.asarray(a) > term_sum(np.exp(upper), np)  # the root lies beyond g = e^700
        if np.any(below):
            flag = np.where(below, f"t below the float64 range (g > e^{upper:g}); pass dps=",
                            np.asarray(res.flag, dtype=object))
            res = dataclasses.replace(res, flag=flag if np.ndim(flag) else str(flag))
        return res

    def _solve_g_grid(self, term_sum, a: np.ndarray, upper: float, what: str) -> SolverResult:
        """A grid of ``alpha``: invert one verified Chebyshev interpolant of ``ln term_sum(e^{-u})``
        (``u = ln tau``) instead of solving each root (:mod:`theory.inversion`); points whose error
        bound in ``t`` exceeds 1e-12 relative are solved alone."""
        from .inversion import RESULT_TOL, PiecewiseChebyshev

        flat = a.ravel()
        ends = find_root_float64(lambda u, x: term_sum(np.exp(u), np) - x, -40.0, upper,
                                 args=(np.array([flat.min(), flat.max()]),))
        u_lo, u_hi = -float(ends.value[1]), -float(ends.value[0])  # u = -ln g
        pad = 1e-3 * max(1.0, u_hi - u_lo)
        with np.errstate(divide="ignore"):
            inv = PiecewiseChebyshev(lambda u: np.log(term_sum(np.exp(-u), np)), u_lo - pad, u_hi + pad)
        t, resid_G, dt_rel, iters = inv.times(flat)
        ok = np.isfinite(t) & (dt_rel <= RESULT_TOL)
        residual = flat * np.expm1(resid_G)
        flags = np.where(ok, "converged", "interpolation error above tolerance").astype(object)
        calls = np.full(flat.shape, inv.evaluations)
        bad = np.flatnonzero(~ok)
        if bad.size:  # alone: the bracketed solver
            alone = find_root_float64(lambda u, x: term_sum(np.exp(u), np) - x, -40.0, upper, args=(flat[bad],))
            t[bad] = 0.5 * np.log1p(np.exp(-np.asarray(alone.value)))
            ok[bad], flags[bad], residual[bad] = alone.converged, alone.flag, alone.residual
        return SolverResult(t.reshape(a.shape), ok.reshape(a.shape), flags.reshape(a.shape),
                            np.full(a.shape, iters), calls.reshape(a.shape), residual.reshape(a.shape),
                            f"Chebyshev inversion in ln tau ({what}, {inv.pieces} pieces; {bad.size} points alone)")

    def _sum(self, *terms):
        """``g -> (1/N) sum_k sum_j w_j term_j(g c_k)`` for numpy or mpmath (``lib``)."""
        def total(g, lib):
            f = lambda v: sum(w * term(v, lib) for w, term in terms)
            return self._average(f, g) if lib is np else self._average_mp(f, g)
        return total

    def collapse_time(self, alpha, *, dps: int | None = None) -> SolverResult:
        """``t_c`` from ``alpha = i(g_c)`` (vectorised in ``alpha``; mpmath with ``dps``)."""
        return self._solve_g(self._sum((1.0, self._i_term)), alpha, dps, "collapse")

    def onset_time(self, alpha, *, dps: int | None = None) -> SolverResult:
        """``t_o`` from ``alpha = i(g_o) + B(g_o)/2`` (vectorised; mpmath with ``dps``)."""
        return self._solve_g(self._sum((1.0, self._i_term), (0.5, self._b_term)), alpha, dps, "onset")

    def basin(self, t, alpha, *, dps: int | None = None) -> SolverResult:
        """``r*(t) = 1 + 2 (i(g) - alpha)/B(g)`` (closed form): the basin radius^2 is ``N r* Delta_t``.

        Above the onset time the formula turns negative: there is no trap, and the value is NaN with
        the flag "no trap: t is above the onset time" (as for nonlinear ``phi``; ``r*`` within 1e-10
        below 0, at the onset itself, is kept). Vectorised in ``t``; mpmath with ``dps``."""
        t = require_positive("t", t)
        a = require_positive("alpha", alpha)
        if require_dps(dps) is not None:
            if np.ndim(t) or np.ndim(a):
                raise InputError("t and alpha must be scalars on the mpmath path (dps given)")
            with mp.workdps(dps + 10):
                g = 1 / mp.expm1(2 * mp.mpf(float(t)))
                i, b = (self._average_mp(lambda v, f=f: f(v, mp), g) for f in (self._i_term, self._b_term))
                r = 1 + 2 * (i - mp.mpf(float(a))) / b
            with mp.workdps(dps):
                if r < -_NO_TRAP:
                    return SolverResult(mp.nan, True, NO_TRAP, 0, 0, mp.mpf(0), f"closed form (mpmath, dps={dps})")
                return SolverResult.closed_form(+r, f"closed form (mpmath, dps={dps})")
        g = 1.0 / np.expm1(2 * t)
        r = np.asarray(1 + 2 * (self._average(self._i_term, g) - a) / self._average(self._b_term, g))
        trap = r >= -_NO_TRAP
        if np.all(trap):
            return SolverResult.closed_form(scalar_or_array(r))
        value = np.where(trap, r, np.nan)
        flag = np.where(trap, "closed form", NO_TRAP).astype(object)
        return SolverResult(scalar_or_array(value), True if r.ndim == 0 else np.ones(r.shape, bool),
                            str(flag) if r.ndim == 0 else flag, 0, 0, scalar_or_array(np.zeros(r.shape)), "closed form")

    def free_entropy(self, g, r) -> float:
        """Planted REM free entropy ``Phi(1; g, r) = -i(g) - B(g)/2 - r (1 - B(g))/2``."""
        return -self.mutual_information(g) - 0.5 * self.B(g) - 0.5 * r * (1 - self.B(g))

    def generalization(self, alpha, *, dps: int | None = None) -> GeneralizationResult:
        """Fresh-point REM (docs/hmm.md): the condensation signal-to-noise ``g_star`` of the kernel
        estimate solves ``alpha = (1/N) sum_k [(1/2) ln(1 + x_k) - x_k/(2 (1 + x_k)^2)]``,
        ``x_k = g_star c_k``; ``tau_g = Gamma_g = (1/(N g_star)) sum_k [x_k/(1 + x_k) + x_k/(1 + x_k)^2]``
        and ``t_g = (1/2) ln(1 + tau_g)``. Vectorised in ``alpha``; mpmath (scalar) with ``dps``."""
        a = require_positive("alpha", alpha)
        a = float(a) if np.ndim(a) == 0 else np.asarray(a, dtype=float)
        res = self._solve_g(self._sum((1.0, self._rem_term)), a, dps, "generalisation", upper=700.0)
        gamma_sum = self._sum((1.0, self._gamma_term))
        if require_dps(dps) is not None:
            with mp.workdps(dps + 10):
                v = 1 / mp.expm1(2 * res.value)
                tau = gamma_sum(v, mp) / v
                t_g = mp.log1p(tau) / 2
            with mp.workdps(dps):
                return GeneralizationResult(**{**res.__dict__, "value": +t_g}, tau_g=+tau, g_star=+v)
        v = 1.0 / np.expm1(2 * np.asarray(res.value, dtype=float))
        tau = scalar_or_array(np.asarray(gamma_sum(v, np)) / v)
        return GeneralizationResult(**{**res.__dict__, "value": scalar_or_array(0.5 * np.log1p(tau))}, tau_g=tau,
                                    g_star=scalar_or_array(v))

    def asymptotic_collapse_time(self, alpha) -> SolverResult:
        """``alpha_D -> 0`` form ``alpha = (alpha_D/2) ln(1 + g/alpha_D)`` (kappa = 1 for linear phi)."""
        a = require_positive("alpha", alpha)
        return SolverResult.closed_form(scalar_or_array(0.5 * np.log1p(1 / (self.alpha_D * np.expm1(2 * a / self.alpha_D)))),
                                        "asymptotic (alpha_D -> 0)")
