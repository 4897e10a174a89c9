"""Trained denoisers against the exact empirical score and the theory [BDKOS25, BBBM24].

For each training-set size P: the empirical score of P isotropic Gaussian points memorises (the
collapse time ``t_C`` is measured as the median time after which the nearest scaled training
point stops changing); MLP denoisers of several widths trained on the same points are run with the
same backward SDE and tracked the same way. The table gives, per P and width, the memorised
fraction and the measured collapse time of the network against the empirical score and ``t_C``.
"""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np
import pandas as pd
import torch

from simulate._torch import make_generator, resolve_device
from simulate.data import isotropic_gaussian
from simulate.metrics import memorized_fraction
from simulate.networks import DenoiserScore, EDMPreconditioner, MLPDenoiser, TrainConfig, train_denoiser
from simulate.observables import collapse_times_from_indices
from simulate.samplers import sample_euler_maruyama, time_grid
from simulate.scores import EmpiricalScore
from simulate.stats import binomial_interval, median_interval
from theory import collapse_time_isotropic

from ..plots import ALT_COLOR, MEASURED_COLOR, THEORY_COLOR, error_bars, new_figure
from ..presets import NetworksPreset, parse_int_list
from .common import ExperimentResult, check_stages, run_stages, table_writer, write_outputs

__all__ = ["NetworksPreset", "STAGES", "run", "simulate", "summary_line", "to_markdown"]

NAME = "networks"
STAGES = ("runs",)
_VERSION = 1
T_START, T_END = 4.0, 2e-3


def _track(score, empirical, x, times, gen):
    rows = []

    def record(info):
        rows.append(empirical.nearest_index(info["x"], info["t"]).cpu())

    x = sample_euler_maruyama(score, x, times, callback=record, disable=True, generator=gen)
    rows.append(empirical.nearest_index(x, float(times[-1])).cpu())
    return x, torch.stack(rows).numpy()


def _run_P(preset, P, device, progress) -> dict:
    gen = make_generator(preset.seed + P, device)
    data = isotropic_gaussian(P, preset.N, generator=gen, dtype=torch.float32, device=device).data
    empirical = EmpiricalScore(data)
    times = time_grid(T_START, T_END, preset.sampler_steps)
    x0 = torch.randn(preset.trajectories, preset.N, generator=gen, dtype=torch.float32, device=device)
    out = {}
    x, idx = _track(empirical, empirical, x0, times, make_generator(preset.seed + 1, device))
    out["empirical_lock_in"] = collapse_times_from_indices(times, idx)
    out["empirical_memorized"] = np.array(memorized_fraction(x, data)[0])
    for key, w, steps in _networks(preset):
        torch.manual_seed(preset.seed + w)
        net = EDMPreconditioner(MLPDenoiser(preset.N, w, 3)).to(device)
        res = train_denoiser(net, data, TrainConfig(steps=steps, batch_size=preset.batch_size, seed=preset.seed),
                             disable=None if progress else True)
        x, idx = _track(DenoiserScore(res.ema), empirical, x0, times, make_generator(preset.seed + 1, device))
        out[f"{key}_lock_in"] = collapse_times_from_indices(times, idx)
        out[f"{key}_memorized"] = np.array(memorized_fraction(x, data)[0])
        out[f"{key}_final_loss"] = np.array(float(np.mean(res.losses[-100:])))
    return out


def _networks(preset):
    """``(key, width, training steps)`` of every network trained at each P."""
    return [(f"w{w}_s{s}", w, s) for w in parse_int_list("width", preset.width)
            for s in parse_int_list("steps", preset.steps)]


def simulate(preset: NetworksPreset | None = None, out=None, *, stages=STAGES, resume: bool = True,
             progress: bool = False, log=None):
    preset = (preset or NetworksPreset()).validate()
    check_stages(stages, STAGES)
    device = resolve_device(preset.device)
    jobs = {}
    for P in parse_int_list("P", preset.P):
        config = {**asdict(preset), "P": P, "stage": "runs", "version": _VERSION, "device": device.type}
        config.pop("confidence")
        jobs[f"P{P}"] = (config, lambda P=P: _run_P(preset, P, device, progress))
    return run_stages(out, jobs, resume=resume, log=log)


