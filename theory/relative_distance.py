"""Squared L2 distances between a Gaussian and Gaussian-kernel densities, in closed form [H24]
(docs/networks.md).

A set ``Y`` of ``m`` points in ``d`` dimensions defines the kernel density
``p_K^Y(x) = (1/m) sum_y N(x; y, eps^2 I)`` with ``eps = s m^{-1/d}``. For a Gaussian
``p_G = N(mu, Sigma)``::

    int p_K^2    = (1/m^2) sum_{ij} (4 pi eps^2)^{-d/2} exp(-|y_i - y_j|^2 / (4 eps^2))
    int p_G p_K  = (1/m) sum_i N(y_i; mu, Sigma + eps^2 I)
    int p_G^2    = (4 pi)^{-d/2} det(Sigma)^{-1/2}

all evaluated with log-sum-exp. The relative distance of [H24] is
``Delta = ||p_G - p_K^X||^2 - ||p_G - p_K^O||^2`` (training set ``X`` against a large fresh
sample ``O``): ``Delta > 0`` means the generated law is closer to fresh data than to the
training set (generalisation), ``Delta < 0`` memorisation.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from .validation import InputError, require_positive

__all__ = ["kernel_bandwidth", "log_kernel_self_overlap", "log_gaussian_kernel_overlap", "log_gaussian_self_overlap",
           "l2_distance_squared", "relative_distance", "log_kernel_cross_overlap", "kernel_l2_distance_squared",
           "kernel_relative_distance", "gaussian_hellinger_squared", "gaussian_hellinger_to", "gaussian_kl"]


def _points(Y) -> np.ndarray:
    Y = np.asarray(Y, dtype=float)
    if Y.ndim != 2 or Y.shape[0] < 1 or not np.all(np.isfinite(Y)):
        raise InputError("points must be a finite array of shape (m, d)")
    return Y


def _gaussian(mean, cov, d: int, *, allow_singular: bool = False):
    mean = np.asarray(mean, dtype=float).reshape(-1)
    cov = np.asarray(cov, dtype=float)
    if cov.ndim == 1:
        cov = np.diag(cov)
    if mean.shape != (d,) or cov.shape != (d, d):
        raise InputError(f"mean must have shape ({d},) and cov ({d}, {d})")
    smallest = np.linalg.eigvalsh(cov).min()
    if not np.allclose(cov, cov.T) or smallest < (-1e-12 * max(1.0, np.abs(cov).max()) if allow_singular else 1e-300):
        raise InputError("cov must be symmetric positive " + ("semi-definite" if allow_singular else "definite"))
    return mean, cov


def kernel_bandwidth(m: int, d: int, s: float = 1.0) -> float:
    """``eps = s m^{-1/d}``."""
    return float(require_positive("s", s)) * m ** (-1.0 / d)


def log_kernel_self_overlap(Y, eps: float) -> float:
    """``ln int p_K^2``."""
    Y = _points(Y)
    m, d = Y.shape
    sq = np.sum((Y[:, None, :] - Y[None, :, :]) ** 2, axis=-1)
    return float(logsumexp(-sq / (4 * eps**2)) - 2 * np.log(m) - 0.5 * d * np.log(4 * np.pi * eps**2))


def log_gaussian_kernel_overlap(Y, eps: float, mean, cov) -> float:
    """``ln int p_G p_K`` (``Sigma`` may be singular: only ``Sigma + eps^2 I`` is inverted)."""
    Y = _points(Y)
    m, d = Y.shape
    mean, cov = _gaussian(mean, cov, d, allow_singular=True)
    S = cov + eps**2 * np.eye(d)
    L = np.linalg.cholesky(S)
    z = np.linalg.solve(L, (Y - mean).T)
    logdet = 2 * np.sum(np.log(np.diag(L)))
    logpdf = -0.5 * np.sum(z * z, axis=0) - 0.5 * logdet - 0.5 * d * np.log(2 * np.pi)
    return float(logsumexp(logpdf) - np.log(m))


def log_gaussian_self_overlap(cov) -> float:
    """``ln int p_G^2 = -(d/2) ln(4 pi) - (1/2) ln det Sigma``."""
    cov = np.asarray(cov, dtype=float)
    cov = np.diag(cov) if cov.ndim == 1 else cov
    sign, logdet = np.linalg.slogdet(cov)
    if sign <= 0:
        raise InputError("cov must be positive definite")
    return float(-0.5 * cov.shape[0] * np.log(4 * np.pi) - 0.5 * logdet)


def l2_distance_squared(Y, mean, cov, *, s: float = 1.0, eps: float | None = None) -> float:
    """``||p_G - p_K^Y||^2 = int p_G^2 - 2 int p_G p_K + int p_K^2`` (bandwidth ``s m^{-1/d}`` unless
    ``eps`` is given)."""
    Y = _points(Y)
    m, d = Y.shape
    eps = kernel_bandwidth(m, d, s) if eps is None else float(require_positive("eps", eps))
    return float(np.exp(log_gaussian_self_overlap(cov)) - 2 * np.exp(log_gaussian_kernel_overlap(Y, eps, mean, cov))
                 + np.exp(log_kernel_self_overlap(Y, eps)))


def relative_distance(X, O, mean, cov, *, s: float = 1.0, fresh_self_overlap: float | None = None) -> float:
    """``Delta = ||p_G - p_K^X||^2 - ||p_G - p_K^O||^2`` (each set with its own bandwidth).

    ``int p_G^2`` cancels, so ``Sigma`` may be singular (a degenerate generator, e.g. a linear
    denoiser fitted on ``n <= d`` points). ``fresh_self_overlap`` (``int (p_K^O)^2``, from
    :func:`log_kernel_self_overlap`) can be passed to avoid its ``O(|O|^2)`` cost in repeated calls."""
    X, O = _points(X), _points(O)

    def part(Y, self_overlap=None):
        m, d = Y.shape
        eps = kernel_bandwidth(m, d, s)
        if self_overlap is None:
            self_overlap = np.exp(log_kernel_self_overlap(Y, eps))
        return self_overlap - 2 * np.exp(log_gaussian_kernel_overlap(Y, eps, mean, cov))

    return float(part(X) - part(O, fresh_self_overlap))


def log_kernel_cross_overlap(Y, Z, eps_y: float, eps_z: float) -> float:
    """``ln int p_K^Y p_K^Z = ln (1/(m n)) sum_ij N(y_i - z_j; 0, (eps_y^2 + eps_z^2) I)``."""
    Y, Z = _points(Y), _points(Z)
    if Y.shape[1] != Z.shape[1]:
        raise InputError(f"point sets must have one dimension, got {Y.shape[1]} and {Z.shape[1]}")
    d = Y.shape[1]
    var = float(require_positive("eps_y", eps_y)) ** 2 + float(require_positive("eps_z", eps_z)) ** 2
    sq = np.sum((Y[:, None, :] - Z[None, :, :]) ** 2, axis=-1)
    return float(logsumexp(-sq / (2 * var)) - np.log(Y.shape[0] * Z.shape[0]) - 0.5 * d * np.log(2 * np.pi * var))


def kernel_l2_distance_squared(Y, Z, *, s: float = 1.0) -> float:
    """``||p_K^Y - p_K^Z||^2`` between the kernel densities of two point sets, each with its own
    bandwidth ``s m^{-1/d}`` (the kernel-vs-kernel distance of [H24]: network samples against the
    training set or a fresh sample)."""
    Y, Z = _points(Y), _points(Z)
    d = Y.shape[1]
    ey, ez = kernel_bandwidth(Y.shape[0], d, s), kernel_bandwidth(Z.shape[0], d, s)
    return float(np.exp(log_kernel_self_overlap(Y, ey)) + np.exp(log_kernel_self_overlap(Z, ez))
                 - 2 * np.exp(log_kernel_cross_overlap(Y, Z, ey, ez)))


def kernel_relative_distance(G, X, O, *, s: float = 1.0) -> float:
    """``||p_K^G - p_K^X||^2 - ||p_K^G - p_K^O||^2``: generated samples ``G`` against the training
    set ``X`` and a fresh sample ``O``, all as kernel densities (> 0: closer to fresh data)."""
    return kernel_l2_distance_squared(G, X, s=s) - kernel_l2_distance_squared(G, O, s=s)


def gaussian_hellinger_squared(mean1, cov1, mean2, cov2) -> float:
    """Squared Hellinger distance ``H^2 = 1 - int sqrt(p q)`` between two Gaussians (closed form)::

        1 - det(S1)^{1/4} det(S2)^{1/4} / det(S)^{1/2} exp(-(m1 - m2)^T S^{-1} (m1 - m2) / 8),  S = (S1 + S2)/2

    in ``[0, 1]``; computed from Cholesky log-determinants (no overflow in high dimension). [H24]
    uses it between the generated Gaussian of a linear denoiser and the data law."""
    mean1 = np.asarray(mean1, dtype=float).reshape(-1)
    d = mean1.size
    mean1, cov1 = _gaussian(mean1, cov1, d)
    mean2, cov2 = _gaussian(mean2, cov2, d)
    S = 0.5 * (cov1 + cov2)
    logdet = lambda A: 2.0 * np.sum(np.log(np.diag(np.linalg.cholesky(A))))
    diff = mean1 - mean2
    quad = float(diff @ np.linalg.solve(S, diff))
    log_bc = 0.25 * logdet(cov1) + 0.25 * logdet(cov2) - 0.5 * logdet(S) - quad / 8.0
    return float(-np.expm1(log_bc))


def gaussian_kl(mean1, cov1, mean2, cov2) -> float:
    """``KL(N(m1, S1) || N(m2, S2)) = (1/2)[tr(S2^{-1} S1) + (m2 - m1)^T S2^{-1} (m2 - m1) - d + ln det S2 - ln det S1]``;
    ``inf`` when ``S1`` is singular (a degenerate law against a full-rank one)."""
    mean1 = np.asarray(mean1, dtype=float).reshape(-1)
    d = mean1.size
    mean1, cov1 = _gaussian(mean1, cov1, d, allow_singular=True)
    mean2, cov2 = _gaussian(mean2, cov2, d)
    sign, logdet1 = np.linalg.slogdet(cov1)
    if sign <= 0 or np.linalg.eigvalsh(cov1).min() <= 1e-12 * np.abs(cov1).max():
        return float("inf")
    _, logdet2 = np.linalg.slogdet(cov2)
    diff = mean2 - mean1
    return float(0.5 * (np.trace(np.linalg.solve(cov2, cov1)) + diff @ np.linalg.solve(cov2, diff) - d
                        + logdet2 - logdet1))


def gaussian_hellinger_to(mean1, cov1, mean2, cov2) -> float:
    """:func:`gaussian_hellinger_squared` allowing a singular ``cov1``: a degenerate law is mutually
    singular with a full-rank one, ``H^2 = 1``."""
    cov1 = np.asarray(cov1, dtype=float)
    if np.linalg.eigvalsh(cov1).min() <= 1e-12 * np.abs(cov1).max():
        return 1.0
    return gaussian_hellinger_squared(mean1, cov1, mean2, cov2)
