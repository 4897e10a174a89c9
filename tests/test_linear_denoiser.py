import math

import numpy as np
import pytest

from theory.linear_denoiser import LinearDenoiserModel


def test_population_limit():
    m = LinearDenoiserModel(d=100, T=2.0, ell=0.0183)
    e = math.exp(-4.0)
    c_T = e + 0.0183 * (1 - e)
    assert m.r == pytest.approx(e / c_T, rel=1e-14)
    assert m.kl_floor == pytest.approx(50 * (m.r - 1 - math.log(m.r)), rel=1e-14)
    assert m.n_c == 102
    # n -> infinity recovers the population variance s^2 r
    assert m.variance_n(1e12) == pytest.approx(m.r, rel=1e-8)


def test_finite_n_variance_matches_monte_carlo():
    """Average over training sets of c_T tr(B B^T)/d against s^2 [r + (1 - r) d/(n - d - 2)]."""
    m = LinearDenoiserModel(d=5, T=0.7, ell=0.5, s=1.3)
    rng = np.random.default_rng(0)
    for n in [9, 15, 40]:
        vals = []
        for _ in range(4000):
            _, B, _ = m.sample_fit(n, rng)
            vals.append(m.latent_variance * np.trace(B @ B.T) / m.d)
        vals = np.array(vals)
        se = vals.std(ddof=1) / math.sqrt(vals.size)
        assert abs(vals.mean() - m.variance_n(n)) < 4 * se, (n, vals.mean(), m.variance_n(n), se)


def test_variance_diverges_at_d_plus_2_and_decreases():
    m = LinearDenoiserModel(d=10, T=1.0, ell=1.0)
    n = np.arange(13, 200)
    v = m.variance_n(n)
    assert np.all(np.diff(v) < 0) and v[0] > 5 * v[-1]
    with pytest.raises(ValueError, match="n must be > d \\+ 2"):
        m.variance_n(12)


@pytest.mark.parametrize("kwargs,match", [
    (dict(d=0, T=1.0, ell=1.0), "d must be"),
    (dict(d=2, T=0.0, ell=1.0), "T must be > 0"),
    (dict(d=2, T=1.0, ell=-1.0), "ell must be > 0"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LinearDenoiserModel(**kwargs)


def test_h24_statement_the_transition_lies_where_the_individual_distance_falls():
    """[H24]: the Pr(Delta > 0) = 1/2 transition lies in the phase where the individual distance of a
    training set's generated law to the sampling law falls with n (after the degenerate sizes)."""
    from compare import get_experiment

    spec = get_experiment("linear-denoiser")
    result = spec.run(spec.preset(repeats=60, fresh=150, n="4,8,12,16,24,40,80"))
    table = result.table.set_index("symbol")
    assert table.loc["n = d", "measured"] == 8 and table.loc["n = d", "ci_high"] == 12  # degenerate up to n = d
    row = table.loc["n_cross > n_fall"]
    assert row["agrees"] == "yes" and row["ci_low"] > 8
    dist = result.theory["individual_distance"]
    assert dist["falls_after"] and dist["kl_falls_where_finite"]
    h = dict(zip(dist["n"], dist["hellinger_squared_mean"]))
    assert h[4] == h[8] == 1.0 and 0 < h[80] < h[24] < h[12] < 1
