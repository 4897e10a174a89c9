import mpmath as mp
import numpy as np
import pytest

from reference import REF
from theory import gaussian as g


def alpha_of(P, N):
    return np.log(P) / N


# -- reference values (docs/reference.md) ------------------------------------------------------
def test_isotropic_collapse_reference():
    for N in (256, 1024):
        ref = REF[f"t_C_iso_N{N}_P20000"]
        assert g.collapse_time_isotropic(alpha_of(20000, N)).value == pytest.approx(ref.value, abs=ref.tol)


def test_spectrum_collapse_reference():
    lam = np.array([50.0] * 10 + [0.5] * 990)
    res = g.collapse_time(lam, alpha_of(1e4, 1000))
    assert res.converged and res.method.startswith("chandrupatla")
    assert res.value == pytest.approx(REF["t_C_two_level"].value, abs=REF["t_C_two_level"].tol)
    assert res.flag == "converged" and res.function_calls > res.iterations > 0
    assert abs(res.residual) < 1e-15


def test_excess_entropy_reference():
    a = alpha_of(20000, 1024)
    lam = np.ones(1024)
    ref = REF["f_over_alpha_N1024_P20000_t2"]
    assert g.excess_entropy(2.0, lam, a) / a == pytest.approx(ref.value, abs=ref.tol)
    assert g.excess_entropy(1.0, lam, a, clip=True) == 0.0
    assert g.excess_entropy(1.0, lam, a) < 0
    assert g.excess_entropy_isotropic(2.0, a) == pytest.approx(g.excess_entropy(2.0, lam, a), rel=1e-13)


def test_speciation_reference():
    assert g.speciation_time(1025) == pytest.approx(REF["t_S_N1024"].value, abs=REF["t_S_N1024"].tol)
    assert g.speciation_time(257) == pytest.approx(REF["t_S_N256"].value, abs=REF["t_S_N256"].tol)


# -- float64 vs mpmath ------------------------------------------------------------------------
SPECTRA = {
    "isotropic": np.ones(64),
    "two-level": np.array([50.0] * 10 + [0.5] * 990),
    "power-law": 1.0 / np.arange(1, 201) ** 1.5,
    "rank-deficient": np.concatenate([np.full(5, 3.0), np.zeros(95)]),
}
ALPHAS = [1e-4, 0.01, 0.3, 2.0, 8.0]  # sub-exponential P up to strongly memorising


@pytest.mark.parametrize("name", sorted(SPECTRA))
@pytest.mark.parametrize("a", ALPHAS)
def test_collapse_time_float64_vs_mpmath(name, a):
    lam = SPECTRA[name]
    r64 = g.collapse_time(lam, a)
    rmp = g.collapse_time(lam, a, dps=40)
    assert r64.converged and rmp.converged
    assert "mpmath" in rmp.method
    assert r64.value == pytest.approx(float(rmp.value), rel=1e-12)
    # the mpmath residual is at working precision
    assert abs(rmp.residual) < mp.mpf(10) ** -35


def test_collapse_time_vectorised_grid():
    lam = SPECTRA["power-law"]
    grid = np.logspace(-4, 1, 41)
    res = g.collapse_time(lam, grid)
    assert res.value.shape == grid.shape and np.all(res.converged)
    assert res.method.startswith("Chebyshev inversion")  # a grid: monotone inversion (theory/inversion.py)
    one_by_one = [g.collapse_time(lam, a).value for a in grid]
    # the inversion's contract is 1e-12 relative to the per-point solver (measured: 8e-14 here,
    # where ln F is flattest: large alpha); small batches still use the per-point solver exactly
    np.testing.assert_allclose(res.value, one_by_one, rtol=1e-12)
    small = g.collapse_time(lam, grid[:g.GRID_MIN - 1])
    np.testing.assert_allclose(small.value, one_by_one[:g.GRID_MIN - 1], rtol=1e-14)
    assert np.all(np.diff(res.value) < 0)  # more data per dimension -> later collapse


