"""Seeded data generators (all randomness from a ``torch.Generator``).

Each returns a :class:`Dataset` with ``data`` of shape ``(P, N)``, ``labels`` (or None) and
the generating parameters, so that theory can be evaluated for exactly what was sampled.
Arguments come in the project's order: what fixes the dimension first (``N``, a spectrum, block
dimensions, a feature matrix), then the dataset size ``P``. Draws from the noised laws take the
source first, then the time, then the number of draws: ``noised(data, t, n)``,
``mixture_marginal(mean, t, n)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from theory.validation import InputError, require_fits, require_int, require_positive

__all__ = ["Dataset", "block_gaussian", "isotropic_gaussian", "mixture_marginal", "noised", "spectrum_gaussian", "two_class_mixture"]


@dataclass
class Dataset:
    """Training set ``data`` (P, N), optional integer ``labels`` (P,), and metadata."""

    data: torch.Tensor
    labels: torch.Tensor | None = None
    params: dict = field(default_factory=dict)

    @property
    def P(self) -> int:
        """Number of training points."""
        return int(self.data.shape[0])

    @property
    def N(self) -> int:
        """Dimension."""
        return int(self.data.shape[1])


def _normal(shape, generator, dtype, device):
    return torch.randn(*shape, generator=generator, dtype=dtype, device=device)


def isotropic_gaussian(N, P, sigma=1.0, *, generator, dtype=torch.float64, device="cpu") -> Dataset:
    """``P`` points from ``N(0, sigma^2 I_N)``."""
    N, P = require_int("N", N, 1), require_int("P", P, 2)
    require_fits(f"P x N = {P} x {N} points", 2.0 * P * N * 8)
    sigma = float(require_positive("sigma", sigma))
    return Dataset(sigma * _normal((P, N), generator, dtype, device), None,
                   {"model": "isotropic", "sigma": sigma})


def spectrum_gaussian(eigenvalues, P, *, generator, rotate: bool = True, dtype=torch.float64, device="cpu") -> Dataset:
    """``P`` points from ``N(0, C)`` with eigenvalues ``eigenvalues`` (length ``N``).

    With ``rotate=True`` the eigenbasis is a Haar-random orthogonal matrix (drawn from the same
    generator, returned in ``params["basis"]``); otherwise the coordinate axes.
    """
    P = require_int("P", P, 2)
    lam = np.asarray(eigenvalues, dtype=float)
    if lam.ndim != 1 or lam.size < 1:
        raise InputError("eigenvalues must be a non-empty 1-D array")
    require_positive("eigenvalues", lam)
    N = lam.size
    scale = torch.as_tensor(np.sqrt(lam), dtype=dtype, device=device)
    x = _normal((P, N), generator, dtype, device) * scale
    basis = None
    if rotate:
        q, r = torch.linalg.qr(_normal((N, N), generator, dtype, device))
        basis = q * torch.sign(torch.diagonal(r))  # Haar measure needs the sign fix
        x = x @ basis.T
    return Dataset(x, None, {"model": "spectrum", "eigenvalues": lam, "basis": basis})


def two_class_mixture(N, P, mu=1.0, sigma=1.0, *, generator, dtype=torch.float64, device="cpu") -> Dataset:
    """``P`` points from ``(1/2)[N(+m, sigma^2 I) + N(-m, sigma^2 I)]``, ``m = mu * (1, ..., 1)``.

    ``|m|^2 = mu^2 N``. ``labels`` are 0 for ``+m`` and 1 for ``-m`` (fair coin per point).
    """
    N, P = require_int("N", N, 1), require_int("P", P, 2)
    require_fits(f"P x N = {P} x {N} points", 2.0 * P * N * 8)
    mu = float(require_positive("mu", mu))
    sigma = float(require_positive("sigma", sigma))
    labels = torch.randint(0, 2, (P,), generator=generator, device=device)
    mean = torch.full((N,), mu, dtype=dtype, device=device)
    signs = (1 - 2 * labels).to(dtype)[:, None]
    x = signs * mean + sigma * _normal((P, N), generator, dtype, device)
    return Dataset(x, labels, {"model": "two_class_mixture", "mu": mu, "sigma": sigma, "mean": mean})


def noised(data, t: float, n: int, *, generator):
    """``n`` exact draws from the empirical density at time ``t``: ``e^{-t} a^mu + sqrt(Delta_t) z``,
    ``mu`` uniform. ``data`` is the training set (P, N) or any empirical score (its ``rows``).
    Returns ``(x, mu)``."""
    from ._torch import check_points
    from .scores import EmpiricalScoreBase

    n = require_int("n", n, 1)
    t = float(require_positive("t", t))
    if isinstance(data, EmpiricalScoreBase):
        P, N, dtype, device, rows = data.P, data.N, data.dtype, data.device, data.rows
    else:
        data = check_points("data", data)
        P, N, dtype, device, rows = data.shape[0], data.shape[1], data.dtype, data.device, data.__getitem__
    require_fits(f"n x N = {n} x {N} draws", 2.0 * n * N * torch.finfo(dtype).bits / 8)
    mu = torch.randint(0, P, (n,), generator=generator, device=device)
    z = torch.randn((n, N), generator=generator, dtype=dtype, device=device)
    return math.exp(-t) * rows(mu).to(dtype) + math.sqrt(-math.expm1(-2 * t)) * z, mu


def mixture_marginal(mean: torch.Tensor, t: float, n: int, sigma: float = 1.0, *, generator):
    """``n`` exact draws from the two-class mixture's law at OU time ``t``:
    ``s m e^{-t} + sqrt(Gamma_t) z`` with ``s = +-1`` fair and ``Gamma_t = Delta_t + sigma^2 e^{-2t}``."""
    n = require_int("n", n, 1)
    require_fits(f"n x N = {n} x {mean.shape[-1]} draws", 2.0 * n * mean.shape[-1] * 8)
    t = float(require_positive("t", t))
    c = math.exp(-t)
    gamma = -math.expm1(-2 * t) + sigma**2 * c * c
    s = 1 - 2 * torch.randint(0, 2, (n,), generator=generator, device=mean.device).to(mean.dtype)
    z = torch.randn((n, mean.shape[0]), generator=generator, dtype=mean.dtype, device=mean.device)
    return s[:, None] * (c * mean) + math.sqrt(gamma) * z


def block_gaussian(dims, stds, P, *, normalized: bool = False, generator, dtype=torch.float64, device="cpu") -> Dataset:
    """Linear-manifold data [AVS+24]: K orthogonal coordinate blocks, block k with ``dims[k]``
    directions of standard deviation ``stds[k]`` (variance ``stds[k]**2``).

    With ``normalized=True`` every point is projected on the sphere of radius
    ``sqrt(sum_k d_k s_k)`` (its mean norm), which removes the fluctuations of ``|a|^2`` (g = 0).
    ``params["blocks"]`` lists the coordinate slices of the blocks.
    """
    P = require_int("P", P, 2)
    dims = [require_int("dims", d, 1) for d in dims]
    stds = np.asarray(stds, dtype=float)
    if stds.shape != (len(dims),):
        raise InputError(f"stds must have one value per block ({len(dims)}), got {stds.shape}")
    require_positive("stds", stds)
    scale = torch.as_tensor(np.repeat(stds, dims), dtype=dtype, device=device)
    x = _normal((P, int(sum(dims))), generator, dtype, device) * scale
    if normalized:
        radius = float(np.sqrt(np.sum(np.asarray(dims) * stds**2)))
        x = x * (radius / x.norm(dim=1, keepdim=True))
    edges = np.concatenate([[0], np.cumsum(dims)])
    blocks = [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
    return Dataset(x, None, {"model": "blocks", "dims": list(dims), "stds": stds.tolist(), "normalized": normalized,
                             "blocks": blocks})
