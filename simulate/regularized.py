"""Regularised closed-form scores of the empirical density [BDKOS25] (docs/networks.md).

The dense functions (``softmax_weights`` ... ``floored_score``) form the full ``B x P`` weights:
they are the reference forms for small checks. :class:`TikhonovScore` and :class:`FlooredScore`,
which the samplers use, are computed from one streamed pass of the empirical score instead.

Written for a general Gaussian perturbation ``x = scale * a + sigma * z`` (OU: ``scale = e^{-t}``,
``sigma^2 = Delta_t``; variance exploding: ``scale = 1``). With softmax weights
``w_n ~ exp(-|x - scale a_n|^2 / (2 sigma^2))`` and ``m(x) = sum_n w_n a_n``:

* empirical score ``s_N = (scale m - x) / sigma^2``;
* **Tikhonov** ``s_c = (scale m - x) / (sigma^2 + c)``: the minimiser of the denoising loss with an
  extra ``c |s|^2`` penalty. For one training point the probability-flow distance to it scales
  as ``sqrt(sigma^2 + c)``, so samples stop at a distance set by ``c``;
* **asymptotic-consistency floor** ``s_tau = grad p~ / max(p~, tau)`` with the *unnormalised*
  ``p~(x) = sum_n exp(-|x - scale a_n|^2 / (2 sigma^2))`` (the authors' normalisation). For one
  training point the ODE memorises iff ``|x_T - a_1| / sigma_T <= sqrt(2 ln(1/tau))``.
"""

from __future__ import annotations

import math

import torch

from theory.validation import InputError

from ._torch import check_points
from .scores import as_empirical_score, ou_coefficients

__all__ = ["softmax_weights", "empirical_score_general", "tikhonov_score", "floored_score", "TikhonovScore",
           "FlooredScore"]


def _logits(data: torch.Tensor, x: torch.Tensor, scale: float, sigma: float) -> torch.Tensor:
    check_points("x", x, dim=data.shape[1])
    if not (sigma > 0 and math.isfinite(sigma)):
        raise InputError(f"sigma must be > 0, got {sigma!r}")
    return -((x[:, None, :] - scale * data[None, :, :]) ** 2).sum(-1) / (2 * sigma**2)


def softmax_weights(data, x, scale: float, sigma: float) -> torch.Tensor:
    """``w_n(x)`` (B, P)."""
    return torch.softmax(_logits(data, x, scale, sigma), dim=1)


def empirical_score_general(data, x, scale: float, sigma: float) -> torch.Tensor:
    """``s_N = (scale m(x) - x) / sigma^2`` (dense)."""
    return (scale * softmax_weights(data, x, scale, sigma) @ data - x) / sigma**2


def tikhonov_score(data, x, scale: float, sigma: float, c: float) -> torch.Tensor:
    """``(scale m(x) - x) / (sigma^2 + c)``, ``c >= 0``."""
    if not (c >= 0 and math.isfinite(c)):
        raise InputError(f"c must be >= 0, got {c!r}")
    return (scale * softmax_weights(data, x, scale, sigma) @ data - x) / (sigma**2 + c)


def floored_score(data, x, scale: float, sigma: float, tau: float) -> torch.Tensor:
    """``grad p~ / max(p~, tau)`` with the unnormalised ``p~`` (``0 < tau``).

    ``grad p~ = p~ s_N``, so this is ``s_N * p~ / max(p~, tau)``, evaluated in log space."""
    if not (tau > 0 and math.isfinite(tau)):
        raise InputError(f"tau must be > 0, got {tau!r}")
    logits = _logits(data, x, scale, sigma)
    log_p = torch.logsumexp(logits, dim=1)
    s_n = (scale * torch.softmax(logits, dim=1) @ data - x) / sigma**2
    factor = torch.exp(log_p - torch.clamp(log_p, min=math.log(tau)))
    return s_n * factor[:, None]


class TikhonovScore:
    """``s_c = (e^{-t} m(x) - x) / (Delta_t + c) = s_N Delta_t / (Delta_t + c)`` in OU time, from
    the streamed empirical score ``s_N`` of ``data`` (a tensor or any empirical score)."""

    def __init__(self, data, c: float):
        if not (c >= 0 and math.isfinite(c)):
            raise InputError(f"c must be >= 0, got {c!r}")
        self.empirical = as_empirical_score(data)
        self.c = float(c)

    def __call__(self, x, t):
        """The Tikhonov score at ``(x, t)``."""
        _, var = ou_coefficients(t)
        return self.empirical(x, t) * (var / (var + self.c))


class FlooredScore:
    """``s_tau = s_N p~ / max(p~, tau)`` in OU time with the unnormalised
    ``p~(x) = sum_n exp(-|x - e^{-t} a_n|^2 / (2 Delta_t))`` (the authors' normalisation), from one
    streamed pass of the empirical score of ``data`` (a tensor or any empirical score)."""

    def __init__(self, data, tau: float):
        if not (tau > 0 and math.isfinite(tau)):
            raise InputError(f"tau must be > 0, got {tau!r}")
        self.empirical = as_empirical_score(data)
        self.tau = float(tau)

    def __call__(self, x, t):
        """The floored score at ``(x, t)``."""
        _, var = ou_coefficients(t)
        ev = self.empirical.evaluate(x, t)
        # ln p~ = ln P^e_t + ln P + (N/2) ln(2 pi Delta_t)
        log_p = ev.log_density + math.log(self.empirical.P) + 0.5 * self.empirical.N * math.log(2 * math.pi * var)
        factor = torch.exp(log_p - torch.clamp(log_p, min=math.log(self.tau)))
        return ev.score * factor[:, None]
