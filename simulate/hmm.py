"""Hidden-manifold data and the observables of docs/hmm.md, measured with the exact
empirical score.

* :func:`hidden_manifold_data`: ``xi = phi~(F z / sqrt(D))`` with a seeded ``F`` (kept in ``params``).
* :func:`planted_log_odds`: ``ln w_mu/(1 - w_mu)`` of the planted pattern at
  ``x = e^{-t} xi^mu + sqrt(r Delta_t) eta`` (``w_mu > 1/2`` iff positive), from exact distances.
* :func:`planted_crossing_times`, :func:`basin_radius`: per-sample crossings of ``w_mu = 1/2`` in ``t``
  (collapse at ``r = 1``, onset at ``r = 0``) and in ``r`` (basin ``r*``); medians with
  order-statistic intervals.
* :func:`trap_at_centre`: mean-shift ascent of ``ln P^e_t`` from ``e^{-t} xi^mu``: does a local maximum
  stay attached to the pattern? with the top Hessian eigenvalue there (:func:`centre_hessian_top`).
* :func:`trajectory_capture`: reverse-SDE trajectories started at noise ``r Delta_t`` near
  ``xi^mu`` at time ``t``: the fraction that ends on ``xi^mu``.
* :func:`kernel_test_nll`: test NLL per component of the Gaussian kernel estimate of bandwidth
  ``tau`` on fresh points, and the nearest-neighbour squared distance per component.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from tqdm.auto import tqdm

from theory.activations import activation
from theory.conventions import tau_to_t
from theory.validation import InputError, require_int, require_nonnegative, require_positive

from .data import Dataset
from .samplers import sample_euler_maruyama, time_grid
from .scores import EmpiricalScoreBase, as_empirical_score, ou_coefficients
from .stats import first_crossing

__all__ = ["hidden_manifold_data", "hidden_manifold_features", "planted_log_odds", "planted_crossing_times",
           "basin_radius", "centre_hessian_top", "trap_at_centre", "trajectory_capture", "kernel_test_nll"]


def hidden_manifold_features(N: int, alpha_D: float, *, generator: torch.Generator, dtype=torch.float64,
                             device="cpu") -> torch.Tensor:
    """``F`` (N x D) with iid ``N(0, 1)`` entries, ``D = max(1, round(alpha_D N))``."""
    N = require_int("N", N, 1)
    D = max(1, int(round(float(require_positive("alpha_D", alpha_D)) * N)))
    return torch.randn(N, D, generator=generator, dtype=dtype, device=device)


def hidden_manifold_data(F: torch.Tensor, P: int, phi="linear", *, generator: torch.Generator) -> Dataset:
    """``P`` points ``phi~(F z / sqrt(D))``, ``z ~ N(0, I_D)``, for a given ``F`` (N x D).

    ``phi`` is a name or a callable (standardised under a standard Gaussian argument)."""
    if not isinstance(F, torch.Tensor) or F.ndim != 2:
        raise InputError("F must be a 2-d torch.Tensor (N x D)")
    P = require_int("P", P, 2)
    act = activation(phi)
    D = F.shape[1]
    z = torch.randn(P, D, generator=generator, dtype=F.dtype, device=F.device)
    pre = z @ F.T / math.sqrt(D)
    data = pre if act.is_linear else torch.as_tensor(act(pre.cpu().numpy()), dtype=F.dtype).to(F.device)
    return Dataset(data, None, {"F": F, "phi": act.name, "alpha_D": D / F.shape[0], "D": D})


def _log_partition_rest(empirical: EmpiricalScoreBase, x: torch.Tensor, t: float, exclude: torch.Tensor) -> torch.Tensor:
    """``ln sum_{nu != mu} exp(-|x - e^{-t} a^nu|^2 / (2 Delta_t))`` per row."""
    _, var = ou_coefficients(t)
    ev = empirical.evaluate(x, t, need=(), exclude=exclude)
    return ev.log_density + math.log(empirical.P) + 0.5 * empirical.N * math.log(2 * math.pi * var)


@torch.no_grad()
def planted_log_odds(empirical: EmpiricalScoreBase, index: torch.Tensor, t: float, r: float,
                     eta: torch.Tensor | None = None) -> torch.Tensor:
    """``ln w_mu - ln(1 - w_mu)`` at ``x = e^{-t} a^mu + sqrt(r Delta_t) eta`` for ``mu = index``.

    The planted logit uses the exact distance ``r Delta_t |eta|^2`` (no cancellation)."""
    c, var = ou_coefficients(t)
    r = float(require_nonnegative("r", r))
    a = empirical.rows(index).to(empirical.dtype)
    if eta is None:
        eta = torch.zeros_like(a)
    x = c * a + math.sqrt(r * var) * eta
    planted = -0.5 * r * (eta * eta).sum(dim=1)
    return planted - _log_partition_rest(empirical, x, t, index)


def planted_crossing_times(empirical: EmpiricalScoreBase, times, r: float, n: int, *, generator: torch.Generator,
                           disable: bool | None = None) -> np.ndarray:
    """For ``n`` (pattern, noise) samples, the time at which the planted weight drops below 1/2
    (``times`` increasing; the same ``eta`` at every ``t``). ``r = 1``: typical points (collapse);
    ``r = 0``: the noiseless centre (onset)."""
    times = np.sort(np.asarray(times, dtype=float))
    n = require_int("n", n, 1)
    index, eta = _patterns_and_noise(empirical, n, generator)
    odds = np.stack([planted_log_odds(empirical, index, t, r, eta).cpu().numpy()
                     for t in tqdm(times, disable=disable, desc=f"planted weight (r={r:g})", leave=False)])
    return first_crossing(times, odds, 0.0, rising=False, at_start="edge")


def _patterns_and_noise(empirical, n, generator):
    """``n`` uniform pattern indices and standard normal noise vectors (from ``generator``)."""
    index = torch.randint(0, empirical.P, (n,), generator=generator, device=empirical.device)
    eta = torch.randn(n, empirical.N, generator=generator, dtype=empirical.dtype, device=empirical.device)
    return index, eta


def basin_radius(empirical: EmpiricalScoreBase, t: float, n: int, *, generator: torch.Generator, r_max: float = 3.0,
                 points: int = 31) -> np.ndarray:
    """Per sample, the noise fraction ``r`` at which the planted weight drops below 1/2 at time
    ``t`` (``0`` when the centre is not a trap; ``nan`` beyond ``r_max``)."""
    n = require_int("n", n, 1)
    index, eta = _patterns_and_noise(empirical, n, generator)
    grid = np.linspace(0.0, r_max, points)
    odds = np.stack([planted_log_odds(empirical, index, t, r, eta).cpu().numpy() for r in grid])
    return first_crossing(grid, odds, 0.0, rising=False, at_start="edge")


@torch.no_grad()
def centre_hessian_top(empirical: EmpiricalScoreBase, x: torch.Tensor, t: float) -> torch.Tensor:
    """Top eigenvalue of ``Delta_t * Hess ln P^e_t`` at ``x``: ``-1 + e^{-2t} lambda_max(Cov_w(a))/Delta_t``."""
    c, var = ou_coefficients(t)
    cov = empirical.posterior_covariance(x, t)
    return -1 + c * c * torch.linalg.eigvalsh(cov)[:, -1] / var


@torch.no_grad()
def trap_at_centre(empirical: EmpiricalScoreBase, index: torch.Tensor, t: float, *, iterations: int = 100):
    """Is there a local minimum of ``V_t = -ln P^e_t`` attached to ``a^mu``?

    Mean-shift ascent of ``ln P^e_t`` from the centre ``e^{-t} a^mu`` (``x <- e^{-t} E_w[a]``, i.e.
    a score step of size ``Delta_t``; it converges to a local maximum of the density). Returns
    ``(trapped, hessian_top)``: the planted weight at the end point is above 1/2, and the top
    eigenvalue of ``Delta_t Hess ln P^e_t`` there (negative at a strict local maximum)."""
    c, var = ou_coefficients(t)
    a = empirical.rows(index).to(empirical.dtype)
    x = c * a
    for _ in range(require_int("iterations", iterations, 1)):
        x = x + var * empirical(x, t)
    odds = -0.5 * ((x - c * a) ** 2).sum(dim=1) / var - _log_partition_rest(empirical, x, t, index)
    return odds > 0, centre_hessian_top(empirical, x, t)


def trajectory_capture(empirical: EmpiricalScoreBase, index: torch.Tensor, t: float, r: float, *,
                       generator: torch.Generator, steps: int = 200, t_end: float = 1e-3,
                       disable: bool | None = None) -> torch.Tensor:
    """Start the reverse SDE at ``e^{-t} a^mu + sqrt(r Delta_t) eta`` at time ``t`` and integrate to
    ``t_end``; True where the end point's nearest training point is ``a^mu``."""
    c, var = ou_coefficients(t)
    a = empirical.rows(index).to(empirical.dtype)
    eta = torch.randn(a.shape, generator=generator, dtype=a.dtype, device=a.device)
    x = c * a + math.sqrt(float(require_nonnegative("r", r)) * var) * eta
    end = sample_euler_maruyama(empirical, x, time_grid(t, t_end, steps), generator=generator, disable=disable)
    return empirical.nearest_index(end, t_end) == index


