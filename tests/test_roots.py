"""The root finders of theory.roots on the shared collection of known-root problems
(tests/root_problems.py), with their flags and counts, and their failure modes."""

import math

import mpmath as mp
import numpy as np
import pytest

from root_problems import DISCONTINUOUS, NO_ROOT, PROBLEMS
from theory.result import CONVERGED, MAX_ITERATIONS, NO_BRACKET, RESIDUAL_TOO_LARGE, STALLED
from theory.roots import find_root_float64, find_root_mpmath, newton, secant

IDS = [p.name for p in PROBLEMS]


@pytest.mark.parametrize("p", PROBLEMS, ids=IDS)
def test_collection_roots_are_roots(p):
    with mp.workdps(50):
        r = mp.findroot(p.f_mp, (mp.mpf(p.bracket[0]), mp.mpf(p.bracket[1])), solver="illinois",
                        tol=mp.mpf(10) ** -45, maxsteps=5000)
        assert abs(r - p.root_mp) <= mp.mpf(10) ** -32 * max(1, abs(r))


@pytest.mark.parametrize("p", PROBLEMS, ids=IDS)
def test_float64_bracketed(p):
    res = find_root_float64(lambda x: p.f(x), *p.bracket)
    assert res.converged and res.flag == CONVERGED and res.method == "chandrupatla-float64"
    assert abs(res.value - p.root) <= 8 * np.finfo(float).eps * abs(p.root) + 1e-300
    assert res.function_calls >= res.iterations > 0 and abs(res.residual) == abs(p.f(res.value))


def test_float64_vectorised_family():
    a = np.array([0.5, 2.0, 10.0, 1e6])
    res = find_root_float64(lambda x, a: np.exp(x) - a, -20.0, 20.0, args=(a,))
    assert res.value.shape == a.shape and np.all(res.converged) and list(res.flag) == [CONVERGED] * 4
    np.testing.assert_allclose(res.value, np.log(a), rtol=1e-15)


@pytest.mark.parametrize("p", PROBLEMS, ids=IDS)
def test_mpmath_bracketed(p):
    res = find_root_mpmath(p.f_mp, *p.bracket, dps=30)
    assert res.converged and res.flag == CONVERGED and "illinois" in res.method
    with mp.workdps(40):
        assert abs(res.value - p.root_mp) <= mp.mpf(10) ** -28 * max(1, abs(p.root))
    assert res.function_calls == res.iterations + 2


@pytest.mark.parametrize("p", PROBLEMS, ids=IDS)
def test_secant_from_a_start(p):
    ftol = 1e-12 * abs(p.df(p.root)) * max(1.0, abs(p.root))  # a residual worth 1e-12 in x
    res = secant(p.f, p.x0, p.x0 + 0.05 * max(1.0, abs(p.x0)), xtol=1e-14, ftol=ftol)
    assert res.converged and res.flag == CONVERGED, res
    assert abs(res.value - p.root) <= 1e-9 * max(1.0, abs(p.root))


@pytest.mark.parametrize("p", PROBLEMS, ids=IDS)
def test_newton_inside_the_bracket(p):
    ftol = 1e-12 * abs(p.df(p.root)) * max(1.0, abs(p.root))  # a residual worth 1e-12 in x
    res = newton(p.f, p.df, p.x0, bounds=p.bracket, xtol=1e-15, ftol=ftol, maxiter=200)
    assert res.converged and res.flag == CONVERGED, res
    assert abs(res.value - p.root) <= 1e-9 * max(1.0, abs(p.root))


@pytest.mark.parametrize("name,f,bracket", NO_ROOT)
def test_no_sign_change(name, f, bracket):
    res = find_root_float64(f, *bracket)
    assert not res.converged and res.flag == NO_BRACKET
    with pytest.raises(ValueError, match="does not contain a sign change"):
        find_root_mpmath(lambda x: f(x), *bracket, dps=20)


def test_discontinuity_is_not_a_root():
    _, f, bracket = DISCONTINUOUS
    with np.errstate(divide="ignore"):
        res = find_root_float64(f, *bracket)
    assert not res.converged and res.flag == RESIDUAL_TOO_LARGE and abs(res.value - 0.5) < 1e-12
    res_mp = find_root_mpmath(lambda x: 1 / (x - mp.mpf("0.5")), *bracket, dps=20)
    assert not res_mp.converged and res_mp.flag == RESIDUAL_TOO_LARGE


def test_iteration_caps_and_stalls():
    p = PROBLEMS[0]
    capped = find_root_float64(p.f, *p.bracket, maxiter=2)
    assert not capped.converged and capped.flag == MAX_ITERATIONS
    assert find_root_mpmath(p.f_mp, *p.bracket, dps=30, maxiter=3).flag == MAX_ITERATIONS
    assert secant(p.f, 1.7, 1.75, maxiter=1).flag == MAX_ITERATIONS
    flat = secant(lambda x: 1.0, 0.0, 1.0)
    assert not flat.converged and flat.flag == STALLED
    stalled = newton(lambda x: x * x + 1, lambda x: 2 * x, 0.0)
    assert not stalled.converged and stalled.flag == STALLED
    assert math.isfinite(stalled.value)


def test_newton_step_cap():
    # atan from x0 = 3: uncapped Newton overshoots further each step, steps capped at 0.5 walk in
    res = newton(math.atan, lambda x: 1 / (1 + x * x), 3.0, max_step=0.5, xtol=1e-14)
    assert res.converged and abs(res.value) < 1e-12
    wild = newton(math.atan, lambda x: 1 / (1 + x * x), 3.0, maxiter=10)
    assert not wild.converged  # uncapped Newton on atan diverges from |x0| > 1.39
