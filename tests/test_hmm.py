"""Nonlinear hidden-manifold model (replica symmetric) against docs/reference.md, the linear
model, the alpha_D -> 0 limit, and its own consistency relations."""

import numpy as np
import pytest

from reference import REF
from theory.activations import activation
from theory.hmm import HiddenManifoldModel, Quadrature
from theory.hmm_linear import LinearHMM
from theory.hmm_phase import (hidden_manifold, kernel_cross_entropy, phase_boundaries_alpha_D,
                              phase_diagram_alpha_t, regime_times)
from theory.symbolic import hmm_collapse_orthogonal


def g_of(t):
    return 1 / np.expm1(2 * t)


@pytest.fixture(scope="module")
def relu():
    return HiddenManifoldModel(0.3, "relu")


@pytest.fixture(scope="module")
def tanh():
    return HiddenManifoldModel(0.3, "tanh")


def test_standardisation_constants():
    t, r = activation("tanh"), activation("relu")
    for value, name in ((t.sd ** 2, "tanh_var"), (t.kappa * t.sd ** 2, "tanh_kappa_raw"), (r.mean, "relu_mean"),
                        (r.sd ** 2, "relu_var")):
        assert value == pytest.approx(REF[name].value, abs=REF[name].tol), name
    assert r.kappa * r.sd ** 2 == pytest.approx(0.5, abs=1e-12)
    h = np.linspace(-3, 3, 7)
    assert activation(lambda z: 2 * z + 1)(h) == pytest.approx(h, abs=1e-12)  # standardised callable


def test_relu_reference_row(relu):
    tc, to = relu.collapse_time(0.3), relu.onset_time(0.3)
    assert tc.converged and to.converged and tc.flag == "converged"
    values = {"t_c": tc.value, "g_c": g_of(tc.value), "t_o": to.value, "g_o": g_of(to.value),
              "basin": relu.basin(0.302054, 0.3).value}
    for name, value in values.items():
        assert value == pytest.approx(REF[f"relu_0.3_0.3_{name}"].value, abs=REF[f"relu_0.3_0.3_{name}"].tol), name
    with pytest.raises(ValueError, match="dps: the replica-symmetric functional"):
        relu.collapse_time(0.3, dps=30)


def test_tanh_reference_times(tanh):
    tc, to = tanh.collapse_time(0.3), tanh.onset_time(0.3)
    values = {"t_c": tc.value, "g_c": g_of(tc.value), "t_o": to.value, "g_o": g_of(to.value)}
    for name, value in values.items():
        ref = REF[f"tanh_0.3_0.3_{name}"]
        assert value == pytest.approx(ref.value, abs=ref.tol), name


@pytest.mark.slow
def test_tanh_reference_basin_and_quadrature(tanh):
    assert tanh.basin(0.295989, 0.3).value == pytest.approx(REF["tanh_0.3_0.3_basin"].value, abs=1e-5)
    # the quadrature must be negligible against the reference's 1e-5: doubled orders move t_c and t_o
    # by less than 1e-7 (measured 1.3e-9 and 4.0e-8)
    err = tanh.quadrature_error(0.3)
    assert err["t_c"] < 1e-7 and err["t_o"] < 1e-7


def test_relu_quadrature_is_converged():
    coarse, fine = HiddenManifoldModel(0.3, "relu"), HiddenManifoldModel(0.3, "relu", Quadrature(60, 32, 24, 60))
    assert coarse.functional((0.6, 0.45, 0.85), 0.8, 0.5) == pytest.approx(fine.functional((0.6, 0.45, 0.85), 0.8, 0.5), abs=1e-11)


@pytest.mark.parametrize("aD", [0.3, 2.0])
def test_linear_phi_reproduces_marchenko_pastur(aD):
    rs, mp_ = HiddenManifoldModel(aD, "linear"), LinearHMM(aD, "mp")
    for g in [0.3, 2.0]:
        assert rs.mutual_information(g) == pytest.approx(mp_.mutual_information(g), abs=1e-9)
        for r in [0.0, 0.4]:
            assert rs.free_entropy(g, r) == pytest.approx(mp_.free_entropy(g, r), abs=1e-9)
        assert rs.B(g) == pytest.approx(mp_.B(g), abs=1e-7)
    assert rs.collapse_time(0.2).value == pytest.approx(mp_.collapse_time(0.2).value, abs=1e-9)
    assert rs.onset_time(0.2).value == pytest.approx(mp_.onset_time(0.2).value, abs=1e-9)
    assert rs.generalization(0.2).tau_g == pytest.approx(mp_.generalization(0.2).tau_g, abs=1e-8)


def test_user_callable_linear_equals_linear():
    rs = HiddenManifoldModel(0.3, lambda z: 3 * z - 1)  # standardised to z; generic (paneled) quadrature
    assert rs.collapse_time(0.3).value == pytest.approx(LinearHMM(0.3).collapse_time(0.3).value, abs=1e-9)


@pytest.mark.parametrize("alpha,alpha_D,tau_g", [(0.1, 0.1, 0.12973009), (0.3, 0.3, 0.11606827)])
def test_mp_generalization_reference(alpha, alpha_D, tau_g):
    gen = LinearHMM(alpha_D, "mp").generalization(alpha)
    assert gen.tau_g == pytest.approx(tau_g, abs=5e-9) and gen.value == pytest.approx(0.5 * np.log1p(tau_g), abs=5e-9)
    assert gen.converged and gen.flag == "converged"


