"""Benchmark: theory at interactive speed, as ratios to a reference workload measured in the same run.

Reference workload: ``numpy.log1p`` over 10^7 float64 values (best of 3). Cases:

* ``t_C`` over 10^5 values of alpha for a spectrum of 1000 distinct eigenvalues: the grid path
  (monotone Chebyshev inversion, ``theory/inversion.py``) and the per-point bracketed solver it
  replaces for grids (timed on 2000 alphas and scaled to 10^5), with their largest relative
  difference on a sample;
* ``t_C`` at 50 digits (mpmath), N = 1000 distinct eigenvalues: Newton from the float64 root;
* hidden-manifold model, relu: a cold 40 x 40 (alpha, alpha_D) phase diagram of ``t_c`` and ``t_o``
  (one interpolated curve per alpha_D and quantity), against the per-point solver on 8 points of the
  same plane (scaled to 1600), with their largest relative difference there;
* hidden-manifold model, tanh: a cold ``t_c`` (a fresh model per point, median of 5 points), and
  ``t_c`` over a curve of 40 alphas (per point).

Usage::

    python benchmarks/theory_speed.py

(Not ``benchmarks/theory.py``: run as a script, that name would shadow the ``theory`` package.)
"""

from __future__ import annotations

import platform
import time

import numpy as np

from theory.gaussian import GRID_MIN, collapse_time
from theory.hmm import HiddenManifoldModel
from theory.hmm_phase import regime_times_grid


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
    hmm_cases(ref)


def hmm_cases(ref: float) -> None:
    import warnings

    warnings.simplefilter("ignore", RuntimeWarning)  # stencils that step outside the domain near q = m^2
    alphas, aDs = np.linspace(0.02, 0.5, 40), np.linspace(0.25, 2.0, 40)
    t0 = time.perf_counter()
    plane = regime_times_grid(alphas, aDs, "relu", quantities=("t_c", "t_o"))
    t_plane = time.perf_counter() - t0
    conv = np.mean(np.r_[plane["converged_t_c"].ravel(), plane["converged_t_o"].ravel()])
    picks = [(i, j) for i, j in zip(range(0, 40, 5), range(3, 40, 5))]
    t0 = time.perf_counter()
    diff = 0.0
    for i, j in picks:  # a fresh model per point: what a user asking point by point pays
        m = HiddenManifoldModel(float(aDs[i]), "relu")
        tc, to = m.collapse_time(float(alphas[j])).value, m.onset_time(float(alphas[j])).value
        diff = max(diff, abs(tc / plane["t_c"][i, j] - 1), abs(to / plane["t_o"][i, j] - 1))
    t_pp = (time.perf_counter() - t0) * alphas.size * aDs.size / len(picks)
    print(f"| HMM relu, cold 40 x 40 phase diagram of t_c and t_o | {t_plane:.1f} s | {t_plane / ref:.0f}x | "
          f"converged {conv:.1%}; max rel. diff to per-point {diff:.1e} |")
    print(f"| HMM relu, same plane point by point (8 points, scaled) | {t_pp:.0f} s | {t_pp / ref:.0f}x | |")
    cold = []
    for a, aD in [(0.05, 0.5), (0.2, 0.5), (0.3, 1.0), (0.1, 2.0), (0.2, 0.25)]:
        t0 = time.perf_counter()
        HiddenManifoldModel(aD, "tanh").collapse_time(a)
        cold.append(time.perf_counter() - t0)
    print(f"| HMM tanh, cold t_c (median of 5 points) | {np.median(cold):.2f} s | {np.median(cold) / ref:.0f}x | "
          f"range {min(cold):.2f}-{max(cold):.2f} s |")
    m = HiddenManifoldModel(1.0, "tanh")
    t0 = time.perf_counter()
    curve = m.collapse_time(alphas)
    t_curve = (time.perf_counter() - t0) / alphas.size
    print(f"| HMM tanh, t_c on a curve of 40 alphas (per point) | {t_curve:.2f} s | {t_curve / ref:.0f}x | "
          f"{curve.method}; converged {np.mean(curve.converged):.0%} |")


if __name__ == "__main__":
    main()
