"""Observables of speciation and collapse measured on sampled trajectories (docs/gaussian-mixture.md).

* :func:`cloning_experiment`: branch trajectories at times ``t_b`` into pairs with independent
  noise and record whether each pair ends in the same class (and on the same training point).
* :func:`collapse_experiment`: per trajectory, the **lock-in time** after which the nearest scaled
  training point ``e^{-t} a^mu`` never changes again, and the **condensation time** after which
  the largest softmax weight stays above 1/2.
* :func:`excess_entropy_estimate`: Monte Carlo estimator ``f^e(t)`` with standard errors.

Measured times have their own names; ``collapse_time`` is reserved for the predictions of
:mod:`theory`. Every function takes any empirical score of the protocol of
:mod:`simulate.scores` (streamed, engine or sharded).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from theory.validation import InputError, as_float_array, require_int

from ._torch import check_points
from .samplers import _check_times, _split, euler_maruyama_step_, sample_euler_maruyama
from .scores import EmpiricalScoreBase, ou_coefficients
from .stats import binomial_interval, bootstrap_interval, first_crossing, median_interval, normal_quantile

__all__ = [
    "CloningResult",
    "CollapseResult",
    "EntropyEstimate",
    "cloning_experiment",
    "track_nearest",
    "collapse_experiment",
    "lock_in_times_from_indices",
    "condensation_times_from_weights",
    "excess_entropy_estimate",
    "fraction_at_or_after",
    "crossing_from_above",
]


def crossing_from_above(times, values, level: float) -> float:
    """Where a curve that rises as ``t`` decreases first reaches ``level``, scanning down from the
    largest time (NaN if it never does, or already starts at or above it)."""
    times, values = as_float_array("times", times), as_float_array("values", values)
    if times.ndim != 1 or times.size < 1 or values.shape != times.shape:
        raise InputError(f"times must be a non-empty 1-D array and values of the same shape, got shapes "
                         f"{times.shape} and {values.shape}")
    order = np.argsort(times)[::-1]
    return first_crossing(times[order], values[order], level, rising=True)


@dataclass
class CloningResult:
    """Outcome of a cloning experiment.

    ``branch_times`` (K,); ``same_class`` (B, K): pair from parent ``b`` branched at time ``k``
    ended in the same class; ``same_point`` (B, K) or None: ended nearest the same training point.
    """

    branch_times: np.ndarray
    same_class: np.ndarray
    same_point: np.ndarray | None = None

    @property
    def n_pairs(self) -> int:
        """Number of parent trajectories (clone pairs per branch time)."""
        return int(self.same_class.shape[0])

    def phi(self) -> np.ndarray:
        """Measured cloning probability per branch time."""
        return self.same_class.mean(axis=0)

    def phi_interval(self, confidence: float = 0.95, method: str = "wilson"):
        """Binomial interval for ``phi`` per branch time."""
        return binomial_interval(self.same_class.sum(axis=0), self.n_pairs, confidence, method)

    def crossing(self, level: float) -> float:
        """Interpolated branch time where the measured ``phi`` crosses ``level``."""
        return crossing_from_above(self.branch_times, self.phi(), level)

    def crossing_interval(self, level: float, *, confidence: float = 0.95, n_resamples: int = 1000, seed: int = 0):
        """``(estimate, low, high)`` of the crossing, bootstrapping parent trajectories (rows),
        which keeps the correlation between branch times of one parent."""
        rng = np.random.default_rng(seed)
        stat = lambda rows: crossing_from_above(self.branch_times, rows.mean(axis=0), level)
        return bootstrap_interval(stat, self.same_class.astype(float), confidence=confidence,
                                  n_resamples=n_resamples, rng=rng)


@torch.no_grad()
def cloning_experiment(
    score: Callable,
    x: torch.Tensor,
    times,
    branch_times,
    classify: Callable[[torch.Tensor], torch.Tensor],
    *,
    identify: Callable[[torch.Tensor, float], torch.Tensor] | None = None,
    generator: torch.Generator | None = None,
    disable: bool | None = None,
) -> CloningResult:
    """Cloning experiment with the backward SDE (Euler–Maruyama) on the grid ``times``.

    Parents start from ``x`` at ``times[0]``. At each branch time (snapped to the nearest grid
    time, which is what is reported) every parent is copied into two clones that continue with
    independent noise to ``times[-1]``. All parents and clones advance together in one batch.

    Parameters
    ----------
    classify : callable
        ``classify(x_end) -> LongTensor (M,)``: class of each end point.
    identify : callable, optional
        ``identify(x_end, t_end) -> LongTensor (M,)``: training point each end point sits on
        (e.g. :meth:`EmpiricalScore.nearest_index`), for the same-point fraction.
    """
    times = _check_times(times)
    x = check_points("x", x)
    branch = np.asarray(branch_times, dtype=float).ravel()
    if branch.size == 0:
        raise InputError("branch_times must be non-empty")
    idx = np.unique([int(np.argmin(np.abs(times - b))) for b in branch])
    if np.any(idx >= len(times) - 1):
        raise InputError("branch_times must lie above the final time of the grid")
    B, K = x.shape[0], len(idx)
    branch_at = {int(i): k for k, i in enumerate(idx)}
    # One preallocated buffer: parents in rows [0, B), the clones of branch k in the 2B rows
    # after them; only the active window [lo, hi) is advanced, in place (no reallocation).
    buf = torch.empty((B * (1 + 2 * K), x.shape[1]), dtype=x.dtype, device=x.device)
    noise = torch.empty_like(buf)
    buf[:B] = x
    lo, hi = 0, B
    for i in tqdm(range(len(times) - 1), disable=disable, desc="cloning", leave=False):
        t, t_next = float(times[i]), float(times[i + 1])
        if i in branch_at:
            buf[hi:hi + B] = buf[:B]
            buf[hi + B:hi + 2 * B] = buf[:B]
            hi += 2 * B
            if branch_at[i] == K - 1:  # parents are no longer needed
                lo = B
        active = buf[lo:hi]
        s, _ = _split(score(active, t))
        euler_maruyama_step_(active, s, t - t_next, generator=generator, noise_out=noise[lo:hi])
    state = buf[B:]
    t_end = float(times[-1])
    labels = classify(state).view(K, 2, B)
    same_class = (labels[:, 0] == labels[:, 1]).T.cpu().numpy()
    same_point = None
    if identify is not None:
        points = identify(state, t_end).view(K, 2, B)
        same_point = (points[:, 0] == points[:, 1]).T.cpu().numpy()
    return CloningResult(times[idx], same_class, same_point)


def track_nearest(score: Callable, empirical: EmpiricalScoreBase, x: torch.Tensor, times, *,
                  generator: torch.Generator | None = None, disable: bool | None = True):
    """Run the backward SDE (Euler-Maruyama) with any ``score`` from ``x`` at ``times[0]`` and record,
    before every step and at the end, the training point whose scaled copy is nearest
    (:meth:`~simulate.scores.EmpiricalScoreBase.nearest_index`). Returns ``(x_end, nearest)`` with
    ``nearest`` (len(times), B): the input of :func:`lock_in_times_from_indices`."""
    rows = []

    def record(info):
        rows.append(empirical.nearest_index(info["x"], info["t"]).cpu())

    x = sample_euler_maruyama(score, x, times, callback=record, disable=disable, generator=generator)
    rows.append(empirical.nearest_index(x, float(times[-1])).cpu())
    return x, torch.stack(rows).numpy()


def lock_in_times_from_indices(times: np.ndarray, nearest: np.ndarray) -> np.ndarray:
    """Per trajectory, the lock-in time: after it the nearest-point index never changes again.

    ``nearest`` (S+1, B) holds the index at each grid time. The lock-in time is the midpoint of
    the grid interval in which the final index appeared for the last time; a trajectory whose
    index never changed reports ``times[0]`` (censored from above).
    """
    nearest = np.asarray(nearest)
    final = nearest[-1]
    differs = nearest != final  # (S+1, B)
    last_diff = np.where(differs.any(axis=0), differs.shape[0] - 1 - np.argmax(differs[::-1], axis=0), -1)
    out = np.empty(nearest.shape[1])
    never = last_diff < 0
    out[never] = times[0]
    j = last_diff[~never]
    out[~never] = 0.5 * (times[j] + times[j + 1])
    return out


def condensation_times_from_weights(times: np.ndarray, max_weight: np.ndarray, level: float = 0.5) -> np.ndarray:
    """Per trajectory, the time after which the largest softmax weight stays above ``level``.

    The REM reading of collapse (one term dominates the partition function). Same conventions
    as :func:`lock_in_times_from_indices`: midpoint of the last grid interval in which the
    weight rose through ``level``; ``times[0]`` if it never was below; ``times[-1]`` if it ends
    below.
    """
    below = np.asarray(max_weight) < level
    out = np.empty(below.shape[1])
    ends_below = below[-1]
    any_below = below.any(axis=0)
    last_below = below.shape[0] - 1 - np.argmax(below[::-1], axis=0)
    out[~any_below] = times[0]
    mid = any_below & ~ends_below
    j = last_below[mid]
    out[mid] = 0.5 * (times[j] + times[j + 1])
    out[ends_below] = times[-1]
    return out


def fraction_at_or_after(event_times: np.ndarray, t) -> np.ndarray:
    """Fraction of trajectories whose event (collapse, condensation) happened at a time >= ``t``
    (backward time runs downwards, so these have already happened when the sampler is at ``t``)."""
    t = np.asarray(t, dtype=float)
    return (np.asarray(event_times)[None, :] >= t.reshape(-1, 1)).mean(axis=1).reshape(t.shape)


@dataclass
class CollapseResult:
    """Per-trajectory collapse measurements from :func:`collapse_experiment`.

    ``lock_in_time``: last change of the nearest scaled training point (observable (a) of
    docs/gaussian-mixture.md); ``condensation_time``: the largest softmax weight stays above 1/2
    afterwards (the REM reading); ``nearest_index`` and ``max_weight`` (S+1, B) per grid time;
    ``final_distance2``: ``|x - e^{-t} a^nearest|^2 / N`` at the last time.
    """

    times: np.ndarray
    nearest_index: np.ndarray
    lock_in_time: np.ndarray
    final_distance2: np.ndarray
    final_x: np.ndarray
    max_weight: np.ndarray
    condensation_time: np.ndarray

    def fraction_locked_in(self, t) -> np.ndarray:
        """Fraction of trajectories already committed to their final training point at ``t``."""
        return fraction_at_or_after(self.lock_in_time, t)

    def median_lock_in_time(self, confidence: float = 0.95):
        """``(median, low, high)`` of the lock-in time, with an order-statistic interval."""
        return median_interval(self.lock_in_time, confidence)

    def median_condensation_time(self, confidence: float = 0.95):
        """``(median, low, high)`` of the condensation time, with an order-statistic interval."""
        return median_interval(self.condensation_time, confidence)


@torch.no_grad()
def collapse_experiment(
    empirical: EmpiricalScoreBase,
    x: torch.Tensor,
    times,
    *,
    generator: torch.Generator | None = None,
    disable: bool | None = None,
) -> CollapseResult:
    """Run the backward SDE with an empirical score and track the nearest scaled training point.

    Parameters
    ----------
    empirical : EmpiricalScoreBase
        Any empirical score (streamed, engine or sharded).
    x : Tensor (B, N)
        Samples at ``times[0]`` (e.g. exact draws from ``P^e_t``, :func:`simulate.data.noised`).
    times : array_like
        Decreasing times; the last must be > 0.
    generator : torch.Generator, optional
        Noise of the sampler.
    disable : bool, optional
        Disable the progress bar (tqdm convention: None shows it only on a terminal).

    Returns
    -------
    CollapseResult
        Per trajectory the lock-in time (:func:`lock_in_times_from_indices`), the condensation
        time and the final squared distance per component ``|x - e^{-t} a^nearest|^2 / N``.
    """
    times = _check_times(times)
    if times[-1] <= 0:
        raise InputError("the final time must be > 0 to locate the nearest scaled training point")
    x = check_points("x", x, dim=empirical.N)
    rows, weights = [], []

    def record(info):
        rows.append(info["evaluation"].nearest_index.cpu())
        weights.append(info["evaluation"].max_weight.cpu())

    x = sample_euler_maruyama(empirical.evaluate, x, times, callback=record, disable=disable, generator=generator)
    t_end = float(times[-1])
    final = empirical.evaluate(x, t_end, need=())
    final_idx = final.nearest_index
    rows.append(final_idx.cpu())
    weights.append(final.max_weight.cpu())
    nearest = torch.stack(rows).numpy()
    max_weight = torch.stack(weights).double().numpy()
    c, _ = ou_coefficients(t_end)
    d2 = ((x - c * empirical.rows(final_idx).to(x.dtype)) ** 2).sum(dim=1) / empirical.N
    return CollapseResult(times, nearest, lock_in_times_from_indices(times, nearest), d2.cpu().numpy(),
                          x.cpu().numpy(), max_weight, condensation_times_from_weights(times, max_weight))


@dataclass
class EntropyEstimate:
    """Monte Carlo excess entropy per time.

    ``f`` is the estimator ``f^e(t)`` of docs/gaussian-mixture.md (it saturates near 0 below ``t_C``, where the
    planted term dominates). ``f_rest`` is the same with each sample's own training point left
    out: the self-averaging part ``(1/N) ln Z_rest + 1/2``, which estimates the unclipped ``f(t)``
    above ``t_C`` and turns negative below it, so its zero locates the collapse.
    """

    t: np.ndarray
    f: np.ndarray
    stderr: np.ndarray
    alpha: float
    n_samples: int
    f_rest: np.ndarray | None = None
    stderr_rest: np.ndarray | None = None

    @property
    def f_over_alpha(self) -> np.ndarray:
        """``f / alpha`` (1 at large t, 0 below the collapse)."""
        return self.f / self.alpha

    @property
    def stderr_over_alpha(self) -> np.ndarray:
        """Standard errors of ``f / alpha``."""
        return self.stderr / self.alpha

    def zero_crossing(self, confidence: float = 0.95):
        """``(t, low, high)``: the zero of ``f_rest`` (linear interpolation in ``t``), the
        estimator's measurement of the collapse time; the interval inverts the pointwise normal
        band ``f_rest +- z stderr`` (``f`` increases with ``t``)."""
        if self.f_rest is None:
            raise InputError("this estimate has no leave-one-out curve f_rest to locate the zero")
        z = normal_quantile(confidence)
        cross = lambda curve: crossing_from_above(self.t, -curve, 0.0)
        return (cross(self.f_rest), cross(self.f_rest + z * self.stderr_rest),
                cross(self.f_rest - z * self.stderr_rest))


@torch.no_grad()
def excess_entropy_estimate(
    empirical: EmpiricalScoreBase,
    t_values,
    n_samples: int,
    *,
    generator: torch.Generator | None = None,
    batch_size: int = 1024,
    disable: bool | None = None,
) -> EntropyEstimate:
    """``f^e(t) = alpha + (1/2) ln(2 pi e Delta_t) + (1/M) sum_i (1/N) ln P^e_t(x_i)``.

    ``x_i = e^{-t} a^{mu_i} + sqrt(Delta_t) z_i`` with ``mu_i`` uniform over the training set
    (i.e. ``x_i ~ P^e_t``). One streamed pass per batch computes the leave-one-out log-density
    (``mu_i`` excluded); the full one adds the planted term back with ``logaddexp`` (stable on
    both sides of ``t_C``). Standard errors are sample standard deviations over ``sqrt(M)``.
    """
    n_samples = require_int("n_samples", n_samples, 2)
    batch_size = require_int("batch_size", batch_size, 1)
    t_values = np.asarray(t_values, dtype=float).ravel()
    if t_values.size == 0 or not np.all(np.isfinite(t_values)) or np.any(t_values <= 0):
        raise InputError("t_values must be a non-empty array of finite times > 0")
    P, N = empirical.P, empirical.N
    dtype, device = empirical.dtype, empirical.device
    alpha = math.log(P) / N
    f, se, f_rest, se_rest = [], [], [], []
    for t in tqdm(t_values, disable=disable, desc="excess entropy", leave=False):
        c, var = ou_coefficients(float(t))
        full_parts, rest_parts = [], []
        for start in range(0, n_samples, batch_size):
            m = min(batch_size, n_samples - start)
            mu = torch.randint(0, P, (m,), generator=generator, device=device)
            z = torch.randn((m, N), generator=generator, dtype=dtype, device=device)
            a = empirical.rows(mu).to(dtype)
            xs = c * a + math.sqrt(var) * z
            rest = empirical.evaluate(xs, float(t), need=(), exclude=mu).log_density.double()
            planted = (-((xs - c * a) ** 2).sum(dim=1) / (2 * var)).double() - math.log(P) \
                - 0.5 * N * math.log(2 * math.pi * var)
            full_parts.append(torch.logaddexp(rest, planted).cpu())
            rest_parts.append(rest.cpu())
        offset = alpha + 0.5 * math.log(2 * math.pi * math.e * var)
        for parts, mean_out, se_out in ((full_parts, f, se), (rest_parts, f_rest, se_rest)):
            per_sample = offset + torch.cat(parts).numpy() / N
            mean_out.append(per_sample.mean())
            se_out.append(per_sample.std(ddof=1) / math.sqrt(n_samples))
    return EntropyEstimate(t_values, np.array(f), np.array(se), alpha, n_samples, np.array(f_rest), np.array(se_rest))
