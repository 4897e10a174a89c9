"""Regularised empirical scores [BDKOS25]: how Tikhonov (``c``) and the density floor (``tau``)
stop memorisation. Probability-flow ODE (Heun) from exact draws of ``P^e_T`` down to a small time;
memorised fraction and the distance to the nearest (scaled) training point at the end.

One-point law used as the prediction for Tikhonov (derived in docs/networks.md): with
``u = x - e^{-t} a`` the OU probability flow of ``s_c`` gives
``d ln|u| / dt = 1/(Delta_t + c) - 1``, i.e. ``|u(t)| ∝ G(t) = ((1 + c) e^{2t} - 1)^{1/(2(1+c))} e^{-t}``.
A trajectory captured at ``t_C`` with the typical offset ``|u| = sqrt(N Delta_{t_C})`` ends at
``sqrt(N Delta_{t_C}) G(t_end) / G(t_C)`` (``sqrt(N Delta_{t_end})`` for ``c = 0``).
"""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np

from simulate._torch import make_generator, resolve_device
from simulate.data import isotropic_gaussian, noised
from simulate.metrics import MEMORIZATION_THRESHOLD, training_spacing
from simulate.regularized import FlooredScore, TikhonovScore
from simulate.samplers import sample_heun, time_grid
from simulate.scores import EmpiricalScore
from simulate.stats import binomial_interval, median_interval
from theory import collapse_time_isotropic
from theory.regularization import tikhonov_profile_ou

from ..plots import MEASURED_COLOR, THEORY_COLOR, error_bars
from ..presets import RegularizationPreset, parse_float_list
from ..table import ComparisonRow, make_table, to_markdown
from .common import ExperimentResult, check_stages, run_stages, summary_line, write_outputs

__all__ = ["RegularizationPreset", "STAGES", "run", "simulate", "summary_line", "to_markdown", "one_point_distance"]

NAME = "regularization"
STAGES = ("sweep",)
_VERSION = 1
T_START, T_END = 3.0, 1e-3


def one_point_distance(c: float, N: int, t_capture: float, t_end: float) -> float:
    """Predicted final offset from the attracting point under ``s_c`` (module docstring)."""
    G = lambda t: float(tikhonov_profile_ou(t, c))
    return math.sqrt(N * -math.expm1(-2 * t_capture)) * G(t_end) / G(t_capture)


def _sweep(preset, device) -> dict:
    gen = make_generator(preset.seed, device)
    data = isotropic_gaussian(preset.P, preset.N, generator=gen, device=device).data
    x0, _ = noised(data, T_START, preset.trajectories, generator=gen)
    times = time_grid(T_START, T_END, preset.steps)
    nearest = EmpiricalScore(data)
    out = {}
    for kind, values, make in (("c", parse_float_list("c", preset.c), lambda v: TikhonovScore(data, v)),
                               ("tau", parse_float_list("tau", preset.tau), lambda v: FlooredScore(data, v))):
        dists = []
        for v in values:
            x = sample_heun(make(v), x0, times, disable=True)
            idx = nearest.nearest_index(x, T_END)
            dists.append((x - math.exp(-T_END) * data[idx]).norm(dim=1).cpu().numpy())
        out[kind] = np.array(values)
        out[f"distance_{kind}"] = np.stack(dists)
    out["spacing"] = np.array(training_spacing(data))
    return out


def simulate(preset: RegularizationPreset | None = None, out=None, *, stages=STAGES, resume: bool = True,
             progress: bool = False, log=None):
    preset = (preset or RegularizationPreset()).validate()
    check_stages(stages, STAGES)
    device = resolve_device(preset.device)
    config = {**asdict(preset), "stage": "sweep", "version": _VERSION, "device": device.type}
    return run_stages(out, {"sweep": (config, lambda: _sweep(preset, device))}, resume=resume, log=log)


def run(preset: RegularizationPreset | None = None, out=None, *, resume: bool = True, progress: bool = False,
        log=None):
    preset = (preset or RegularizationPreset()).validate()
    raw, timings, cached, _ = simulate(preset, out, resume=resume, progress=progress, log=log)
    sw = raw["sweep"]
    conf = preset.confidence
    t_c = collapse_time_isotropic(math.log(preset.P) / preset.N)
    thr = MEMORIZATION_THRESHOLD * float(sw["spacing"])
    rows, memo = [], {}
    for kind in ("c", "tau"):
        for v, d in zip(sw[kind], sw[f"distance_{kind}"]):
            memo[(kind, float(v))] = (float(np.mean(d < thr)), *binomial_interval(np.sum(d < thr), d.size, conf))
            if kind == "c":
                med, lo, hi = median_interval(d, conf)
                rows.append(ComparisonRow(f"residual distance, Tikhonov c = {v:g}", "one-point law",
                                          one_point_distance(float(v), preset.N, t_c, T_END), med, lo, hi, conf,
                                          tolerance=0.25,
                                          note=f"median over {d.size}; memorised {memo[(kind, float(v))][0]:.0%} "
                                               f"(threshold {MEMORIZATION_THRESHOLD:.2g} x NN spacing); capture at t_C, "
                                               "typical offset: 25% tolerance"))
    table = make_table(rows)
    theory = {"t_C": t_c, "one_point_distance": {f"{c:g}": one_point_distance(float(c), preset.N, t_c, T_END)
                                                  for c in sw["c"]}}
    result = ExperimentResult(NAME, asdict(preset), table, theory, raw=raw, timings=timings, cached=cached)
    result.theory["memorized"] = {f"{k}={v:g}": list(map(float, m)) for (k, v), m in memo.items()}
    result.figures = _figures(preset, sw, memo, t_c)
    if out is not None:
        write_outputs(out, result)
    return result


def _figures(preset, sw, memo, t_c):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.8), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    for ax, kind, label in ((ax1, "c", "Tikhonov $c$"), (ax2, "tau", "floor $\\tau$")):
        vals = sw[kind]
        m = np.array([memo[(kind, float(v))] for v in vals])
        ax.errorbar(vals if kind == "tau" else np.maximum(vals, 1e-4), m[:, 0], yerr=error_bars(m[:, 0], m[:, 1], m[:, 2]),
                    fmt="o-", color=MEASURED_COLOR, capsize=2, label="memorised fraction")
        ax.set_xscale("log")
        ax.set_xlabel(label + (" (c = 0 drawn at 1e-4)" if kind == "c" else ""))
        ax.set_ylabel("fraction of samples memorised")
        ax.grid(True, alpha=0.3)
    ax3 = ax1.twinx()
    med = [np.median(d) for d in sw["distance_c"]]
    pred = [one_point_distance(float(c), preset.N, t_c, T_END) for c in sw["c"]]
    ax3.plot(np.maximum(sw["c"], 1e-4), med, "s--", color=MEASURED_COLOR, alpha=0.6, label="median distance")
    ax3.plot(np.maximum(sw["c"], 1e-4), pred, "-", color=THEORY_COLOR, label="one-point law")
    ax3.set_ylabel("distance to nearest training point")
    ax3.legend(fontsize=7, loc="center right")
    fig.suptitle(f"Regularised empirical scores, N = {preset.N}, P = {preset.P}")
    return {"regularization": fig}
