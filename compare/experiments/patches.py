"""Image patches at fixed N = k^2: the collapse time as a function of P, predicted from the data
(Gaussian approximation with each subset's spectrum; leave-one-out excess-entropy estimator) and
measured with the empirical score. Subsets are nested: the first P rows of one shuffled pool of
patches, preprocessed once."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import torch

from simulate._torch import make_generator, resolve_device
from simulate.datasets import load_patches
from simulate.observables import collapse_times_from_indices, condensation_times_from_weights
from simulate.stats import median_interval
from theory.data import data_spectrum
from theory.gaussian import collapse_time

from ..plots import ALT_COLOR, MEASURED_COLOR, THEORY_COLOR, error_bars, new_figure
from ..presets import PatchesPreset
from ..table import ComparisonRow, make_table, to_markdown
from .common import ExperimentResult, check_stages, run_stages, summary_line, write_outputs
from .real_data import collapse_stage, entropy_stage

__all__ = ["PatchesPreset", "STAGES", "run", "simulate", "summary_line", "to_markdown"]

NAME = "patches"
STAGES = ("collapse", "entropy")
_VERSION = 1


def _pool(preset):
    return load_patches(k=preset.k, P=max(preset.sizes()), seed=preset.seed, scale=preset.scale)


def _gaussian(pool, P: int) -> tuple[float, float]:
    lam, _ = data_spectrum(pool.data[:P])
    return float(0.5 * np.log(lam[0])), float(collapse_time(lam, np.log(P) / pool.N).value)


def simulate(preset: PatchesPreset | None = None, out=None, *, stages=STAGES, resume: bool = True,
             progress: bool = False, log=None):
    preset = (preset or PatchesPreset()).validate()
    check_stages(stages, STAGES)
    device = resolve_device(preset.device)
    pool = _pool(preset)
    jobs = {}
    for P in preset.sizes():
        _, t_gauss = _gaussian(pool, P)
        data = torch.as_tensor(pool.data[:P], dtype=torch.float64, device=device)
        base = {"k": preset.k, "pool": max(preset.sizes()), "P": P, "scale": preset.scale, "seed": preset.seed,
                "version": _VERSION, "device": device.type}
        if "collapse" in stages:
            jobs[f"collapse-P{P}"] = (
                {**base, "stage": "collapse", "trajectories": preset.trajectories, "steps": preset.steps},
                lambda data=data, t_gauss=t_gauss, P=P: collapse_stage(
                    data, max(2.0 * t_gauss, 0.5), trajectories=preset.trajectories, steps=preset.steps,
                    generator=make_generator(preset.seed + P, device), progress=progress))
        if "entropy" in stages:
            jobs[f"entropy-P{P}"] = (
                {**base, "stage": "entropy", "samples": preset.entropy_samples, "confidence": preset.confidence},
                lambda t_gauss=t_gauss, P=P: entropy_stage(
                    pool.data[:P], t_gauss, samples=preset.entropy_samples, seed=preset.seed + 7 * P,
                    device=preset.device, confidence=preset.confidence, progress=progress))
    return run_stages(out, jobs, resume=resume, log=log)


def run(preset: PatchesPreset | None = None, out=None, *, resume: bool = True, progress: bool = False, log=None):
    preset = (preset or PatchesPreset()).validate()
    pool = _pool(preset)
    raw, timings, cached, _ = simulate(preset, out, resume=resume, progress=progress, log=log)
    conf = preset.confidence
    rows, per_p = [], {}
    for P in preset.sizes():
        t_s, t_gauss = _gaussian(pool, P)
        ent, coll = raw[f"entropy-P{P}"], raw[f"collapse-P{P}"]
        cond = condensation_times_from_weights(coll["times"], coll["max_weight"])
        lock = collapse_times_from_indices(coll["times"], coll["nearest_index"])
        cm, clo, chi = median_interval(cond, conf)
        lm, llo, lhi = median_interval(lock, conf)
        t_ent, (elo, ehi) = float(ent["t_C"]), ent["ci"].tolist()
        per_p[P] = {"alpha": float(np.log(P) / pool.N), "t_S": t_s, "t_C_gaussian": t_gauss, "t_C_entropy": t_ent,
                    "t_C_entropy_ci": [elo, ehi], "measured_condensation": [cm, clo, chi],
                    "measured_lock_in": [lm, llo, lhi]}
        rows.append(ComparisonRow(f"collapse time at P = {P}, Gaussian approximation", "t_C^gauss", t_gauss, cm, clo,
                                  chi, conf, tolerance=0.10, note="measured: largest weight stays above 1/2 (median)"))
        rows.append(ComparisonRow(f"collapse time at P = {P}, entropy estimator", "t_C^entropy", t_ent, cm, clo, chi,
                                  conf, tolerance=0.10,
                                  note=f"theory interval {elo:.4g}..{ehi:.4g}; measured: largest weight > 1/2"))
    table = make_table(rows)
    th = {"N": pool.N, "k": preset.k, "preprocessing": pool.preprocessing, "per_P": per_p}
    result = ExperimentResult(NAME, asdict(preset), table, th, raw=raw, timings=timings, cached=cached)
    result.figures = {"collapse_vs_P": _figure(preset, pool, per_p)}
    if out is not None:
        write_outputs(out, result)
    return result


def _figure(preset, pool, per_p):
    fig, ax = new_figure()
    sizes = np.array(sorted(per_p))
    lam, _ = data_spectrum(pool.data)
    grid = np.geomspace(sizes.min() / 2, sizes.max() * 2, 100)
    ax.plot(grid, collapse_time(lam, np.log(grid) / pool.N).value, color=THEORY_COLOR, ls="--",
            label="Gaussian, pool spectrum")
    ax.plot(sizes, [per_p[P]["t_C_gaussian"] for P in sizes], "o", color=THEORY_COLOR, mfc="none",
            label="Gaussian, subset spectrum")
    ent = np.array([[per_p[P]["t_C_entropy"], *per_p[P]["t_C_entropy_ci"]] for P in sizes])
    ax.errorbar(sizes * 0.97, ent[:, 0], yerr=error_bars(ent[:, 0], ent[:, 1], ent[:, 2]), fmt="s", ms=4,
                color=THEORY_COLOR, capsize=2, label="entropy estimator")
    for key, color, label in [("measured_condensation", MEASURED_COLOR, "measured: largest weight > 1/2"),
                              ("measured_lock_in", ALT_COLOR, "measured: nearest point fixed")]:
        m = np.array([per_p[P][key] for P in sizes])
        ax.errorbar(sizes * 1.03, m[:, 0], yerr=error_bars(m[:, 0], m[:, 1], m[:, 2]), fmt="o", ms=4, color=color,
                    capsize=2, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("number of patches $P$")
    ax.set_ylabel("collapse time $t_C$ (OU)")
    ax.set_title(f"{preset.k} x {preset.k} patches (N = {pool.N})")
    ax.legend(fontsize=7)
    return fig
