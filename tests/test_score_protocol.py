"""One score protocol: every observable accepts every empirical-score implementation (streamed,
engine in float32 and float64, sharded) and gives the streamed float64 reference's numbers, to a
tolerance set by the implementation's precision (jax-md style: tolerances per dtype).

Deterministic observables are compared value by value; the sampled ones use the same generator
seeds, so their draws coincide, and are compared through their summaries."""

import math

import numpy as np
import pytest
import torch
import torch.distributed as dist

from simulate.data import isotropic_gaussian, noised
from simulate.engine import ScoreEngine
from simulate.hmm import (basin_radius, kernel_test_nll, planted_crossing_times, planted_log_odds, trajectory_capture,
                          trap_at_centre)
from simulate.jacobian import empirical_score_jacobian, posterior_covariance
from simulate.observables import cloning_experiment, collapse_experiment, excess_entropy_estimate
from simulate.regularized import FlooredScore, TikhonovScore
from simulate.samplers import time_grid
from simulate.scores import EmpiricalScore, EmpiricalScoreBase
from simulate.sharded import ShardedEmpiricalScore
from simulate.subspaces import subspace_sweep
from compare.data_theory import entropy_collapse_time

N, P = 8, 400
# float32 GEMMs (the engine's exact mode on CPU) against float64: relative tolerance
TOL = {"streamed": 1e-12, "engine-fp64": 1e-10, "sharded": 1e-12, "engine-fp32": 2e-5}


@pytest.fixture(scope="module")
def data():
    return isotropic_gaussian(N, P, generator=torch.Generator().manual_seed(0)).data


@pytest.fixture(scope="module")
def process_group(tmp_path_factory):
    """A one-process gloo group: the sharded score's collectives run for real (their two-process
    numerics are checked in test_sharded.py)."""
    if dist.is_initialized():
        yield
        return
    dist.init_process_group("gloo", init_method=f"file://{tmp_path_factory.mktemp('gloo') / 'init'}", rank=0,
                            world_size=1)
    yield
    dist.destroy_process_group()


@pytest.fixture(scope="module", params=sorted(TOL))
def score(request, data, process_group):
    kind = request.param
    impl = {"streamed": lambda: EmpiricalScore(data, chunk_size=97),
            "engine-fp32": lambda: ScoreEngine(data, mode="exact"),
            "engine-fp64": lambda: ScoreEngine(data, gemm="fp64", candidates=4),
            "sharded": lambda: ShardedEmpiricalScore(data, 0, chunk_size=97)}[kind]()
    assert isinstance(impl, EmpiricalScoreBase) and impl.P == P and impl.N == N
    return kind, impl


@pytest.fixture(scope="module")
def reference(data):
    """The streamed float64 score (values)."""
    return EmpiricalScore(data)


@pytest.fixture(scope="module")
def twin(data):
    """The streamed score in a given dtype: sampled observables draw their noise in the score's
    dtype, so they are compared with the streamed score of the same dtype (identical draws)."""
    return lambda dtype: EmpiricalScore(data.to(dtype))


def _gen(seed=1):
    return torch.Generator().manual_seed(seed)


def _queries(data, t, n=24, seed=3):
    x, mu = noised(data, t, n, generator=_gen(seed))
    return x, mu


@pytest.mark.parametrize("t", [0.05, 0.5, 2.0])
def test_evaluate_with_and_without_exclusion(score, reference, data, t):
    kind, s = score
    x, mu = _queries(data, t)
    for exclude in (None, mu):
        got, ref = s.evaluate(x, t, exclude=exclude), reference.evaluate(x, t, exclude=exclude)
        rel = ((got.score.double() - ref.score).norm(dim=1) / ref.score.norm(dim=1)).max().item()
        assert rel < TOL[kind], rel
        assert torch.allclose(got.log_density.double(), ref.log_density, rtol=TOL[kind], atol=TOL[kind])
        assert torch.allclose(got.max_weight.double(), ref.max_weight, rtol=10 * TOL[kind], atol=10 * TOL[kind])
        assert torch.equal(got.nearest_index, ref.nearest_index)
    assert torch.equal(s.rows(mu[:5]).double(), data[mu[:5]].to(s.dtype).double())
    with pytest.raises(ValueError, match=r"exclude must hold training indices in \[0, 400\)"):
        s.evaluate(x, t, exclude=torch.full((x.shape[0],), P, dtype=torch.long))


def test_posterior_covariance_and_jacobian(score, reference, data):
    kind, s = score
    t = 0.3
    x, _ = _queries(data, t)
    cov, ref = posterior_covariance(s, x, t).double(), posterior_covariance(reference, x, t)
    assert (cov - ref).abs().max().item() < max(TOL[kind], 1e-12) * 1e3 * ref.abs().max().item()
    jac = empirical_score_jacobian(s, x, t, variable="ve").double()
    assert torch.allclose(jac, empirical_score_jacobian(reference, x, t, variable="ve"), rtol=1e-3, atol=1e-3)


