"""External-model adapters: wrapped around the exact empirical denoiser, every prediction type,
schedule and convention reproduces the empirical score's observables (same seeds, same numbers);
bad models are one-line errors. A real diffusers UNet2DModel is trained here and measured end to
end, from Python and from `regimes measure`."""

import math

import numpy as np
import pytest
import torch

from simulate.datasets import load_digits
from simulate.external import (
    CallableModel,
    DiffusersModel,
    EDMDenoiserModel,
    diffusers_model,
    discrete_timestep,
)
from simulate.measure import measure_model
from simulate.scores import EmpiricalScore, ou_coefficients
from theory.validation import InputError

diffusers = pytest.importorskip("diffusers")


@pytest.fixture(scope="module")
def digits():
    ds = load_digits(classes=[0, 1], P=120, seed=0)
    return torch.as_tensor(ds.data, dtype=torch.float64), ds.labels


def _mean(empirical, x, t):
    """The exact posterior mean E[a | x_t = x] of the training set."""
    c, var = ou_coefficients(t)
    return (x + var * empirical(x, t)) / c


def _t_from_step(alphas_cumprod, k):
    """The inverse of discrete_timestep: the OU time at a fractional step."""
    ab = np.asarray(alphas_cumprod, dtype=np.float64)
    log_sigma = np.interp(k, np.arange(ab.size), 0.5 * np.log((1 - ab) / ab))
    return 0.5 * math.log1p(math.exp(2 * log_sigma))


class ExactUNet(torch.nn.Module):
    """A stand-in for a UNet2DModel: the exact empirical prediction of its type at timestep k."""

    def __init__(self, empirical, alphas_cumprod, prediction_type):
        super().__init__()
        self.empirical, self.ab, self.kind = empirical, alphas_cumprod, prediction_type

    def forward(self, x, k):
        t = _t_from_step(self.ab, float(k[0]))
        flat = x.reshape(x.shape[0], -1)
        a = _mean(self.empirical, flat, t)
        c, var = ou_coefficients(t)
        eps = (flat - c * a) / math.sqrt(var)
        out = {"epsilon": eps, "sample": a, "v_prediction": c * eps - math.sqrt(var) * a}[self.kind]
        return out.reshape(x.shape)


def _schedulers():
    from diffusers import DDIMScheduler, DDPMScheduler

    return {"ddpm-linear": DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear"),
            "ddim-cosine": DDIMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2"),
            "ddpm-scaled-linear": DDPMScheduler(num_train_timesteps=1000, beta_schedule="scaled_linear")}


def _measure(model, data, labels):
    gen = torch.Generator().manual_seed(7)
    return measure_model(model, data, labels, trajectories=24, steps=40, pairs=16, jacobian_points=2,
                         jacobian_times=[0.05, 0.5], generator=gen)


@pytest.fixture(scope="module")
def reference(digits):
    data, labels = digits
    return _measure(EmpiricalScore(data), data, labels)


