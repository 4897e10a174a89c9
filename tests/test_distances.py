"""The [H24] distances: kernel-vs-kernel L2 distance and the Gaussian Hellinger distance, against
quadrature (1-D and 2-D) and mpmath at raised precision."""

import math

import mpmath as mp
import numpy as np
import pytest
from scipy import integrate

from theory.relative_distance import (
    gaussian_hellinger_squared,
    kernel_bandwidth,
    kernel_l2_distance_squared,
    kernel_relative_distance,
    log_kernel_cross_overlap,
)
from theory.validation import InputError


def _kde(points, eps):
    return lambda x: np.mean(np.exp(-(x - points) ** 2 / (2 * eps**2))) / math.sqrt(2 * math.pi * eps**2)


def test_kernel_distance_matches_quadrature_in_one_dimension(rng):
    Y, Z = rng.normal(size=(7, 1)), rng.normal(0.5, 1.3, size=(11, 1))
    ey, ez = kernel_bandwidth(7, 1), kernel_bandwidth(11, 1)
    p, q = _kde(Y[:, 0], ey), _kde(Z[:, 0], ez)
    quad, _ = integrate.quad(lambda x: (p(x) - q(x)) ** 2, -15, 15, limit=400, epsabs=1e-14, epsrel=1e-12)
    assert kernel_l2_distance_squared(Y, Z) == pytest.approx(quad, rel=1e-9)
    cross, _ = integrate.quad(lambda x: p(x) * q(x), -15, 15, limit=400, epsabs=1e-14, epsrel=1e-12)
    assert math.exp(log_kernel_cross_overlap(Y, Z, ey, ez)) == pytest.approx(cross, rel=1e-9)


def test_kernel_distance_in_two_dimensions_and_its_relative_form(rng):
    G, X, O = rng.normal(size=(5, 2)), rng.normal(size=(6, 2)), rng.normal(size=(40, 2))
    eg, ex = kernel_bandwidth(5, 2), kernel_bandwidth(6, 2)

    def dens(points, eps):
        return lambda x, y: np.mean(np.exp(-((x - points[:, 0]) ** 2 + (y - points[:, 1]) ** 2) / (2 * eps**2))) / (
            2 * math.pi * eps**2)

    p, q = dens(G, eg), dens(X, ex)
    quad, _ = integrate.dblquad(lambda y, x: (p(x, y) - q(x, y)) ** 2, -8, 8, -8, 8, epsabs=1e-12, epsrel=1e-9)
    assert kernel_l2_distance_squared(G, X) == pytest.approx(quad, rel=1e-6)
    assert kernel_relative_distance(G, X, O) == pytest.approx(
        kernel_l2_distance_squared(G, X) - kernel_l2_distance_squared(G, O), rel=1e-12)
    assert kernel_l2_distance_squared(X, X) == pytest.approx(0.0, abs=1e-15)  # a law against itself


def _hellinger_mpmath(m1, c1, m2, c2, dps=40):
    """``1 - int sqrt(p q)`` in one dimension by mpmath quadrature."""
    with mp.workdps(dps):
        m1, c1, m2, c2 = (mp.mpf(v) for v in (m1, c1, m2, c2))
        pdf = lambda x, m, v: mp.exp(-(x - m) ** 2 / (2 * v)) / mp.sqrt(2 * mp.pi * v)
        return 1 - mp.quad(lambda x: mp.sqrt(pdf(x, m1, c1) * pdf(x, m2, c2)), [-mp.inf, (m1 + m2) / 2, mp.inf])


@pytest.mark.parametrize("m1,c1,m2,c2", [(0.0, 1.0, 0.0, 1.0), (0.0, 1.0, 1.5, 1.0), (0.3, 0.2, -1.0, 4.0),
                                         (0.0, 1e-3, 0.0, 1e3)])
def test_hellinger_matches_mpmath_quadrature(m1, c1, m2, c2):
    exact = float(_hellinger_mpmath(m1, c1, m2, c2))
    got = gaussian_hellinger_squared([m1], [[c1]], [m2], [[c2]])
    assert got == pytest.approx(exact, rel=1e-12, abs=1e-15)


def test_hellinger_in_many_dimensions_factorises_and_stays_finite(rng):
    # independent coordinates: 1 - H^2 is the product of the one-dimensional Bhattacharyya coefficients
    d = 6
    m1, m2 = rng.normal(size=d), rng.normal(size=d)
    v1, v2 = rng.uniform(0.5, 2, size=d), rng.uniform(0.5, 2, size=d)
    bc = np.prod([1 - gaussian_hellinger_squared([a], [[b]], [c], [[e]]) for a, b, c, e in zip(m1, v1, m2, v2)])
    assert gaussian_hellinger_squared(m1, np.diag(v1), m2, np.diag(v2)) == pytest.approx(1 - bc, rel=1e-12)
    # d = 2000: determinants far outside float64, the distance still a number in [0, 1]
    big = gaussian_hellinger_squared(np.zeros(2000), np.eye(2000) * 1e-3, np.zeros(2000), np.eye(2000) * 1.1e-3)
    assert 0 < big < 1 and math.isfinite(big)
    with pytest.raises(InputError, match="positive definite"):
        gaussian_hellinger_squared([0.0], [[-1.0]], [0.0], [[1.0]])


def test_gaussian_kl_closed_form_and_degenerate_laws(rng):
    from theory.relative_distance import gaussian_hellinger_to, gaussian_kl

    # one dimension against mpmath quadrature of p ln(p/q)
    m1, v1, m2, v2 = 0.3, 0.5, -0.2, 2.0
    with mp.workdps(30):
        pdf = lambda x, m, v: mp.exp(-(x - m) ** 2 / (2 * v)) / mp.sqrt(2 * mp.pi * v)
        kl = mp.quad(lambda x: pdf(x, m1, v1) * mp.log(pdf(x, m1, v1) / pdf(x, m2, v2)), [-mp.inf, 0, mp.inf])
    assert gaussian_kl([m1], [[v1]], [m2], [[v2]]) == pytest.approx(float(kl), rel=1e-12)
    assert gaussian_kl(np.zeros(3), np.diag([1.0, 1.0, 0.0]), np.zeros(3), np.eye(3)) == math.inf
    assert gaussian_hellinger_to(np.zeros(3), np.diag([1.0, 1.0, 0.0]), np.zeros(3), np.eye(3)) == 1.0
    assert gaussian_hellinger_to([0.0], [[2.0]], [0.0], [[2.0]]) == pytest.approx(0.0, abs=1e-15)
