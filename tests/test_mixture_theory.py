import numpy as np
import pytest

from reference import REF
from theory import PHI_AT_BIMODALITY, TwoClassMixture


def test_speciation_reference_values():
    for N in (1024, 256):
        ref = REF[f"t_S_N{N}"]
        assert TwoClassMixture(N, 20000).speciation_time() == pytest.approx(ref.value, abs=ref.tol)


def test_collapse_reference_values():
    for N in (256, 1024):
        ref = REF[f"t_C_iso_N{N}_P20000"]
        res = TwoClassMixture(N, 20000).collapse_time()
        assert res.value == pytest.approx(ref.value, abs=ref.tol) and res.flag == "closed form"


@pytest.mark.parametrize("sigma", [0.5, 1.0, 1.7])
def test_criteria_definitions(sigma):
    m = TwoClassMixture(256, 1000, mu=0.8, sigma=sigma)
    M2 = 0.64 * 256
    assert m.speciation_time() == pytest.approx(0.5 * np.log(M2 + sigma**2), rel=1e-14)
    # bimodality <=> kappa = 1 <=> phi = 0.7752
    t_b = m.speciation_time("bimodality")
    assert m.kappa(t_b) == pytest.approx(1.0, rel=1e-13)
    assert m.cloning_probability(t_b) == pytest.approx(PHI_AT_BIMODALITY, abs=1e-14)
    assert m.cloning_time().value == pytest.approx(t_b, rel=1e-12)
    # curvature: d/dq of the backward drift q + 2 S_par(q) vanishes at the origin
    t_c = m.speciation_time("curvature")
    c, var = np.exp(-t_c), -np.expm1(-2 * t_c)
    gamma = var + sigma**2 * c * c
    slope = 1 - 2 / gamma + 2 * M2 * c * c / gamma**2
    assert slope == pytest.approx(0.0, abs=1e-12)
    # all criteria agree to leading order (1/2) ln(mu^2 N)
    for crit in ["eigenvalue", "bimodality", "curvature"]:
        assert abs(m.speciation_time(crit) - 0.5 * np.log(M2)) < 0.5


def test_criteria_mpmath_paths():
    m = TwoClassMixture(300, 1000, mu=1.1, sigma=0.7)
    for crit in ["eigenvalue", "bimodality", "curvature"]:
        assert m.speciation_time(crit) == pytest.approx(float(m.speciation_time(crit, dps=30)), rel=1e-14)


def test_never_bimodal_is_nan():
    m = TwoClassMixture(4, 100, mu=0.1, sigma=1.0)  # mu^2 N < sigma^2: P_t is unimodal at all t
    assert np.isnan(m.speciation_time("bimodality"))
    assert np.isnan(m.cloning_time(0.9).value) and not m.cloning_time(0.9).converged


def test_cloning_probability_vectorised_and_mpmath():
    m = TwoClassMixture(256, 20000)
    t = np.linspace(0.5, 6.0, 40)
    phi = m.cloning_probability(t)
    assert np.all(np.diff(phi) <= 0) and np.all(np.diff(phi[phi < 1 - 1e-9]) < 0)
    for ti in t[::8]:
        assert m.cloning_probability(ti) == pytest.approx(float(m.cloning_probability(ti, dps=30)), abs=1e-12)


def test_cloning_time_levels_vectorised():
    m = TwoClassMixture(1024, 20000)
    levels = np.array([0.55, 0.7, PHI_AT_BIMODALITY, 0.9, 0.99])
    res = m.cloning_time(levels)
    assert np.all(res.converged)
    np.testing.assert_allclose(m.cloning_probability(res.value), levels, atol=1e-12)
    for lev, t in [(levels[2], res.value[2])]:
        r = m.cloning_time(lev, dps=25)
        assert r.converged and "mpmath" in r.method
        assert float(r.value) == pytest.approx(t, rel=1e-12)


def test_finite_n_collapse():
    m = TwoClassMixture(256, 20000)
    lead = m.collapse_time().value
    fin = m.collapse_time_finite_n()
    fin_mp = m.collapse_time_finite_n(dps=30)
    assert fin.converged and fin_mp.converged
    assert fin.value == pytest.approx(float(fin_mp.value), rel=1e-12)
    # the class bit lowers f by at most ln2 / N: the root moves up, but only by O(1/N)
    assert lead < fin.value
    assert m.excess_entropy(fin.value) == pytest.approx(np.log(2) / 256, rel=0.05)
    # and the shift shrinks with N at fixed alpha
    shifts = []
    for N in [64, 256, 1024]:
        P = int(round(np.exp(m.alpha * N)))
        mm = TwoClassMixture(N, P)
        shifts.append(mm.collapse_time_finite_n().value - mm.collapse_time().value)
    assert shifts[0] > shifts[1] > shifts[2] > 0


def test_finite_n_entropy_mpmath():
    m = TwoClassMixture(64, 5000, mu=1.3, sigma=0.8)
    for t in [0.2, 1.0, 2.5]:
        assert m.excess_entropy_finite_n(t) == pytest.approx(float(m.excess_entropy_finite_n(t, dps=30)), abs=1e-13)


def test_summary_units():
    s = TwoClassMixture(256, 20000).summary()
    assert s["sigma_EDM"]["t_C"] == pytest.approx(np.sqrt(np.expm1(2 * s["t_C"])), rel=1e-14)
    assert 0 < s["ddpm_step"]["t_S"] < 999


@pytest.mark.parametrize("kwargs,match", [
    (dict(N=0, P=10), "N must be an integer >= 1"),
    (dict(N=10, P=1), "P must be an integer >= 2"),
    (dict(N=10, P=10, mu=0), "mu must be > 0"),
    (dict(N=10, P=10, sigma=-1), "sigma must be > 0"),
    (dict(N=10, P=10, sigma=float("nan")), "sigma must be finite"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TwoClassMixture(**kwargs)


def test_bad_criterion_and_level():
    m = TwoClassMixture(16, 100)
    with pytest.raises(ValueError, match="criterion"):
        m.speciation_time("eye")
    with pytest.raises(ValueError, match="level"):
        m.cloning_time(0.3)
