"""Linear hidden-manifold model against test-vectors.md section 6 (linear rows)."""

import numpy as np
import pytest

from theory.hmm_linear import LinearHMM


def g_of(t):
    return 1 / np.expm1(2 * t)


@pytest.mark.parametrize("spectrum,alpha,alpha_D,g_c,t_c,g_o,t_o", [
    ("mp", 0.1, 0.1, 0.6679075, 0.45758772, 0.27104986, 0.77264785),
    ("mp", 0.3, 0.3, 2.2068319, 0.18686277, 0.89631573, 0.37468773),
    ("orthogonal", 0.2, 0.5, 0.61277046, 0.48385917, 0.27826297, 0.76234540),
    ("isotropic", 0.2, 1.0, 0.49182470, 0.55481647, 0.23407624, 0.83121555),
])
def test_reference_values(spectrum, alpha, alpha_D, g_c, t_c, g_o, t_o):
    m = LinearHMM(alpha_D, spectrum)
    tc, to = m.collapse_time(alpha), m.onset_time(alpha)
    assert tc.converged and to.converged
    assert tc.value == pytest.approx(t_c, abs=5e-9) and g_of(tc.value) == pytest.approx(g_c, rel=1e-7)
    assert to.value == pytest.approx(t_o, abs=5e-9) and g_of(to.value) == pytest.approx(g_o, rel=1e-7)
    assert to.value > tc.value  # traps appear before typical trajectories fall in


@pytest.mark.parametrize("alpha,alpha_D,t,r", [(0.1, 0.1, 0.615118, 0.49744957), (0.3, 0.3, 0.280775, 0.46639055)])
def test_basin_reference(alpha, alpha_D, t, r):
    # t is given to 6 decimals and dr*/dt ~ -3, so 2e-6 is the rounding of the reference
    assert LinearHMM(alpha_D, "mp").basin(t, alpha).value == pytest.approx(r, abs=2e-6)


def test_basin_boundaries_and_generalization():
    m = LinearHMM(0.5, "orthogonal")
    assert m.basin(m.onset_time(0.2).value, 0.2).value == pytest.approx(0.0, abs=1e-12)
    assert m.basin(m.collapse_time(0.2).value, 0.2).value == pytest.approx(1.0, abs=1e-12)
    assert m.generalization(0.2).tau_g == pytest.approx(0.48470920, abs=5e-9)
    assert LinearHMM(1.0, "isotropic").generalization(0.2).tau_g == pytest.approx(0.79510870, abs=5e-9)


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