def test_time_ordering_on_a_grid(relu):
    for aD in [0.1, 0.3, 1.0, 3.0]:
        d = phase_diagram_alpha_t(aD, np.linspace(0.05, 0.6, 6))
        assert np.all(d["t_g"] < d["t_c"]) and np.all(d["t_c"] < d["t_o"])
        assert np.all(np.diff(d["t_c"]) < 0) and np.all(np.diff(d["t_o"]) < 0)
    gen = relu.generalization(0.3)
    assert gen.value < relu.collapse_time(0.3).value < relu.onset_time(0.3).value


def test_basin_boundaries(relu):
    # r*(t_o) = 0 and r*(t_c) = 1: the typical trajectory meets the basin boundary at collapse
    at_onset, at_collapse = relu.basin(relu.onset_time(0.3).value, 0.3), relu.basin(relu.collapse_time(0.3).value, 0.3)
    assert at_onset.value == pytest.approx(0.0, abs=1e-7) and at_collapse.value == pytest.approx(1.0, abs=1e-7)
    assert at_collapse.converged and at_collapse.function_calls >= 1 and at_onset.converged
    above = relu.basin(0.6, 0.3)  # above the onset: no trap
    assert np.isnan(above.value) and "no trap" in above.flag


def test_small_alpha_D_fast_path_is_approached():
    errors = []
    for aD in [0.4, 0.2, 0.1, 0.05]:
        m = HiddenManifoldModel(aD, "relu")
        tc = m.collapse_time(aD).value  # alpha/alpha_D = 1
        errors.append(abs(m.asymptotic_collapse_time(aD).value - tc) / tc)
    assert np.all(np.diff(errors) < 0) and errors[-1] < 0.1


def test_orthogonal_closed_form_is_the_numeric_root():
    g_c = hmm_collapse_orthogonal().lambdify()
    for aD in [0.2, 0.5, 2.0]:
        for a in [0.05, 0.3]:
            t = LinearHMM(aD, "orthogonal").collapse_time(a).value
            args = dict(alpha=a, alpha_D=aD)
            expected = g_c(*[args[s.name] for s in sorted(hmm_collapse_orthogonal().solution.free_symbols, key=lambda s: s.name)])
            if aD <= 1:
                assert g_of(t) == pytest.approx(expected, rel=1e-12)
    # alpha_D = 1 orthogonal is isotropic (section 2)
    assert LinearHMM(1.0, "orthogonal").collapse_time(0.2).value == pytest.approx(-0.5 * np.log(-np.expm1(-0.4)), rel=1e-12)


def test_finite_F_spectrum_converges_to_marchenko_pastur():
    rng = np.random.default_rng(0)
    target = LinearHMM(0.25, "mp").collapse_time(0.1).value
    rms = []
    for N in [64, 256, 1024]:
        runs = np.array([LinearHMM.from_features(rng.standard_normal((N, N // 4))).collapse_time(0.1).value
                         for _ in range(6)])
        rms.append(np.sqrt(np.mean((runs - target) ** 2)))
        # the large-N path lies inside the sample's 4-standard-error band
        assert abs(runs.mean() - target) < 4 * runs.std(ddof=1) / np.sqrt(runs.size)
    # i(g) is a linear spectral statistic: its fluctuations are O(1/N) (x16 in N: expect ~x16 in rms)
    assert rms[1] < rms[0] / 2 and rms[2] < rms[1] / 2 and rms[2] < 2e-3


def test_kernel_cross_entropy_minimum_is_tau_g():
    for model in [LinearHMM(0.3, "mp"), LinearHMM(0.5, "orthogonal")]:
        gen = model.generalization(0.2)
        taus = gen.tau_g * np.exp(np.linspace(-1, 1, 201))
        ce = kernel_cross_entropy(model, taus, 0.2)
        assert taus[np.argmin(ce)] == pytest.approx(gen.tau_g, rel=0.011)
        # continuous at the condensation point tau = 1/g*
        edge = 1 / gen.g_star
        lo, hi = kernel_cross_entropy(model, [edge * (1 - 1e-9), edge * (1 + 1e-9)], 0.2)
        assert lo == pytest.approx(hi, abs=1e-7)


def test_phase_boundaries_and_limits():
    d = phase_boundaries_alpha_D(0.4, [0.01, 0.1, 1.0, 100.0])
    assert np.all(d["collapse"] < d["onset"])
    assert d["collapse"][0] == pytest.approx(d["small_alpha_D"][0], rel=0.05)  # alpha_D -> 0
    assert d["collapse"][-1] == pytest.approx(d["isotropic"], rel=0.01)       # curse of dimensionality


def test_regime_times_summary():
    times = regime_times(0.2, 0.5, "linear")
    model = LinearHMM(0.5, "mp")
    assert times["t_c"] == model.collapse_time(0.2).value and times["t_o"] == model.onset_time(0.2).value
    assert times["t_g"] < times["t_c"] < times["t_o"] and times["converged"]
    assert times["tau_g"] == pytest.approx(np.expm1(2 * times["t_g"]), rel=1e-12)


def test_bad_input():
    with pytest.raises(ValueError, match="alpha_D must be > 0"):
        HiddenManifoldModel(0.0, "tanh")
    with pytest.raises(ValueError, match="phi must be one of"):
        HiddenManifoldModel(0.3, "cosh")
    with pytest.raises(ValueError, match="constant"):
        activation(lambda z: np.ones_like(z))
    with pytest.raises(ValueError, match="needs phi='linear'"):
        hidden_manifold(0.3, "tanh", "orthogonal")
    with pytest.raises(ValueError, match="alpha must be > 0"):
        HiddenManifoldModel(0.3, "relu").collapse_time(-0.1)
