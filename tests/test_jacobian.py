import math

import numpy as np
import pytest
import torch

from simulate.data import block_gaussian
from simulate.jacobian import (
    LOST_FRACTION,
    autograd_jacobian,
    empirical_score_dense,
    empirical_score_jacobian,
    local_dimension_gap,
    local_dimension_spike,
    posterior_covariance,
    probe_jacobian,
    raw_score_probe,
    retained_variance,
)
from simulate.scores import EmpiricalScore, GaussianScore
from simulate.subspaces import subspace_sweep
from theory.subspaces import BlockSpectrum


@pytest.fixture(scope="module")
def problem():
    g = torch.Generator().manual_seed(0)
    a = block_gaussian((2, 3, 5), (1.0, 0.3, 0.05), 400, generator=g).data
    x = torch.cat([a[:6] + 0.01 * torch.randn(6, 10, generator=g, dtype=torch.float64),
                   torch.randn(6, 10, generator=g, dtype=torch.float64)])
    return a, x


@pytest.mark.parametrize("t", [0.01, 0.1, 0.5, 2.0])
@pytest.mark.parametrize("chunk", [7, None])
def test_closed_form_jacobian_equals_autograd(problem, t, chunk):
    a, x = problem
    exact = empirical_score_jacobian(EmpiricalScore(a, chunk_size=chunk), x, t)
    auto = autograd_jacobian(lambda z, tt: empirical_score_dense(a, z, tt), x, t)
    scale = auto.abs().amax(dim=(1, 2), keepdim=True)
    assert ((exact - auto).abs() / scale).max().item() < 1e-8


def test_ve_jacobian_form(problem):
    a, x = problem
    t = 0.3
    tau = math.expm1(2 * t)
    cov = posterior_covariance(EmpiricalScore(a), x, t)
    ve = empirical_score_jacobian(EmpiricalScore(a), x, t, variable="ve")
    torch.testing.assert_close(ve, -torch.eye(10, dtype=torch.float64) / tau + cov / tau**2)
    # Cov_w is a covariance: symmetric positive semi-definite
    assert torch.linalg.eigvalsh(cov).min().item() > -1e-12


def test_probe_estimator_second_order(problem):
    a, x = problem
    score = lambda z, tt: empirical_score_dense(a, z, tt)
    ref = autograd_jacobian(score, x, 0.5)
    steps = np.array([0.1, 0.05, 0.025, 0.0125])
    errs = []
    for h in steps:
        est = probe_jacobian(score, x, 0.5, step=float(h), generator=torch.Generator().manual_seed(1))
        errs.append((est - ref).abs().max().item())
    slope = np.polyfit(np.log(steps), np.log(errs), 1)[0]
    assert slope == pytest.approx(2.0, abs=0.2)


@pytest.mark.parametrize("t", [0.01, 0.3, 2.0])
def test_raw_score_probe_equals_the_exact_jacobian_of_a_gaussian_score_at_its_mean(t):
    variances = torch.tensor([4.0, 1.0, 0.3, 1e-2, 1e-4, 1e-4], dtype=torch.float64)
    score = GaussianScore(variances)
    c, var = math.exp(-t), -math.expm1(-2 * t)
    exact = torch.sort(1.0 / (variances * c * c + var), descending=True).values  # |J| = diag(1/(v e^{-2t} + D))
    x0 = torch.zeros(3, 6, dtype=torch.float64)
    for sigma in (1e-3, 0.5):  # exact for a linear score at any probe size
        sv = raw_score_probe(score, x0, t, sigma=sigma, generator=torch.Generator().manual_seed(2))
        torch.testing.assert_close(sv, exact.expand(3, 6), rtol=1e-12, atol=0)
    # off the mean the raw score adds a rank-one part: the top value grows by about |s(x0)| sqrt(N) / sigma
    off = raw_score_probe(score, torch.full((1, 6), 0.5, dtype=torch.float64), t, sigma=0.1,
                          generator=torch.Generator().manual_seed(2))
    assert off[0, 0] > 1.5 * exact[0]
    with pytest.raises(ValueError, match="sigma must be > 0"):
        raw_score_probe(score, x0, t, sigma=0.0)


