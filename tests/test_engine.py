"""Score engine: accuracy against float64 over a grid of t (CPU, and the emulated tensor-core
GEMMs that the CUDA path uses), memory bound, bad input, and a CUDA twin."""

import math

import pytest
import torch

from simulate.engine import ScoreEngine, round_to_tf32
from simulate.scores import EmpiricalScore


def _setup(N=128, P=6000, B=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    data = torch.randn(P, N, generator=g)  # float32 data; the reference upcasts the same numbers
    return g, data, EmpiricalScore(data.double())


def _queries(g, data, t, B):
    c, var = math.exp(-t), -math.expm1(-2 * t)
    near = c * data[:B // 2] + 0.3 * math.sqrt(var) * torch.randn(B // 2, data.shape[1], generator=g)
    fresh = c * torch.randn(B // 2, data.shape[1], generator=g) + math.sqrt(var) * torch.randn(B // 2, data.shape[1], generator=g)
    return torch.cat([near, fresh])


def _err(s, ref):
    return ((s.double() - ref).norm(dim=1) / ref.norm(dim=1)).max().item()


def test_round_to_tf32():
    x = torch.tensor([1.0, 1 + 2 ** -11, 1 + 3 * 2 ** -11, -3.14159265], dtype=torch.float32)
    r = round_to_tf32(x)
    assert r[0] == 1.0 and r[1] == 1.0 and r[2] == 1 + 2 ** -9  # ties to even
    assert abs(r[3] / x[3] - 1) < 2 ** -11
    assert torch.equal(round_to_tf32(r), r)


@pytest.mark.parametrize("t", [2.0, 0.5, 0.05, 0.01])
def test_exact_mode_beats_plain_float32(t):
    g, data, ref_score = _setup()
    x = _queries(g, data, t, 32)
    ref = ref_score.evaluate(x.double(), t)
    plain = ScoreEngine(data, gemm="fp32", candidates=0)(x, t)  # float32 dot-product logits alone
    exact = ScoreEngine(data, mode="exact").evaluate(x, t)
    e_plain, e_exact = _err(plain, ref.score), _err(exact.score, ref.score)
    # <= 1e-5 and at most half the plain float32 error (floor: float32 output rounding, 6e-8)
    assert e_exact <= 1e-5 and e_exact <= max(0.5 * e_plain, 6e-8), (e_exact, e_plain)
    assert torch.allclose(exact.log_density.double(), ref.log_density, rtol=1e-6)
    assert torch.equal(exact.nearest_index, ref.nearest_index)


@pytest.mark.parametrize("t", [2.0, 0.5, 0.05])
def test_emulated_tensor_core_paths(t):
    """The CUDA GEMMs, emulated on CPU: TF32 alone is ~1e-3 at small t; the 3-term split with the
    exact candidates is float32-accurate; the fast mode (TF32 + candidates) stays below 1e-4."""
    g, data, ref_score = _setup()
    x = _queries(g, data, t, 32)
    ref = ref_score(x.double(), t)
    split = ScoreEngine(data, mode="exact", gemm="tf32x3")(x, t)
    fast = ScoreEngine(data, mode="fast", gemm="tf32")(x, t)
    assert _err(split, ref) <= 1e-5
    assert _err(fast, ref) <= 1e-4
    if t <= 0.5:
        raw = ScoreEngine(data, mode="fast", gemm="tf32", candidates=0)(x, t)
        assert _err(raw, ref) > 1e-4  # why the candidates are there


def test_memory_is_bounded_and_float64_data():
    g, data, ref_score = _setup(P=3000)
    eng = ScoreEngine(data, mode="exact", memory_budget_bytes=2 ** 16)
    assert eng.chunk_size(32) * 32 * 8 <= 2 ** 16
    x = _queries(g, data, 0.3, 32)
    assert _err(eng(x, 0.3), ref_score(x.double(), 0.3)) < 1e-6  # many chunks, same answer
    e64 = ScoreEngine(data.double(), gemm="fp64")
    assert e64(x.double(), 0.3).dtype == torch.float64
    assert _err(e64(x.double(), 0.3), ref_score(x.double(), 0.3)) < 1e-12


def test_bad_input():
    data = torch.randn(10, 4)
    with pytest.raises(ValueError, match="mode must be one of"):
        ScoreEngine(data, mode="turbo")
    with pytest.raises(ValueError, match="gemm must be one of"):
        ScoreEngine(data, gemm="bf16")
    with pytest.raises(ValueError, match="candidates must be"):
        ScoreEngine(data, candidates=-1)
    with pytest.raises(ValueError, match="x must"):
        ScoreEngine(data)(torch.randn(3, 5), 0.5)
    with pytest.raises(ValueError, match="t must be"):
        ScoreEngine(data)(torch.randn(3, 4), -1.0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_engine_matches_the_cpu_twin():
    g, data, ref_score = _setup(N=256, P=20000)
    for t in (2.0, 0.5, 0.05):
        x = _queries(g, data, t, 64)
        ref = ref_score(x.double(), t)
        for mode, tol in (("exact", 1e-5), ("fast", 1e-3)):
            gpu = ScoreEngine(data.cuda(), mode=mode)(x.cuda(), t).cpu()
            assert _err(gpu, ref) <= tol


def test_fast_mode_observables_match_exact():
    """The CUDA fast mode's numerics (TF32 GEMM + 8 candidates, emulated here) give collapse and
    speciation observables indistinguishable from the exact mode: same seeds, two-class mixture
    N = 64, P = 2000; 95% intervals overlap and trajectories end on the same training point."""
    import numpy as np

    from simulate.data import noised, two_class_mixture
    from simulate.observables import cloning_experiment, collapse_experiment
    from simulate.samplers import time_grid

    g = torch.Generator().manual_seed(5)
    ds = two_class_mixture(64, 2000, generator=g, dtype=torch.float32)
    x0, _ = noised(ds.data, 1.6, 300, generator=g)
    xc, _ = noised(ds.data, 3.0, 150, generator=g)
    results, clones = {}, {}
    for name, kw in (("exact", dict(mode="exact")), ("fast", dict(mode="fast", gemm="tf32"))):
        eng = ScoreEngine(ds.data, **kw)
        results[name] = collapse_experiment(eng, x0, time_grid(1.6, 0.05, 120), generator=torch.Generator().manual_seed(9),
                                            disable=True)
        clones[name] = cloning_experiment(eng, xc, np.linspace(3.0, 0.05, 80), [2.0, 1.2],
                                          lambda z, e=eng: ds.labels[e.nearest_index(z, 0.05)],
                                          generator=torch.Generator().manual_seed(11), disable=True)
    (m1, lo1, hi1), (m2, lo2, hi2) = (results[k].median_lock_in_time() for k in ("exact", "fast"))
    assert lo1 <= hi2 and lo2 <= hi1  # overlapping 95% intervals
    same_end = np.mean(results["exact"].nearest_index[-1] == results["fast"].nearest_index[-1])
    assert same_end > 0.9
    (lo_e, hi_e), (lo_f, hi_f) = (clones[n].phi_interval() for n in ("exact", "fast"))
    assert np.all(lo_e <= hi_f) and np.all(lo_f <= hi_e)  # phi(t_branch): overlapping Wilson intervals
