"""Predictions for a data array: spectrum, speciation hierarchy and both collapse estimates.

``t_C_gaussian`` is the root of the Gaussian excess entropy with the data's own covariance
spectrum; ``t_C_entropy`` is the zero of the leave-one-out Monte Carlo excess entropy over the
training set itself (:func:`simulate.excess_entropy_estimate`), with the interval from its
standard errors. Real data are not Gaussian, so both are reported.
"""

from __future__ import annotations

import math

import numpy as np

from theory import conventions
from theory.data import data_spectrum, samples_for_collapse_below, speciation_hierarchy, validate_data
from theory.gaussian import collapse_time

__all__ = ["entropy_collapse_time", "summarize_data"]


def entropy_collapse_time(data, t_guess: float, *, samples: int = 2000, generator=None, seed: int = 0,
                          device: str = "auto", confidence: float = 0.95, progress: bool = False):
    """Zero of the leave-one-out excess entropy, located in two passes (a coarse log grid from
    ``t_guess / 5`` to ``5 t_guess``, then 12 points around the bracket).

    ``data``: an array (moved to ``device`` in float64), a tensor, or any empirical score.
    ``generator``: a ``torch.Generator`` (default: one seeded with ``seed`` on the data's device).
    Returns ``(t_C, low, high, estimate)`` where ``estimate`` is the fine-grid
    :class:`~simulate.observables.EntropyEstimate` (the coarse one if no bracket was found, with
    NaN times)."""
    import torch

    from simulate._torch import make_generator, resolve_device
    from simulate.observables import excess_entropy_estimate
    from simulate.scores import EmpiricalScoreBase, as_empirical_score

    if not isinstance(data, (torch.Tensor, EmpiricalScoreBase)):
        data = torch.as_tensor(validate_data(data), dtype=torch.float64, device=resolve_device(device))
    empirical = as_empirical_score(data)
    gen = generator if generator is not None else make_generator(seed, empirical.device)
    disable = None if progress else True
    coarse_t = np.geomspace(t_guess / 5, 5 * t_guess, 12)
    coarse = excess_entropy_estimate(empirical, coarse_t, max(200, samples // 4), generator=gen, disable=disable)
    below = np.nonzero(coarse.f_rest < 0)[0]
    if below.size == 0 or below.max() == len(coarse_t) - 1 or coarse.f_rest[0] > 0:
        return float("nan"), float("nan"), float("nan"), coarse
    j = below.max()  # last negative point; the zero lies between coarse_t[j] and coarse_t[j + 1]
    lo, hi = coarse_t[max(j - 1, 0)], coarse_t[min(j + 2, len(coarse_t) - 1)]
    fine = excess_entropy_estimate(empirical, np.linspace(lo, hi, 12), samples, generator=gen, disable=disable)
    return (*fine.zero_crossing(confidence), fine)


def _units(t: float) -> dict:
    ddpm = conventions.DEFAULT_DDPM
    ok = math.isfinite(t) and ddpm.times[0] <= t <= ddpm.times[-1]
    return {"sigma_EDM": conventions.t_to_sigma_edm(t) if math.isfinite(t) and 0 <= t <= 709.78 else float("nan"),
            "ddpm_step": float(ddpm.step_from_t(t)) if ok else float("nan")}


def summarize_data(data, *, samples: int = 2000, seed: int = 0, device: str = "auto", hierarchy: int = 5,
                   confidence: float = 0.95, collapse_below=(), progress: bool = False) -> dict:
    """All predictions for ``data`` (rows are samples), JSON-ready (NaN where undefined).

    ``collapse_below``: times ``t`` for which to report ``log10 P`` needed to push the Gaussian
    ``t_C`` below ``t``; the first step of the standard DDPM schedule (``t_0 = 5e-5``, "collapse
    at 0 in practice") is always included.
    """
    x = validate_data(data)
    P, N = x.shape
    lam, method = data_spectrum(x)
    alpha = math.log(P) / N
    t_s = 0.5 * math.log(lam[0]) if lam[0] > 0 else float("nan")
    t_gauss = float(collapse_time(lam, alpha).value) if lam.max() > 0 else float("nan")
    t_ent, lo, hi, _ = entropy_collapse_time(x, t_gauss, samples=samples, seed=seed, device=device,
                                             confidence=confidence, progress=progress)
    times = {"t_S": t_s, "t_C_gaussian": t_gauss, "t_C_entropy": t_ent}
    targets = [float(t) for t in collapse_below] + [float(conventions.DEFAULT_DDPM.times[0])]
    needed = [{"t": t, "log10_P": float(samples_for_collapse_below(lam, t) / math.log(10))} for t in targets]
    return {
        "N": N, "P": P, "alpha": alpha, "spectrum_method": method, "Lambda": float(lam[0]),
        **times,
        "t_C_entropy_ci": [lo, hi], "confidence": confidence, "entropy_samples": samples,
        "speciation_hierarchy": speciation_hierarchy(lam, count=hierarchy).tolist(),
        "samples_for_collapse_below": needed,
        "sigma_EDM": {k: _units(v)["sigma_EDM"] for k, v in times.items()},
        "ddpm_step": {k: _units(v)["ddpm_step"] for k, v in times.items()},
    }