def test_collapse_experiment(score, twin, data):
    kind, s = score
    start = 1.0
    x, _ = _queries(data.to(s.dtype), start, n=60)
    times = time_grid(start, 0.02, 60)
    got = collapse_experiment(s, x, times, generator=_gen(), disable=True)
    ref = collapse_experiment(twin(s.dtype), x, times, generator=_gen(), disable=True)
    same_end = np.mean(got.nearest_index[-1] == ref.nearest_index[-1])
    assert same_end >= (1.0 if kind != "engine-fp32" else 0.9)
    lo, hi = ref.median_lock_in_time()[1:]
    assert lo <= got.median_lock_in_time()[0] <= hi


def test_excess_entropy_and_its_zero(score, twin, reference, data):
    kind, s = score
    t = np.array([0.2, 0.6, 1.5])
    got = excess_entropy_estimate(s, t, 400, generator=_gen(), disable=True)
    ref = excess_entropy_estimate(twin(s.dtype), t, 400, generator=_gen(), disable=True)
    assert np.all(np.abs(got.f_rest - ref.f_rest) <= 1e3 * TOL[kind])
    assert np.all(np.abs(got.f - ref.f) <= 1e3 * TOL[kind])
    # and against float64 within the sampling error (float32 draws differ from float64 ones)
    f64 = excess_entropy_estimate(reference, t, 400, generator=_gen(), disable=True)
    assert np.all(np.abs(got.f_rest - f64.f_rest) <= 4 * np.hypot(got.stderr_rest, f64.stderr_rest))
    t_c, lo, hi, _ = entropy_collapse_time(s, 0.3, samples=300, generator=_gen())
    assert np.isfinite(t_c) and lo <= t_c <= hi


def test_cloning_with_nearest_point_classes(score, twin, data):
    kind, s = score
    reference = twin(s.dtype)
    x, _ = _queries(data.to(s.dtype), 1.5, n=80)
    times = time_grid(1.5, 0.02, 40)
    res = cloning_experiment(s, x, times, [1.0, 0.05], lambda z: s.nearest_index(z, 0.02),
                             identify=s.nearest_index, generator=_gen(), disable=True)
    ref = cloning_experiment(reference, x, times, [1.0, 0.05], lambda z: reference.nearest_index(z, 0.02),
                             identify=reference.nearest_index, generator=_gen(), disable=True)
    assert np.mean(res.same_point == ref.same_point) >= (1.0 if kind != "engine-fp32" else 0.9)


def test_hidden_manifold_observables(score, twin, reference, data):
    kind, s = score
    same_draws = twin(s.dtype)
    idx = torch.arange(10)
    eta = torch.randn(10, N, generator=_gen(), dtype=torch.float64)
    odds = planted_log_odds(s, idx, 0.4, 0.7, eta.to(s.dtype)).double()
    assert torch.allclose(odds, planted_log_odds(reference, idx, 0.4, 0.7, eta), rtol=1e3 * TOL[kind], atol=1e-4)
    times = np.linspace(0.1, 1.2, 12)
    a = planted_crossing_times(s, times, 1.0, 40, generator=_gen(), disable=True)
    b = planted_crossing_times(same_draws, times, 1.0, 40, generator=_gen(), disable=True)
    assert np.nanmax(np.abs(a - b)) < (1e-9 if kind != "engine-fp32" else 1e-3)
    r_a, r_b = basin_radius(s, 0.5, 30, generator=_gen()), basin_radius(same_draws, 0.5, 30, generator=_gen())
    assert np.nanmax(np.abs(r_a - r_b)) < (1e-9 if kind != "engine-fp32" else 1e-3)
    trapped, top = trap_at_centre(s, idx, 0.2, iterations=20)
    ref_trapped, ref_top = trap_at_centre(reference, idx, 0.2, iterations=20)
    assert torch.equal(trapped, ref_trapped)
    assert torch.allclose(top.double(), ref_top, atol=1e-3)
    cap = trajectory_capture(s, idx, 0.3, 0.5, generator=_gen(), steps=30)
    ref_cap = trajectory_capture(same_draws, idx, 0.3, 0.5, generator=_gen(), steps=30)
    assert cap.float().mean() == ref_cap.float().mean()
    test = isotropic_gaussian(N, 20, generator=_gen(5)).data
    nll, d2 = kernel_test_nll(s, test.to(s.dtype), [0.1, 1.0])
    nll_ref, d2_ref = kernel_test_nll(reference, test, [0.1, 1.0])
    np.testing.assert_allclose(nll, nll_ref, rtol=1e3 * TOL[kind])
    np.testing.assert_allclose(d2, d2_ref, rtol=1e3 * TOL[kind])


def test_regularised_scores_and_subspace_sweep(score, reference, twin, data):
    kind, s = score
    x, _ = _queries(data, 0.4)
    for make in (lambda e: TikhonovScore(e, 0.1), lambda e: FlooredScore(e, 1e-3)):
        got, ref = make(s)(x.to(s.dtype), 0.4).double(), make(reference)(x, 0.4)
        assert ((got - ref).norm(dim=1) / ref.norm(dim=1)).max().item() < 10 * TOL[kind]
    blocks = [slice(0, 4), slice(4, 8)]
    t = np.array([0.05, 0.2, 0.8])
    got = subspace_sweep(s, [1.0, 1.0], blocks, t, 30, generator=_gen())
    ref = subspace_sweep(twin(s.dtype), [1.0, 1.0], blocks, t, 30, generator=_gen())
    np.testing.assert_allclose(got.retained, ref.retained, rtol=1e-2, atol=1e-3)
