import mpmath as mp
import numpy as np
import pytest

from reference import REF
from theory.expectations import cloning_probability_from_kappa, expected_log_cosh

# Regime boundaries included: kappa -> 0 (phi -> 1/2), kappa ~ 1, and kappa large (phi -> 1).
KAPPAS = np.concatenate([[0.0, 1e-14, 1e-9, 1e-5, 1e-3], np.logspace(-2, 2.5, 40), [400.0, 1e4]])


def test_reference_values():
    # docs/reference.md: phi(kappa) by mpmath quadrature
    for kappa in ("0.1", "0.5", "1", "2", "10"):
        ref = REF[f"phi_kappa_{kappa}"]
        assert cloning_probability_from_kappa(float(kappa)) == pytest.approx(ref.value, abs=ref.tol)


def test_phi_float64_matches_mpmath_1e12():
    got = cloning_probability_from_kappa(KAPPAS)
    ref = np.array([float(cloning_probability_from_kappa(k, dps=30)) for k in KAPPAS])
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)


def test_log_cosh_float64_matches_mpmath_1e12():
    got = expected_log_cosh(KAPPAS)
    ref = np.array([float(expected_log_cosh(k, dps=30)) for k in KAPPAS])
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-13)


def test_limits():
    assert cloning_probability_from_kappa(0.0) == 0.5
    assert cloning_probability_from_kappa(1e4) == pytest.approx(1.0, abs=1e-15)
    # the class-direction entropy deficit kappa - E log cosh goes from 0 to log 2
    k = np.array([1e-8, 1e3])
    deficit = k - expected_log_cosh(k)
    assert deficit[0] == pytest.approx(0.0, abs=1e-8)
    assert deficit[1] == pytest.approx(np.log(2), rel=1e-10)


def test_nishimori_identity():
    # For X ~ N(2k, 4k): E[tanh(X/2)] = E[tanh(X/2)^2]; phi = (1 + E tanh(X/2)) / 2.
    for k in [0.3, 1.0, 4.0]:
        with mp.workdps(30):
            s = mp.sqrt(k)
            e2 = mp.quad(lambda z: mp.npdf(z) * mp.tanh(k + s * z) ** 2, [-mp.inf, -s, mp.inf])
        assert cloning_probability_from_kappa(k) == pytest.approx(float((1 + e2) / 2), abs=1e-12)


def test_monotone():
    phi = cloning_probability_from_kappa(np.logspace(-4, 2, 500))
    assert np.all(np.diff(phi) >= 0)
    below_one = phi < 1 - 1e-9  # strictly increasing until float64 saturates at 1
    assert np.all(np.diff(phi[below_one]) > 0)
