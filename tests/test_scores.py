import math

import pytest
import torch

from simulate.scores import EmpiricalScore, GaussianScore, MixtureScore


def direct_float64(a, x, t):
    """Reference: full B x P matrix from distances, in float64."""
    a, x = a.double(), x.double()
    c, var = math.exp(-t), -math.expm1(-2 * t)
    logits = -torch.cdist(x, c * a) ** 2 / (2 * var)
    w = torch.softmax(logits, dim=1)
    score = (c * w @ a - x) / var
    logp = torch.logsumexp(logits, 1) - math.log(a.shape[0]) - 0.5 * a.shape[1] * math.log(2 * math.pi * var)
    return score, logp, logits.argmax(1), w.max(1).values


@pytest.fixture(scope="module")
def problem():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(3000, 24, generator=g, dtype=torch.float64)
    # queries near training points and from the bulk
    x = torch.cat([0.9 * a[:20] + 0.05 * torch.randn(20, 24, generator=g, dtype=torch.float64),
                   torch.randn(20, 24, generator=g, dtype=torch.float64)])
    return a, x


@pytest.mark.parametrize("t", [0.02, 0.1, 0.5, 2.0, 6.0])
@pytest.mark.parametrize("chunk", [1, 7, 512, 3000, None])
def test_chunked_equals_direct_float64(problem, t, chunk):
    a, x = problem
    es = EmpiricalScore(a, chunk_size=chunk)
    ev = es.evaluate(x, t)
    s, logp, arg, wmax = direct_float64(a, x, t)
    rel = ((ev.score - s).norm(dim=1) / s.norm(dim=1)).max().item()
    assert rel < 1e-6
    torch.testing.assert_close(ev.log_density, logp, rtol=1e-10, atol=1e-8)
    assert torch.equal(ev.nearest_index, arg)
    torch.testing.assert_close(ev.max_weight, wmax, rtol=1e-8, atol=1e-12)


def test_float32_tolerance(problem):
    a, x = problem
    s, _, arg, _ = direct_float64(a, x, 0.5)
    ev = EmpiricalScore(a.float(), chunk_size=257).evaluate(x.float(), 0.5)
    rel = ((ev.score.double() - s).norm(dim=1) / s.norm(dim=1)).max().item()
    assert rel < 1e-4  # float32 at t = 0.5 (dot-product logits)


