"""Adapters that turn someone else's trained diffusion model into the tool's model contract.

Every adapter is an :class:`ExternalModel`: ``posterior_mean(x, t)`` is the model's estimate of
``E[a | x_t = x]`` in OU variables (``x_t = e^{-t} a + sqrt(Delta_t) z``, docs/conventions.md) and
calling it gives the OU score ``S(x, t) = (e^{-t} posterior_mean - x) / Delta_t``, which is what
every sampler of :mod:`simulate.samplers` takes. ``x`` is ``(B, N)`` (flat) or ``(B, *shape)``; the
adapter reshapes to the model's ``shape``, moves it to the model's dtype and device and back, and checks what the
model returns (its shape, finiteness): a model that answers the wrong shape or NaN is an
:class:`~theory.validation.InputError` naming the time and what came back.

Time conversions are exact (:mod:`theory.conventions`):

* EDM / k-diffusion denoisers ``D(x_ve, sigma)``: ``x_ve = e^t x``, ``sigma = sqrt(e^{2t} - 1)``;
* diffusers ``UNet2DModel`` with a DDPM or DDIM scheduler: the OU state *is* the DDPM state at
  ``alphabar = e^{-2t}`` (``x_k = sqrt(alphabar_k) a + sqrt(1 - alphabar_k) eps``), so ``x`` goes
  in unchanged; the timestep fed to the network is the fractional step whose ``ln sigma_k``
  (``sigma_k^2 = (1 - alphabar_k)/alphabar_k``) interpolates linearly to the requested ``sigma``, as
  k-diffusion's discrete schedules do, and the prediction is converted with the exact
  ``alphabar = e^{-2t}``: ``epsilon``: ``a = (x - sqrt(1 - ab) eps) / sqrt(ab)``; ``v_prediction``:
  ``a = sqrt(ab) x - sqrt(1 - ab) v``; ``sample``: ``a`` itself. Linear, scaled-linear and cosine
  (``squaredcos_cap_v2``) betas are read from the scheduler's ``alphas_cumprod``;
* any callable with a declared :data:`CALLABLE_CONVENTIONS` entry.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from theory.validation import InputError

from ._torch import check_points
from .scores import ou_coefficients

__all__ = ["ExternalModel", "EDMDenoiserModel", "DiffusersModel", "CallableModel", "CALLABLE_CONVENTIONS",
           "PREDICTION_TYPES", "discrete_timestep", "diffusers_model", "load_model"]

#: What a callable model returns, by declared convention.
CALLABLE_CONVENTIONS = {
    "ou-score": "S(x, t): the OU score itself",
    "ou-denoiser": "E[a | x_t = x] at OU time t",
    "edm-denoiser": "D(x_ve, sigma) with x_ve = e^t x, sigma = sqrt(e^{2t} - 1) (EDM, k-diffusion)",
    "epsilon": "the noise eps of x = e^{-t} a + sqrt(Delta_t) eps, at OU time t",
}
#: diffusers' prediction types.
PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")


class ExternalModel:
    """Base adapter: subclasses implement :meth:`_posterior_mean` on the model's own shape.

    Parameters
    ----------
    shape : tuple of int, optional
        The per-sample shape the model takes (e.g. ``(1, 8, 8)``); flat inputs are reshaped to it.
    name : str
        Recorded in outputs.
    """

    kind = "external"

    def __init__(self, shape: tuple | None = None, name: str = "model"):
        self.shape = None if shape is None else tuple(int(s) for s in shape)
        self.name = name

    def _posterior_mean(self, x: torch.Tensor, t: float) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _model_dtype(self) -> torch.dtype | None:
        return _first_parameter(self._module(), "dtype")

    def _model_device(self) -> torch.device | None:
        return _first_parameter(self._module(), "device")

    def _module(self):
        """The wrapped model (its parameters give the dtype and device inputs are moved to)."""
        return None

    def posterior_mean(self, x: torch.Tensor, t: float) -> torch.Tensor:
        """``E[a | x_t = x]`` by the model, in ``x``'s shape and dtype (checked)."""
        x = check_points("x", x)
        t = float(t)
        if not (t > 0 and math.isfinite(t)):
            raise InputError(f"t must be a finite time > 0, got {t!r}")
        flat = self.shape is not None and x.ndim == 2
        x_in = x.reshape(x.shape[0], *self.shape) if flat else x
        # the model's dtype and device (a float32 UNet on the GPU, float64 points on the CPU, ...)
        dtype, device = self._model_dtype(), self._model_device()
        x_in = x_in.to(dtype=dtype or x_in.dtype, device=device or x_in.device)
        with torch.no_grad():
            out = self._posterior_mean(x_in, t)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(x_in.shape):
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise InputError(f"{self.name} returned {got} for input {tuple(x_in.shape)} at t = {t:.4g}: "
                             "a denoiser must return its input's shape")
        if not torch.isfinite(out).all():
            raise InputError(f"{self.name} returned NaN or inf at t = {t:.4g} "
                             f"({int((~torch.isfinite(out)).sum())} entries)")
        out = out.to(dtype=x.dtype, device=x.device)
        return out.reshape(x.shape) if flat else out

    def __call__(self, x: torch.Tensor, t: float) -> torch.Tensor:
        """The OU score ``(e^{-t} E[a | x] - x) / Delta_t`` (the samplers' contract)."""
        c, var = ou_coefficients(float(t))
        return (c * self.posterior_mean(x, t) - x) / var


