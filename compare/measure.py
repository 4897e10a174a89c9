"""``regimes measure MODEL --data PATH``: the tool's observables on someone else's model, next to
the theory of that training set (one Python call: :func:`measure`).

The measurement is :func:`simulate.measure.measure_model`; the predictions are those of
``regimes theory data`` (``t_S = (1/2) ln Lambda``, the Gaussian ``t_C`` with the data's spectrum and,
unless ``entropy_samples = 0``, the entropy estimator's ``t_C``). The table compares the cloning
crossing with ``t_S`` and the median lock-in time with both ``t_C``; the lock-in time is a collapse
time only where samples are memorised, so the memorised fraction travels with it in the note and,
below one half, as a caveat (docs/your-data.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from theory import PHI_AT_BIMODALITY

from .plots import ALT_COLOR, MEASURED_COLOR, THEORY_COLOR, error_bars, new_figure, new_panels
from .style import styled
from .table import ComparisonRow, make_table

__all__ = ["MeasureResult", "measure", "write_measure_outputs"]


@dataclass
class MeasureResult:
    """``table`` (the common schema), ``theory`` (JSON-ready: predictions, measurements, the
    dataset's preprocessing and the model), ``figures``, the raw ``measurement`` and ``caveats``."""

    table: object
    theory: dict
    figures: dict
    measurement: object
    caveats: list = field(default_factory=list)


def measure(model, dataset, *, trajectories: int = 200, steps: int = 150, pairs: int = 200, jacobian_points: int = 8,
            entropy_samples: int = 1000, t_end: float = 2e-3, seed: int = 0, confidence: float = 0.95,
            device: str = "auto", progress: bool = False) -> MeasureResult:
    """Measure ``model`` (an :class:`~simulate.external.ExternalModel` or any ``score(x, t)``)
    against ``dataset`` (a :class:`~simulate.datasets.ArrayDataset`, e.g. from
    :func:`simulate.datasets.load_dataset`) and compare with that training set's theory.

    Examples
    --------
    >>> from simulate.datasets import load_dataset
    >>> from simulate.external import load_model
    >>> result = measure(load_model("my-ddpm/"), load_dataset("mnist/raw", classes=[0, 1], P=2000))  # doctest: +SKIP
    >>> print(result.table)  # doctest: +SKIP
    """
    import torch

    from simulate._torch import make_generator, resolve_device
    from simulate.measure import measure_model
    from simulate.stats import binomial_interval, median_interval
    from theory.data import data_spectrum
    from theory.gaussian import collapse_time

    from .data_theory import entropy_collapse_time

    dev = resolve_device(device)
    data = torch.as_tensor(dataset.data, dtype=torch.float64, device=dev)
    lam, _ = data_spectrum(dataset.data)
    P, N = dataset.data.shape
    t_s = 0.5 * math.log(lam[0]) if lam[0] > 1 else float("nan")
    t_c = float(collapse_time(lam, math.log(P) / N).value)
    gen = make_generator(seed, dev)
    m = measure_model(model, data, dataset.labels, t_S=t_s if math.isfinite(t_s) else None, trajectories=trajectories,
                      steps=steps, pairs=pairs, jacobian_points=jacobian_points, t_end=t_end, generator=gen,
                      disable=None if progress else True)
    t_ent, e_lo, e_hi = float("nan"), float("nan"), float("nan")
    if entropy_samples:
        t_ent, e_lo, e_hi, _ = entropy_collapse_time(data, t_c, samples=entropy_samples, seed=seed,
                                                     confidence=confidence, progress=progress)
    mem_lo, mem_hi = binomial_interval(round(m.memorized * trajectories), trajectories, confidence)
    lock_med, lock_lo, lock_hi = median_interval(m.lock_in, confidence)
    rows = []
    crossing = (float("nan"),) * 3
    if m.cloning is not None:
        crossing = m.cloning.crossing_interval(PHI_AT_BIMODALITY, confidence=confidence, n_resamples=500, seed=seed)
        rows.append(ComparisonRow("speciation time (top eigenvalue)", "t_S", t_s, *crossing, confidence, tolerance=0.1,
                                  note=f"measured: cloning crossing of phi = {PHI_AT_BIMODALITY:.4f} with the model, "
                                       f"{pairs} pairs; class = label of the nearest training point"))
    lock_note = (f"measured: median lock-in time of {trajectories} generated trajectories; memorised fraction "
                 f"{m.memorized:.3f} (a lock-in time is a collapse time only for memorised samples)")
    rows.append(ComparisonRow("collapse time, Gaussian approximation", "t_C^gauss", t_c, lock_med, lock_lo, lock_hi,
                              confidence, tolerance=0.1, note=lock_note))
    if entropy_samples:
        rows.append(ComparisonRow("collapse time, entropy estimator", "t_C^entropy", t_ent, lock_med, lock_lo, lock_hi,
                                  confidence, tolerance=0.1, note=lock_note + f"; theory interval {e_lo:.4g}..{e_hi:.4g}"))
    table = make_table(rows)
    dims = m.dimension
    se = dims.std(axis=1, ddof=1) / np.sqrt(dims.shape[1]) if dims.shape[1] > 1 else np.zeros(len(dims))
    name = getattr(model, "name", type(model).__name__)
    theory = {
        "model": {"name": name, "kind": getattr(model, "kind", "score"),
                  "prediction_type": getattr(model, "prediction_type", None),
                  "convention": getattr(model, "convention", None)},
        "data": {"name": dataset.name, "P": P, "N": N, "preprocessing": dataset.preprocessing},
        "Lambda": float(lam[0]), "t_S": t_s, "t_C_gaussian": t_c, "t_C_entropy": t_ent, "t_C_entropy_ci": [e_lo, e_hi],
        "measured": {
            "memorized_fraction": m.memorized, "memorized_ci": [float(mem_lo), float(mem_hi)],
            "distance_ratio_quantiles": dict(zip(("q10", "q50", "q90"),
                                                 np.quantile(m.distance_ratio, [0.1, 0.5, 0.9]).tolist())),
            "lock_in_median": [lock_med, lock_lo, lock_hi], "speciation_crossing": list(crossing),
            "local_dimension": {"t": m.jacobian_times.tolist(), "mean": dims.mean(axis=1).tolist(),
                                "stderr": se.tolist()},
        },
        "protocol": {"trajectories": trajectories, "steps": steps, "pairs": pairs, "jacobian_points": jacobian_points,
                     "entropy_samples": entropy_samples, "t_end": t_end, "seed": seed, "confidence": confidence},
    }
    caveats = []
    if m.memorized < 0.5:
        caveats.append(f"the model memorises {m.memorized:.0%} of its samples: its lock-in times are mostly the "
                       "sampler's last steps, not a collapse (docs/networks.md)")
    if m.cloning is None:
        caveats.append("no labels: no cloning, no measured speciation time")
    figures = _figures(theory, m, confidence, name, dataset.name)
    return MeasureResult(table, theory, figures, m, caveats)


#: How each predicted time is marked on a time axis.
_TIME_MARKS = {"t_S": ("-.", "$t_S$"), "t_C_gaussian": ("--", "Gaussian $t_C$"), "t_C_entropy": (":", "entropy $t_C$")}


def _mark_times(ax, theory, keys):
    """Vertical lines at the predicted times ``keys`` (those that are finite) on a log time axis."""
    for key in keys:
        ls, label = _TIME_MARKS[key]
        if math.isfinite(theory[key]):
            ax.axvline(theory[key], color=THEORY_COLOR, ls=ls, label=f"{label} = {theory[key]:.3g}")
    ax.set_xscale("log")
    ax.set_xlabel("time $t$ (OU)")


@styled
def _figures(theory, m, confidence, model_name, data_name):
    from simulate.observables import fraction_at_or_after
    from simulate.stats import binomial_interval

    figs = {}
    title = f"{model_name} on {data_name} (N = {theory['data']['N']}, P = {theory['data']['P']})"
    fig, axes = new_panels(1, 2, panel_aspect=0.8)
    ax = axes[0, 0]
    grid = m.times[::-1]
    frac = fraction_at_or_after(m.lock_in, grid)
    lo, hi = binomial_interval(np.round(frac * m.lock_in.size), m.lock_in.size, confidence)
    ax.fill_between(grid, lo, hi, color=MEASURED_COLOR, alpha=0.2, lw=0, label=f"{confidence:.0%} binomial band")
    ax.plot(grid, frac, color=MEASURED_COLOR, label="locked in (nearest point fixed)")
    _mark_times(ax, theory, ("t_C_gaussian", "t_C_entropy"))
    ax.set_ylabel("fraction of trajectories")
    ax.set_title(f"collapse: memorised {theory['measured']['memorized_fraction']:.0%}")
    ax.legend(fontsize=6.5)
    ax = axes[0, 1]
    mean = np.asarray(theory["measured"]["local_dimension"]["mean"])
    se = np.asarray(theory["measured"]["local_dimension"]["stderr"])
    if mean.size:
        ax.errorbar(m.jacobian_times, mean, yerr=2 * se, fmt="o-", color=MEASURED_COLOR, capsize=2,
                    label="measured (mean over points, ±2 s.e.)")
    _mark_times(ax, theory, ("t_S", "t_C_gaussian"))
    ax.set_ylabel("local dimension (gap estimator)")
    ax.set_title("Jacobian local dimension")
    ax.legend(fontsize=6.5)
    fig.suptitle(title)
    figs["collapse_dimension"] = fig
    if m.cloning is not None:
        fig, ax = new_figure()
        phi = m.cloning.phi()
        plo, phi_hi = m.cloning.phi_interval(confidence)
        ax.errorbar(m.cloning.branch_times, phi, yerr=error_bars(phi, plo, phi_hi), fmt="o", color=MEASURED_COLOR,
                    capsize=2, label=f"same class, model ({confidence:.0%} intervals)")
        ax.axhline(PHI_AT_BIMODALITY, color=ALT_COLOR, lw=0.8, ls=":",
                   label=f"level {PHI_AT_BIMODALITY:.4f}: its crossing is the measured $t_S$")
        if math.isfinite(theory["t_S"]):
            ax.axvline(theory["t_S"], color=THEORY_COLOR, ls="--", label=f"theory $t_S$ = {theory['t_S']:.3f}")
        ax.set_xlabel("branch time $t$ (OU)")
        ax.set_ylabel("fraction of clone pairs")
        ax.set_title(f"Cloning: {title}")
        ax.legend(fontsize=7)
        figs["speciation"] = fig
    return figs


def write_measure_outputs(out, result: MeasureResult, figure_formats=("png",)) -> list[Path]:
    """``table.{csv,md,tex}``, ``theory.json`` (with the caveats), ``measurement.npz`` and the
    figures, atomically; returns the paths written."""
    import io
    import json

    from .io import atomic_write_bytes, atomic_write_text, to_json_ready
    from .plots import save_figure
    from .table import write_table

    out = Path(out)
    paths = list(write_table(result.table, out, caveats=result.caveats).values())
    paths.append(atomic_write_text(out / "theory.json",
                                   json.dumps(to_json_ready({"caveats": result.caveats, **result.theory}), indent=2)))
    buf = io.BytesIO()
    np.savez(buf, **result.measurement.arrays())
    paths.append(atomic_write_bytes(out / "measurement.npz", buf.getvalue()))
    for name, fig in result.figures.items():
        for fmt in figure_formats:
            paths.append(save_figure(fig, out / f"{name}.{fmt}"))
    return paths