@pytest.mark.parametrize("d", [1, 3, 7])
def test_dimension_estimators_recover_known_dimension(d):
    """Exact Gaussian score of data on a d-dimensional subspace (variance 1 along it)."""
    N = 12
    v = torch.full((N,), 1e-10, dtype=torch.float64)
    v[:d] = 1.0
    g = torch.Generator().manual_seed(d)
    x = torch.randn(20, N, generator=g, dtype=torch.float64)
    for t in [0.005, 0.02, 0.1]:
        jac = autograd_jacobian(GaussianScore(v), x, t)
        sv = torch.linalg.svdvals(jac).numpy()
        assert np.all(local_dimension_gap(sv) == d)
        assert np.all(local_dimension_spike(sv) == d)


def test_no_gap_means_dimension_zero():
    assert local_dimension_gap(np.ones(5)) == 0
    assert local_dimension_spike(np.ones(5)) == 0


def test_lost_rule():
    tau, s = 0.01, (1.0, 0.09)
    blocks = [slice(0, 2), slice(2, 4)]
    post = [si * tau / (si + tau) for si in s]
    generalising = torch.diag(torch.tensor([post[0]] * 2 + [post[1]] * 2, dtype=torch.float64))[None]
    condensed = 0.3 * generalising
    r = retained_variance(torch.cat([generalising, condensed]), tau, s, blocks)
    np.testing.assert_allclose(r, [[1, 1], [0.3, 0.3]], rtol=1e-12)
    assert np.all(r[0] >= LOST_FRACTION) and np.all(r[1] < LOST_FRACTION)


def test_sweep_normalised_high_variance_block_lost_first():
    """g = 0, P = 1000: block 1 (std 1) is lost well before blocks 2 and 3 (disjoint 95%
    intervals), and blocks 2 and 3 go at the global collapse (not earlier than it)."""
    g = torch.Generator().manual_seed(11)
    dims, stds = (2, 5, 23), (1.0, 0.3, 0.01)
    ds = block_gaussian(dims, stds, 1000, normalized=True, generator=g)
    spec = BlockSpectrum.from_std(dims, stds, normalized=True)
    t = 0.5 * np.log1p(np.logspace(-3, -0.5, 16))
    sw = subspace_sweep(ds.data, np.square(stds), ds.params["blocks"], t, 150, generator=g, disable=True)
    (m1, lo1, hi1), (m2, lo2, hi2), (m3, lo3, hi3) = sw.critical_times(n_resamples=300)
    assert lo1 > max(hi2, hi3)
    t_collapse = 0.5 * np.log1p(spec.tau_collapse(1000).value)
    assert min(lo2, lo3) > 0.8 * t_collapse
    assert abs(m1 - 0.5 * np.log1p(spec.tau_gauss_rem(1000)[0])) / m1 < 0.35  # N = 30 finite-size offset


def test_network_path_of_the_subspace_sweep_reproduces_the_empirical_sweep():
    """The implied posterior covariance tau (I + tau e^{-2t} J) of the empirical score's probed
    Jacobian gives back the closed-form sweep at the same points."""
    g = torch.Generator().manual_seed(0)
    ds = block_gaussian((2, 3, 5), (1.0, 0.3, 0.05), 300, generator=g, dtype=torch.float64)
    args = (ds.data, np.array([1.0, 0.09, 0.0025]), ds.params["blocks"], np.geomspace(1e-3, 1, 8), 20)
    direct = subspace_sweep(*args, generator=torch.Generator().manual_seed(1), disable=True)
    probed = subspace_sweep(*args, generator=torch.Generator().manual_seed(1), disable=True,
                            score=EmpiricalScore(ds.data))
    assert np.abs(direct.retained - probed.retained).max() < 1e-5
    np.testing.assert_array_equal(direct.dimension, probed.dimension)
    np.testing.assert_allclose(direct.max_weight, probed.max_weight, rtol=1e-12)


def test_block_order_verdicts():
    from compare.experiments.subspaces_networks import block_order

    assert block_order([0.3, 0.1, 0.01], [0.25, 0.08, 0.005], [0.35, 0.12, 0.02]) == "ordered"
    assert block_order([0.3, 0.1, 0.01], [0.05, 0.08, 0.005], [0.35, 0.12, 0.02]) == "ordered (overlapping)"
    assert block_order([0.1, 0.3, 0.01], [0.05, 0.2, 0.005], [0.15, 0.4, 0.02]) == "not ordered"
    assert block_order([0.3, float("nan"), 0.01], [0.2, 0.0, 0.0], [0.4, 0.0, 0.0]) == "incomplete"
