import math

import numpy as np
import pytest
import torch

from simulate.samplers import sample_euler_maruyama, sample_heun, sample_heun_ve, time_grid
from simulate.scores import GaussianScore

V = torch.tensor([4.0, 1.0, 0.25], dtype=torch.float64)


def marginal_var(t):
    return V * math.exp(-2 * t) + (-math.expm1(-2 * t))


def test_heun_is_second_order():
    """diffrax-style: log-log regression of the error against the step against an exact flow."""
    score = GaussianScore(V)
    x0 = torch.tensor([[1.0, -0.5, 2.0]], dtype=torch.float64)
    T, t_end = 2.0, 0.1
    exact = x0 * torch.sqrt(marginal_var(t_end) / marginal_var(T))  # the ODE flow of a Gaussian is linear
    steps = np.array([10, 20, 40, 80, 160])
    errors = [(sample_heun(score, x0, time_grid(T, t_end, n), disable=True) - exact).abs().max().item() for n in steps]
    slope = np.polyfit(np.log(1.0 / steps), np.log(errors), 1)[0]
    assert slope == pytest.approx(2.0, abs=0.15)


def test_heun_ve_is_second_order():
    """The variance-exploding flow dx/dsigma = -sigma s(x, sigma) of Gaussian data (variances V)
    is linear: x(sigma) = x(sigma_T) sqrt((V + sigma^2)/(V + sigma_T^2))."""
    score = lambda x, sigma: -x / (V + sigma**2)
    x0 = torch.tensor([[1.0, -0.5, 2.0]], dtype=torch.float64)
    s_T, s_end = 5.0, 0.05
    exact = x0 * torch.sqrt((V + s_end**2) / (V + s_T**2))
    steps = np.array([10, 20, 40, 80, 160])
    seen = []
    errors = [(sample_heun_ve(score, x0, np.geomspace(s_T, s_end, n + 1), callback=seen.append) - exact).abs().max().item()
              for n in steps]
    slope = np.polyfit(np.log(1.0 / steps), np.log(errors), 1)[0]
    assert slope == pytest.approx(2.0, abs=0.15)
    assert len(seen) == steps.sum() and set(seen[0]) == {"i", "sigma", "sigma_next", "x", "score"}


def em_variance(times):
    """Exact variance of the Euler-Maruyama chain for Gaussian data (it is a linear recursion)."""
    var = marginal_var(times[0]).clone()
    for t, tn in zip(times[:-1], times[1:]):
        h = t - tn
        gain = 1 + h * (1 - 2 / marginal_var(t))
        var = gain**2 * var + 2 * h
    return var


def test_euler_maruyama_weak_first_order():
    T, t_end = 3.0, 0.05
    steps = np.array([25, 50, 100, 200, 400])
    err = [(em_variance(time_grid(T, t_end, n, spacing="linear")) - marginal_var(t_end)).abs().max().item()
           for n in steps]
    slope = np.polyfit(np.log(1.0 / steps), np.log(err), 1)[0]
    assert slope == pytest.approx(1.0, abs=0.15)


def test_euler_maruyama_samples_have_chain_variance():
    """Sample variances equal the chain's exact variance within a chi-square interval."""
    n = 40_000
    times = time_grid(2.0, 0.1, 60)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(n, 3, generator=g, dtype=torch.float64) * marginal_var(2.0).sqrt()
    out = sample_euler_maruyama(GaussianScore(V), x, times, generator=g, disable=True)
    ratio = out.var(dim=0) / em_variance(times)
    # (n-1) s^2 / sigma^2 ~ chi2(n-1): 99.9% two-sided band, Bonferroni over 3 coordinates
    from scipy.stats import chi2

    lo, hi = chi2.ppf([0.001 / 6, 1 - 0.001 / 6], n - 1) / (n - 1)
    assert torch.all((ratio > lo) & (ratio < hi)), ratio
    assert out.mean(dim=0).abs().max() < 4.5 * math.sqrt(em_variance(times).max() / n)


def test_reproducible_with_generator_and_callback():
    times = time_grid(1.0, 0.1, 12)
    seen = []
    runs = []
    for _ in range(2):
        g = torch.Generator().manual_seed(7)
        x = torch.zeros(5, 3, dtype=torch.float64)
        runs.append(sample_euler_maruyama(GaussianScore(V), x, times, generator=g, disable=True,
                                          callback=lambda info: seen.append(info)))
    assert torch.equal(runs[0], runs[1])
    assert len(seen) == 24 and set(seen[0]) == {"i", "t", "t_next", "x", "score", "evaluation"}
    assert seen[0]["t"] == pytest.approx(1.0) and seen[11]["t_next"] == pytest.approx(0.1)


def test_heun_to_zero_uses_euler_last_step():
    x = torch.ones(2, 3, dtype=torch.float64)
    out = sample_heun(GaussianScore(V), x, [1.0, 0.5, 0.0], disable=True)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("call,match", [
    (lambda: time_grid(1.0, 2.0, 10), "t_start > t_end > 0"),
    (lambda: time_grid(1.0, 0.0, 10), "t_start > t_end > 0"),
    (lambda: time_grid(1.0, 0.1, 0), "steps"),
    (lambda: time_grid(1.0, 0.1, 5, spacing="cosine"), "spacing"),
    (lambda: sample_heun(GaussianScore(V), torch.zeros(1, 3, dtype=torch.float64), [0.1, 0.5]), "decreasing"),
    (lambda: sample_heun(GaussianScore(V), torch.zeros(1, 3, dtype=torch.float64), [0.5]), "at least two"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