@torch.no_grad()
def kernel_test_nll(train, test: torch.Tensor, taus) -> tuple[np.ndarray, np.ndarray]:
    """Test NLL of the Gaussian kernel estimate ``Q_tau = (1/P) sum_mu N(a^mu, tau I)`` of bandwidth
    ``tau`` on fresh points, and their nearest-neighbour distances.

    ``train``: the training set (P, N) or any empirical score. Returns ``(nll, d2)``: ``nll`` of
    shape ``(len(taus), n_test)`` holds ``-(1/N) ln Q_tau(xi)`` per test point, using
    ``Q_tau(xi) = e^{N t} P^e_t(e^{-t} xi)`` with ``t = (1/2) ln(1 + tau)``; ``d2`` (n_test,) is the
    squared distance per component to the nearest training point."""
    empirical = as_empirical_score(train)
    N = empirical.N
    rows = []
    for tau in np.atleast_1d(taus):
        t = tau_to_t(float(require_positive("tau", tau)))
        ld = empirical.log_density(math.exp(-t) * test, t)
        rows.append((-(ld - N * t) / N).cpu().numpy())
    # argmin_mu |e^{-t} xi - e^{-t} a^mu| is the nearest training point at any t
    nearest = empirical.nearest_index(math.exp(-1.0) * test, 1.0)
    d2 = ((test - empirical.rows(nearest).to(test.dtype)) ** 2).sum(dim=1) / N
    return np.stack(rows), d2.cpu().numpy()