def _assert_same(m, ref):
    np.testing.assert_array_equal(m.nearest, ref.nearest)
    np.testing.assert_array_equal(m.lock_in, ref.lock_in)
    assert m.memorized == ref.memorized
    np.testing.assert_allclose(m.samples, ref.samples, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(m.cloning.same_class, ref.cloning.same_class)
    np.testing.assert_allclose(m.singular_values, ref.singular_values, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(m.dimension, ref.dimension)


@pytest.mark.parametrize("schedule", ["ddpm-linear", "ddim-cosine", "ddpm-scaled-linear"])
@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction", "sample"])
def test_diffusers_adapter_around_the_exact_denoiser_reproduces_the_empirical_observables(digits, reference,
                                                                                         schedule, prediction):
    data, labels = digits
    scheduler = _schedulers()[schedule]
    scheduler.register_to_config(prediction_type=prediction)
    unet = ExactUNet(EmpiricalScore(data), scheduler.alphas_cumprod.double().numpy(), prediction)
    model = DiffusersModel(unet, scheduler.alphas_cumprod, prediction, shape=(1, 8, 8))
    assert diffusers_model(unet, scheduler).prediction_type == prediction
    _assert_same(_measure(model, data, labels), reference)


@pytest.mark.parametrize("convention", ["edm-denoiser", "ou-denoiser", "ou-score", "epsilon"])
def test_edm_and_callable_adapters_reproduce_the_empirical_observables(digits, reference, convention):
    data, labels = digits
    empirical = EmpiricalScore(data)

    def edm(x_ve, sigma):
        t = 0.5 * math.log1p(float(sigma[0]) ** 2)
        return _mean(empirical, x_ve * math.exp(-t), t)

    fns = {"edm-denoiser": edm, "ou-denoiser": lambda x, t: _mean(empirical, x, t),
           "ou-score": lambda x, t: empirical(x, t),
           "epsilon": lambda x, t: (x - ou_coefficients(t)[0] * _mean(empirical, x, t)) / math.sqrt(ou_coefficients(t)[1])}
    model = CallableModel(fns[convention], convention)
    _assert_same(_measure(model, data, labels), reference)
    if convention == "edm-denoiser":
        _assert_same(_measure(EDMDenoiserModel(edm), data, labels), reference)


def test_discrete_timestep_is_exact_at_the_schedules_steps():
    from diffusers import DDPMScheduler

    ab = DDPMScheduler(num_train_timesteps=1000).alphas_cumprod.double().numpy()
    k = np.array([0, 1, 17, 500, 999])
    t_k = -0.5 * np.log(ab[k])
    np.testing.assert_allclose(discrete_timestep(ab, t_k), k, atol=1e-8)


def test_models_that_answer_wrongly_are_one_line_errors(digits):
    data, _ = digits
    x = data[:4]
    with pytest.raises(InputError, match=r"returned \(4, 63\) for input \(4, 64\) at t = 0\.5"):
        CallableModel(lambda x, t: x[:, :63], "ou-denoiser")(x, 0.5)
    with pytest.raises(InputError, match="returned NaN or inf at t = 0.5"):
        CallableModel(lambda x, t: x * float("nan"), "ou-denoiser")(x, 0.5)
    with pytest.raises(InputError, match="convention must be one of"):
        CallableModel(lambda x, t: x, "velocity")
    with pytest.raises(InputError, match="prediction_type must be one of"):
        DiffusersModel(lambda x, k: x, np.linspace(0.99, 0.01, 10), "noise")


def _tiny_unet(seed=0):
    from diffusers import UNet2DModel

    from simulate.networks import init_parameters_

    with torch.random.fork_rng(devices=[]):  # diffusers draws from the global RNG: left untouched, redrawn below
        unet = UNet2DModel(sample_size=8, in_channels=1, out_channels=1, layers_per_block=1, block_out_channels=(16, 32),
                           down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
                           norm_num_groups=8)
    return init_parameters_(unet, torch.Generator().manual_seed(seed))


def _train(unet, scheduler, data, steps=300, seed=0):
    """A few hundred DDPM steps (epsilon loss) on the 8 x 8 digits."""
    gen = torch.Generator().manual_seed(seed)
    x0 = data.float().reshape(-1, 1, 8, 8)
    opt = torch.optim.Adam(unet.parameters(), lr=2e-3)
    ab = scheduler.alphas_cumprod.float()
    for _ in range(steps):
        idx = torch.randint(0, x0.shape[0], (64,), generator=gen)
        k = torch.randint(0, ab.numel(), (64,), generator=gen)
        eps = torch.randn(64, 1, 8, 8, generator=gen)
        a = ab[k].reshape(-1, 1, 1, 1)
        loss = (unet(a.sqrt() * x0[idx] + (1 - a).sqrt() * eps, k).sample - eps).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


def test_a_trained_diffusers_unet_is_measured_end_to_end(digits, tmp_path):
    import json
    import time

    from diffusers import DDPMScheduler

    from compare.cli import main
    from compare.measure import measure, write_measure_outputs
    from simulate.datasets import ArrayDataset

    t0 = time.perf_counter()
    data, labels = digits
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear")
    unet = _tiny_unet()
    loss = _train(unet, scheduler, data)
    assert loss < 0.9  # it learned something: the loss of predicting zero is 1
    unet.eval()
    model = diffusers_model(unet, scheduler)
    ds = ArrayDataset(data.numpy(), labels, "digits01", (8, 8), {"convention": "unit"})
    result = measure(model, ds, trajectories=32, steps=30, pairs=24, jacobian_points=3, entropy_samples=200)
    m = result.theory["measured"]
    assert 0 <= m["memorized_fraction"] <= 1 and len(m["local_dimension"]["mean"]) == 8
    assert set(result.table["symbol"]) == {"t_S", "t_C^gauss", "t_C^entropy"}
    assert result.theory["t_S"] == pytest.approx(0.5 * math.log(np.linalg.eigvalsh(np.cov(ds.data, rowvar=False))[-1]))
    paths = write_measure_outputs(tmp_path / "py", result)
    assert all(p.exists() for p in paths)
    # the same model saved as a pipeline folder and measured from the command line
    unet.save_pretrained(tmp_path / "model" / "unet")
    scheduler.save_pretrained(tmp_path / "model" / "scheduler")
    np.savez(tmp_path / "digits.npz", data=ds.data, labels=labels)
    code = main(["measure", str(tmp_path / "model"), "--data", str(tmp_path / "digits.npz"), "--trajectories", "32",
                 "--steps", "30", "--pairs", "16", "--jacobian-points", "2", "--entropy-samples", "0",
                 "--out", str(tmp_path / "cli"), "--quiet"])
    assert code == 0
    saved = json.loads((tmp_path / "cli" / "theory.json").read_text())
    assert saved["model"]["kind"] == "diffusers" and saved["data"]["preprocessing"]["convention"] == "raw"
    assert time.perf_counter() - t0 < 180  # the budget on two cores


@pytest.mark.parametrize("body,needle", [
    ("x[:, :3]", "returned (4, 3) for input"),
    ("x * float('nan')", "returned NaN or inf at t ="),
])
def test_regimes_measure_refuses_a_model_that_answers_wrongly_in_one_line(tmp_path, body, needle):
    import contextlib
    import io

    from compare.cli import main

    (tmp_path / "bad.py").write_text("from simulate.external import CallableModel\n\n\ndef make():\n"
                                     f"    return CallableModel(lambda x, t: {body}, 'ou-denoiser', name='bad')\n")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", data=rng.integers(0, 256, (20, 2, 2), dtype=np.uint8), labels=np.repeat([0, 1], 10))
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["measure", f"{tmp_path / 'bad.py'}:make", "--data", str(tmp_path / "d.npz"), "--out",
                     str(tmp_path / "o"), "--quiet", "--trajectories", "4", "--steps", "5", "--pairs", "2"])
    lines = err.getvalue().strip().splitlines()
    assert code == 2 and len(lines) == 1 and needle in lines[0] and "bad" in lines[0], err.getvalue()
