"""Benchmark: theory at interactive speed, as ratios to a reference workload measured in the same run.

Reference workload: ``numpy.log1p`` over 10^7 float64 values (best of 3). Cases:

* ``t_C`` over 10^5 values of alpha for a spectrum of 1000 distinct eigenvalues: the grid path
  (monotone Chebyshev inversion, ``theory/inversion.py``) and the per-point bracketed solver it
  replaces for grids (timed on 2000 alphas and scaled to 10^5), with their largest relative
  difference on a sample;
* ``t_C`` at 50 digits (mpmath), N = 1000 distinct eigenvalues: Newton from the float64 root.

Usage::

    python benchmarks/theory_speed.py

(Not ``benchmarks/theory.py``: run as a script, that name would shadow the ``theory`` package.)
"""

from __future__ import annotations

import platform
import time

import numpy as np

from theory.gaussian import GRID_MIN, collapse_time


def best_of(fn, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def per_point(lam, alphas):
    """Today's per-point solver: batches below the grid threshold."""
    step = GRID_MIN - 1
    return np.concatenate([collapse_time(lam, alphas[i:i + step]).value for i in range(0, alphas.size, step)])


def main():
    rng = np.random.default_rng(0)
    x = rng.random(10_000_000)
    ref = best_of(lambda: np.log1p(x))
    lam = np.sort(rng.gamma(2.0, 1.0, 1000))
    alphas = np.linspace(0.01, 1.0, 100_000)
    print(f"machine: {platform.machine()}, numpy {np.__version__}; reference (log1p of 1e7 float64): {ref * 1e3:.1f} ms")
    print("| case | time | ratio to reference | note |")
    print("|---|---|---|---|")
    t_grid = best_of(lambda: collapse_time(lam, alphas))
    grid = collapse_time(lam, alphas)
    sub = alphas[:2000]
    t_pp = best_of(lambda: per_point(lam, sub), 1) * alphas.size / sub.size
    sample = rng.choice(alphas.size, 300, replace=False)
    diff = np.max(np.abs(grid.value[sample] - per_point(lam, alphas[sample])) / grid.value[sample])
    print(f"| t_C, 1e5 alphas x 1000 eigenvalues, grid inversion | {t_grid:.3f} s | {t_grid / ref:.1f}x | "
          f"{grid.method}; all converged: {bool(np.all(grid.converged))}; max rel. diff to per-point {diff:.1e} |")
    print(f"| t_C, same, per-point solver (2000 alphas, scaled) | {t_pp:.1f} s | {t_pp / ref:.0f}x | before |")
    t_mp = best_of(lambda: collapse_time(lam, 0.3, dps=50))
    r = collapse_time(lam, 0.3, dps=50)
    print(f"| t_C at 50 digits, N = 1000 distinct | {t_mp * 1e3:.1f} ms | {t_mp / ref:.2f}x | {r.method}, "
          f"{r.iterations} Newton steps |")


if __name__ == "__main__":
    main()
