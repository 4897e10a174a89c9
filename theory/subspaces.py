"""Per-subspace critical times of linear-manifold data: geometric memorisation [AVS+24]
(docs/subspaces.md).

Data live on K orthogonal blocks: block k has ``d_k`` directions of variance ``s_k``;
``N = sum d_k``. Optionally the points are projected on a sphere (``normalized=True``, g = 0),
otherwise g = 1. Everything is in the variance-exploding noise variance ``tau = e^{2t} - 1``
(``t = log1p(tau) / 2``); ``S2 = sum_j s_j^2`` over all N directions.

Two rules for the noise level below which block k is **lost** (its directions stop being
generalised by the empirical score):

* per-direction Gaussian-REM rule (the rule of the authors' code): a Gaussian REM with energy
  variance ``v = tau s + g S2 / 2`` condenses when ``2 ln P tau^2 - s tau - g S2 / 2 = 0``::

      tau_i* = (s_i + sqrt(s_i^2 + 4 g ln P S2)) / (4 ln P)      (= s_i / (2 ln P) for g = 0)

  so higher variance is lost first; at fixed tau, ``ln P_i* = (tau s_i + g S2/2) / (2 tau^2)``;
* exact annealed per-block rule: ``ln P = (d_k / 2) ln(1 + s_k / tau_k)``, i.e.
  ``tau_k = s_k / (P^{2/d_k} - 1)``; the global collapse solves
  ``ln P = sum_k (d_k/2) ln(1 + s_k / tau_c)`` (the Gaussian ``t_C`` of the block spectrum).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import mpmath as mp
import numpy as np

from . import conventions
from .gaussian import collapse_time
from .result import SolverResult
from .validation import InputError, require_int, require_positive, scalar_or_array, require_dps

__all__ = ["BlockSpectrum", "RULES"]

RULES = ("gauss_rem", "block")
#: Most directions a block spectrum may have (its N variances are materialised: 800 MB).
MAX_DIRECTIONS = 10**8


def _log_p(P) -> np.ndarray:
    """``ln P``, exact for Python integers beyond float64 (P = 10^400 is a legal dataset size)."""
    values = np.atleast_1d(np.asarray(P, dtype=object))
    if all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values.ravel()):
        if any(v < 2 for v in values.ravel()):
            raise InputError(f"P must be >= 2, got {P!r}")
        out = np.array([math.log(int(v)) for v in values.ravel()]).reshape(values.shape)
        return out if np.ndim(P) else out.reshape(())
    P = np.asarray(P, dtype=float)
    if not np.all(np.isfinite(P)) or np.any(P < 2):
        raise InputError(f"P must be >= 2, got {P!r}")
    return np.log(P)


@dataclass(frozen=True)
class BlockSpectrum:
    """Block spectrum ``dims`` (directions per block) with per-direction ``variances``.

    Parameters
    ----------
    dims : sequence of int
        ``d_k >= 1``.
    variances : sequence of float
        ``s_k > 0`` (variances, not standard deviations).
    normalized : bool
        Sphere-projected data (g = 0); otherwise g = 1.
    """

    dims: tuple
    variances: tuple
    normalized: bool = False

    def __post_init__(self):
        dims = tuple(require_int("dims", d, 1) for d in np.atleast_1d(self.dims).tolist())
        var = require_positive("variances", np.atleast_1d(np.asarray(self.variances, dtype=float)))
        if var.ndim != 1 or len(dims) != var.size:
            raise InputError(f"dims and variances must have the same length, got {len(dims)} and {var.size}")
        if sum(dims) > MAX_DIRECTIONS:
            raise InputError(f"dims add up to N = {sum(dims)}; its spectrum would need "
                             f"{sum(dims) * 8 / 2**30:.3g} GiB; at most N = {MAX_DIRECTIONS}")
        object.__setattr__(self, "dims", dims)
        object.__setattr__(self, "variances", tuple(float(v) for v in var))

    @classmethod
    def from_std(cls, dims, stds, normalized: bool = False) -> "BlockSpectrum":
        """From per-block standard deviations (the variances are their squares)."""
        stds = require_positive("std", np.atleast_1d(np.asarray(stds, dtype=float)))
        return cls(tuple(dims), tuple(stds**2), normalized)

    @property
    def N(self) -> int:
        """Dimension ``sum d_k``."""
        return int(sum(self.dims))

    @property
    def g(self) -> int:
        """0 for sphere-normalised data, 1 otherwise."""
        return 0 if self.normalized else 1

    @property
    def sum_sq(self) -> float:
        """``S2 = sum_j s_j^2`` over all N directions."""
        return float(sum(d * s * s for d, s in zip(self.dims, self.variances)))

    def spectrum(self) -> np.ndarray:
        """All N per-direction variances, block by block."""
        return np.repeat(np.asarray(self.variances), self.dims)

    # -- the two rules ------------------------------------------------------------------------
    def tau_gauss_rem(self, P, *, dps: int | None = None):
        """Per-direction Gaussian-REM critical ``tau_i*`` for each block; shape ``(..., K)``."""
        s = np.asarray(self.variances)
        if require_dps(dps) is not None:
            with mp.workdps(dps):
                lp = mp.log(mp.mpf(P))
                return [(mp.mpf(v) + mp.sqrt(mp.mpf(v) ** 2 + 4 * self.g * lp * mp.mpf(self.sum_sq))) / (4 * lp)
                        for v in self.variances]
        lp = _log_p(P)[..., None]
        return (s + np.sqrt(s * s + 4.0 * self.g * lp * self.sum_sq)) / (4.0 * lp)

    def tau_block(self, P, *, dps: int | None = None):
        """Exact annealed per-block critical ``tau_k = s_k / expm1(2 ln P / d_k)``; ``(..., K)``."""
        s, d = np.asarray(self.variances), np.asarray(self.dims, dtype=float)
        if require_dps(dps) is not None:
            with mp.workdps(dps):
                lp = mp.log(mp.mpf(P))
                return [mp.mpf(v) / mp.expm1(2 * lp / dk) for v, dk in zip(self.variances, self.dims)]
        lp = _log_p(P)[..., None]
        with np.errstate(over="ignore"):  # P^(2/d) beyond float64: tau_block underflows to 0, its limit
            return s / np.expm1(2.0 * lp / d)

    def tau_collapse(self, P, *, dps: int | None = None) -> SolverResult:
        """Global collapse ``tau_c``: ``ln P = sum_k (d_k/2) ln(1 + s_k/tau_c)`` (vectorised in P)."""
        lp = _log_p(P)
        res = collapse_time(self.spectrum(), lp / self.N, dps=dps)
        if require_dps(dps) is not None:
            with mp.workdps(dps):
                tau = mp.expm1(2 * res.value)
        else:
            tau = scalar_or_array(np.expm1(2.0 * np.asarray(res.value)))
        return res.with_value(tau)

    def critical_tau(self, P, rule: str):
        """``tau`` below which each block is lost, under ``rule`` in :data:`RULES`."""
        if rule == "gauss_rem":
            return self.tau_gauss_rem(P)
        if rule == "block":
            return self.tau_block(P)
        raise InputError(f"rule must be one of {RULES}, got {rule!r}")

    def critical_log_p_gauss_rem(self, tau):
        """``ln P_i*`` at fixed ``tau`` under the per-direction rule; shape ``(..., K)``."""
        tau = require_positive("tau", tau)[..., None]
        s = np.asarray(self.variances)
        return (tau * s + self.g * self.sum_sq / 2.0) / (2.0 * tau * tau)

    def critical_log_p_block(self, tau):
        """``ln P_k = (d_k/2) log1p(s_k / tau)`` at fixed ``tau``; shape ``(..., K)``."""
        tau = require_positive("tau", tau)[..., None]
        return 0.5 * np.asarray(self.dims) * np.log1p(np.asarray(self.variances) / tau)

    def surviving_subspaces(self, tau, P, rule: str) -> np.ndarray:
        """Number of blocks not yet lost at noise ``tau`` (broadcast over ``tau`` and ``P``)."""
        tau = require_positive("tau", tau)
        crit = self.critical_tau(P, rule)
        return np.sum(tau[..., None] > crit, axis=-1)

    # -- the authors' singular-value model (for plotting) -------------------------------------
    def singular_value_model(self, tau, P) -> np.ndarray:
        """Model singular values of the score Jacobian per direction, shape ``(..., N)``::

            lambda_i = 1/(tau + s_i); phi_i = max(0, 1/tau - 1/tau_ci), tau_ci = sqrt((g S2/2 + tau s_i)/(2 ln P));
            phi_0 = g max(0, 1/tau - sqrt(4 ln P / S2)); F = sum_j s_j / (tau^2 (tau + s_j));
            varsigma_i = sqrt(lambda_i^2 + [F (phi_0 + phi_i)]^2).
        """
        tau = require_positive("tau", tau)[..., None]
        lp = float(_log_p(P))
        s = self.spectrum()
        lam = 1.0 / (tau + s)
        tau_ci = np.sqrt((self.g * self.sum_sq / 2.0 + tau * s) / (2.0 * lp))
        phi_i = np.maximum(0.0, 1.0 / tau - 1.0 / tau_ci)
        phi_0 = self.g * np.maximum(0.0, 1.0 / tau - np.sqrt(4.0 * lp / self.sum_sq))
        F = np.sum(s / (tau * tau * (tau + s)), axis=-1, keepdims=True)
        return np.sqrt(lam**2 + (F * (phi_0 + phi_i)) ** 2)

    # -- reporting ------------------------------------------------------------------------------
    def summary(self, P) -> dict:
        """JSON-ready predictions at dataset size ``P`` (scalar)."""
        P = require_int("P", P, 2)
        t_rem, t_blk = self.tau_gauss_rem(P), self.tau_block(P)
        coll = self.tau_collapse(P)
        per = []
        for k, (d, s) in enumerate(zip(self.dims, self.variances)):
            per.append({"dim": d, "variance": s,
                        "tau_gauss_rem": float(t_rem[k]), "t_gauss_rem": conventions.tau_to_t(float(t_rem[k])),
                        "tau_block": float(t_blk[k]), "t_block": conventions.tau_to_t(float(t_blk[k]))})
        return {"N": self.N, "P": P, "normalized": self.normalized, "g": self.g, "sum_sq": self.sum_sq,
                "per_subspace": per, "tau_collapse": float(coll.value), "t_collapse": conventions.tau_to_t(float(coll.value))}
