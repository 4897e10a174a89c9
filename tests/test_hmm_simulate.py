"""Hidden-manifold generators and observables (exact empirical score), checked against the REM
theory at sizes that run in seconds. Tolerances: order-statistic / binomial intervals plus the
documented finite-size tolerance of docs/hmm.md (~10% at N = 40..60)."""

import math

import numpy as np
import pytest
import torch

from simulate.hmm import (basin_radius, hidden_manifold_data, hidden_manifold_features, kernel_test_nll,
                          planted_crossing_times, planted_log_odds, trap_at_centre)
from simulate.scores import EmpiricalScore
from simulate.stats import median_interval
from theory.activations import activation
from theory.hmm_linear import LinearHMM


def _setup(N=48, aD=0.25, alpha=0.15, phi="linear", seed=0):
    g = torch.Generator().manual_seed(seed)
    F = hidden_manifold_features(N, aD, generator=g)
    data = hidden_manifold_data(F, int(round(math.exp(alpha * N))), phi, generator=g)
    return g, F, data


def test_generator_is_standardised_and_seeded():
    g, F, d = _setup(N=40, phi="tanh")
    _, F2, d2 = _setup(N=40, phi="tanh")
    assert torch.equal(d.data, d2.data) and d.params["D"] == 10
    big = hidden_manifold_data(F, 20000, "relu", generator=g).data
    # standardised phi: each coordinate has mean 0 and variance E[(phi~(h))^2] = 1 (h ~ N(0, |F_i|^2/D))
    # the row norms of F fluctuate, so compare the average over coordinates with its sampling error
    assert abs(big.mean().item()) < 0.03
    h = np.linspace(-4, 4, 9)
    assert activation("relu")(h) == pytest.approx((np.maximum(h, 0) - 0.39894228) / math.sqrt(0.34084506), abs=1e-7)


def test_planted_log_odds_matches_direct_softmax():
    g, F, d = _setup(N=16, alpha=0.25)
    emp = EmpiricalScore(d.data)
    idx = torch.arange(5)
    eta = torch.randn(5, 16, generator=g, dtype=torch.float64)
    t, r = 0.4, 0.7
    c, var = math.exp(-t), -math.expm1(-2 * t)
    x = c * d.data[idx] + math.sqrt(r * var) * eta
    logits = -torch.cdist(x, c * d.data) ** 2 / (2 * var)
    w = torch.softmax(logits, dim=1)[torch.arange(5), idx]
    assert planted_log_odds(emp, idx, t, r, eta) == pytest.approx(torch.log(w / (1 - w)), abs=1e-9)


def test_collapse_and_onset_times_linear():
    """N = 48, alpha = 0.15 (P = 1339), alpha_D = 0.25: medians of 300 samples within the 95%
    order-statistic interval or the 10% finite-size tolerance of the theory for this F."""
    g, F, d = _setup()
    emp = EmpiricalScore(d.data)
    theory = LinearHMM.from_features(F.numpy())
    tc, to = theory.collapse_time(0.15).value, theory.onset_time(0.15).value
    times = np.linspace(0.3, 1.2, 37)
    for r, pred in ((1.0, tc), (0.0, to)):
        cross = planted_crossing_times(emp, times, r, 300, generator=g, disable=True)
        med, lo, hi = median_interval(np.where(np.isnan(cross), np.inf, cross))
        assert lo <= pred <= hi or abs(med - pred) / pred < 0.10, (r, med, lo, hi, pred)
    assert to > tc


def test_basin_shrinks_toward_onset_and_traps_vanish():
    g, F, d = _setup()
    emp = EmpiricalScore(d.data)
    theory = LinearHMM.from_features(F.numpy())
    tc, to = theory.collapse_time(0.15).value, theory.onset_time(0.15).value
    early, late = (np.nanmedian(basin_radius(emp, t, 200, generator=g)) for t in (tc, 0.5 * (tc + to)))
    assert early > late > 0 and early == pytest.approx(1.0, abs=0.3)  # r*(t_c) = 1
    idx = torch.arange(30)
    # at N = 48 the mean-shift local maximum disappears ~25% before t_o (measured: half the
    # patterns trapped at 0.75 t_o, while w_mu(centre) > 1/2 holds for half at 0.95 t_o)
    trapped_early, h_early = trap_at_centre(emp, idx, 0.5 * to)
    trapped_late, _ = trap_at_centre(emp, idx, 1.2 * to)
    assert trapped_early.float().mean() > 0.9 and trapped_late.float().mean() < 0.2
    assert torch.all(h_early[trapped_early] < 0)  # a trap is a strict local maximum of P^e_t


def test_kernel_nll_minimum_tracks_nearest_neighbour_distance():
    g, F, d = _setup(N=48)
    test = hidden_manifold_data(F, 300, "linear", generator=g).data
    taus = np.exp(np.linspace(np.log(0.05), np.log(2.0), 30))
    nll, d2 = kernel_test_nll(d.data, test, taus)
    assert nll.shape == (30, 300) and d2.shape == (300,)
    best = taus[np.argmin(nll.mean(axis=1))]
    # docs/hmm.md: Gamma_g = d_min (grid spacing 13%)
    assert best == pytest.approx(d2.mean(), rel=0.15)
    # the direct formula on one point
    tau = taus[3]
    logq = torch.logsumexp(-torch.cdist(test[:1], d.data) ** 2 / (2 * tau), dim=1) - math.log(d.data.shape[0]) \
        - 0.5 * 48 * math.log(2 * math.pi * tau)
    assert nll[3, 0] == pytest.approx(-logq.item() / 48, abs=1e-10)


def test_bad_input():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="alpha_D must be > 0"):
        hidden_manifold_features(10, 0.0, generator=g)
    with pytest.raises(ValueError, match="P must be"):
        hidden_manifold_data(torch.randn(4, 2, dtype=torch.float64), 1, generator=g)
    with pytest.raises(ValueError, match="F must be"):
        hidden_manifold_data(np.zeros((4, 2)), 10, generator=g)
