import math

import pytest
import torch

from simulate.data import isotropic_gaussian
from simulate.metrics import memorized_fraction
from simulate.networks import DenoiserScore, EDMPreconditioner, MLPDenoiser, TrainConfig, UNetDenoiser, train_denoiser
from simulate.samplers import sample_heun, time_grid
from simulate.scores import EmpiricalScore


def _mlp(dim, seed=0, width=128):
    return EDMPreconditioner(MLPDenoiser(dim, width, 3, generator=torch.Generator().manual_seed(seed)))


def test_checkpoint_resume_is_bit_identical(tmp_path):
    data = isotropic_gaussian(4, 64, generator=torch.Generator().manual_seed(0), dtype=torch.float32).data
    cfg = TrainConfig(steps=40, batch_size=32, checkpoint_every=20, seed=3)
    straight = train_denoiser(_mlp(4), data, cfg, disable=True)
    path = tmp_path / "ckpt.pt"
    train_denoiser(_mlp(4), data, TrainConfig(**{**cfg.__dict__, "steps": 20}), checkpoint=path, disable=True)
    resumed = train_denoiser(_mlp(4), data, cfg, checkpoint=path, disable=True)
    for a, b in zip(straight.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(straight.ema.state_dict().values(), resumed.ema.state_dict().values()):
        assert torch.equal(a, b)
    assert straight.losses == resumed.losses


def test_denoiser_score_of_exact_posterior_mean_is_empirical_score():
    """Wrapping the exact denoiser E[a | x_ve] reproduces the empirical score: the wrapper's
    OU <-> VE conversion is right."""
    g = torch.Generator().manual_seed(1)
    a = torch.randn(50, 3, generator=g, dtype=torch.float64)

    class ExactDenoiser(torch.nn.Module):
        def forward(self, x_ve, sigma):
            w = torch.softmax(-torch.cdist(x_ve, a) ** 2 / (2 * sigma**2), dim=1)
            return w @ a

    x = torch.randn(7, 3, generator=g, dtype=torch.float64)
    for t in [0.05, 0.5, 2.0]:
        torch.testing.assert_close(DenoiserScore(ExactDenoiser())(x, t), EmpiricalScore(a)(x, t))


def test_unet_shapes_and_flat_inputs():
    g = torch.Generator().manual_seed(0)
    net = EDMPreconditioner(UNetDenoiser(channels=1, width=16, generator=g), shape=(1, 8, 8))
    x = torch.randn(5, 64, generator=g)
    out = net(x, 0.7)
    assert out.shape == (5, 64)
    out_img = net(x.reshape(5, 1, 8, 8), torch.full((5,), 0.7))
    torch.testing.assert_close(out_img.reshape(5, 64), out)
    with pytest.raises(ValueError, match="even H, W in 8..32"):
        UNetDenoiser()(torch.randn(2, 1, 6, 6), torch.zeros(2))


def test_tiny_training_set_is_memorised_and_a_large_one_is_not():
    """Trained long enough on 6 points the network reproduces them; on 2048 it does not. The large
    set needs no long training to generalise (width 64, 1000 steps: the same verdict, a fifth of
    the cost)."""
    results = {}
    for P, width, steps in ((6, 256, 3000), (2048, 64, 1000)):
        g = torch.Generator().manual_seed(0)
        data = isotropic_gaussian(6, P, generator=g, dtype=torch.float32).data
        res = train_denoiser(_mlp(6, width=width), data, TrainConfig(steps=steps, batch_size=256), disable=True)
        out = sample_heun(DenoiserScore(res.ema), torch.randn(400, 6, generator=g), time_grid(5.0, 2e-3, 80),
                          disable=True)
        results[P] = memorized_fraction(out, data)[0]
    # binomial: with 400 samples, 0.9 vs 0.1 are > 15 standard errors apart
    assert results[6] > 0.9 and results[2048] < 0.1, results


def test_seeded_initialisation_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    a = MLPDenoiser(5, 16, 2, generator=torch.Generator().manual_seed(4))
    b = MLPDenoiser(5, 16, 2, generator=torch.Generator().manual_seed(4))
    c = UNetDenoiser(1, 8, generator=torch.Generator().manual_seed(4))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    # PyTorch's default law: weights within the Kaiming-uniform bound 1/sqrt(fan_in) (a = sqrt(5))
    w = a.net[0].weight
    assert w.abs().max() <= 1 / w.shape[1] ** 0.5 and w.std() > 0.3 / w.shape[1] ** 0.5
    assert c.inp.weight.abs().max() <= 1 / (c.inp.weight[0].numel()) ** 0.5


class _TikhonovFamily(torch.nn.Module):
    """D(x, sigma) = (sigma^2 a0 + k (1 + sigma^2) x)/(sigma^2 + k (1 + sigma^2)): the penalised loss's
    exact minimiser for one training point a0 is k = c at every sigma, whose OU score is the
    TikhonovScore (e^{-t} a0 - x)/(Delta_t + c)."""

    def __init__(self, a0):
        super().__init__()
        self.a0 = a0
        self.log_k = torch.nn.Parameter(torch.tensor(math.log(0.05), dtype=a0.dtype))

    def forward(self, x, sigma):
        s2 = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, 1) ** 2
        k = torch.exp(self.log_k) * (1 + s2)
        return (s2 * self.a0 + k * x) / (s2 + k)


@pytest.mark.parametrize("c", [0.0, 0.3, 2.0])
def test_tikhonov_penalty_trains_to_the_tikhonov_score(c):
    from simulate.networks import TrainConfig, train_denoiser

    a0 = torch.tensor([[0.7, -1.2, 0.4]], dtype=torch.float64)
    model = _TikhonovFamily(a0)
    train_denoiser(model, a0, TrainConfig(steps=1500, batch_size=512, lr=0.02, tikhonov=c, seed=1), disable=True)
    k = torch.exp(model.log_k).item()
    assert (k < 1e-3) if c == 0 else abs(k - c) < 0.05 * c, (c, k)
    if c:  # its OU score is the Tikhonov-regularised empirical score of the one point
        from simulate.networks import DenoiserScore
        from simulate.regularized import TikhonovScore

        x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        model.log_k.data.fill_(math.log(c))
        for t in (0.05, 0.5, 2.0):
            torch.testing.assert_close(DenoiserScore(model)(x, t), TikhonovScore(a0, c)(x, t), rtol=1e-10, atol=1e-12)
