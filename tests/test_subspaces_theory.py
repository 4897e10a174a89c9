import numpy as np
import pytest
import sympy as sp

from reference import REF
from theory import symbolic as S
from theory.subspaces import BlockSpectrum

# docs/reference.md: blocks (2, 5, 23), variances (1, 0.09, 1e-12), P = 1000
SPEC = dict(dims=(2, 5, 23), variances=(1.0, 0.09, 1e-12))


def test_gauss_rem_reference_g0():
    b = BlockSpectrum(**SPEC, normalized=True)
    tau = b.tau_gauss_rem(1000)
    for value, name in ((tau[0], "tau_rem_g0_s1"), (tau[1], "tau_rem_g0_s0.09"),
                        (0.5 * np.log1p(tau[0]), "t_rem_g0_s1")):
        assert value == pytest.approx(REF[name].value, abs=REF[name].tol)


def test_gauss_rem_reference_g1():
    tau = BlockSpectrum(**SPEC).tau_gauss_rem(1000)
    for value, s in zip(tau, ("1", "0.09", "1e-12")):
        assert value == pytest.approx(REF[f"tau_rem_g1_s{s}"].value, abs=REF[f"tau_rem_g1_s{s}"].tol)


def test_block_and_collapse_reference():
    b = BlockSpectrum(**SPEC)
    tau = b.tau_block(1000)
    for value, name in ((tau[0], "tau_block_1"), (tau[1], "tau_block_2")):
        assert value == pytest.approx(REF[name].value, abs=REF[name].tol)
    res = b.tau_collapse(1000)
    ref = REF["tau_collapse_blocks"]
    assert res.converged and res.value == pytest.approx(ref.value, abs=ref.tol)


def test_mpmath_paths_agree():
    for norm in (False, True):
        b = BlockSpectrum(**SPEC, normalized=norm)
        for P in (250, 1000, 20000):
            np.testing.assert_allclose(b.tau_gauss_rem(P), [float(v) for v in b.tau_gauss_rem(P, dps=30)], rtol=1e-13)
            np.testing.assert_allclose(b.tau_block(P), [float(v) for v in b.tau_block(P, dps=30)], rtol=1e-13)
            assert b.tau_collapse(P).value == pytest.approx(float(b.tau_collapse(P, dps=30).value), rel=1e-12)


def test_closed_forms_are_roots_of_defining_equations():
    b = BlockSpectrum(**SPEC)
    P = np.array([250.0, 1000.0, 20000.0])
    lp = np.log(P)[:, None]
    s, d = np.asarray(b.variances), np.asarray(b.dims)
    tau = b.tau_gauss_rem(P)
    np.testing.assert_allclose(2 * lp * tau**2 - s * tau - b.g * b.sum_sq / 2, 0, atol=1e-13)
    # and the critical size at fixed tau inverts it
    np.testing.assert_allclose([b.critical_log_p_gauss_rem(tau[i])[0, 0] for i in range(3)], np.log(P), rtol=1e-12)
    tb = b.tau_block(P)
    np.testing.assert_allclose(0.5 * d * np.log1p(s / tb), np.broadcast_to(lp, tb.shape), rtol=1e-12)
    tc = b.tau_collapse(P).value
    np.testing.assert_allclose([np.sum(0.5 * d * np.log1p(s / x)) for x in tc], np.log(P), rtol=1e-12)


def test_sympy_derivations_match():
    rem = S.critical_tau_gauss_rem()
    f = sp.lambdify(sorted(rem.solution.free_symbols, key=lambda x: x.name), rem.solution)
    b = BlockSpectrum(**SPEC)
    # symbols sorted by name: L, S_2, g, s
    assert f(np.log(1000), b.sum_sq, 1, 0.09) == pytest.approx(b.tau_gauss_rem(1000)[1], rel=1e-14)
    blk = S.critical_tau_block()
    f = sp.lambdify(sorted(blk.solution.free_symbols, key=lambda x: x.name), blk.solution)
    # symbols: L, d, s
    assert f(np.log(1000), 5, 0.09) == pytest.approx(b.tau_block(1000)[1], rel=1e-14)


def test_rules_disagree_and_order():
    g0 = BlockSpectrum(**SPEC, normalized=True)
    # per-direction rule with g = 0: higher variance is lost first (larger critical tau)
    assert np.all(np.diff(g0.tau_gauss_rem(1000)) < 0)
    # per-block rule: block dimension matters, the ordering of blocks 1 and 2 reverses
    assert g0.tau_block(1000)[1] > g0.tau_block(1000)[0]
    # no block can outlive the global collapse under the per-block rule
    assert np.all(g0.tau_block(1000) <= g0.tau_collapse(1000).value)


def test_surviving_subspaces_and_model():
    b = BlockSpectrum(**SPEC)
    assert b.surviving_subspaces(10.0, 1000, "gauss_rem") == 3
    assert b.surviving_subspaces(1e-16, 1000, "block") == 0
    counts = b.surviving_subspaces(np.logspace(-14, 1, 100), 1000, "block")
    assert np.all(np.diff(counts) >= 0)
    sv = b.singular_value_model(np.array([1e-3, 0.1, 10.0]), 1000)
    assert sv.shape == (3, 30) and np.all(sv > 0)
    # far above every critical noise the model is the Gaussian value 1/(tau + s)
    np.testing.assert_allclose(sv[2], 1 / (10.0 + b.spectrum()), rtol=1e-12)


@pytest.mark.parametrize("kwargs,match", [
    (dict(dims=(2, 3), variances=(1.0,)), "same length"),
    (dict(dims=(0, 3), variances=(1.0, 1.0)), "dims"),
    (dict(dims=(2, 3), variances=(1.0, -1.0)), "variances must be > 0"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BlockSpectrum(**kwargs)


def test_bad_P_and_rule():
    b = BlockSpectrum(**SPEC)
    with pytest.raises(ValueError, match="P must be"):
        b.tau_block(1)
    with pytest.raises(ValueError, match="rule"):
        b.critical_tau(100, "other")