class EDMDenoiserModel(ExternalModel):
    """An EDM-style (or k-diffusion) denoiser ``D(x_ve, sigma) -> E[a | x_ve]``."""

    kind = "edm-denoiser"

    def __init__(self, denoiser: Callable, shape: tuple | None = None, name: str = "EDM denoiser"):
        super().__init__(shape, name)
        self.denoiser = denoiser

    def _module(self):
        return self.denoiser

    def _posterior_mean(self, x, t):
        scale = math.exp(t)
        sigma = math.sqrt(math.expm1(2.0 * t))
        return self.denoiser(x * scale, torch.full((x.shape[0],), sigma, dtype=x.dtype, device=x.device))


def discrete_timestep(alphas_cumprod, t) -> np.ndarray:
    """The fractional DDPM timestep at OU time ``t``: ``ln sigma`` interpolated linearly between the
    schedule's steps (``sigma_k^2 = (1 - alphabar_k)/alphabar_k``; exact at ``t_k = -ln(alphabar_k)/2``),
    clipped to ``[0, K - 1]``."""
    ab = np.asarray(alphas_cumprod, dtype=np.float64)
    log_sigma = 0.5 * np.log((1.0 - ab) / ab)
    if not np.all(np.diff(log_sigma) > 0):
        raise InputError("the scheduler's alphas_cumprod must decrease strictly")
    target = 0.5 * np.log(np.expm1(2.0 * np.asarray(t, dtype=np.float64)))
    return np.interp(target, log_sigma, np.arange(ab.size, dtype=np.float64))


class DiffusersModel(ExternalModel):
    """A diffusers ``UNet2DModel`` (or any ``unet(x, timestep).sample`` module) with the
    ``alphas_cumprod`` and ``prediction_type`` of its scheduler (DDPM or DDIM, any beta schedule)."""

    kind = "diffusers"

    def __init__(self, unet, alphas_cumprod, prediction_type: str = "epsilon", shape: tuple | None = None,
                 name: str = "diffusers UNet"):
        if prediction_type not in PREDICTION_TYPES:
            raise InputError(f"prediction_type must be one of {', '.join(PREDICTION_TYPES)}, got {prediction_type!r}")
        if shape is None and hasattr(unet, "config"):
            cfg = unet.config
            size = cfg.sample_size if isinstance(cfg.sample_size, int) else tuple(cfg.sample_size)
            shape = (cfg.in_channels, *((size, size) if isinstance(size, int) else size))
        super().__init__(shape, name)
        self.unet, self.prediction_type = unet, prediction_type
        self.alphas_cumprod = np.asarray(alphas_cumprod.detach().cpu() if torch.is_tensor(alphas_cumprod)
                                         else alphas_cumprod, dtype=np.float64)

    def _module(self):
        return self.unet

    def timestep(self, t: float) -> float:
        """The (fractional) timestep fed to the network at OU time ``t``."""
        return float(discrete_timestep(self.alphas_cumprod, t))

    def _posterior_mean(self, x, t):
        k = torch.full((x.shape[0],), self.timestep(t), dtype=x.dtype, device=x.device)
        out = self.unet(x, k)
        out = out.sample if hasattr(out, "sample") else out
        if not isinstance(out, torch.Tensor) or out.shape != x.shape:
            return out  # the shape check of posterior_mean reports it
        sqrt_ab, sqrt_1mab = math.exp(-t), math.sqrt(-math.expm1(-2.0 * t))
        if self.prediction_type == "epsilon":
            return (x - sqrt_1mab * out) / sqrt_ab
        if self.prediction_type == "v_prediction":
            return sqrt_ab * x - sqrt_1mab * out
        return out


