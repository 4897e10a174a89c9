"""The tool's observables on any model against a training set: memorisation, collapse (lock-in),
cloning (speciation) and the Jacobian local dimension (``regimes measure``).

The model is anything with the samplers' contract ``score(x, t)`` in OU time, typically an
:class:`~simulate.external.ExternalModel` (diffusers, EDM, k-diffusion, callables). Protocol:

* **generation**: ``trajectories`` starts drawn from ``N(0, I)`` (the model's prior) at ``t_start``,
  the backward SDE (Euler-Maruyama) on a log grid of ``steps`` to ``t_end``; before every step the
  nearest scaled training point is recorded (:func:`~simulate.observables.track_nearest`): the
  per-trajectory lock-in time is when it stops changing, a collapse time where the sample is
  memorised. At ``t_end`` the memorised fraction (:func:`~simulate.metrics.memorized_fraction`) and
  the nearest-neighbour distance ratios ``d1/d2``.
* **cloning** (labelled data): parents from ``N(0, I)`` at ``t_start``, pairs branched at
  ``t_S + linspace(-1, 1, 9)`` (above 0.05), each end point classed by the label of its nearest
  training point; ``phi(t)`` crossing 0.7752 is the measured speciation time.
* **local dimension**: at ``jacobian_points`` forward-noised training points per time, the score
  Jacobian by orthogonal probes (no autograd needed; step ``1e-2 sqrt(Delta_t)``), its singular
  values and the gap estimator (:func:`~simulate.jacobian.local_dimension_gap`).

Every random draw comes from the one ``generator`` given, in that order, so two models measured
with equal seeds see the same starts and the same noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from theory.validation import InputError, require_int, require_positive

from ._torch import check_points
from .data import noised
from .jacobian import local_dimension_gap, probe_jacobian
from .metrics import memorized_fraction
from .observables import CloningResult, cloning_experiment, lock_in_times_from_indices, track_nearest
from .samplers import time_grid
from .scores import EmpiricalScore, ou_coefficients

__all__ = ["ModelMeasurement", "measure_model"]


@dataclass
class ModelMeasurement:
    """What :func:`measure_model` measured (arrays, JSON-ready through :meth:`arrays`)."""

    times: np.ndarray            # the generation grid
    nearest: np.ndarray          # (len(times), trajectories) nearest training point before each step
    lock_in: np.ndarray          # per trajectory
    memorized: float             # fraction of samples at t_end within 1/3 of the training spacing
    distance_ratio: np.ndarray   # d1/d2 per sample at t_end
    samples: np.ndarray          # (trajectories, N) at t_end
    cloning: CloningResult | None
    jacobian_times: np.ndarray
    dimension: np.ndarray        # (len(jacobian_times), jacobian_points) gap estimate per point
    singular_values: np.ndarray  # (len(jacobian_times), jacobian_points, N)

    def arrays(self) -> dict:
        """The measurement as a flat dict of arrays (for an ``.npz``)."""
        out = {k: np.asarray(getattr(self, k)) for k in ("times", "nearest", "lock_in", "memorized", "distance_ratio",
                                                        "samples", "jacobian_times", "dimension", "singular_values")}
        if self.cloning is not None:
            out.update(branch_times=self.cloning.branch_times, same_class=self.cloning.same_class)
            if self.cloning.same_point is not None:
                out["same_point"] = self.cloning.same_point
        return out


def measure_model(model: Callable, data: torch.Tensor, labels=None, *, t_S: float | None = None,
                  trajectories: int = 200, steps: int = 150, t_start: float | None = None, t_end: float = 2e-3,
                  pairs: int = 200, jacobian_points: int = 8, jacobian_times=None,
                  generator: torch.Generator | None = None, disable: bool | None = True) -> ModelMeasurement:
    """Measure ``model`` (``score(x, t)``, OU time) against the training set ``data`` (P, N).

    Parameters
    ----------
    labels : array_like, optional
        Class of each training point; without it no cloning is run.
    t_S : float, optional
        Predicted speciation time (centre of the branch times; default ``(1/2) ln Lambda``).
    t_start : float, optional
        Start of generation and cloning (default ``max(3, t_S + 1.5)``).
    jacobian_times : array_like, optional
        Times of the local-dimension probe (default 8 log-spaced from ``10 t_end`` to ``t_start / 2``);
        ``jacobian_points = 0`` skips it.
    """
    data = check_points("data", data)
    P, N = data.shape
    trajectories, steps = require_int("trajectories", trajectories, 1), require_int("steps", steps, 2)
    pairs, jacobian_points = require_int("pairs", pairs, 1), require_int("jacobian_points", jacobian_points, 0)
    t_end = float(require_positive("t_end", t_end))
    if t_S is None:
        from theory.data import data_spectrum

        lam = data_spectrum(data.double().cpu().numpy(), top=1 if min(P, N) > 4096 else None)[0][0]
        t_S = 0.5 * math.log(lam) if lam > 1 else 0.5
    t_start = float(t_start) if t_start is not None else max(3.0, t_S + 1.5)
    if not t_start > t_end:
        raise InputError(f"t_start must exceed t_end = {t_end}, got {t_start}")
    gen = generator if generator is not None else torch.Generator(device=data.device).manual_seed(0)
    empirical = EmpiricalScore(data)
    times = time_grid(t_start, t_end, steps)

    # generation: memorisation and lock-in
    x0 = torch.randn(trajectories, N, generator=gen, dtype=data.dtype, device=data.device)
    x, nearest = track_nearest(model, empirical, x0, times, generator=gen, disable=disable)
    memorized, ratios = memorized_fraction(x, data)
    lock_in = lock_in_times_from_indices(times, nearest)

    # cloning
    cloning = None
    if labels is not None:
        label_t = torch.as_tensor(np.asarray(labels), device=data.device)
        if label_t.shape != (P,):
            raise InputError(f"labels must have shape ({P},), got {tuple(label_t.shape)}")
        branch = t_S + np.linspace(-1.0, 1.0, 9)
        branch = branch[(branch > 0.05) & (branch < t_start)]
        if branch.size:
            clone_times = np.unique(np.concatenate([time_grid(t_start, 0.02, steps), branch]))[::-1]
            parents = torch.randn(pairs, N, generator=gen, dtype=data.dtype, device=data.device)
            cloning = cloning_experiment(model, parents, clone_times, branch,
                                         classify=lambda z: label_t[empirical.nearest_index(z, 0.02)],
                                         identify=empirical.nearest_index, generator=gen, disable=disable)

    # local dimension
    if jacobian_times is None:
        jacobian_times = np.geomspace(10 * t_end, t_start / 2, 8)
    jacobian_times = np.asarray(jacobian_times, dtype=float)
    dims = np.zeros((len(jacobian_times), jacobian_points))
    svs = np.zeros((len(jacobian_times), jacobian_points, N))
    if jacobian_points:
        for i, t in enumerate(jacobian_times):
            pts, _ = noised(data, float(t), jacobian_points, generator=gen)
            _, var = ou_coefficients(float(t))
            J = probe_jacobian(model, pts, float(t), step=1e-2 * math.sqrt(var), generator=gen)
            # the symmetric part: a score's Jacobian is symmetric (a Hessian); a model's need not be
            sv = torch.linalg.svdvals(0.5 * (J + J.transpose(1, 2))).double().cpu().numpy()
            svs[i] = sv
            dims[i] = local_dimension_gap(sv)
    return ModelMeasurement(times, nearest, lock_in, float(memorized), np.asarray(ratios), x.cpu().numpy(), cloning,
                            jacobian_times, dims, svs)
