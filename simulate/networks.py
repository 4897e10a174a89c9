"""Trained score networks: denoisers for vectors (MLP) and small images (compact U-Net), EDM
preconditioning in our OU time, a seeded, resumable training loop, and the wrapper that plugs
any denoiser into the samplers (docs/networks.md).

Convention (k-diffusion / EDM): a denoiser is a module ``model(x_ve, sigma) -> D`` that estimates
the clean point ``E[a | x_ve]`` from ``x_ve = a + sigma z`` (variance-exploding coordinates).
The OU state is ``x = e^{-t} x_ve`` with ``sigma = sqrt(e^{2t} - 1)``, and the OU score is
``S(x, t) = (e^{-t} D - x) / Delta_t`` (:class:`DenoiserScore`). Any user module with that
signature plugs in the same way.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import trange

from theory.conventions import t_to_sigma_edm
from theory.validation import InputError, require_int

from ._torch import check_points
from .io import atomic_write_bytes
from .scores import ou_coefficients

__all__ = ["MLPDenoiser", "UNetDenoiser", "EDMPreconditioner", "DenoiserScore", "TrainConfig", "TrainResult",
           "train_denoiser", "init_parameters_"]


def _building(generator):
    """Where a module is built: with a generator, PyTorch's default initialisation (which draws
    from the global RNG) runs inside ``fork_rng`` so that the global state is left as it was; the
    weights are then drawn from ``generator`` by :func:`init_parameters_`."""
    return torch.random.fork_rng(devices=[]) if generator is not None else contextlib.nullcontext()


@torch.no_grad()
def init_parameters_(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Re-draw the weights of every ``Linear`` and ``Conv2d`` in ``module`` from ``generator`` with
    PyTorch's default laws (Kaiming-uniform weights with ``a = sqrt(5)``, biases uniform in
    ``+-1/sqrt(fan_in)``): seeded initialisation without touching the global RNG."""
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            if layer.bias is not None:
                fan_in = layer.weight[0].numel()
                bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return module


