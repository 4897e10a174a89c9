import numpy as np
import pytest

from reference import REF
from simulate.stats import binomial_interval, bootstrap_interval, median_interval


def test_wilson_known_value():
    lo, hi = binomial_interval(50, 100, 0.95)
    assert lo == pytest.approx(REF["wilson_50_100_low"].value, abs=REF["wilson_50_100_low"].tol)
    assert hi == pytest.approx(REF["wilson_50_100_high"].value, abs=REF["wilson_50_100_high"].tol)


def test_clopper_pearson_edges():
    lo, hi = binomial_interval(0, 100, 0.95, method="clopper-pearson")
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** (1 / 100), rel=1e-10)
    lo, hi = binomial_interval(100, 100, 0.95, method="clopper-pearson")
    assert hi == 1.0 and lo == pytest.approx(0.025 ** (1 / 100), rel=1e-10)


def test_median_interval_coverage(rng):
    """Coverage of the order-statistic interval is at least the nominal level (binomial check)."""
    trials, n, hits = 2000, 101, 0
    for _ in range(trials):
        _, lo, hi = median_interval(rng.standard_normal(n), 0.95)
        hits += lo <= 0.0 <= hi
    # at least 95% up to 3 binomial standard errors
    assert hits / trials >= 0.95 - 3 * np.sqrt(0.95 * 0.05 / trials)


def test_bootstrap_mean_matches_normal_theory(rng):
    x = rng.standard_normal(4000)
    est, lo, hi = bootstrap_interval(np.mean, x, n_resamples=2000, rng=rng)
    se = x.std(ddof=1) / np.sqrt(x.size)
    assert est == pytest.approx(x.mean())
    assert (hi - lo) == pytest.approx(2 * 1.96 * se, rel=0.1)


@pytest.mark.parametrize("call,match", [
    (lambda: binomial_interval(5, 3), "successes"),
    (lambda: binomial_interval(1, 3, 1.5), "confidence"),
    (lambda: binomial_interval(1, 3, method="exact"), "method"),
    (lambda: median_interval([]), "non-empty"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