def run(preset: NetworksPreset | None = None, out=None, *, resume: bool = True, progress: bool = False, log=None):
    preset = (preset or NetworksPreset()).validate()
    raw, timings, cached, _ = simulate(preset, out, resume=resume, progress=progress, log=log)
    conf = preset.confidence
    rows = []
    for P in parse_int_list("P", preset.P):
        r = raw[f"P{P}"]
        t_c = collapse_time_isotropic(math.log(P) / preset.N)
        labels = {"empirical": "empirical", **{k: f"MLP width {w}, {st} steps" for k, w, st in _networks(preset)}}
        for who, label in labels.items():
            med, lo, hi = median_interval(r[f"{who}_lock_in"], conf)
            memo = float(r[f"{who}_memorized"])
            mlo, mhi = binomial_interval(round(memo * preset.trajectories), preset.trajectories, conf)
            rows.append({"P": P, "score": label,
                         "t_C": t_c, "collapse_median": med, "ci_low": lo, "ci_high": hi,
                         "rel_error": (med - t_c) / t_c, "memorized": memo, "memorized_low": float(mlo),
                         "memorized_high": float(mhi),
                         "final_loss": float(r[f"{who}_final_loss"]) if who != "empirical" else float("nan")})
    table = pd.DataFrame(rows)
    theory = {f"P{P}": {"alpha": math.log(P) / preset.N, "t_C": collapse_time_isotropic(math.log(P) / preset.N)}
              for P in parse_int_list("P", preset.P)}
    result = ExperimentResult(NAME, asdict(preset), table, theory, raw=raw, timings=timings, cached=cached)
    result.figures = _figures(preset, table)
    if out is not None:
        write_outputs(out, result, writer=table_writer(to_markdown))
    return result


def to_markdown(table: pd.DataFrame) -> str:
    out = table.copy()
    for col in ["t_C", "collapse_median", "ci_low", "ci_high", "final_loss"]:
        out[col] = out[col].map(lambda v: f"{v:.4g}" if math.isfinite(v) else "")
    out["rel_error"] = out["rel_error"].map(lambda v: f"{v:+.0%}")
    for col in ["memorized", "memorized_low", "memorized_high"]:
        out[col] = out[col].map(lambda v: f"{v:.0%}")
    return out.to_markdown(index=False)


def summary_line(table: pd.DataFrame) -> str:
    emp = table[table["score"] == "empirical"].set_index("P")["memorized"]
    nets = table[table["score"] != "empirical"]
    less = int(sum(row.memorized < emp[row.P] for row in nets.itertuples()))
    return f"networks memorise less than the empirical score in {less} of {len(nets)} runs"


def _figures(preset, table):
    fig, ax = new_figure()
    colors = ["k", MEASURED_COLOR, ALT_COLOR, "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b"]
    for k, (who, sub) in enumerate(table.groupby("score", sort=False)):
        ax.errorbar(sub["P"] * (1 + 0.04 * k), sub["memorized"],
                    yerr=error_bars(sub["memorized"], sub["memorized_low"], sub["memorized_high"]),
                    fmt="o-", capsize=2, color=colors[k % len(colors)], label=who)
    ax.set_xscale("log")
    ax.set_xlabel("training-set size P")
    ax.set_ylabel("memorised fraction of samples")
    ax.set_title(f"Networks vs the empirical score, N = {preset.N}")
    ax.legend(fontsize=8)
    fig2, ax2 = new_figure()
    for k, (who, sub) in enumerate(table.groupby("score", sort=False)):
        ax2.errorbar(sub["P"] * (1 + 0.04 * k), sub["collapse_median"],
                     yerr=error_bars(sub["collapse_median"], sub["ci_low"], sub["ci_high"]), fmt="o-", capsize=2,
                     color=colors[k % len(colors)], label=who)
    Ps = np.geomspace(table["P"].min(), table["P"].max(), 100)
    ax2.plot(Ps, collapse_time_isotropic(np.log(Ps) / preset.N), color=THEORY_COLOR, ls="--", label="theory $t_C$")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("training-set size P")
    ax2.set_ylabel("collapse time (nearest point fixed, median)")
    ax2.legend(fontsize=8)
    return {"memorization": fig, "collapse": fig2}
