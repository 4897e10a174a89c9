"""Project-wide conventions and exact time converters.

Forward process: Ornstein–Uhlenbeck ``dx = -x dt + sqrt(2) dB`` so that
``x(t) = a e^{-t} + sqrt(Delta_t) z`` with ``Delta_t = 1 - e^{-2t}`` [BBBM24].
Equivalent parameterisations of the same noise level:

* variance-exploding noise variance ``tau = e^{2t} - 1``, ``t = log(1 + tau) / 2``;
* EDM noise level ``sigma_EDM = sqrt(e^{2t} - 1) = sqrt(tau)`` (``x_EDM = x e^t``);
* DDPM integer step ``k`` of a linear-beta schedule, ``t_k = -log(alphabar_k) / 2``.

All converters are exact, vectorised over numpy arrays and accept an mpmath precision
(``dps``) where an mpmath path makes sense.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import mpmath as mp
import numpy as np

from .validation import InputError, require_finite, require_int, require_nonnegative, require_positive, scalar_or_array, require_dps

__all__ = [
    "delta",
    "alpha",
    "signal_to_noise",
    "t_to_tau",
    "tau_to_t",
    "t_to_sigma_edm",
    "sigma_edm_to_t",
    "DDPMSchedule",
    "DEFAULT_DDPM",
    "t_from_ddpm_step",
    "ddpm_step_from_t",
]


def _checked(name: str, value, check, dps):
    """``check(name, value)``. On the mpmath path (``dps`` given) ``value`` must be one scalar,
    which may be a decimal string or an ``mpf`` (kept exact); its range is checked the same way."""
    if dps is None:
        return check(name, value)
    try:
        exact = mp.mpf(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a real scalar on the mpmath path (dps given), got {value!r}") from None
    check(name, float(exact))
    return exact


def delta(t, *, dps: int | None = None):
    """Noise variance ``Delta_t = 1 - e^{-2t}``, computed as ``-expm1(-2t)`` (no cancellation)."""
    checked = _checked("t", t, require_nonnegative, dps)
    if require_dps(dps) is not None:
        with mp.workdps(dps):
            return -mp.expm1(-2 * mp.mpf(t))
    return scalar_or_array(-np.expm1(-2.0 * checked))


def alpha(N, P):
    """``alpha = ln P / N`` (natural logarithm), so that ``P = e^{alpha N}``.

    Like every function of the project, dimension first: ``alpha(N, P)``."""
    N = require_int("N", N, 1)
    P = require_int("P", P, 2)
    return math.log(P) / N  # math.log: exact for Python integers beyond float range (P = e^{alpha N})


def signal_to_noise(t):
    """``g = e^{-2t} / Delta_t = 1 / (e^{2t} - 1) = 1 / tau``."""
    t = require_positive("t", t)
    return scalar_or_array(1.0 / np.expm1(2.0 * t))


def _representable(name: str, value: np.ndarray, arg: str, limit: float):
    """``value`` unless a finite argument overflowed float64: then an :class:`InputError` naming the
    argument, its float64 limit and the ``dps=`` path that gives the number."""
    if not np.all(np.isfinite(value)):
        raise InputError(f"{arg} must be <= {limit} in float64 ({name} exceeds 1.8e308 beyond it); "
                         f"pass dps= for the exact value")
    return scalar_or_array(value)


def t_to_tau(t, *, dps: int | None = None):
    """Variance-exploding noise variance ``tau = e^{2t} - 1`` (beyond ``t = 354.89`` it exceeds
    float64: refused there, ``dps=`` gives the value)."""
    checked = _checked("t", t, require_nonnegative, dps)
    if require_dps(dps) is not None:
        with mp.workdps(dps):
            return mp.expm1(2 * mp.mpf(t))
    with np.errstate(over="ignore"):
        return _representable("tau", np.expm1(2.0 * checked), "t", 354.89)


def tau_to_t(tau, *, dps: int | None = None):
    """Inverse of :func:`t_to_tau`: ``t = log1p(tau) / 2``."""
    checked = _checked("tau", tau, require_nonnegative, dps)
    if require_dps(dps) is not None:
        with mp.workdps(dps):
            return mp.log1p(mp.mpf(tau)) / 2
    return scalar_or_array(0.5 * np.log1p(checked))


def t_to_sigma_edm(t, *, dps: int | None = None):
    """EDM noise level ``sigma_EDM = sqrt(e^{2t} - 1)`` (beyond ``t = 709.78`` it exceeds float64:
    refused there, ``dps=`` gives the value)."""
    checked = _checked("t", t, require_nonnegative, dps)
    if require_dps(dps) is not None:
        with mp.workdps(dps):
            return mp.sqrt(mp.expm1(2 * mp.mpf(t)))
    # e^t sqrt(1 - e^{-2t}): the same number, finite up to t = 709 (expm1(2t) overflows past t = 354)
    with np.errstate(over="ignore"):
        return _representable("sigma_EDM", np.exp(checked) * np.sqrt(-np.expm1(-2.0 * checked)), "t", 709.78)


def sigma_edm_to_t(sigma_edm, *, dps: int | None = None):
    """Inverse of :func:`t_to_sigma_edm`: ``t = log1p(sigma_EDM^2) / 2``."""
    checked = _checked("sigma_edm", sigma_edm, require_nonnegative, dps)
    if require_dps(dps) is not None:
        with mp.workdps(dps):
            return mp.log1p(mp.mpf(sigma_edm) ** 2) / 2
    # ln(sigma) + log1p(sigma^-2)/2 where sigma^2 would overflow
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # the branch np.where drops
        big = np.asarray(checked) > 1e150
        return scalar_or_array(np.where(big, np.log(checked) + 0.5 * np.log1p(1.0 / (checked * checked)),
                                        0.5 * np.log1p(checked * checked)))


@dataclass(frozen=True)
class DDPMSchedule:
    """A linear-beta DDPM schedule ``beta_k = linspace(beta_start, beta_end, steps)[k]``.

    ``alphabar_k = prod_{j <= k} (1 - beta_j)`` and ``t_k = -log(alphabar_k) / 2`` (so that
    ``e^{-2 t_k} = alphabar_k``). Steps are 0-based. Fractional steps interpolate ``t``
    linearly between integer steps, which makes :meth:`t_from_step` and :meth:`step_from_t`
    exact inverses of each other on ``[0, steps - 1]``.
    """

    beta_start: float = 1e-4
    beta_end: float = 2e-2
    steps: int = 1000

    def __post_init__(self):
        require_int("steps", self.steps, 2)
        require_in = (0 < self.beta_start < 1) and (0 < self.beta_end < 1)
        if not require_in:
            raise InputError("beta_start and beta_end must lie in (0, 1)")

    @cached_property
    def times(self) -> np.ndarray:
        """``t_k`` for every integer step, float64 (sum of ``log1p(-beta)``: no cancellation)."""
        betas = np.linspace(self.beta_start, self.beta_end, self.steps)
        return -0.5 * np.cumsum(np.log1p(-betas))

    def times_mpmath(self, dps: int) -> list:
        """``t_k`` at ``dps`` digits (the betas are the exact decimal linspace)."""
        with mp.workdps(dps + 5):
            b0, b1 = mp.mpf(str(self.beta_start)), mp.mpf(str(self.beta_end))
            out, acc = [], mp.mpf(0)
            for k in range(self.steps):
                beta = b0 + (b1 - b0) * k / (self.steps - 1)
                acc += mp.log1p(-beta)
                out.append(-acc / 2)
        return out

    def t_from_step(self, step):
        """OU time of (possibly fractional) step(s) in ``[0, steps - 1]``."""
        k = require_finite("step", step)
        if np.any((k < 0) | (k > self.steps - 1)):
            raise InputError(f"step must lie in [0, {self.steps - 1}], got {step!r}")
        return scalar_or_array(np.interp(k, np.arange(self.steps), self.times))

    def step_from_t(self, t):
        """Fractional step whose time is ``t``; ``t`` must lie in ``[t_0, t_{steps-1}]``."""
        t = require_finite("t", t)
        lo, hi = self.times[0], self.times[-1]
        if np.any((t < lo) | (t > hi)):
            raise InputError(f"t must lie in [{lo:.6g}, {hi:.6g}] for this DDPM schedule, got {t!r}")
        return scalar_or_array(np.interp(t, self.times, np.arange(self.steps, dtype=float)))

    def nearest_step(self, t):
        """Integer step whose time is closest to ``t`` (clipped to the schedule)."""
        t = require_finite("t", t)
        idx = np.clip(np.searchsorted(self.times, t), 1, self.steps - 1)
        left, right = self.times[idx - 1], self.times[idx]
        out = np.where(np.abs(t - left) <= np.abs(right - t), idx - 1, idx)
        return int(out) if out.ndim == 0 else out


DEFAULT_DDPM = DDPMSchedule()


def t_from_ddpm_step(step, schedule: DDPMSchedule = DEFAULT_DDPM):
    """OU time of a DDPM step (default: linear beta 1e-4..2e-2 over 1000 steps)."""
    return schedule.t_from_step(step)


def ddpm_step_from_t(t, schedule: DDPMSchedule = DEFAULT_DDPM):
    """Fractional DDPM step of OU time ``t`` (inverse of :func:`t_from_ddpm_step`)."""
    return schedule.step_from_t(t)
