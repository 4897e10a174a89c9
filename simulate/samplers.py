"""Reverse-time samplers (k-diffusion style flat functions, one per algorithm).

OU time (docs/conventions.md):

* :func:`sample_euler_maruyama`: backward SDE ``-dx/dt = x + 2 S(x, t) + noise`` with step
  ``x <- x + h [x + 2 S(x, t)] + sqrt(2 h) xi`` (``h = t_i - t_{i+1} > 0``), weak order 1;
* :func:`sample_heun`: probability-flow ODE ``-dx/dt = x + S(x, t)``, Heun's method, order 2.

Variance-exploding noise level ``sigma`` (the [BDKOS25] regularisation experiments):

* :func:`sample_heun_ve`: ``dx/dsigma = -sigma s(x, sigma)``, Heun's method, order 2.

A score is any callable ``score(x, t) -> Tensor``; it may instead return an object with a
``.score`` attribute (e.g. :class:`simulate.scores.EmpiricalEvaluation`), which is then
handed to the callback as ``info["evaluation"]``.

The callback is called once per step, before the update, with
``{"i", "t", "t_next", "x", "score", "evaluation"}``.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from tqdm.auto import trange

from theory.validation import InputError, as_float_array, require_int, require_real

from ._torch import check_points

__all__ = ["time_grid", "euler_maruyama_step_", "sample_euler_maruyama", "sample_heun", "sample_heun_ve"]


def time_grid(t_start: float, t_end: float, steps: int, *, spacing: str = "log") -> np.ndarray:
    """Decreasing times ``t_0 = t_start > ... > t_steps = t_end`` (``steps`` intervals).

    ``spacing="log"`` (default) is uniform in ``ln t`` — steps shrink with ``Delta_t`` so the
    stiff score near ``t = 0`` stays resolved; ``"linear"`` is uniform in ``t``.
    """
    steps = require_int("steps", steps, 1)
    if steps > 10 ** 8:
        raise InputError(f"steps must be at most 10^8 (one score evaluation each), got {steps}")
    t_start, t_end = require_real("t_start", t_start), require_real("t_end", t_end)
    if not (math.isfinite(t_start) and math.isfinite(t_end) and t_start > t_end > 0):
        raise InputError(f"times must satisfy t_start > t_end > 0, got t_start={t_start!r}, t_end={t_end!r}")
    if spacing == "log":
        return np.exp(np.linspace(math.log(t_start), math.log(t_end), steps + 1))
    if spacing == "linear":
        return np.linspace(t_start, t_end, steps + 1)
    raise InputError(f"spacing must be 'log' or 'linear', got {spacing!r}")


def _check_times(times, name: str = "times") -> np.ndarray:
    times = as_float_array(name, times)
    if times.ndim != 1 or times.size < 2:
        raise InputError(f"{name} must be a 1-D sequence of at least two times")
    if not np.all(np.isfinite(times)) or not np.all(np.diff(times) < 0) or times[-1] < 0:
        raise InputError(f"{name} must be finite, strictly decreasing and >= 0")
    return times


def _check_start(score, x) -> torch.Tensor:
    """A callable ``score`` and finite float starting points ``x`` (B, N)."""
    if not callable(score):
        raise InputError(f"score must be callable as score(x, t), got {type(score).__name__}")
    return check_points("x", x)


def _split(out):
    if isinstance(out, torch.Tensor):
        return out, None
    return out.score, out


def euler_maruyama_step_(x: torch.Tensor, score: torch.Tensor, h: float, *, generator=None,
                         noise_out: torch.Tensor | None = None) -> torch.Tensor:
    """One backward Euler–Maruyama step of size ``h > 0``, in place on ``x``:
    ``x <- x + h (x + 2 S) + sqrt(2 h) xi``. ``noise_out`` is an optional buffer for ``xi``."""
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device, out=noise_out)
    return x.mul_(1.0 + h).add_(score, alpha=2.0 * h).add_(noise, alpha=math.sqrt(2.0 * h))


@torch.no_grad()
def sample_euler_maruyama(
    score: Callable,
    x: torch.Tensor,
    times,
    *,
    callback: Callable | None = None,
    disable: bool | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Integrate the backward SDE from ``times[0]`` to ``times[-1]`` with Euler–Maruyama.

    ``x`` holds samples at ``times[0]``; returns samples at ``times[-1]``. The score is never
    evaluated at ``times[-1]`` (so ``times[-1] = 0`` is allowed). Noise comes from
    ``generator`` (pass one for reproducible runs).
    """
    times = _check_times(times)
    x = _check_start(score, x).clone()  # updated in place below; the caller's tensor is left alone
    noise = torch.empty_like(x)
    for i in trange(len(times) - 1, disable=disable, desc="reverse SDE", leave=False):
        t, t_next = float(times[i]), float(times[i + 1])
        s, evaluation = _split(score(x, t))
        if callback is not None:
            callback({"i": i, "t": t, "t_next": t_next, "x": x, "score": s, "evaluation": evaluation})
        euler_maruyama_step_(x, s, t - t_next, generator=generator, noise_out=noise)
    return x


@torch.no_grad()
def sample_heun(
    score: Callable,
    x: torch.Tensor,
    times,
    *,
    callback: Callable | None = None,
    disable: bool | None = None,
) -> torch.Tensor:
    """Integrate the probability-flow ODE ``-dx/dt = x + S(x, t)`` with Heun's method.

    Second order in the step; the last step is a plain Euler step when ``times[-1] == 0``
    (the score is singular there).
    """
    times = _check_times(times)
    x = _check_start(score, x)
    for i in trange(len(times) - 1, disable=disable, desc="probability-flow ODE", leave=False):
        t, t_next = float(times[i]), float(times[i + 1])
        s, evaluation = _split(score(x, t))
        if callback is not None:
            callback({"i": i, "t": t, "t_next": t_next, "x": x, "score": s, "evaluation": evaluation})
        h = t - t_next
        d1 = x + s
        x_euler = x + h * d1
        if t_next == 0:
            x = x_euler
            continue
        s2, _ = _split(score(x_euler, t_next))
        x = x + 0.5 * h * (d1 + x_euler + s2)
    return x


@torch.no_grad()
def sample_heun_ve(
    score: Callable,
    x: torch.Tensor,
    sigmas,
    *,
    callback: Callable | None = None,
    disable: bool | None = None,
) -> torch.Tensor:
    """Integrate the variance-exploding probability-flow ODE ``dx/dsigma = -sigma s(x, sigma)``
    along strictly decreasing ``sigmas`` with Heun's method (``score(x, sigma)`` is the VE score;
    the last step is a plain Euler step when it ends at ``sigma = 0``).

    The callback gets ``{"i", "sigma", "sigma_next", "x", "score"}`` before each step.
    """
    sig = _check_times(sigmas, "sigmas")
    x = _check_start(score, x)
    for i in trange(len(sig) - 1, disable=disable, desc="VE probability-flow ODE", leave=False):
        s, s_next = float(sig[i]), float(sig[i + 1])
        s1 = score(x, s)
        if callback is not None:
            callback({"i": i, "sigma": s, "sigma_next": s_next, "x": x, "score": s1})
        d1 = -s * s1
        x_euler = x + (s_next - s) * d1
        if s_next == 0:
            x = x_euler
            continue
        d2 = -s_next * score(x_euler, s_next)
        x = x + 0.5 * (s_next - s) * (d1 + d2)
    return x
