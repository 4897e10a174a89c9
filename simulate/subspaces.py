"""Measuring when each subspace of linear-manifold data is lost [AVS+24].

At each time ``t`` of a grid, points are drawn exactly from the empirical law ``P^e_t`` (the law
of the generative process at ``t``), the exact Jacobian of the empirical score is formed there,
and for every block the retained fraction of its generalising posterior variance is computed
(:func:`simulate.jacobian.retained_variance`). A block is lost at a point when that fraction is
below :data:`simulate.jacobian.LOST_FRACTION`; its measured critical time is where the fraction of
lost points crosses 1/2 (interpolated in ``t``), with a bootstrap interval over points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from theory.conventions import t_to_tau

from .data import noised
from .jacobian import LOST_FRACTION, local_dimension_gap, retained_variance
from .observables import crossing_from_above
from .scores import as_empirical_score
from .stats import bootstrap_interval

__all__ = ["SubspaceSweep", "subspace_sweep"]


@dataclass
class SubspaceSweep:
    """``t`` (T,); ``retained`` (T, M, K) retained variance fractions; ``dimension`` (T, M) local
    dimension by the gap estimator on the VE Jacobian singular values; ``singular_values``
    (T, N) median over points of the sorted VE singular values (for plotting); ``max_weight``
    (T, M) the largest softmax weight at each point."""

    t: np.ndarray
    retained: np.ndarray
    dimension: np.ndarray
    singular_values: np.ndarray
    max_weight: np.ndarray

    def condensation_time(self, *, confidence: float = 0.95, n_resamples: int = 500, seed: int = 0):
        """``(estimate, low, high)``: where the median largest softmax weight crosses 1/2 (the global
        REM condensation, all directions at once), bootstrapping points independently per time."""
        above = self.max_weight > 0.5  # (T, M)
        return _crossing_interval(self.t, above, confidence, n_resamples, seed)

    def lost_fraction(self) -> np.ndarray:
        """(T, K): fraction of points at which each block is lost."""
        return (self.retained < LOST_FRACTION).mean(axis=1)

    def critical_times(self, *, confidence: float = 0.95, n_resamples: int = 500, seed: int = 0):
        """Per block ``(estimate, low, high)`` of the time where half of the points have lost it.

        The bootstrap resamples the points of each time independently (they are independent
        draws). NaN where the lost fraction never crosses 1/2 on the grid.
        """
        lost = self.retained < LOST_FRACTION  # (T, M, K)
        return [_crossing_interval(self.t, lost[:, :, k], confidence, n_resamples, seed) for k in range(lost.shape[2])]


def _crossing_interval(t, indicator, confidence, n_resamples, seed):
    """Crossing of 1/2 by the mean of ``indicator`` (T, M) over points, with a bootstrap that
    resamples the points of each time independently (they are independent draws per time)."""
    stat = lambda ind: crossing_from_above(t, ind.mean(axis=1), 0.5)
    est, lo, hi = bootstrap_interval(stat, indicator, confidence=confidence, n_resamples=n_resamples,
                                     rng=np.random.default_rng(seed), axis=1, strata_axis=0)
    if not np.isfinite(est):
        return est, float("nan"), float("nan")
    return est, lo, hi


@torch.no_grad()
def subspace_sweep(data, variances, blocks, t_values, n_points: int, *, generator,
                   disable: bool | None = None, score=None) -> SubspaceSweep:
    """Run the sweep over ``t_values`` with ``n_points`` exact draws from ``P^e_t`` per time.

    ``data``: the training set (P, N) or any empirical score. ``variances`` (K,) and ``blocks``
    (K slices of coordinates) describe the block structure the retained variance is measured
    against. One streamed pass per time gives the posterior covariance and the largest weight.

    ``score``: measure another score (a trained network) at the same points instead: its OU
    Jacobian ``J`` (orthogonal probes, :func:`~simulate.jacobian.probe_jacobian`, symmetrised)
    gives the posterior covariance it implies, ``Cov = tau (I + tau e^{-2t} J)`` (exact for the
    empirical score), and the same lost rule applies. ``max_weight`` stays the empirical one: it
    describes the points, not the score.
    """
    from .jacobian import probe_jacobian

    empirical = as_empirical_score(data)
    t_values = np.sort(np.asarray(t_values, dtype=float))[::-1]
    retained, dims, svals, wmax = [], [], [], []
    eye = torch.eye(empirical.N, dtype=empirical.dtype, device=empirical.device)
    for t in tqdm(t_values, disable=disable, desc="subspace sweep", leave=False):
        x, _ = noised(empirical, float(t), n_points, generator=generator)
        ev = empirical.evaluate(x, float(t), need=("covariance",) if score is None else ())
        if score is None:
            cov = ev.covariance
        else:
            tau_t, var = float(t_to_tau(float(t))), -math.expm1(-2.0 * float(t))
            # probes from their own stream, so that the points are those of the empirical sweep
            probes = torch.Generator(device=x.device).manual_seed(0)
            J = probe_jacobian(score, x, float(t), step=1e-3 * math.sqrt(var), generator=probes)
            J = 0.5 * (J + J.transpose(1, 2))
            cov = tau_t * (eye + tau_t * math.exp(-2.0 * float(t)) * J)
        wmax.append(ev.max_weight.double().cpu().numpy())
        tau = float(t_to_tau(float(t)))
        retained.append(retained_variance(cov, tau, variances, blocks))
        jac_ve = -eye / tau + cov / tau**2
        sv = torch.linalg.svdvals(jac_ve).double().cpu().numpy()
        dims.append(local_dimension_gap(sv))
        svals.append(np.median(np.sort(sv, axis=1), axis=0))
    return SubspaceSweep(t_values, np.stack(retained), np.stack(dims), np.stack(svals), np.stack(wmax))