class _FourierEmbedding(nn.Module):
    """Fixed random Fourier features of the noise level ``c_noise = ln(sigma)/4`` (frequencies from
    a private generator with a fixed seed: part of the architecture, not of the initialisation)."""

    def __init__(self, dim: int, scale: float = 16.0, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("freqs", torch.randn(dim // 2, generator=g) * scale)

    def forward(self, c_noise: torch.Tensor) -> torch.Tensor:
        """Features (B, dim) of ``c_noise`` (B,)."""
        arg = 2 * math.pi * c_noise[:, None] * self.freqs.to(c_noise.dtype)
        return torch.cat([torch.cos(arg), torch.sin(arg)], dim=1)


class MLPDenoiser(nn.Module):
    """``F(x_in, c_noise)`` for vectors: an MLP on ``[x_in, embedding(c_noise)]`` (SiLU).

    ``generator``: draw the initial weights from it (:func:`init_parameters_`); without one,
    PyTorch's global RNG initialises them as usual."""

    def __init__(self, dim: int, width: int = 256, depth: int = 3, embedding: int = 64, *,
                 generator: torch.Generator | None = None):
        super().__init__()
        if min(dim, width, depth, embedding) < 1:
            raise InputError("dim, width, depth and embedding must be >= 1")
        with _building(generator):
            self.embed = _FourierEmbedding(embedding)
            layers, d_in = [], dim + embedding
            for _ in range(depth):
                layers += [nn.Linear(d_in, width), nn.SiLU()]
                d_in = width
            layers.append(nn.Linear(d_in, dim))
            self.net = nn.Sequential(*layers)
        self.dim = dim
        if generator is not None:
            init_parameters_(self, generator)

    def forward(self, x_in: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        """``F(x_in, c_noise)``: (B, dim)."""
        return self.net(torch.cat([x_in, self.embed(c_noise)], dim=1))


class _ResBlock(nn.Module):
    def __init__(self, ch_in: int, ch_out: int, emb: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(min(8, ch_in), ch_in)
        self.conv1 = nn.Conv2d(ch_in, ch_out, 3, padding=1)
        self.emb = nn.Linear(emb, ch_out)
        self.norm2 = nn.GroupNorm(min(8, ch_out), ch_out)
        self.conv2 = nn.Conv2d(ch_out, ch_out, 3, padding=1)
        self.skip = nn.Conv2d(ch_in, ch_out, 1) if ch_in != ch_out else nn.Identity()

    def forward(self, x, e):
        h = self.conv1(nn.functional.silu(self.norm1(x))) + self.emb(e)[:, :, None, None]
        h = self.conv2(nn.functional.silu(self.norm2(h)))
        return h + self.skip(x)


class UNetDenoiser(nn.Module):
    """A compact U-Net for ``channels x H x W`` images, ``H, W`` in 8..32 and even: two resolutions,
    residual blocks with the noise embedding added, one skip connection. ``generator`` seeds the
    initial weights (:func:`init_parameters_`)."""

    def __init__(self, channels: int = 1, width: int = 32, embedding: int = 64, *,
                 generator: torch.Generator | None = None):
        super().__init__()
        with _building(generator):
            self.embed = nn.Sequential(_FourierEmbedding(embedding), nn.Linear(embedding, embedding), nn.SiLU())
            self.inp = nn.Conv2d(channels, width, 3, padding=1)
            self.down1 = _ResBlock(width, width, embedding)
            self.pool = nn.AvgPool2d(2)
            self.mid = _ResBlock(width, 2 * width, embedding)
            self.up = nn.Upsample(scale_factor=2, mode="nearest")
            self.up1 = _ResBlock(3 * width, width, embedding)
            self.out = nn.Conv2d(width, channels, 3, padding=1)
        if generator is not None:
            init_parameters_(self, generator)

    def forward(self, x_in: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        """``F(x_in, c_noise)``: (B, C, H, W)."""
        if x_in.ndim != 4 or x_in.shape[-1] % 2 or x_in.shape[-2] % 2 or not 8 <= min(x_in.shape[-2:]) <= 32:
            raise InputError(f"UNetDenoiser needs (B, C, H, W) with even H, W in 8..32, got {tuple(x_in.shape)}")
        e = self.embed(c_noise)
        h1 = self.down1(self.inp(x_in), e)
        h2 = self.mid(self.pool(h1), e)
        h = self.up1(torch.cat([self.up(h2), h1], dim=1), e)
        return self.out(h)


class EDMPreconditioner(nn.Module):
    """``D(x_ve, sigma) = c_skip x_ve + c_out F(c_in x_ve, c_noise)`` (Karras et al. 2022) with
    ``c_skip = sd^2/(sigma^2 + sd^2)``, ``c_out = sigma sd / sqrt(sigma^2 + sd^2)``,
    ``c_in = 1/sqrt(sigma^2 + sd^2)``, ``c_noise = ln(sigma)/4``; ``sd`` is the data scale.

    ``shape``: the per-sample shape ``net`` expects (e.g. ``(1, 8, 8)``); inputs may come flat."""

    def __init__(self, net: nn.Module, sigma_data: float = 1.0, shape: tuple | None = None):
        super().__init__()
        self.net, self.sigma_data, self.shape = net, float(sigma_data), shape

    def forward(self, x_ve: torch.Tensor, sigma) -> torch.Tensor:
        """The denoised estimate ``D(x_ve, sigma)``."""
        sigma = torch.as_tensor(sigma, dtype=x_ve.dtype, device=x_ve.device).reshape(-1)
        sigma = sigma.expand(x_ve.shape[0]) if sigma.numel() == 1 else sigma
        sd2 = self.sigma_data**2
        bcast = (-1,) + (1,) * (x_ve.ndim - 1)
        c_skip = (sd2 / (sigma**2 + sd2)).reshape(bcast)
        c_out = (sigma * self.sigma_data / torch.sqrt(sigma**2 + sd2)).reshape(bcast)
        c_in = (1 / torch.sqrt(sigma**2 + sd2)).reshape(bcast)
        x_in = c_in * x_ve
        flat = self.shape is not None and x_ve.ndim == 2
        if flat:
            x_in = x_in.reshape(x_ve.shape[0], *self.shape)
        F = self.net(x_in, torch.log(sigma) / 4)
        if flat:
            F = F.reshape(x_ve.shape[0], -1)
        return c_skip * x_ve + c_out * F


class DenoiserScore:
    """OU score of a denoiser ``model(x_ve, sigma)``: ``S = (e^{-t} D(x e^t, sigma) - x) / Delta_t``."""

    def __init__(self, model: nn.Module):
        self.model = model

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, t: float) -> torch.Tensor:
        """The OU score at ``(x, t)``."""
        c, var = ou_coefficients(t)
        sigma = float(t_to_sigma_edm(float(t)))
        return (c * self.model(x / c, sigma) - x) / var


@dataclass
class TrainConfig:
    """EDM training: ``ln sigma ~ N(p_mean, p_std^2)``, loss weight ``(sigma^2 + sd^2)/(sigma sd)^2``.

    ``tikhonov = c > 0`` adds the score-norm penalty of [BDKOS25] with the OU-time constant ``c`` of
    :class:`simulate.regularized.TikhonovScore`: per sample ``weight (c_ve / sigma^2) |D - x|^2`` with
    ``c_ve = c (1 + sigma^2)`` (``= c e^{2t}``), i.e. ``c_ve |s|^2`` against the ``sigma^2``-weighted
    score loss, ``s = (D - x)/sigma^2``. Its pointwise minimiser is
    ``D = (sigma^2 m + c_ve x)/(sigma^2 + c_ve)`` (``m`` the posterior mean), whose OU score is
    ``(e^{-t} m - x)/(Delta_t + c)``: the Tikhonov-regularised empirical score."""

    steps: int = 2000
    batch_size: int = 256
    lr: float = 2e-3
    ema_decay: float = 0.999
    p_mean: float = -1.2
    p_std: float = 1.2
    seed: int = 0
    checkpoint_every: int = 500
    tikhonov: float = 0.0


@dataclass
class TrainResult:
    """The trained ``model``, its exponential moving average ``ema`` (the one to sample with),
    the per-step ``losses`` and the number of steps done."""

    model: nn.Module
    ema: nn.Module
    losses: list = field(default_factory=list)
    step: int = 0


def _save_checkpoint(path: Path, step, model, ema, opt, gen, losses):
    buf = io.BytesIO()
    torch.save({"step": step, "model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                "generator": gen.get_state(), "losses": losses}, buf)
    atomic_write_bytes(path, buf.getvalue())


def train_denoiser(model: nn.Module, data: torch.Tensor, config: TrainConfig = TrainConfig(), *,
                   checkpoint: str | Path | None = None, disable: bool | None = None) -> TrainResult:
    """Train ``model`` (a denoiser ``model(x_ve, sigma)``) on ``data`` (P, N) with Adam and EMA.

    All randomness (batch indices, noise levels, noise) comes from one ``torch.Generator`` seeded
    with ``config.seed``. With ``checkpoint``, the state (weights, EMA, optimiser, generator,
    losses) is written atomically every ``checkpoint_every`` steps and at the end; if the file
    exists training resumes from it, and on CPU the result is bit-identical to an uninterrupted
    run.
    """
    data = check_points("data", data)
    require_int("steps", config.steps, 1)
    require_int("batch_size", config.batch_size, 1)
    if not (config.tikhonov >= 0 and math.isfinite(config.tikhonov)):
        raise InputError(f"tikhonov must be a finite c >= 0, got {config.tikhonov!r}")
    gen = torch.Generator(device=data.device).manual_seed(config.seed)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    losses, start = [], 0
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None and path.exists():
        state = torch.load(path, map_location=data.device, weights_only=False)
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        gen.set_state(state["generator"])
        losses, start = list(state["losses"]), int(state["step"])
    sd = float(getattr(model, "sigma_data", 1.0))
    model.train()
    for step in trange(start, config.steps, disable=disable, desc="training", leave=False,
                       initial=start, total=config.steps):
        idx = torch.randint(0, data.shape[0], (config.batch_size,), generator=gen, device=data.device)
        a = data[idx]
        sigma = torch.exp(config.p_mean + config.p_std * torch.randn(config.batch_size, generator=gen,
                                                                     device=data.device, dtype=data.dtype))
        noise = torch.randn(a.shape, generator=gen, device=data.device, dtype=data.dtype)
        weight = (sigma**2 + sd**2) / (sigma * sd) ** 2
        x = a + sigma[:, None] * noise
        denoised = model(x, sigma)
        per_sample = ((denoised - a) ** 2).mean(dim=1)
        if config.tikhonov:
            c_ve = config.tikhonov * (1 + sigma**2)
            per_sample = per_sample + c_ve / sigma**2 * ((denoised - x) ** 2).mean(dim=1)
        loss = (weight * per_sample).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - config.ema_decay)
        losses.append(float(loss.detach()))
        if path is not None and ((step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps):
            _save_checkpoint(path, step + 1, model, ema, opt, gen, losses)
    model.eval()
    return TrainResult(model, ema.eval(), losses, config.steps)