class CallableModel(ExternalModel):
    """Any ``fn(x, t)`` (OU time ``t``) or ``fn(x_ve, sigma)`` with a declared ``convention``
    (:data:`CALLABLE_CONVENTIONS`)."""

    kind = "callable"

    def __init__(self, fn: Callable, convention: str, shape: tuple | None = None, name: str = "callable model"):
        if convention not in CALLABLE_CONVENTIONS:
            raise InputError(f"convention must be one of {', '.join(CALLABLE_CONVENTIONS)}, got {convention!r}")
        super().__init__(shape, name)
        self.fn, self.convention = fn, convention

    def _module(self):
        return self.fn

    def _posterior_mean(self, x, t):
        c, var = ou_coefficients(t)
        if self.convention == "edm-denoiser":
            sigma = math.sqrt(math.expm1(2.0 * t))
            return self.fn(x / c, torch.full((x.shape[0],), sigma, dtype=x.dtype, device=x.device))
        out = self.fn(x, t)
        if not isinstance(out, torch.Tensor) or out.shape != x.shape:
            return out
        if self.convention == "ou-denoiser":
            return out
        if self.convention == "ou-score":
            return (x + var * out) / c
        return (x - math.sqrt(var) * out) / c  # epsilon


def _first_parameter(module, attribute: str):
    """``dtype`` or ``device`` of a module's first parameter (None for a plain callable)."""
    params = getattr(module, "parameters", None)
    if params is None:
        return None
    first = next(iter(params()), None)
    return None if first is None else getattr(first, attribute)



def diffusers_model(unet, scheduler, *, name: str = "diffusers UNet") -> DiffusersModel:
    """A :class:`DiffusersModel` from a diffusers ``UNet2DModel`` and its scheduler (``DDPMScheduler``,
    ``DDIMScheduler``, ...: anything with ``alphas_cumprod`` and ``config.prediction_type``)."""
    if not hasattr(scheduler, "alphas_cumprod"):
        raise InputError(f"scheduler must have alphas_cumprod (a DDPM or DDIM scheduler), got {type(scheduler).__name__}")
    prediction = getattr(getattr(scheduler, "config", None), "prediction_type", "epsilon")
    return DiffusersModel(unet, scheduler.alphas_cumprod, prediction, name=name)


def load_model(spec: str) -> ExternalModel:
    """A model from the command line: a folder saved by a diffusers pipeline's ``save_pretrained``
    (``unet/`` and ``scheduler/`` inside; loaded from disk, never downloaded), or ``module:function``
    naming a Python function that returns an :class:`ExternalModel` (for EDM, k-diffusion or other
    models; ``module`` importable or a ``.py`` file path)."""
    from pathlib import Path

    path = Path(spec)
    if path.is_dir():
        if not (path / "unet").is_dir() or not (path / "scheduler").is_dir():
            raise InputError(f"{path}: a diffusers model folder needs unet/ and scheduler/ (save_pretrained)")
        try:
            from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel
        except ImportError:
            raise InputError("reading a diffusers folder needs the optional 'diffusers' package "
                             "(pip install 'diffusion-regimes[diffusers]')") from None
        import json

        try:
            unet = UNet2DModel.from_pretrained(path / "unet", local_files_only=True)
            cls_name = json.loads((path / "scheduler" / "scheduler_config.json").read_text()).get("_class_name", "")
            scheduler_cls = DDIMScheduler if cls_name == "DDIMScheduler" else DDPMScheduler
            scheduler = scheduler_cls.from_pretrained(path / "scheduler", local_files_only=True)
        except (OSError, ValueError, json.JSONDecodeError) as exc:
            raise InputError(f"cannot load the diffusers model in {path}: {exc}") from None
        unet.eval()
        return diffusers_model(unet, scheduler, name=f"{path.name} ({cls_name or 'DDPMScheduler'})")
    module_name, sep, func_name = spec.rpartition(":")
    if not sep or not module_name or not func_name:
        raise InputError(f"model must be a diffusers folder or 'module:function', got {spec!r}")
    import importlib
    import importlib.util

    try:
        if module_name.endswith(".py"):
            loader_spec = importlib.util.spec_from_file_location(Path(module_name).stem, module_name)
            if loader_spec is None or not Path(module_name).exists():
                raise InputError(f"model: no such file {module_name!r}")
            module = importlib.util.module_from_spec(loader_spec)
            loader_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"model: cannot import {module_name!r}: {exc}") from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise InputError(f"model: {module_name!r} has no function {func_name!r}")
    model = func()
    if not isinstance(model, ExternalModel):
        raise InputError(f"model: {spec} returned {type(model).__name__}, not an ExternalModel (wrap it in "
                         "EDMDenoiserModel, DiffusersModel or CallableModel)")
    return model
