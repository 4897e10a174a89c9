"""Monotone inversion of the collapse condition over grids, and the mpmath Newton path."""

import mpmath as mp
import numpy as np
import pytest

import theory.gaussian as g
from theory.inversion import ChebyshevInverse, compress_spectrum

RNG_SEED = 20261206


def _spectra():
    rng = np.random.default_rng(RNG_SEED)
    return {
        "gamma-1000": np.sort(rng.gamma(2.0, 1.0, 1000)),
        "isotropic": np.full(64, 3.0),
        "with-zeros-and-ties": np.r_[np.zeros(20), np.full(30, 0.5), np.full(50, 2.0), rng.random(100)],
        "twelve-decades": np.logspace(-9, 3, 400),
    }


@pytest.mark.parametrize("name", list(_spectra()))
def test_grid_equals_the_per_point_solver_within_1e12(name):
    lam = _spectra()[name]
    alphas = np.geomspace(1e-4, 5.0, 20000)
    res = g.collapse_time(lam, alphas)
    assert res.value.shape == alphas.shape and np.all(res.converged)
    assert np.all(np.diff(res.value) < 0)
    sample = np.random.default_rng(1).choice(alphas.size, 200, replace=False)
    per_point = np.concatenate([g.collapse_time(lam, alphas[sample[i:i + 20]]).value for i in range(0, 200, 20)])
    np.testing.assert_allclose(res.value[sample], per_point, rtol=1e-12)
    # the residual reported is f(t_C), and it is tiny relative to alpha
    assert np.all(np.abs(res.residual) <= 1e-12 * alphas)


def test_grid_matches_mpmath_and_the_isotropic_closed_form():
    alphas = np.linspace(0.002, 2.0, 500)
    closed = g.collapse_time_isotropic(alphas, 3.0).value
    np.testing.assert_allclose(g.collapse_time(np.full(64, 3.0), alphas).value, closed, rtol=1e-12)
    lam = _spectra()["twelve-decades"]
    res = g.collapse_time(lam, alphas)
    for k in (0, 137, 499):
        exact = g.collapse_time(lam, float(alphas[k]), dps=30).value
        assert abs(res.value[k] - float(exact)) <= 1e-12 * float(exact)


def test_the_interpolant_is_checked_and_inverts_exactly():
    lam = _spectra()["gamma-1000"]
    values, counts = compress_spectrum(np.r_[lam, lam[:10]])
    assert values.size == 1000 and counts.sum() == 1010
    inv = ChebyshevInverse(lam, -3.0, 12.0)
    assert inv.piece_error.max() <= 1e-13 and inv.pieces >= 1
    u_true = np.linspace(-2.9, 11.9, 50)
    u, resid, bound, slope, iters = inv.invert(inv.G(u_true))
    np.testing.assert_allclose(u, u_true, rtol=0, atol=1e-11)
    assert np.all(np.abs(resid) < 1e-14) and iters <= 10
    h = 1e-6  # dG/du against a central difference of the exact G
    np.testing.assert_allclose(slope, (inv.G(u_true + h) - inv.G(u_true - h)) / (2 * h), rtol=1e-7)


def test_mpmath_newton_from_the_float64_root():
    lam = _spectra()["gamma-1000"]
    r50 = g.collapse_time(lam, 0.3, dps=50)
    r100 = g.collapse_time(lam, 0.3, dps=100)
    assert r50.converged and r50.method.startswith("newton") and r50.iterations <= 4
    with mp.workdps(110):
        assert abs(r50.value - r100.value) < mp.mpf(10) ** -45
        assert abs(r100.residual) < mp.mpf(10) ** -95
    assert abs(float(r50.value) - g.collapse_time(lam, 0.3).value) <= 1e-12 * float(r50.value)
    # a closed form at 60 digits, and eigenvalues 300 decades apart
    with mp.workdps(70):
        iso = g.collapse_time(np.full(10, 2.0), 0.05, dps=60).value
        assert abs(iso - g.collapse_time_isotropic(0.05, 2.0, dps=60).value) < mp.mpf(10) ** -58
    wide = g.collapse_time(np.r_[np.full(5, 1e-300), np.ones(5)], 0.2, dps=30)
    same = g.collapse_time(np.r_[np.zeros(5), np.ones(5)], 0.2).value  # 1e-300 counts for nothing here
    assert wide.converged and abs(float(wide.value) - same) < 1e-12 * same


def test_grid_edges_converge_or_say_so():
    lam = np.linspace(0.1, 2.0, 100)
    tiny = np.geomspace(1e-300, 1e-250, 40)  # roots near u = 690: ln F spans hundreds
    res = g.collapse_time(lam, tiny)
    assert np.all(res.converged)
    np.testing.assert_allclose(res.value[:5], g.collapse_time(lam, tiny[:5]).value, rtol=1e-12)
    # tau below e^-700 is outside the solver's range: reported, not hidden
    huge = g.collapse_time(lam, np.linspace(100.0, 1000.0, 40))
    assert not np.any(huge.converged)


def test_piecewise_chebyshev_on_any_decreasing_function():
    from theory.inversion import PiecewiseChebyshev

    smooth = PiecewiseChebyshev(lambda u: -np.sinh(u), -3.0, 3.0, nodes=16, tol=1e-13, width=1.0)
    assert smooth.pieces >= 6 and smooth.piece_error.max() <= 1e-12
    u = np.linspace(-2.9, 2.9, 40)
    x, resid, bound, slope, _ = smooth.invert(-np.sinh(u))
    np.testing.assert_allclose(x, u, atol=1e-12)
    np.testing.assert_allclose(slope, -np.cosh(u), rtol=1e-10)
    # a kink the polynomials cannot resolve: halving stops at max_pieces, and the error is kept
    kinked = PiecewiseChebyshev(lambda u: -u - 0.3 * np.abs(u - 0.1234), -1.0, 1.0, nodes=8, tol=1e-14, max_pieces=5)
    assert kinked.pieces == 5 and kinked.piece_error.max() > 1e-6
    t, _, dt_rel, _ = kinked.times(np.exp(np.array([0.5])))  # G = ln alpha: the error reaches the time
    assert np.isfinite(t[0]) and dt_rel[0] > 0
