"""Interval estimates with coverage stated by construction.

* :func:`binomial_interval`: Wilson score or exact Clopper–Pearson interval for a proportion.
* :func:`median_interval`: distribution-free interval for a median from order statistics
  (binomial(n, 1/2) quantiles).
* :func:`bootstrap_interval`: percentile bootstrap of any statistic of resampled rows.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import stats

__all__ = ["binomial_interval", "median_interval", "bootstrap_interval"]


def _check_confidence(confidence: float) -> float:
    if not (0 < confidence < 1):
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    return float(confidence)


def binomial_interval(successes, trials, confidence: float = 0.95, method: str = "wilson"):
    """Interval for a success probability from ``successes`` out of ``trials`` (vectorised)."""
    confidence = _check_confidence(confidence)
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if np.any(n < 1) or np.any(k < 0) or np.any(k > n):
        raise ValueError("need 0 <= successes <= trials and trials >= 1")
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
    raise ValueError(f"method must be 'wilson' or 'clopper-pearson', got {method!r}")


def median_interval(values, confidence: float = 0.95):
    """``(median, low, high)``: the sample median and an order-statistic interval with coverage
    at least ``confidence`` for the population median (exact for continuous laws)."""
    confidence = _check_confidence(confidence)
    v = np.sort(np.asarray(values, dtype=float))
    n = v.size
    if n < 1:
        raise ValueError("values must be non-empty")
    a = 1 - confidence
    lo_rank = int(stats.binom.ppf(a / 2, n, 0.5))  # P(Bin <= lo_rank - 1) <= a/2
    hi_rank = n - lo_rank
    lo = v[max(lo_rank - 1, 0)]
    hi = v[min(hi_rank, n - 1)]
    return float(np.median(v)), float(lo), float(hi)


def bootstrap_interval(
    statistic: Callable[[np.ndarray], float],
    rows: np.ndarray,
    *,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    rng: np.random.Generator,
):
    """Percentile bootstrap: resample ``rows`` (axis 0) with replacement ``n_resamples`` times.

    Returns ``(estimate, low, high)``; resamples whose statistic is NaN are dropped (if more than
    half are NaN the interval is NaN).
    """
    confidence = _check_confidence(confidence)
    rows = np.asarray(rows)
    n = rows.shape[0]
    estimate = float(statistic(rows))
    draws = np.array([statistic(rows[rng.integers(0, n, n)]) for _ in range(n_resamples)], dtype=float)
    draws = draws[np.isfinite(draws)]
    if draws.size < n_resamples / 2:
        return estimate, float("nan"), float("nan")
    a = 1 - confidence
    return estimate, float(np.quantile(draws, a / 2)), float(np.quantile(draws, 1 - a / 2))
