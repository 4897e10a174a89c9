"""Jacobians of scores and local-dimension estimators [AVS+24] (docs/subspaces.md).

For the empirical score in OU time the Jacobian is exact and closed-form::

    J(x, t) = -I / Delta_t + (e^{-2t} / Delta_t^2) Cov_w(a),

with ``Cov_w`` the covariance of the training points under the softmax weights; in the
variance-exploding variable (``x_VE = x e^t``, ``tau = e^{2t} - 1``) this is
``J_VE = e^{-2t} J = -I/tau + Cov_w/tau^2``. Where a direction generalises, ``Cov_w`` is about
the posterior variance ``s tau / (s + tau)`` and the singular value is ``1/(tau + s)``; where the
weights condense ``Cov_w -> 0`` and the singular value rises to the normal value ``1/tau``: the
direction is lost.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from theory.validation import InputError

from ._torch import check_points
from .scores import EmpiricalScoreBase, ou_coefficients

__all__ = [
    "empirical_score_jacobian",
    "posterior_covariance",
    "empirical_score_dense",
    "autograd_jacobian",
    "raw_score_probe",
    "probe_jacobian",
    "local_dimension_gap",
    "local_dimension_spike",
    "retained_variance",
    "LOST_FRACTION",
]

#: A subspace is lost when it retains less than this fraction of its generalising posterior
#: variance ``s tau / (s + tau)`` (equivalently, its Jacobian singular values are more than
#: half way from ``1/(tau + s)`` to the normal value ``1/tau``).
LOST_FRACTION = 0.5


def posterior_covariance(empirical: EmpiricalScoreBase, x: torch.Tensor, t: float) -> torch.Tensor:
    """``Cov_w(a)`` (B, N, N) under the softmax weights at ``(x, t)``, streamed over ``P`` by any
    empirical score (moments accumulated about ``x e^{t}``, which keeps ``E[dd] - E[d]E[d]`` well
    conditioned when the weights condense; the ``(B, chunk, N)`` buffer respects the budget)."""
    return empirical.posterior_covariance(x, t)


def empirical_score_jacobian(empirical: EmpiricalScoreBase, x: torch.Tensor, t: float, *,
                             variable: str = "ou") -> torch.Tensor:
    """Exact Jacobian of the empirical score at each row of ``x`` (B, N, N).

    ``variable="ou"``: ``dS/dx`` in OU variables; ``"ve"``: in variance-exploding variables,
    ``-I/tau + Cov_w / tau^2`` (``= e^{-2t}`` times the OU Jacobian).
    """
    c, var = ou_coefficients(t)
    cov = posterior_covariance(empirical, x, t)
    eye = torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
    jac = -eye / var + (c * c / (var * var)) * cov
    if variable == "ou":
        return jac
    if variable == "ve":
        return jac * (c * c)
    raise InputError(f"variable must be 'ou' or 've', got {variable!r}")


def empirical_score_dense(data: torch.Tensor, x: torch.Tensor, t: float) -> torch.Tensor:
    """The empirical score written densely (full B x P weights), differentiable by autograd.

    For checks and small problems; use :class:`EmpiricalScore` otherwise.
    """
    c, var = ou_coefficients(t)
    logits = -((x[:, None, :] - c * data[None, :, :]) ** 2).sum(-1) / (2 * var)
    w = torch.softmax(logits, dim=1)
    return (c * w @ data - x) / var


def autograd_jacobian(score: Callable, x: torch.Tensor, t: float) -> torch.Tensor:
    """Jacobian of any differentiable ``score(x, t)`` at each row of ``x`` (B, N, N), by
    ``torch.func.vmap(torch.func.jacrev(...))``."""
    x = check_points("x", x)
    single = lambda xi: score(xi[None], t)[0]
    return torch.func.vmap(torch.func.jacrev(single))(x)


def haar_orthogonal(N: int, *, generator=None, dtype=torch.float64, device=None) -> torch.Tensor:
    """A Haar-random ``N x N`` orthogonal matrix: QR of a Gaussian matrix with the signs of ``R``'s
    diagonal moved into ``Q`` (without them ``Q`` is not Haar-distributed)."""
    q, r = torch.linalg.qr(torch.randn(N, N, generator=generator, dtype=dtype, device=device))
    return q * torch.sign(torch.diagonal(r))


@torch.no_grad()
def probe_jacobian(score: Callable, x: torch.Tensor, t: float, *, step: float, generator=None) -> torch.Tensor:
    """The orthogonal-probe estimate of the Jacobian [AVS+24]: scores at ``x +- step * o_k`` for
    the columns ``o_k`` of a Haar-random orthogonal matrix ``O``; central differences give
    ``J O``, hence ``J ~ D O^T``. Error O(step^2); ``step`` should be small against ``sqrt(Delta_t)``."""
    x = check_points("x", x)
    B, N = x.shape
    if not (step > 0):
        raise InputError(f"step must be > 0, got {step!r}")
    O = haar_orthogonal(N, generator=generator, dtype=x.dtype, device=x.device)
    probes = x[:, None, :] + step * O.T[None, :, :]  # (B, N probes, N): row k is x + step o_k
    minus = x[:, None, :] - step * O.T[None, :, :]
    flat = lambda z: score(z.reshape(B * N, N), t).reshape(B, N, N)
    D = (flat(probes) - flat(minus)) / (2 * step)  # D[b, k, :] = J o_k
    return torch.einsum("bki,jk->bij", D, O)


@torch.no_grad()
def raw_score_probe(score: Callable, x0: torch.Tensor, t: float, *, sigma: float, generator=None) -> torch.Tensor:
    """The losing-dimensions probe of [AVS+24]'s public code: raw scores (no differences) at
    ``x0 + sigma o_k`` for the columns ``o_k`` of a Haar-random orthogonal ``O``, stacked as rows and
    divided by ``sigma``; returns their singular values (B, N), descending.

    For a linear score ``s(x) = -A (x - mu)`` at ``x0 = mu`` the matrix is ``-O^T A`` exactly and
    the values are those of the Jacobian; away from the mean (or for a non-linear score) the raw
    score ``s(x0)`` adds a rank-one part ``1 s(x0)^T / sigma`` that the difference probe
    (:func:`probe_jacobian`) cancels. Cheaper by half than the difference probe."""
    x0 = check_points("x0", x0)
    B, N = x0.shape
    if not (sigma > 0):
        raise InputError(f"sigma must be > 0, got {sigma!r}")
    O = haar_orthogonal(N, generator=generator, dtype=x0.dtype, device=x0.device)
    probes = (x0[:, None, :] + sigma * O.T[None, :, :]).reshape(B * N, N)
    raw = score(probes, t).reshape(B, N, N) / sigma
    return torch.linalg.svdvals(raw)


def local_dimension_gap(singular_values, *, min_ratio: float = 2.0) -> np.ndarray:
    """Local dimension = number of singular values below the largest multiplicative gap.

    ``singular_values`` (..., N) of the score Jacobian: tangent directions have small values
    (``1/(tau + s)``), normal ones ``1/tau``. Returns 0 where no consecutive ratio exceeds
    ``min_ratio`` (no tangent space resolved).
    """
    sv = np.sort(np.asarray(singular_values, dtype=float), axis=-1)
    ratios = np.log(sv[..., 1:] / sv[..., :-1])
    k = np.argmax(ratios, axis=-1)
    best = np.take_along_axis(ratios, k[..., None], axis=-1)[..., 0]
    return np.where(best > math.log(min_ratio), k + 1, 0)


def local_dimension_spike(singular_values, *, c: float = 10.0, rtol: float = 1e-6) -> np.ndarray:
    """Second-difference spike rule of the image experiments [AVS+24]: sort the singular values
    ascending, take second differences ``d2_i = sv_{i+2} - 2 sv_{i+1} + sv_i`` and find the first
    spike larger than ``c`` times the median ``|d2|``. A jump from the tangent values to the normal
    ones gives a convex corner (``d2 > 0``) just before it and a concave one (``d2 < 0``) centred
    on the first normal value ``sv_d``; the dimension is read off the concave corner, ``d = i + 1``
    (0 if there is none). Differences below ``rtol`` times the largest singular value count as
    rounding noise, so an exactly flat spectrum has no spike."""
    sv = np.sort(np.asarray(singular_values, dtype=float), axis=-1)
    d2 = sv[..., 2:] - 2 * sv[..., 1:-1] + sv[..., :-2]
    scale = np.median(np.abs(d2), axis=-1, keepdims=True)
    floor = rtol * sv[..., -1:]
    spikes = -d2 > np.maximum(c * scale, floor)
    first = np.argmax(spikes, axis=-1)
    return np.where(spikes.any(axis=-1), first + 1, 0)


def retained_variance(cov: torch.Tensor, tau: float, variances, blocks) -> np.ndarray:
    """Per point and block, the mean over the block's directions of ``Cov_w_ii / (s tau/(s + tau))``:
    1 while the block generalises, 0 once the weights have condensed along it. Shape (B, K).

    A block is **lost** where this is below :data:`LOST_FRACTION`.
    """
    diag = torch.diagonal(cov, dim1=1, dim2=2).double().cpu().numpy()
    out = []
    for s, sl in zip(variances, blocks):
        post = s * tau / (s + tau)
        out.append(diag[:, sl].mean(axis=1) / post)
    return np.stack(out, axis=1)