def test_one_training_point_is_a_gaussian():
    """P = 1: the empirical density is one Gaussian, the score (c a - x)/Delta (a one-row shard)."""
    a = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64)
    x = torch.tensor([[0.0, 0.3, 1.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
    t = 0.7
    c, var = math.exp(-t), -math.expm1(-2 * t)
    ev = EmpiricalScore(a).evaluate(x, t)
    torch.testing.assert_close(ev.score, (c * a - x) / var)
    torch.testing.assert_close(ev.max_weight, torch.ones(2, dtype=torch.float64))
    logp = -((x - c * a) ** 2).sum(1) / (2 * var) - 1.5 * math.log(2 * math.pi * var)
    torch.testing.assert_close(ev.log_density, logp)


def test_memory_budget_sets_chunk():
    a = torch.zeros(10_000, 8, dtype=torch.float64)
    es = EmpiricalScore(a, memory_budget_bytes=2 * 100 * 8 * 250)
    assert es.chunk_size(100) == 250
    assert EmpiricalScore(a, memory_budget_bytes=1).chunk_size(100) == 1
    assert EmpiricalScore(a, memory_budget_bytes=2**40).chunk_size(100) == 10_000


def test_empirical_score_is_gradient_of_log_density(problem):
    a, x = problem
    es = EmpiricalScore(a, chunk_size=100)
    xr = x.clone().requires_grad_(True)
    c, var = math.exp(-0.3), -math.expm1(-0.6)
    logp = torch.logsumexp(-((xr[:, None, :] - c * a[None]) ** 2).sum(-1) / (2 * var), 1).sum()
    (grad,) = torch.autograd.grad(logp, xr)
    torch.testing.assert_close(es(x, 0.3), grad, rtol=1e-10, atol=1e-10)


def test_mixture_score_is_gradient_of_log_density():
    g = torch.Generator().manual_seed(1)
    N, sigma = 16, 0.7
    m = torch.full((N,), 0.8, dtype=torch.float64)
    x = torch.randn(50, N, generator=g, dtype=torch.float64).requires_grad_(True)
    t = 0.4
    c, var = math.exp(-t), -math.expm1(-2 * t)
    gamma = var + sigma**2 * c * c
    logp = torch.logaddexp(-((x - c * m) ** 2).sum(1) / (2 * gamma), -((x + c * m) ** 2).sum(1) / (2 * gamma)).sum()
    (grad,) = torch.autograd.grad(logp, x)
    torch.testing.assert_close(MixtureScore(m, sigma)(x.detach(), t), grad, rtol=1e-12, atol=1e-12)


def test_gaussian_score():
    v = torch.tensor([4.0, 0.25], dtype=torch.float64)
    x = torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    t = 0.7
    c2, var = math.exp(-1.4), -math.expm1(-1.4)
    torch.testing.assert_close(GaussianScore(v)(x, t), -x / (v * c2 + var))


@pytest.mark.parametrize("bad,match", [
    (lambda a: EmpiricalScore(a.numpy()), "torch.Tensor"),
    (lambda a: EmpiricalScore(a[0]), r"shape \(B, N\)"),
    (lambda a: EmpiricalScore(a.int()), "dtype"),
    (lambda a: EmpiricalScore(a[:0]), "data must have at least one row"),
    (lambda a: EmpiricalScore(a, chunk_size=0), "chunk_size"),
    (lambda a: EmpiricalScore(a)(a[:, :3], 1.0), "N = 24"),
    (lambda a: EmpiricalScore(a)(a.float(), 1.0), "dtype and device"),
    (lambda a: EmpiricalScore(a)(a, 0.0), "t must be"),
    (lambda a: EmpiricalScore(a)(a, float("nan")), "t must be"),
    (lambda a: EmpiricalScore(a)(torch.full_like(a, float("nan")), 1.0), "finite"),
])
def test_bad_input(problem, bad, match):
    a, _ = problem
    with pytest.raises(ValueError, match=match):
        bad(a)


@pytest.mark.gpu
def test_cuda_matches_cpu_twin(problem):
    a, x = problem
    cpu = EmpiricalScore(a, chunk_size=333).evaluate(x, 0.2)
    gpu = EmpiricalScore(a.cuda(), chunk_size=333).evaluate(x.cuda(), 0.2)
    torch.testing.assert_close(gpu.score.cpu(), cpu.score, rtol=1e-10, atol=1e-10)
    assert torch.equal(gpu.nearest_index.cpu(), cpu.nearest_index)


T_LATE = 0.01


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_streamed_weights_are_never_subnormal(dtype):
    """Late in the backward process almost every softmax weight is negligible. They must be exactly
    0, never subnormal: subnormal operands make the weights @ a^mu GEMM tens of times slower.
    Dropping them changes the score by less than the dtype's resolution."""
    gen = torch.Generator().manual_seed(3)
    data = torch.randn(4000, 16, generator=gen, dtype=dtype)
    x = data[:8] * math.exp(-T_LATE) + 0.14 * torch.randn(8, 16, generator=gen, dtype=dtype)
    score = EmpiricalScore(data, chunk_size=1000)
    tiny = torch.finfo(dtype).tiny
    smallest = math.exp(score._drop_exponent)
    zeros = 0
    for ch in score.stream(x, T_LATE, 1000):
        w = ch.weights
        assert not torch.any((w > 0) & (w < tiny)), "subnormal weights"
        assert torch.all((w == 0) | (w >= smallest * 0.99))
        zeros += int((w == 0).sum())
    assert zeros > 0.9 * 8 * 4000  # the case the rule is for: nearly every weight negligible
    reference = EmpiricalScore(data.double(), chunk_size=4000)
    direct_logits = (2 * math.exp(-T_LATE) * x.double() @ data.double().T
                     - math.exp(-2 * T_LATE) * (data.double() ** 2).sum(1)) / (2 * -math.expm1(-2 * T_LATE))
    w = torch.softmax(direct_logits, dim=1)
    expected = (math.exp(-T_LATE) * w @ data.double() - x.double()) / -math.expm1(-2 * T_LATE)
    got = score(x, T_LATE).double()
    tol = 1e-10 if dtype == torch.float64 else 2e-3
    assert torch.allclose(got, expected, rtol=tol, atol=tol * expected.abs().max().item())
    assert torch.allclose(reference(x.double(), T_LATE), expected, rtol=1e-10, atol=1e-10)
