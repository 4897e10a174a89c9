import mpmath as mp
import numpy as np
import pytest

from reference import REF
from theory import conventions as cv


def test_delta_small_t_keeps_digits():
    t = 1e-12
    assert cv.delta(t) == pytest.approx(2e-12, rel=1e-11)
    assert float(cv.delta("0.5", dps=40)) == pytest.approx(-np.expm1(-1.0), rel=1e-15)


def test_alpha():
    assert cv.alpha(256, 20000) == pytest.approx(REF["alpha_N256_P20000"].value, abs=REF["alpha_N256_P20000"].tol)
    assert cv.alpha(64, 1e4) == pytest.approx(np.log(1e4) / 64, rel=1e-15)


@pytest.mark.parametrize("forward,backward", [
    (cv.t_to_tau, cv.tau_to_t),
    (cv.t_to_sigma_edm, cv.sigma_edm_to_t),
])
def test_round_trips_vectorised(forward, backward):
    t = np.concatenate([[0.0, 1e-14, 1e-8], np.logspace(-6, 1.3, 200)])
    back = backward(forward(t))
    np.testing.assert_allclose(back, t, rtol=1e-13, atol=1e-300)


def test_converters_against_mpmath():
    for t in ["1e-9", "0.01", "0.7", "3.5", "12"]:
        tm = mp.mpf(t)
        with mp.workdps(40):
            tau = mp.expm1(2 * tm)
        assert cv.t_to_tau(float(t)) == pytest.approx(float(tau), rel=1e-14)
        assert cv.t_to_sigma_edm(float(t)) == pytest.approx(float(mp.sqrt(tau)), rel=1e-14)
        assert float(cv.t_to_tau(t, dps=40)) == pytest.approx(float(tau), rel=1e-15)
        assert float(cv.tau_to_t(cv.t_to_tau(t, dps=40), dps=40)) == pytest.approx(float(t), rel=1e-15)


def test_edm_relations():
    t = np.linspace(0.05, 4, 50)
    s = cv.t_to_sigma_edm(t)
    # x_EDM = x e^t has noise std e^t sqrt(Delta_t) = sigma_EDM.
    np.testing.assert_allclose(s, np.exp(t) * np.sqrt(cv.delta(t)), rtol=1e-13)
    np.testing.assert_allclose(cv.signal_to_noise(t), 1 / s**2, rtol=1e-13)


def test_ddpm_reference_values():
    # docs/reference.md (mpmath sums of ln(1 - beta_j))
    for k in (499, 999):
        assert cv.t_from_ddpm_step(k) == pytest.approx(REF[f"ddpm_t_{k}"].value, abs=REF[f"ddpm_t_{k}"].tol)
    # e^{-2 t_k} = alphabar_k, against an independent mpmath product
    exact = cv.DEFAULT_DDPM.times_mpmath(30)
    np.testing.assert_allclose(cv.DEFAULT_DDPM.times, [float(x) for x in exact], rtol=1e-13)


def test_ddpm_round_trip_vectorised():
    k = np.linspace(0, 999, 4001)
    np.testing.assert_allclose(cv.ddpm_step_from_t(cv.t_from_ddpm_step(k)), k, atol=1e-9)
    t = np.linspace(cv.DEFAULT_DDPM.times[0], cv.DEFAULT_DDPM.times[-1], 777)
    np.testing.assert_allclose(cv.t_from_ddpm_step(cv.ddpm_step_from_t(t)), t, rtol=1e-13)
    assert cv.DEFAULT_DDPM.nearest_step(cv.t_from_ddpm_step(499.4)) == 499
    assert cv.DEFAULT_DDPM.nearest_step(cv.t_from_ddpm_step(499.6)) == 500


def test_custom_schedule():
    sched = cv.DDPMSchedule(1e-3, 1e-2, 50)
    betas = np.linspace(1e-3, 1e-2, 50)
    np.testing.assert_allclose(sched.times, -0.5 * np.log(np.cumprod(1 - betas)), rtol=1e-13)


@pytest.mark.parametrize("call,match", [
    (lambda: cv.t_from_ddpm_step(1000), "step"),
    (lambda: cv.t_from_ddpm_step(-1), "step"),
    (lambda: cv.ddpm_step_from_t(10.0), "t must lie"),
    (lambda: cv.t_to_tau(-1.0), "t must be >= 0"),
    (lambda: cv.t_to_tau(np.nan), "t must be finite"),
    (lambda: cv.alpha(10, 1), "P must be an integer >= 2"),
    (lambda: cv.alpha(0, 10), "N must be an integer >= 1"),
    (lambda: cv.alpha(3, 10.5), "P must be an integer"),
    (lambda: cv.sigma_edm_to_t("abc"), "sigma_edm"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_sigma_edm_conversions_do_not_overflow():
    import mpmath as mp

    from theory.conventions import sigma_edm_to_t, t_to_sigma_edm

    for t in (1e-8, 0.3, 20.0, 400.0, 700.0):
        with mp.workdps(40):
            exact = mp.sqrt(mp.expm1(2 * mp.mpf(t)))
        assert t_to_sigma_edm(t) == pytest.approx(float(exact), rel=4e-15)
        assert sigma_edm_to_t(t_to_sigma_edm(t)) == pytest.approx(t, rel=1e-14)
    assert sigma_edm_to_t(1e300) == pytest.approx(690.7755278982137, rel=1e-15)  # ln(1e300)
    np.testing.assert_allclose(sigma_edm_to_t(np.array([1e-3, 1e200])), [0.5 * np.log1p(1e-6), 200 * np.log(10)],
                               rtol=1e-15)


def test_convert_beyond_float64(capsys):
    import json
    import warnings

    from compare.cli import main

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning reaches the user
        assert main(["convert", "--t", "400"]) == 0
        assert "tau = 2.726374572e+347" in capsys.readouterr().out  # e^800 - 1, from mpmath
        assert main(["convert", "--sigma-edm", "1e300", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)  # valid JSON: no Infinity
    assert out["tau"] is None and out["t"] == pytest.approx(690.7755278982137, rel=1e-15)
