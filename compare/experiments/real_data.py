"""Shared stages of the real-data experiments (digits, patches): cloning and collapse with the
empirical score of the training set, and the entropy estimate of ``t_C``."""

from __future__ import annotations

import numpy as np
import torch

from simulate.data import noised
from simulate.observables import cloning_experiment, collapse_experiment
from simulate.samplers import time_grid
from simulate.scores import EmpiricalScore

from ..data_theory import entropy_collapse_time

__all__ = ["cloning_stage", "collapse_stage", "entropy_stage", "entropy_zero", "GAUSSIAN_T_C_CAVEAT"]


#: What every Gaussian-approximation t_C of real data must say.
GAUSSIAN_T_C_CAVEAT = ("t_C (Gaussian) treats the data as Gaussian with their empirical spectrum, an approximation that "
                       "missed the measured collapse by tens of percent on real data (docs/real-data.md)")

def cloning_stage(data: torch.Tensor, labels: np.ndarray, t_s: float, *, pairs: int, steps: int, generator,
                  progress: bool) -> dict:
    """Cloning with the empirical score. Parents are exact draws from ``P^e_T`` at
    ``T = t_S + 1.5``; pairs branch at ``t_S + linspace(-1, 1, 9)`` (kept above 0.05) and run to
    ``t = 0.02``. **The class of an end point is the label of its nearest training point**
    (the nearest scaled point ``e^{-t} a^mu`` at ``t = 0.02``)."""
    empirical = EmpiricalScore(data)
    start, stop = t_s + 1.5, 0.02
    branch = t_s + np.linspace(-1.0, 1.0, 9)
    branch = branch[(branch > 0.05) & (branch < start)]
    times = np.unique(np.concatenate([time_grid(start, stop, steps), branch]))[::-1]
    x, _ = noised(data, start, pairs, generator=generator)
    label_t = torch.as_tensor(labels, device=data.device)
    res = cloning_experiment(empirical, x, times, branch, classify=lambda z: label_t[empirical.nearest_index(z, stop)],
                             identify=empirical.nearest_index, generator=generator,
                             disable=None if progress else True)
    return {"branch_times": res.branch_times, "same_class": res.same_class, "same_point": res.same_point}


def collapse_stage(data: torch.Tensor, start: float, *, trajectories: int, steps: int, generator,
                   progress: bool) -> dict:
    """Trajectories drawn exactly from ``P^e_T`` at ``T = start``, run to ``t = 0.02``: nearest
    training point and largest weight at every step (lock-in and condensation times)."""
    x, _ = noised(data, start, trajectories, generator=generator)
    res = collapse_experiment(EmpiricalScore(data), x, time_grid(start, 0.02, steps), generator=generator,
                              disable=None if progress else True)
    return {"times": res.times, "nearest_index": res.nearest_index, "max_weight": res.max_weight}


def entropy_stage(data: torch.Tensor, t_guess: float, *, samples: int, generator, progress: bool) -> dict:
    """The leave-one-out excess-entropy estimates around their zero
    (:func:`compare.data_theory.entropy_collapse_time`); the zero and its interval, which depend on
    the confidence, are read off by :func:`entropy_zero` at reconciliation."""
    *_, est = entropy_collapse_time(data, t_guess, samples=samples, generator=generator, progress=progress)
    return {"t": est.t, "f": est.f, "stderr": est.stderr, "f_rest": est.f_rest, "stderr_rest": est.stderr_rest,
            "alpha": np.array(est.alpha), "samples": np.array(est.n_samples)}


def entropy_zero(arrays: dict, confidence: float) -> tuple[float, float, float]:
    """``(t_C, low, high)``: the zero of the stored leave-one-out estimate (:func:`entropy_stage`)."""
    from simulate.observables import EntropyEstimate

    est = EntropyEstimate(arrays["t"], arrays["f"], arrays["stderr"], float(arrays["alpha"]), int(arrays["samples"]),
                          arrays["f_rest"], arrays["stderr_rest"])
    return est.zero_crossing(confidence)
