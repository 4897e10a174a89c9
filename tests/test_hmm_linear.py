"""Linear hidden-manifold model against the linear rows of docs/reference.md (mpmath)."""

import numpy as np
import pytest

from reference import REF
from theory.hmm_linear import LinearHMM


def g_of(t):
    return 1 / np.expm1(2 * t)


ROWS = [("mp_0.1_0.1", "mp", 0.1, 0.1), ("mp_0.3_0.3", "mp", 0.3, 0.3), ("orth_0.2_0.5", "orthogonal", 0.2, 0.5),
        ("iso_0.2", "isotropic", 0.2, 1.0)]


@pytest.mark.parametrize("row,spectrum,alpha,alpha_D", ROWS)
@pytest.mark.parametrize("dps", [None, 20])
def test_reference_values(row, spectrum, alpha, alpha_D, dps):
    m = LinearHMM(alpha_D, spectrum)
    tc, to, gen = m.collapse_time(alpha, dps=dps), m.onset_time(alpha, dps=dps), m.generalization(alpha, dps=dps)
    assert tc.converged and to.converged and gen.converged
    for name, value in (("t_c", tc.value), ("t_o", to.value), ("g_c", g_of(float(tc.value))),
                        ("g_o", g_of(float(to.value))), ("tau_g", gen.tau_g)):
        ref = REF[f"{row}_{name}"]
        assert float(value) == pytest.approx(ref.value, abs=ref.tol), name
    assert to.value > tc.value  # traps appear before typical trajectories fall in


@pytest.mark.parametrize("row,alpha,alpha_D,t", [("mp_0.1_0.1", 0.1, 0.1, 0.615118), ("mp_0.3_0.3", 0.3, 0.3, 0.280775)])
def test_basin_reference(row, alpha, alpha_D, t):
    ref = REF[f"{row}_basin"]
    for dps in (None, 20):
        assert float(LinearHMM(alpha_D, "mp").basin(t, alpha, dps=dps).value) == pytest.approx(ref.value, abs=ref.tol)


def test_basin_boundaries_and_generalization():
    m = LinearHMM(0.5, "orthogonal")
    assert m.basin(m.onset_time(0.2).value, 0.2).value == pytest.approx(0.0, abs=1e-12)
    assert m.basin(m.collapse_time(0.2).value, 0.2).value == pytest.approx(1.0, abs=1e-12)
    gen = m.generalization(0.2)
    assert gen.value == pytest.approx(0.5 * np.log1p(gen.tau_g), rel=1e-14) and gen.g_star > 0


def test_orthogonal_closed_form_and_isotropic_limit():
    for aD in [0.1, 0.5, 1.0]:
        for a in [0.05, 0.2, 0.6]:
            g_c = aD * np.expm1(2 * a / aD)  # g_c = alpha_D (e^{2 alpha/alpha_D} - 1)
            assert LinearHMM(aD, "orthogonal").collapse_time(a).value == pytest.approx(0.5 * np.log1p(1 / g_c), rel=1e-12)
    a = 0.2  # orthogonal F with alpha_D = 1 is isotropic: t_c = -(1/2) ln(1 - e^{-2 alpha})
    assert LinearHMM(1.0, "orthogonal").collapse_time(a).value == pytest.approx(-0.5 * np.log(-np.expm1(-2 * a)), rel=1e-12)


def test_mp_moments_and_mpmath():
    # The quadrature integrates the MP law to the right moments: E[lambda] = 1, E[lambda^2] = 1 + c.
    m = LinearHMM(0.3, "mp")
    assert m.B(1e-9) / 1e-9 == pytest.approx(1.0, rel=1e-6)  # (1/N) tr C = alpha_D E[lambda]/alpha_D = 1
    for aD in [0.3, 2.0]:
        mm = LinearHMM(aD, "mp")
        assert mm.collapse_time(0.2).value == pytest.approx(float(mm.collapse_time(0.2, dps=25).value), rel=1e-10)


def test_bad_input():
    with pytest.raises(ValueError, match="spectrum"):
        LinearHMM(0.5, "gaussian")
    with pytest.raises(ValueError, match="alpha_D must be > 0"):
        LinearHMM(0.0)
    with pytest.raises(ValueError, match="eigenvalues"):
        LinearHMM(0.5, [1.0, -2.0])


@pytest.mark.parametrize("spectrum", ["mp", "orthogonal"])
@pytest.mark.parametrize("aD", [0.3, 2.0])
def test_grids_invert_one_interpolant_and_equal_the_roots(spectrum, aD):
    # 32 or more alphas take the Chebyshev inversion; under 32 the bracketed root per alpha
    m = LinearHMM(aD, spectrum)
    alphas = np.geomspace(1e-3, 2.0, 400)
    for name in ("collapse_time", "onset_time", "generalization"):
        grid = getattr(m, name)(alphas)
        assert np.all(grid.converged) and "Chebyshev" in grid.method, (name, grid.method)
        per_point = np.concatenate([getattr(m, name)(alphas[i:i + 20]).value for i in range(0, 400, 20)])
        np.testing.assert_allclose(grid.value, per_point, rtol=1e-12)
    gen = m.generalization(alphas)
    np.testing.assert_allclose(gen.value, 0.5 * np.log1p(gen.tau_g), rtol=1e-14)
