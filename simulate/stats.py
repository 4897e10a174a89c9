"""Interval estimates with coverage stated by construction, and level crossings (numpy only).

* :func:`binomial_interval`: Wilson score or exact Clopper–Pearson interval for a proportion.
* :func:`median_interval`: distribution-free interval for a median from order statistics
  (binomial(n, 1/2) quantiles).
* :func:`bootstrap_interval`: percentile bootstrap of any statistic, resampling along one axis,
  optionally independently within strata (e.g. the points of each time of a sweep).
* :func:`first_crossing`: where a sampled curve first crosses a level, by linear interpolation
  (vectorised over columns): every measured "time at which ..." goes through it.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import stats

from theory.validation import InputError, as_float_array, require_int, require_real

__all__ = ["binomial_interval", "median_interval", "bootstrap_interval", "first_crossing", "normal_quantile"]


def _check_confidence(confidence: float) -> float:
    confidence = require_real("confidence", confidence)
    if not (0 < confidence < 1):
        raise InputError(f"confidence must lie in (0, 1), got {confidence!r}")
    return float(confidence)


def normal_quantile(confidence: float) -> float:
    """``z`` of a two-sided normal interval at ``confidence`` (1.96 at 0.95)."""
    return float(stats.norm.ppf(0.5 + _check_confidence(confidence) / 2))


def binomial_interval(successes, trials, confidence: float = 0.95, method: str = "wilson"):
    """Interval for a success probability from ``successes`` out of ``trials`` (vectorised)."""
    confidence = _check_confidence(confidence)
    k = as_float_array("successes", successes)
    n = as_float_array("trials", trials)
    if not (np.all(np.isfinite(n)) and np.all(n == np.round(n)) and np.all(n >= 1)):
        raise InputError(f"trials must be integers >= 1, got {trials!r}")
    if not (np.all(np.isfinite(k)) and np.all(k == np.round(k)) and np.all(k >= 0) and np.all(k <= n)):
        raise InputError(f"successes must be integers with 0 <= successes <= trials, got {successes!r}")
    if method == "wilson":
        z = stats.norm.ppf(0.5 + confidence / 2)
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
        return centre - half, centre + half
    if method == "clopper-pearson":
        a = 1 - confidence
        lo = np.where(k > 0, stats.beta.ppf(a / 2, k, n - k + 1), 0.0)
        hi = np.where(k < n, stats.beta.ppf(1 - a / 2, k + 1, n - k), 1.0)
        return lo, hi
    raise InputError(f"method must be 'wilson' or 'clopper-pearson', got {method!r}")


def median_interval(values, confidence: float = 0.95):
    """``(median, low, high)``: the sample median and an order-statistic interval with coverage
    at least ``confidence`` for the population median (exact for continuous laws)."""
    confidence = _check_confidence(confidence)
    v = as_float_array("values", values)
    if v.ndim != 1 or v.size < 1:
        raise InputError(f"values must be a non-empty 1-D sample, got shape {v.shape}")
    if np.isnan(v).any():  # +-inf are fine (censored values: order statistics still hold)
        raise InputError("values must not contain NaN: drop them, or censor them as +inf or -inf")
    v = np.sort(v)
    n = v.size
    a = 1 - confidence
    lo_rank = int(stats.binom.ppf(a / 2, n, 0.5))  # P(Bin <= lo_rank - 1) <= a/2
    hi_rank = n - lo_rank
    lo = v[max(lo_rank - 1, 0)]
    hi = v[min(hi_rank, n - 1)]
    return float(np.median(v)), float(lo), float(hi)


def bootstrap_interval(
    statistic: Callable[[np.ndarray], float],
    sample: np.ndarray,
    *,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    rng: np.random.Generator,
    axis: int = 0,
    strata_axis: int | None = None,
):
    """Percentile bootstrap of ``statistic(sample)``.

    Each resample draws ``sample.shape[axis]`` indices with replacement along ``axis``; with
    ``strata_axis`` the draw is independent for every index along that axis (e.g. the points of
    each time of a sweep, which are independent draws per time).

    Returns ``(estimate, low, high)``; resamples whose statistic is not finite are dropped (if more
    than half are, the interval is NaN).
    """
    confidence = _check_confidence(confidence)
    n_resamples = require_int("n_resamples", n_resamples, 1)
    sample = np.asarray(sample)
    axis = axis % sample.ndim
    n = sample.shape[axis]
    estimate = float(statistic(sample))
    draws = np.empty(n_resamples)
    for r in range(n_resamples):
        if strata_axis is None:
            resampled = np.take(sample, rng.integers(0, n, n), axis=axis)
        else:
            shape = [1] * sample.ndim
            shape[axis], shape[strata_axis % sample.ndim] = n, sample.shape[strata_axis]
            idx = np.broadcast_to(rng.integers(0, n, size=shape), sample.shape)
            resampled = np.take_along_axis(sample, idx, axis=axis)
        draws[r] = statistic(resampled)
    draws = draws[np.isfinite(draws)]
    if draws.size < n_resamples / 2:
        return estimate, float("nan"), float("nan")
    a = 1 - confidence
    return estimate, float(np.quantile(draws, a / 2)), float(np.quantile(draws, 1 - a / 2))


def first_crossing(grid, values, level: float = 0.0, *, rising: bool, at_start: str = "nan"):
    """Where ``values`` sampled along ``grid`` (in the given order) first crosses ``level``.

    ``rising=True``: the first point with ``value >= level``; ``rising=False``: the first with
    ``value < level``; the crossing is interpolated linearly with the point before it. NaN where
    the curve never crosses; where it is already across at ``grid[0]``: NaN (``at_start="nan"``)
    or ``grid[0]`` (``at_start="edge"``). ``values`` may carry trailing axes (one curve per
    column); the result has their shape (a float for one curve).
    """
    if at_start not in ("nan", "edge"):
        raise InputError(f"at_start must be 'nan' or 'edge', got {at_start!r}")
    g = as_float_array("grid", grid)
    v = as_float_array("values", values)
    level = require_real("level", level)
    if g.ndim != 1 or g.size < 1 or not np.all(np.isfinite(g)):
        raise InputError(f"grid must be a non-empty 1-D array of finite values, got shape {g.shape}")
    if v.shape[:1] != g.shape:
        raise InputError(f"values must have the grid's length {g.size} along axis 0, got shape {v.shape}")
    hit = v >= level if rising else v < level
    found = hit.any(axis=0)
    k = np.argmax(hit, axis=0)
    k1 = np.maximum(k, 1) if g.size > 1 else np.zeros_like(k)
    take = lambda arr, j: np.take_along_axis(arr, np.asarray(j)[None, ...], axis=0)[0] if arr.ndim > 1 else arr[j]
    gk = g[k1] if g.size > 1 else g[0] + 0 * k1
    gk0 = g[k1 - 1] if g.size > 1 else gk
    v1, v0 = take(v, k1), take(v, np.maximum(k1 - 1, 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        x = gk0 + (level - v0) * (gk - gk0) / (v1 - v0)
    start = g[0] if at_start == "edge" else np.nan
    out = np.where(found, np.where(k == 0, start, x), np.nan)
    return float(out) if np.ndim(out) == 0 else out
