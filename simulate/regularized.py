"""Regularised closed-form scores of the empirical density [BDKOS25] (physics.md section 5).

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

from ._torch import check_points
from .scores import ou_coefficients

__all__ = ["softmax_weights", "empirical_score_general", "tikhonov_score", "floored_score", "TikhonovScore",
           "FlooredScore", "sample_heun_ve"]


def _logits(data: torch.Tensor, x: torch.Tensor, scale: float, sigma: float) -> torch.Tensor:
    check_points("x", x, dim=data.shape[1])
    if not (sigma > 0 and math.isfinite(sigma)):
        raise ValueError(f"sigma must be > 0, got {sigma!r}")
    return -((x[:, None, :] - scale * data[None, :, :]) ** 2).sum(-1) / (2 * sigma**2)


def softmax_weights(data, x, scale: float, sigma: float) -> torch.Tensor:
    """``w_n(x)`` (B, P)."""
    return torch.softmax(_logits(data, x, scale, sigma), dim=1)


def empirical_score_general(data, x, scale: float, sigma: float) -> torch.Tensor:
    return (scale * softmax_weights(data, x, scale, sigma) @ data - x) / sigma**2


def tikhonov_score(data, x, scale: float, sigma: float, c: float) -> torch.Tensor:
    """``(scale m(x) - x) / (sigma^2 + c)``, ``c >= 0``."""
    if not (c >= 0 and math.isfinite(c)):
        raise ValueError(f"c must be >= 0, got {c!r}")
    return (scale * softmax_weights(data, x, scale, sigma) @ data - x) / (sigma**2 + c)


def floored_score(data, x, scale: float, sigma: float, tau: float) -> torch.Tensor:
    """``grad p~ / max(p~, tau)`` with the unnormalised ``p~`` (``0 < tau``).

    ``grad p~ = p~ s_N``, so this is ``s_N * p~ / max(p~, tau)``, evaluated in log space."""
    if not (tau > 0 and math.isfinite(tau)):
        raise ValueError(f"tau must be > 0, got {tau!r}")
    logits = _logits(data, x, scale, sigma)
    log_p = torch.logsumexp(logits, dim=1)
    s_n = (scale * torch.softmax(logits, dim=1) @ data - x) / sigma**2
    factor = torch.exp(log_p - torch.clamp(log_p, min=math.log(tau)))
    return s_n * factor[:, None]


class TikhonovScore:
    """``s_c`` in OU time (``scale = e^{-t}``, ``sigma^2 = Delta_t``), for the samplers."""

    def __init__(self, data: torch.Tensor, c: float):
        self.data = check_points("data", data)
        self.c = float(c)

    def __call__(self, x, t):
        scale, var = ou_coefficients(t)
        return tikhonov_score(self.data, x, scale, math.sqrt(var), self.c)


class FlooredScore:
    """``s_tau`` in OU time, for the samplers."""

    def __init__(self, data: torch.Tensor, tau: float):
        self.data = check_points("data", data)
        self.tau = float(tau)

    def __call__(self, x, t):
        scale, var = ou_coefficients(t)
        return floored_score(self.data, x, scale, math.sqrt(var), self.tau)


@torch.no_grad()
def sample_heun_ve(score_ve, x: torch.Tensor, sigmas) -> torch.Tensor:
    """Variance-exploding probability-flow ODE ``dx/dsigma = -sigma s(x, sigma)`` with Heun steps
    along decreasing ``sigmas`` (the last step is Euler when it ends at 0). ``score_ve(x, sigma)``."""
    sig = [float(s) for s in sigmas]
    if len(sig) < 2 or any(b >= a for a, b in zip(sig, sig[1:])) or sig[-1] < 0:
        raise ValueError("sigmas must be strictly decreasing and >= 0")
    for s, s_next in zip(sig[:-1], sig[1:]):
        d1 = -s * score_ve(x, s)
        x_euler = x + (s_next - s) * d1
        if s_next == 0:
            x = x_euler
            continue
        d2 = -s_next * score_ve(x_euler, s_next)
        x = x + 0.5 * (s_next - s) * (d1 + d2)
    return x
