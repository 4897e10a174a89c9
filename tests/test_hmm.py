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


# -- speed paths: each must give the numbers of the plain computation it replaces ---------------
@pytest.mark.parametrize("phi", ["relu", "sign"])
def test_closed_form_inner_integral_equals_the_quadrature(phi):
    # E_w over each linear piece in closed form, against Gauss-Legendre panels split at the kink
    exact = HiddenManifoldModel(0.5, phi)
    quad = HiddenManifoldModel(0.5, phi, Quadrature(30, 16, 12, 120))
    quad._pieces = None  # force the quadrature in w (the path every other phi takes)
    for theta in [(0.3, 0.3, 1.0), (0.1, 0.5, 1.2), (0.0, 0.0, 1.0), (0.6, 0.7, 0.9)]:
        for g in [0.05, 1.0, 4.0]:
            for r in [0.0, 0.4, 1.0]:
                assert exact.channel(theta, g, r) == pytest.approx(quad.channel(theta, g, r), abs=1e-10)


def test_factorised_and_shifted_exponents_agree(monkeypatch):
    import theory.hmm as hmm_module

    m = HiddenManifoldModel(0.5, "tanh")
    cases = [((0.3, 0.3, 1.0), 2.0, 1.0), ((0.6, 0.7, 0.9), 0.5, 0.0), ((0.9, 0.95, 1.0), 8.0, 0.3)]
    factorised = [m.channel(*c) for c in cases]
    monkeypatch.setattr(hmm_module, "_FACTOR_LIMIT", 0.0)  # always the shifted log-sum-exp
    monkeypatch.setattr(hmm_module, "_PARALLEL_MIN", 10 ** 12)  # and one thread
    np.testing.assert_allclose(factorised, [m.channel(*c) for c in cases], rtol=1e-13)


def test_relu_times_move_less_than_the_reported_quadrature_error():
    # the closed form replaced a w-quadrature: t_c and t_o move by less than the doubling estimate
    exact = HiddenManifoldModel(0.5, "relu")
    quad = HiddenManifoldModel(0.5, "relu")
    quad._pieces = None
    err = exact.quadrature_error(0.2)
    for name in ("collapse_time", "onset_time"):
        a, b = getattr(exact, name)(0.2).value, getattr(quad, name)(0.2).value
        assert abs(a - b) <= max(1e-12, err["t_c" if name == "collapse_time" else "t_o"])


def test_curves_equal_the_point_by_point_solver():
    alphas = np.linspace(0.05, 0.4, 8)
    line, single = HiddenManifoldModel(0.5, "relu"), HiddenManifoldModel(0.5, "relu")
    for name, rtol in (("collapse_time", 1e-9), ("onset_time", 1e-9), ("generalization", 1e-8)):
        res = getattr(line, name)(alphas)
        assert res.value.shape == alphas.shape and np.all(res.converged), (name, res.flag)
        assert res.method.startswith("Chebyshev inversion"), res.method
        per_point = [getattr(single, name)(float(a)).value for a in alphas[[0, 3, 7]]]
        np.testing.assert_allclose(res.value[[0, 3, 7]], per_point, rtol=rtol)
    gen = line.generalization(alphas.reshape(2, 4))  # any shape, and tau_g, g_star with it
    assert gen.value.shape == (2, 4) and gen.tau_g.shape == (2, 4)
    np.testing.assert_allclose(gen.value, 0.5 * np.log1p(gen.tau_g), rtol=1e-14)
    few = line.collapse_time(np.array([0.1, 0.2]))  # under _LINE_MIN: point by point
    assert few.method.startswith("newton") and few.value[1] == line.collapse_time(0.2).value


def test_regime_times_grid_over_the_plane():
    from theory.hmm_phase import regime_times_grid

    alphas, aDs = np.linspace(0.05, 0.3, 6), np.array([0.5, 2.0])
    seen = []
    out = regime_times_grid(alphas, aDs, "linear", callback=seen.append)
    assert seen == [0.5, 2.0] and out["t_c"].shape == (2, 6) and out["converged_t_g"].all()
    for i, aD in enumerate(aDs):
        one = regime_times(float(alphas[4]), float(aD), "linear")
        for q in ("t_c", "t_o", "t_g"):
            assert out[q][i, 4] == pytest.approx(one[q], rel=1e-12)
    assert np.all(out["t_o"] > out["t_c"]) and np.all(out["t_c"] > out["t_g"])
    with pytest.raises(ValueError, match="quantities"):
        regime_times_grid(alphas, aDs, "linear", quantities=("t_x",))


def test_no_interior_stationary_point_is_reported_quickly():
    # at alpha = 0.6, alpha_D = 0.25 the r = 0 saddle runs into q = m^2: a NaN that says so, not a hang
    m = HiddenManifoldModel(0.25, "tanh")
    onset = m.onset_time(0.6)
    assert np.isnan(onset.value) and not onset.converged and "no interior stationary point" in onset.flag
    gen = m.generalization(0.6)  # and what builds on it says why it has no value
    assert np.isnan(gen.value) and "no onset time" in gen.flag


_FORKED = {}


def _channel_in_child():
    return _FORKED["model"].channel((0.3, 0.3, 1.0), 2.0, 1.0)


def test_quadrature_threads_survive_a_fork():
    import multiprocessing as mp_

    import theory.hmm as hmm_module

    _FORKED["model"] = m = HiddenManifoldModel(0.5, "tanh")  # inherited by the forked child
    value = m.channel((0.3, 0.3, 1.0), 2.0, 1.0)  # creates the thread pool in this process
    assert hmm_module._POOL is not None
    with mp_.get_context("fork").Pool(1) as pool:  # the child inherits the pool object, not its threads
        assert pool.apply_async(_channel_in_child).get(timeout=60) == value
