"""Exact one-point laws of the regularised empirical scores [BDKOS25] (docs/networks.md).

One training point ``a``; probability-flow ODE. Variance exploding (``dx/dsigma = -sigma s``):

* Tikhonov ``s_c = (a - x)/(sigma^2 + c)``: ``|x - a| = |x_T - a| sqrt((sigma^2 + c)/(sigma_T^2 + c))``;
* floored ``s_tau = grad p~ / max(p~, tau)``, ``p~ = exp(-|x - a|^2/(2 sigma^2))``: the flow
  memorises (ends on ``a``) iff ``|x_T - a| / sigma_T <= sqrt(2 ln(1/tau))``.

OU time (``x = e^{-t} a + ...``, ``s_c = (e^{-t} a - x)/(Delta_t + c)``): with ``u = x - e^{-t} a``,
``d ln|u|/dt = 1/(Delta_t + c) - 1``, so ``|u(t)| ∝ G_c(t) = ((1 + c) e^{2t} - 1)^{1/(2(1+c))} e^{-t}``.
"""

from __future__ import annotations

import math

import numpy as np

from .validation import InputError, require_nonnegative, require_positive

__all__ = ["tikhonov_distance_ve", "tikhonov_profile_ou", "floored_threshold", "floored_memorizes"]


def tikhonov_distance_ve(sigma, distance_T: float, sigma_T: float, c: float):
    """``|x(sigma) - a|`` along the VE flow of ``s_c`` started at distance ``distance_T`` at ``sigma_T``."""
    sigma = require_nonnegative("sigma", sigma)
    c = float(require_nonnegative("c", c))
    return distance_T * np.sqrt((sigma**2 + c) / (float(require_positive("sigma_T", sigma_T)) ** 2 + c))


def tikhonov_profile_ou(t, c: float):
    """``G_c(t)``: the OU flow of ``s_c`` keeps ``|u(t)| / G_c(t)`` constant (``t >= 0``, ``c >= 0``;
    ``G_0(t) = sqrt(Delta_t)``)."""
    t = require_nonnegative("t", t)
    c = float(require_nonnegative("c", c))
    return ((1 + c) * np.exp(2 * t) - 1) ** (1 / (2 * (1 + c))) * np.exp(-t)


def floored_threshold(tau: float) -> float:
    """``sqrt(2 ln(1/tau))`` (``0 < tau < 1``): the largest ``|x_T - a|/sigma_T`` that still memorises."""
    tau = float(require_positive("tau", tau))
    if tau >= 1:
        raise InputError(f"tau must be < 1 (p~ <= 1 for one point), got {tau}")
    return math.sqrt(2 * math.log(1 / tau))


def floored_memorizes(distance_T, sigma_T: float, tau: float):
    """Whether the floored flow started at ``distance_T`` from ``a`` at ``sigma_T`` ends on ``a``."""
    return np.asarray(distance_T) / float(require_positive("sigma_T", sigma_T)) <= floored_threshold(tau)
