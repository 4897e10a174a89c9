"""Regularised scores [BDKOS25] and relative distances [H24] against docs/reference.md
and their one-point laws."""

import math

import numpy as np
import pytest
import torch

from simulate.regularized import (
    FlooredScore,
    TikhonovScore,
    empirical_score_general,
    floored_score,
    softmax_weights,
    tikhonov_score,
)
from reference import REF
from simulate.samplers import sample_heun, sample_heun_ve
from simulate.scores import EmpiricalScore
from theory.regularization import floored_memorizes, floored_threshold, tikhonov_distance_ve, tikhonov_profile_ou
from theory.relative_distance import (
    kernel_bandwidth,
    l2_distance_squared,
    log_gaussian_kernel_overlap,
    log_gaussian_self_overlap,
    log_kernel_self_overlap,
    relative_distance,
)

DATA = torch.tensor([[-1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)


def _check(value, name):
    assert float(value) == pytest.approx(REF[name].value, abs=REF[name].tol), name


def test_reference_values():
    x = torch.tensor([[0.2, 0.3]], dtype=torch.float64)
    w = softmax_weights(DATA, x, 1.0, 0.5)[0]
    _check(w[0], "w1_at_0.2_0.3")
    _check(w[1], "w2_at_0.2_0.3")
    s = empirical_score_general(DATA, x, 1.0, 0.5)[0]
    _check(s[0], "sN1_at_0.2_0.3")
    assert s[1].item() == pytest.approx(-1.2, abs=1e-15)  # closed form: (0 - 0.3)/0.25
    tik = tikhonov_score(DATA, x, 1.0, 0.5, 0.1)[0]
    _check(tik[0], "tik1_at_0.2_0.3")
    _check(tik[1], "tik2_at_0.2_0.3")
    x2 = torch.tensor([[0.2, 1.5]], dtype=torch.float64)
    _check(torch.exp(-((x2 - DATA) ** 2).sum(1) / (2 * 0.25)).sum(), "ptilde_at_0.2_1.5")
    s2 = empirical_score_general(DATA, x2, 1.0, 0.5)[0]
    _check(s2[0], "sN1_at_0.2_0.3")  # the weights do not depend on the second coordinate
    assert s2[1].item() == pytest.approx(-6.0, abs=1e-14)  # closed form: (0 - 1.5)/0.25
    floor = floored_score(DATA, x2, 1.0, 0.5, 0.1)[0]
    _check(floor[0], "floor1_at_0.2_1.5")
    _check(floor[1], "floor2_at_0.2_1.5")


def test_floor_inactive_above_tau_and_ou_classes_match():
    x = torch.tensor([[0.2, 0.3]], dtype=torch.float64)  # p~ = 0.32 > tau
    torch.testing.assert_close(floored_score(DATA, x, 1.0, 0.5, 0.1), empirical_score_general(DATA, x, 1.0, 0.5))
    t = 0.4
    ou = EmpiricalScore(DATA)(x, t)
    torch.testing.assert_close(TikhonovScore(DATA, 0.0)(x, t), ou)
    torch.testing.assert_close(FlooredScore(DATA, 1e-300)(x, t), ou)


def test_tikhonov_one_point_distance_law():
    """One training point, VE probability-flow ODE: |x - a| = |x_T - a| sqrt((sigma^2 + c)/(sigma_T^2 + c))."""
    a = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64)
    x_T = a + torch.tensor([[3.0, -1.0, 2.0]], dtype=torch.float64)
    sigma_T, c = 4.0, 0.09
    score = lambda x, s: tikhonov_score(a, x, 1.0, s, c)
    for s_end in [1.0, 0.1, 0.0]:
        sig = np.linspace(sigma_T, s_end, 4001)
        x = sample_heun_ve(score, x_T, sig)
        law = tikhonov_distance_ve(s_end, (x_T - a).norm().item(), sigma_T, c)
        assert (x - a).norm().item() == pytest.approx(float(law), rel=1e-5)


def test_tikhonov_one_point_law_in_ou_time():
    """OU probability flow with TikhonovScore: |x - e^{-t} a| / G_c(t) is conserved."""
    a = torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    c = 0.05
    x = torch.tensor([[1.8, -1.1]], dtype=torch.float64)
    t0 = 1.5
    u0 = (x - math.exp(-t0) * a).norm().item()
    for t_end in [0.8, 0.1, 0.001]:
        out = sample_heun(TikhonovScore(a, c), x, np.geomspace(t0, t_end, 3000), disable=True)
        u = (out - math.exp(-t_end) * a).norm().item()
        assert u == pytest.approx(u0 * tikhonov_profile_ou(t_end, c) / tikhonov_profile_ou(t0, c), rel=1e-5)


def test_saddle_on_the_bisector():
    """[BDKOS25]: a start on the symmetry set (bisector of two points) ends on the saddle (the
    midpoint), a measure-zero set; any perturbation ends on a training point."""
    score = lambda x, s: empirical_score_general(DATA, x, 1.0, s)
    sig = np.geomspace(3.0, 1e-3, 2000)
    on = sample_heun_ve(score, torch.tensor([[0.0, 0.7]], dtype=torch.float64), sig)
    assert on.abs().max().item() < 1e-2  # the midpoint (0, 0), distance 1 from both points
    off = sample_heun_ve(score, torch.tensor([[1e-3, 0.7]], dtype=torch.float64), sig)
    assert (off - DATA[1]).norm().item() < 1e-2


@pytest.mark.parametrize("tau", [0.1, 1e-3])
def test_floored_one_point_memorisation_threshold(tau):
    """Memorises iff |x_T - a| / sigma_T <= sqrt(2 ln(1/tau)); checked on both sides of the threshold."""
    a = torch.zeros(1, 2, dtype=torch.float64)
    sigma_T = 2.0
    threshold = floored_threshold(tau)
    score = lambda x, s: floored_score(a, x, 1.0, s, tau)
    sig = np.geomspace(sigma_T, 1e-4, 3000)
    for ratio, memorises in [(0.9, True), (1.1, False)]:
        x_T = torch.tensor([[ratio * threshold * sigma_T, 0.0]], dtype=torch.float64)
        x = sample_heun_ve(score, x_T, sig)
        final = (x - a).norm().item()
        assert bool(floored_memorizes(ratio * threshold * sigma_T, sigma_T, tau)) == memorises
        if memorises:
            assert final < 1e-3
        else:
            assert final > 0.5 * sigma_T


def test_relative_distance_reference_values_section_4():
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    eps = kernel_bandwidth(3, 2, 1.0)
    assert eps == pytest.approx(3 ** -0.5)
    mean, cov = (0.3, 0.4), np.diag([0.5, 0.8])
    for value, name in ((math.exp(log_kernel_self_overlap(X, eps)), "int_pK2"),
                        (math.exp(log_gaussian_kernel_overlap(X, eps, mean, cov)), "int_pG_pK"),
                        (math.exp(log_gaussian_self_overlap(cov)), "int_pG2"),
                        (l2_distance_squared(X, mean, cov), "l2_pG_pK")):
        assert value == pytest.approx(REF[name].value, abs=REF[name].tol)


def test_relative_distance_against_quadrature():
    """The closed forms equal a direct 2-D quadrature of (p_G - p_K)^2."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 2))
    mean, cov = np.array([0.2, -0.1]), np.array([[0.7, 0.2], [0.2, 0.5]])
    eps = 0.6
    g = np.linspace(-8, 8, 801)
    xx, yy = np.meshgrid(g, g, indexing="ij")
    pts = np.stack([xx, yy], -1)
    inv = np.linalg.inv(cov)
    d = pts - mean
    pg = np.exp(-0.5 * np.einsum("...i,ij,...j", d, inv, d)) / (2 * np.pi * np.sqrt(np.linalg.det(cov)))
    pk = np.mean([np.exp(-np.sum((pts - y) ** 2, -1) / (2 * eps**2)) / (2 * np.pi * eps**2) for y in X], axis=0)
    direct = np.sum((pg - pk) ** 2) * (g[1] - g[0]) ** 2
    assert l2_distance_squared(X, mean, cov, eps=eps) == pytest.approx(direct, rel=1e-6)


def test_relative_distance_sign():
    """Delta = ||p_G - p_K^X||^2 - ||p_G - p_K^O||^2: the true law is farther from the kernel of 20
    training points than from that of 4000 fresh points (Delta > 0, generalisation); a generator
    collapsed onto a training point is closer to the training kernel (Delta < 0, memorisation)."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((20, 2))
    O = rng.standard_normal((4000, 2))
    assert relative_distance(X, O, np.zeros(2), np.eye(2)) > 0  # the true law generalises
    narrow = np.eye(2) * 1e-3  # a generator collapsed onto one training point
    assert relative_distance(X, O, X[0], narrow) < 0


@pytest.mark.parametrize("call,match", [
    (lambda: tikhonov_score(DATA, DATA, 1.0, 0.5, -1.0), "c must be >= 0"),
    (lambda: floored_score(DATA, DATA, 1.0, 0.5, 0.0), "tau must be > 0"),
    (lambda: softmax_weights(DATA, DATA, 1.0, 0.0), "sigma must be > 0"),
    (lambda: l2_distance_squared([[0.0, 0.0]], (0, 0), -np.eye(2)), "positive"),
    (lambda: sample_heun_ve(lambda x, s: x, DATA, [1.0, 2.0]), "decreasing"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_floor_one_point_law_is_a_chi_square_level():
    # P(chi^2_N <= 2 ln(1/tau)); for N = 2 the chi-square law is exponential: exactly 1 - tau
    from compare.experiments.regularization import floor_memorized_fraction

    for tau in (1e-6, 1e-3, 0.1, 0.5, 0.9):
        assert floor_memorized_fraction(tau, 2) == pytest.approx(1 - tau, rel=1e-12)
    assert floor_memorized_fraction(1e-300, 8) == 1.0 and floor_memorized_fraction(1.0, 8) == 0.0
    assert floor_memorized_fraction(0.1, 8) < floor_memorized_fraction(0.1, 2)  # more dimensions, further away
