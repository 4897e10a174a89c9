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

__all__ = ["entropy_collapse_time", "summarize_data", "data_warnings"]


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


def data_warnings(x: np.ndarray, lam: np.ndarray, times: dict, *, entropy_samples: int, entropy_ci,
                  matrix: str = "covariance") -> list[str]:
    """Where the data make the predicted times meaningless or loose, one sentence each:

    - the top eigenvalue within 5% of the Marchenko-Pastur edge ``s^2 (1 + sqrt(N/P))^2`` of white
      noise of the same mean variance ``s^2 = tr C / N`` and shape: no structure, ``t_S`` is noise;
    - integer pixels above 1 or a mean variance outside [0.1, 10]: the times depend on the scale
      (the OU process relaxes to N(0, I));
    - ``t_C > t_S``: no generalisation window;
    - fewer than 1000 Monte Carlo samples, or an entropy interval wider than 20% of ``t_C``.
    """
    P, N = x.shape
    out = []
    variances = np.var(x, axis=0, ddof=1)
    mean_var = float(variances.mean())
    # constant features (a padding border) are not part of the noise: the law of the others
    active = int(np.count_nonzero(variances > 1e-12 * max(variances.max(), 1e-300)))
    noise_var = float(variances.sum() / max(active, 1))
    edge = noise_var * (1 + math.sqrt(active / P)) ** 2
    if matrix == "covariance" and lam[0] <= 1.05 * edge:
        out.append(f"the top eigenvalue {lam[0]:.4g} is at the noise edge {edge:.4g} of a Marchenko-Pastur law of "
                   f"this shape (P = {P}, {active} varying features, mean variance {noise_var:.4g}): the spectrum has "
                   "no structure above noise, and t_S is noise, not speciation")
    if lam[0] <= 1:
        out.append(f"Lambda = {lam[0]:.4g} <= 1: no direction has more variance than the OU noise, so there is no "
                   "speciation (t_S <= 0)")
    if np.all(x == np.round(x)) and x.max() > 1:
        out.append("the data are integers above 1 (raw pixels?): the times depend on the scale; use a convention "
                   "that maps pixels to [0, 1] (unit or bbbm24)")
    elif not 0.1 <= mean_var <= 10:
        out.append(f"the mean per-feature variance is {mean_var:.4g}, far from the unit scale of the OU stationary "
                   "law: the times depend on the scale (--convention unit rescales)")
    t_s, t_c = times.get("t_S", float("nan")), times.get("t_C_gaussian", float("nan"))
    if math.isfinite(t_s) and math.isfinite(t_c) and t_c > t_s > 0:
        out.append(f"t_C (Gaussian) = {t_c:.4g} > t_S = {t_s:.4g}: the trajectories collapse before they speciate, "
                   "no generalisation window")
    lo, hi = entropy_ci
    t_e = times.get("t_C_entropy", float("nan"))
    if entropy_samples < 1000:
        out.append(f"{entropy_samples} Monte Carlo samples per time: too few for a reliable entropy t_C (use 1000 "
                   "or more)")
    elif math.isfinite(t_e) and t_e > 0 and (hi - lo) > 0.2 * t_e:
        out.append(f"the entropy t_C interval [{lo:.4g}, {hi:.4g}] is wider than 20% of t_C: raise --samples")
    elif not math.isfinite(t_e):
        out.append("the entropy estimator found no zero crossing near the Gaussian t_C (see docs/real-data.md)")
    return out


def summarize_data(data, *, samples: int = 2000, seed: int = 0, device: str = "auto", hierarchy: int = 5,
                   confidence: float = 0.95, collapse_below=(), progress: bool = False, entropy_P: int | None = None,
                   matrix: str = "covariance", preprocessing: dict | None = None) -> dict:
    """All predictions for ``data`` (rows are samples), JSON-ready (NaN where undefined).

    ``collapse_below``: times ``t`` for which to report ``log10 P`` needed to push the Gaussian
    ``t_C`` below ``t``; the first step of the standard DDPM schedule (``t_0 = 5e-5``, "collapse
    at 0 in practice") is always included. ``entropy_P``: run the entropy estimator on a seeded
    subsample of that many points (its cost grows as P times ``samples``); its ``t_C`` is then the
    one of that smaller set, reported beside the Gaussian ``t_C`` at the same size. ``matrix``:
    the spectrum's matrix (:data:`theory.data.SPECTRUM_MATRICES`). ``preprocessing``: recorded
    as given (the convention that produced ``data``). ``warnings``: :func:`data_warnings`.
    """
    x = validate_data(data)
    P, N = x.shape
    lam, method = data_spectrum(x, matrix=matrix)
    alpha = math.log(P) / N
    t_s = 0.5 * math.log(lam[0]) if lam[0] > 0 else float("nan")
    t_gauss = float(collapse_time(lam, alpha).value) if lam.max() > 0 else float("nan")
    x_ent, P_ent = x, P
    if entropy_P is not None and entropy_P < P:
        P_ent = int(entropy_P)
        x_ent = x[np.sort(np.random.default_rng(seed).choice(P, size=P_ent, replace=False))]
    t_gauss_ent = t_gauss if P_ent == P else float(collapse_time(lam, math.log(P_ent) / N).value)
    t_ent, lo, hi, _ = entropy_collapse_time(x_ent, t_gauss_ent, samples=samples, seed=seed, device=device,
                                             confidence=confidence, progress=progress)
    times = {"t_S": t_s, "t_C_gaussian": t_gauss, "t_C_entropy": t_ent}
    targets = [float(t) for t in collapse_below] + [float(conventions.DEFAULT_DDPM.times[0])]
    needed = [{"t": t, "log10_P": float(samples_for_collapse_below(lam, t) / math.log(10))} for t in targets]
    return {
        "N": N, "P": P, "alpha": alpha, "spectrum_method": method, "spectrum_matrix": matrix, "Lambda": float(lam[0]),
        **times,
        "t_C_entropy_ci": [lo, hi], "confidence": confidence, "entropy_samples": samples, "entropy_P": P_ent,
        "t_C_gaussian_at_entropy_P": t_gauss_ent,
        "speciation_hierarchy": speciation_hierarchy(lam, count=hierarchy).tolist(),
        "samples_for_collapse_below": needed,
        "sigma_EDM": {k: _units(v)["sigma_EDM"] for k, v in times.items()},
        "ddpm_step": {k: _units(v)["ddpm_step"] for k, v in times.items()},
        "preprocessing": dict(preprocessing or {}),
        "warnings": data_warnings(x, lam, {**times, "t_C_entropy": t_ent}, entropy_samples=samples,
                                  entropy_ci=(lo, hi), matrix=matrix),
    }