def test_isotropic_closed_form_equals_numeric_root():
    a = np.logspace(-5, 1.2, 60)
    for s2 in [0.25, 1.0, 7.0]:
        closed = g.collapse_time_isotropic(a, s2).value
        numeric = g.collapse_time(np.full(32, s2), a).value
        np.testing.assert_allclose(closed, numeric, rtol=1e-12)
        mp_closed = [float(g.collapse_time_isotropic(x, s2, dps=30).value) for x in a[::10]]
        np.testing.assert_allclose(closed[::10], mp_closed, rtol=1e-13)


def test_excess_entropy_mpmath_path():
    lam = SPECTRA["two-level"]
    for t in [0.01, 0.5, 3.0]:
        f64 = g.excess_entropy(t, lam, 0.01)
        fmp = g.excess_entropy(t, lam, 0.01, dps=30)
        assert f64 == pytest.approx(float(fmp), rel=1e-12, abs=1e-15)


def test_root_is_zero_of_excess_entropy():
    lam = SPECTRA["two-level"]
    t_c = g.collapse_time(lam, 0.05).value
    assert abs(g.excess_entropy(t_c, lam, 0.05)) < 1e-15
    assert g.excess_entropy(t_c * 1.01, lam, 0.05) > 0 > g.excess_entropy(t_c * 0.99, lam, 0.05)


# -- asymptotic regimes ---------------------------------------------------------------------------
def test_large_alpha_asymptote():
    a = np.array([4.0, 6.0, 8.0])
    exact = g.collapse_time_isotropic(a, 2.0).value
    approx = g.collapse_time_asymptotic(a, 2.0, regime="large_alpha").value
    rel = np.abs(exact / approx - 1)
    assert np.all(rel < 2 * np.exp(-2 * a) * 2.0)  # next-order correction
    assert np.all(np.diff(rel) < 0)


def test_small_alpha_asymptote():
    a = np.array([1e-2, 1e-3, 1e-4, 1e-5])
    gap = np.abs(g.collapse_time_isotropic(a).value - g.collapse_time_asymptotic(a, regime="small_alpha").value)
    assert np.all(np.diff(gap) < 0) and gap[-1] < 1e-4  # error O(alpha)


def test_asymptote_bad_regime():
    with pytest.raises(ValueError, match="regime"):
        g.collapse_time_asymptotic(0.1, regime="medium")


# -- spectra from data -------------------------------------------------------------------------
def test_covariance_spectrum_known_covariance(rng):
    lam = np.array([9.0, 4.0, 1.0, 1.0, 0.25])
    q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    x = rng.standard_normal((200000, 5)) * np.sqrt(lam) @ q.T + 3.0  # the mean is removed
    est = g.covariance_spectrum(x)
    # sample eigenvalues: relative standard error ~ sqrt(2/P) = 0.003; allow 5 sigma
    np.testing.assert_allclose(est, lam, rtol=5 * np.sqrt(2 / 200000) * 1.5)
    assert g.largest_eigenvalue(x) == est[0]


def test_covariance_spectrum_wide_data(rng):
    x = rng.standard_normal((10, 30))
    est = g.covariance_spectrum(x)
    assert est.shape == (30,)
    ref = np.sort(np.linalg.eigvalsh(np.cov(x.T)))[::-1]
    np.testing.assert_allclose(est, np.clip(ref, 0, None), atol=1e-12)


@pytest.mark.parametrize("bad,match", [
    (np.ones(5), "2-D"),
    (np.ones((1, 5)), "P >= 2"),
    (np.array([[1.0, np.nan], [0.0, 1.0]]), "finite"),
    ("data", "numeric"),
])
def test_covariance_spectrum_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        g.covariance_spectrum(bad)


@pytest.mark.parametrize("call,match", [
    (lambda: g.collapse_time([1.0, -1.0], 0.1), "eigenvalues must be >= 0"),
    (lambda: g.collapse_time([0.0, 0.0], 0.1), "at least one"),
    (lambda: g.collapse_time([1.0], 0.0), "alpha must be > 0"),
    (lambda: g.collapse_time_isotropic(0.1, -1.0), "sigma2 must be > 0"),
    (lambda: g.excess_entropy(0.0, [1.0], 0.1), "t must be > 0"),
    (lambda: g.excess_entropy(np.nan, [1.0], 0.1), "t must be finite"),
    (lambda: g.speciation_time(0.0), "Lambda must be > 0"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
