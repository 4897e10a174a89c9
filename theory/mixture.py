"""The symmetric two-class Gaussian mixture of [BBBM24] (derivations: ``docs/gaussian-mixture.md``).

Data ``a ~ (1/2)[N(+m, sigma^2 I) + N(-m, sigma^2 I)]`` in ``N`` dimensions with
``|m|^2 = mu^2 N``, ``P = e^{alpha N}`` training points. With ``tau = e^{2t} - 1``,
``Gamma_t = Delta_t + sigma^2 e^{-2t} = e^{-2t} (tau + sigma^2)`` and

    kappa(t) = mu^2 N e^{-2t} / Gamma_t = mu^2 N / (tau + sigma^2),

the exact cloning probability is ``phi(t) = E_z sigmoid(2 kappa + 2 sqrt(kappa) z)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath as mp
import numpy as np

from . import conventions
from .expectations import cloning_probability_from_kappa, expected_log_cosh
from .gaussian import collapse_time_isotropic, excess_entropy_isotropic, speciation_time
from .result import SolverResult
from .roots import find_root_float64, find_root_mpmath
from .validation import InputError, require_in_open_interval, require_int, require_positive, scalar_or_array, require_dps

__all__ = ["TwoClassMixture", "SPECIATION_CRITERIA", "KAPPA_AT_BIMODALITY", "PHI_AT_BIMODALITY"]

SPECIATION_CRITERIA = ("eigenvalue", "bimodality", "curvature")
KAPPA_AT_BIMODALITY = 1.0
#: ``phi(kappa = 1)``: the level at which the measured cloning curve locates ``t_S``.
PHI_AT_BIMODALITY = 0.7752002453966636


@dataclass(frozen=True)
class TwoClassMixture:
    """Theory for the mixture ``(1/2)[N(+m, sigma^2 I) + N(-m, sigma^2 I)]``, ``|m|^2 = mu^2 N``.

    Parameters
    ----------
    N : int
        Dimension (>= 1).
    P : int
        Number of training points (>= 2).
    mu : float
        Mean scale (> 0); ``|m|^2 = mu^2 N``.
    sigma : float
        Within-class standard deviation (> 0).
    """

    N: int
    P: int
    mu: float = 1.0
    sigma: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "N", require_int("N", self.N, 1))
        object.__setattr__(self, "P", require_int("P", self.P, 2))
        object.__setattr__(self, "mu", float(require_positive("mu", self.mu)))
        object.__setattr__(self, "sigma", float(require_positive("sigma", self.sigma)))

    # -- basic quantities ---------------------------------------------------------------
    @property
    def alpha(self) -> float:
        """``ln P / N``."""
        return conventions.alpha(self.N, self.P)

    @property
    def mean_norm2(self) -> float:
        """``|m|^2 = mu^2 N``."""
        return self.mu**2 * self.N

    @property
    def lambda_max(self) -> float:
        """Largest covariance eigenvalue ``Lambda = mu^2 N + sigma^2``."""
        return self.mean_norm2 + self.sigma**2

    def spectrum(self) -> np.ndarray:
        """Covariance spectrum: ``Lambda`` once and ``sigma^2`` (N - 1 times)."""
        lam = np.full(self.N, self.sigma**2)
        lam[0] = self.lambda_max
        return lam

    def kappa(self, t):
        """``kappa(t) = mu^2 N / (tau + sigma^2)``: signal-to-noise of the class direction."""
        tau = conventions.t_to_tau(t)
        return scalar_or_array(self.mean_norm2 / (np.asarray(tau) + self.sigma**2))

    # -- speciation ---------------------------------------------------------------------
    def speciation_time(self, criterion: str = "eigenvalue", *, dps: int | None = None):
        """Speciation time under a named criterion.

        ``"eigenvalue"`` (default): ``(1/2) ln Lambda``, ``Lambda = mu^2 N + sigma^2``.
        ``"bimodality"``: ``P_t`` turns bimodal along ``m`` (``kappa = 1``, where the cloning
        probability equals 0.7752): ``(1/2) ln(mu^2 N + 1 - sigma^2)``; NaN if
        ``mu^2 N <= sigma^2`` (never bimodal).
        ``"curvature"``: the origin becomes unstable for the backward drift along ``m``:
        ``(1/2) ln(M^2 + sqrt(M^4 + (1 - sigma^2)^2))`` with ``M^2 = mu^2 N``; this is
        ``(1/2) ln(2 mu^2 N)`` at ``sigma = 1``.
        All three agree to leading order ``(1/2) ln(mu^2 N)``.
        """
        m2, s2 = self.mean_norm2, self.sigma**2
        if criterion == "eigenvalue":
            return speciation_time(self.lambda_max, dps=dps)
        if criterion == "bimodality":
            if m2 <= s2:
                return mp.nan if dps is not None else float("nan")
            if require_dps(dps) is not None:
                with mp.workdps(dps):
                    return mp.log(mp.mpf(m2) + 1 - mp.mpf(s2)) / 2
            return 0.5 * np.log(m2 + 1.0 - s2)
        if criterion == "curvature":
            if require_dps(dps) is not None:
                with mp.workdps(dps):
                    m2m, c = mp.mpf(m2), 1 - mp.mpf(s2)
                    return mp.log(m2m + mp.sqrt(m2m**2 + c**2)) / 2
            return 0.5 * np.log(m2 + np.hypot(m2, 1.0 - s2))
        raise InputError(f"criterion must be one of {SPECIATION_CRITERIA}, got {criterion!r}")

    def cloning_probability(self, t, *, dps: int | None = None):
        """Exact probability that two clones branched at ``t`` end in the same class."""
        t_checked = require_positive("t", t)
        if require_dps(dps) is not None:
            if np.ndim(t_checked):
                raise InputError("t must be a scalar on the mpmath path (dps given)")
            with mp.workdps(dps + 5):
                kappa = mp.mpf(self.mean_norm2) / (mp.expm1(2 * mp.mpf(float(t_checked))) + mp.mpf(self.sigma) ** 2)
            return cloning_probability_from_kappa(kappa, dps=dps)
        return cloning_probability_from_kappa(self.kappa(t))

    def cloning_time(self, level: float = PHI_AT_BIMODALITY, *, dps: int | None = None) -> SolverResult:
        """Branch time at which ``phi(t) = level`` (``1/2 < level < 1``), vectorised in ``level``.

        Solved for ``ln kappa`` then mapped to ``t``; NaN (and ``converged=False``) where the
        crossing would need ``t <= 0``. With ``dps``, an mpmath solve (scalar ``level``).
        """
        lev = require_in_open_interval("level", level, 0.5, 1.0)
        if require_dps(dps) is not None:
            if lev.ndim:
                raise InputError("level must be a scalar on the mpmath path (dps given)")
            with mp.workdps(dps + 5):
                target = mp.mpf(float(lev))
                res = find_root_mpmath(lambda u: cloning_probability_from_kappa(mp.exp(u), dps=dps + 5) - target,
                                       -30, 30, dps=dps)
                tau = mp.mpf(self.mean_norm2) / mp.exp(res.value) - mp.mpf(self.sigma) ** 2
                ok = tau > 0
                t = mp.log1p(tau) / 2 if ok else mp.nan
            return res.with_value(t, converged=bool(res.converged and ok),
                                  flag=res.flag if ok else "no crossing at t > 0")
        res = find_root_float64(lambda u, L: cloning_probability_from_kappa(np.exp(u)) - L, -60.0, 60.0, args=(lev,))
        kappa = np.exp(res.value)
        tau = self.mean_norm2 / kappa - self.sigma**2
        ok = tau > 0
        t = np.where(ok, 0.5 * np.log1p(np.where(ok, tau, 0.0)), np.nan)
        converged = np.asarray(res.converged) & ok
        flag = np.where(ok, res.flag, "no crossing at t > 0")
        if converged.ndim == 0:
            return res.with_value(float(t), converged=bool(converged), flag=str(flag))
        return res.with_value(t, converged=converged, flag=flag.astype(object))

    # -- collapse -----------------------------------------------------------------------
    def collapse_time(self, *, dps: int | None = None) -> SolverResult:
        """Leading-order ``t_C = (1/2) ln(1 + sigma^2 / (e^{2 alpha} - 1))`` (a closed form).

        The means shift the excess entropy only by O(1/N); see :meth:`collapse_time_finite_n`.
        """
        if require_dps(dps) is not None:
            with mp.workdps(dps + 5):
                a, s2 = mp.log(self.P) / self.N, mp.mpf(self.sigma) ** 2
                value = mp.log1p(s2 / mp.expm1(2 * a)) / 2
            with mp.workdps(dps):
                return SolverResult.closed_form(+value, f"closed form (mpmath, dps={dps})")
        return collapse_time_isotropic(self.alpha, self.sigma**2)

    def excess_entropy(self, t, *, clip: bool = False):
        """Leading-order excess entropy ``alpha - (1/2) log1p(sigma^2 / tau)``."""
        return excess_entropy_isotropic(t, self.alpha, self.sigma**2, clip=clip)

    def excess_entropy_finite_n(self, t, *, clip: bool = False, dps: int | None = None):
        """Exact excess entropy of the mixture density at finite ``N``::

            f(t) = alpha - (1/2) log1p(sigma^2 / tau) - [kappa - E log cosh(kappa + sqrt(kappa) z)] / N

        The bracket is the entropy deficit of the class direction; it grows from 0 to ``ln 2``
        (one bit) as ``kappa`` goes from 0 to infinity.
        """
        if require_dps(dps) is not None:
            with mp.workdps(dps + 5):
                tau = mp.expm1(2 * mp.mpf(t))
                s2 = mp.mpf(self.sigma) ** 2
                kappa = mp.mpf(self.mean_norm2) / (tau + s2)
                f = (
                    mp.log(self.P) / self.N
                    - mp.log1p(s2 / tau) / 2
                    - (kappa - expected_log_cosh(kappa, dps=dps + 5)) / self.N
                )
            with mp.workdps(dps):
                return +(max(f, mp.mpf(0)) if clip else f)
        f0 = self.excess_entropy(t)
        kappa = np.asarray(self.kappa(t))
        f = f0 - (kappa - expected_log_cosh(kappa)) / self.N
        return scalar_or_array(np.maximum(f, 0.0) if clip else f)

    def collapse_time_finite_n(self, *, dps: int | None = None) -> SolverResult:
        """Root of the exact finite-``N`` excess entropy (a finite-N estimate of ``t_C``).

        Lies above the leading-order :meth:`collapse_time`: the class bit lowers ``f`` by up to
        ``ln 2 / N``, so the root moves to larger ``t``.
        """
        t_lead = self.collapse_time().value
        u_lo = np.log(np.expm1(2.0 * t_lead))  # f_exact <= f_leading = 0 here
        u_hi = u_lo + 1.0

        def f_of_u(u):
            return self.excess_entropy_finite_n(0.5 * np.log1p(np.exp(u)))

        while f_of_u(u_hi) <= 0:
            u_hi += 1.0
        if require_dps(dps) is not None:
            with mp.workdps(dps + 5):
                fmp = lambda u: self.excess_entropy_finite_n(mp.log1p(mp.exp(u)) / 2, dps=dps + 5)
                res = find_root_mpmath(fmp, u_lo - 1e-9, u_hi, dps=dps)
                t_c = mp.log1p(mp.exp(res.value)) / 2
            return res.with_value(t_c)
        res = find_root_float64(lambda u: np.asarray(f_of_u(u)), u_lo - 1e-9, u_hi)
        return res.with_value(float(0.5 * np.log1p(np.exp(res.value))))

    # -- reporting ----------------------------------------------------------------------
    def summary(self) -> dict:
        """All headline predictions, in OU time, ``sigma_EDM`` and DDPM step (NaN if out of range)."""
        times = {
            "t_S": self.speciation_time("eigenvalue"),
            "t_S_bimodality": self.speciation_time("bimodality"),
            "t_S_curvature": self.speciation_time("curvature"),
            "t_C": float(self.collapse_time().value),
            "t_C_finite_N": float(self.collapse_time_finite_n().value),
        }
        ddpm = conventions.DEFAULT_DDPM
        lo, hi = ddpm.times[0], ddpm.times[-1]
        out = {"N": self.N, "P": self.P, "mu": self.mu, "sigma": self.sigma, "alpha": self.alpha,
               "Lambda": self.lambda_max}
        out.update(times)
        out["sigma_EDM"] = {k: conventions.t_to_sigma_edm(v) if np.isfinite(v) else float("nan") for k, v in times.items()}
        out["ddpm_step"] = {
            k: (ddpm.step_from_t(v) if np.isfinite(v) and lo <= v <= hi else float("nan")) for k, v in times.items()
        }
        return out
