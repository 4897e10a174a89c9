"""Statistical tests of the simulation against theory, with fixed seeds and stated intervals."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from simulate import (
    EmpiricalScore,
    MixtureScore,
    cloning_experiment,
    collapse_experiment,
    lock_in_times_from_indices,
    condensation_times_from_weights,
    excess_entropy_estimate,
    crossing_from_above,
    isotropic_gaussian,
    time_grid,
    two_class_mixture,
)
from simulate.data import mixture_marginal, noised
from simulate.stats import binomial_interval, median_interval
from theory import PHI_AT_BIMODALITY, TwoClassMixture, collapse_time_isotropic, excess_entropy_isotropic


# -- pure bookkeeping ---------------------------------------------------------------------------
def test_lock_in_times_from_indices():
    times = np.array([4.0, 3.0, 2.0, 1.0, 0.5])
    nearest = np.array([
        [0, 5, 5, 7],
        [1, 5, 6, 7],
        [2, 5, 6, 7],
        [3, 5, 7, 7],
        [3, 5, 7, 7],
    ])
    out = lock_in_times_from_indices(times, nearest)
    np.testing.assert_allclose(out, [1.5, 4.0, 1.5, 4.0])


def test_condensation_times_from_weights():
    times = np.array([4.0, 3.0, 2.0, 1.0])
    w = np.array([
        [0.1, 0.9, 0.2, 0.1],
        [0.3, 0.9, 0.6, 0.2],
        [0.7, 0.9, 0.4, 0.3],
        [0.8, 0.9, 0.9, 0.4],
    ])
    np.testing.assert_allclose(condensation_times_from_weights(times, w), [2.5, 4.0, 1.5, 1.0])


def test_crossing_from_above():
    t = np.array([3.0, 2.0, 1.0])
    assert crossing_from_above(t, [0.5, 0.7, 0.9], 0.8) == pytest.approx(1.5)
    assert crossing_from_above(t[::-1], [0.9, 0.7, 0.5], 0.8) == pytest.approx(1.5)  # any order of t
    assert math.isnan(crossing_from_above(t, [0.5, 0.6, 0.7], 0.8))
    assert math.isnan(crossing_from_above(t, [0.9, 0.95, 0.99], 0.8))


# -- speciation: cloning with the exact mixture score at N = 256 ------------------------------------
@pytest.fixture(scope="module")
def cloning_256():
    N, pairs = 256, 4000
    theory = TwoClassMixture(N, 1000)
    t_s, t_k1 = theory.speciation_time(), theory.speciation_time("bimodality")
    g = torch.Generator().manual_seed(1)
    mean = torch.ones(N, dtype=torch.float32)
    score = MixtureScore(mean, 1.0)
    start, stop = t_s + 2.0, t_s - 1.8
    branch = np.concatenate([t_s + np.linspace(-1.0, 1.0, 9), [t_k1]])
    times = np.unique(np.concatenate([np.linspace(start, stop, 121), branch]))[::-1]
    x = mixture_marginal(mean, start, pairs, 1.0, generator=g)
    res = cloning_experiment(score, x, times, branch, score.classify, generator=g, disable=True)
    return theory, res


def test_phi_at_kappa_one_within_99_interval(cloning_256):
    theory, res = cloning_256
    k = int(np.argmin(np.abs(res.branch_times - theory.speciation_time("bimodality"))))
    assert theory.kappa(res.branch_times[k]) == pytest.approx(1.0, rel=1e-9)
    lo, hi = res.phi_interval(0.99)
    assert lo[k] <= PHI_AT_BIMODALITY <= hi[k]


def test_phi_curve_matches_exact_formula(cloning_256):
    theory, res = cloning_256
    K = res.branch_times.size
    lo, hi = res.phi_interval(1 - 0.001 / K)  # 99.9% family-wise (Bonferroni)
    phi_theory = theory.cloning_probability(res.branch_times)
    assert np.all((lo <= phi_theory) & (phi_theory <= hi))


def test_measured_speciation_time_within_3_percent(cloning_256):
    theory, res = cloning_256
    t_cross, lo, hi = res.crossing_interval(PHI_AT_BIMODALITY, n_resamples=300)
    t_s = theory.speciation_time()
    assert abs(t_cross - t_s) / t_s < 0.03
    assert lo <= theory.speciation_time("bimodality") <= hi


# -- collapse: empirical score --------------------------------------------------------------------------
def run_collapse(N, P, trajectories, seed, steps=200):
    g = torch.Generator().manual_seed(seed)
    data = isotropic_gaussian(N, P, generator=g, dtype=torch.float32).data
    t_c = collapse_time_isotropic(math.log(P) / N).value
    start = 2 * t_c
    x, _ = noised(data, start, trajectories, generator=g)
    res = collapse_experiment(EmpiricalScore(data), x, time_grid(start, t_c / 4, steps), generator=g, disable=True)
    med, lo, hi = res.median_lock_in_time(0.95)
    return t_c, med, lo, hi, res


def test_median_lock_in_time_within_10_percent_N64_P1e4():
    t_c, med, lo, hi, res = run_collapse(64, 10_000, 400, seed=2)
    assert abs(med - t_c) / t_c < 0.10
    assert (res.lock_in_time >= res.times[0]).mean() < 0.05  # the window starts before collapse
    # the REM reading (largest weight stays above 1/2) sits closer to t_C than the lock-in
    cmed, clo, chi = np.median(res.condensation_time), *median_interval(res.condensation_time)[1:]
    assert abs(cmed - t_c) < abs(med - t_c)
    assert clo <= t_c <= chi or abs(cmed - t_c) / t_c < 0.02
    # at the end every trajectory sits on its training point: distance^2/N ~ Delta_t
    delta_end = -math.expm1(-2 * res.times[-1])
    assert np.median(res.final_distance2) == pytest.approx(delta_end, rel=0.1)


def test_collapse_gap_shrinks_with_N_at_fixed_alpha():
    """At fixed alpha = 0.07 (P = e^{alpha N}): the relative gap between the median collapse time
    and t_C is significantly smaller at N = 128 than at N = 32 (disjoint 95% intervals)."""
    alpha = 0.07
    gaps = {}
    for N, trajectories in [(32, 4000), (128, 1000)]:
        t_c, med, lo, hi, _ = run_collapse(N, int(round(math.exp(alpha * N))), trajectories, seed=3)
        gaps[N] = ((med - t_c) / t_c, (lo - t_c) / t_c, (hi - t_c) / t_c)
    assert abs(gaps[128][0]) < abs(gaps[32][0])
    assert gaps[128][2] < gaps[32][1], gaps


def test_clone_pairs_share_training_point_only_below_collapse():
    N, P = 32, 300
    g = torch.Generator().manual_seed(4)
    data = isotropic_gaussian(N, P, generator=g).data
    es = EmpiricalScore(data)
    t_c = collapse_time_isotropic(math.log(P) / N).value
    start = 3 * t_c
    x, _ = noised(data, start, 400, generator=g)
    branch = [2.5 * t_c, 0.3 * t_c]
    times = np.unique(np.concatenate([time_grid(start, 0.02, 150), branch]))[::-1]
    res = cloning_experiment(es, x, times, branch, classify=lambda z: es.nearest_index(z, 0.02),
                             identify=es.nearest_index, generator=g, disable=True)
    early, late = np.argmax(res.branch_times), np.argmin(res.branch_times)
    same = res.same_point.mean(axis=0)
    lo, hi = binomial_interval(res.same_point.sum(axis=0), res.n_pairs, 0.99)
    assert hi[early] < 0.25 and lo[late] > 0.9, same


# -- excess entropy estimator ------------------------------------------------------------------------
def test_entropy_estimator_matches_gaussian_theory():
    N, P = 64, 10_000
    g = torch.Generator().manual_seed(5)
    es = EmpiricalScore(isotropic_gaussian(N, P, generator=g).data)
    a = math.log(P) / N
    t_c = collapse_time_isotropic(a).value
    t = np.array([0.5, 1.5, 2.0, 3.0]) * t_c
    est = excess_entropy_estimate(es, t, 4000, generator=g, disable=True)
    theory = excess_entropy_isotropic(t, a, clip=True)
    z = norm.ppf(1 - 0.001 / (2 * t.size))  # 99.9% family-wise
    assert np.all(np.abs(est.f - theory) <= z * est.stderr), (est.f - theory) / est.stderr
    assert est.f_over_alpha[0] == pytest.approx(0.0, abs=z * est.stderr_over_alpha[0])


def test_two_class_mixture_generator_statistics():
    g = torch.Generator().manual_seed(6)
    ds = two_class_mixture(50, 20_000, mu=0.5, sigma=0.8, generator=g)
    x, y = ds.data, ds.labels
    frac = y.float().mean().item()
    assert abs(frac - 0.5) < 4 * math.sqrt(0.25 / 20_000)
    signs = (1 - 2 * y).double()[:, None]
    resid = x - signs * ds.params["mean"]
    assert resid.var().item() == pytest.approx(0.64, rel=4 * math.sqrt(2 / resid.numel()))
