"""Geometric memorisation [AVS+24]: which subspace is lost when, predicted by two rules and
measured from exact empirical-score Jacobians.

For every configuration (block dimensions and standard deviations), normalisation (g = 1 raw,
g = 0 sphere-projected) and dataset size P, one **sweep** (cached under ``OUT/raw``) draws points
exactly from ``P^e_t`` on a log grid of ``tau``, forms the exact Jacobian of the empirical score
there and records per block the retained fraction of its generalising posterior variance. The
measured critical time of a block is where half of the points have lost it
(:mod:`simulate.subspaces`); it is held against the per-direction Gaussian-REM rule, the exact
per-block rule and the global collapse (below which every direction is lost, since one softmax
weight then dominates).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from simulate._torch import make_generator, resolve_device
from simulate.data import block_gaussian
from simulate.subspaces import SubspaceSweep, subspace_sweep
from theory.conventions import tau_to_t
from theory.subspaces import BlockSpectrum

from ..plots import ALT_COLOR, error_bars
from ..presets import SubspacesPreset
from .common import ExperimentResult, check_stages, run_stages, table_writer, write_outputs

__all__ = ["SubspacesPreset", "STAGES", "run", "simulate", "summary_line", "to_markdown", "NAME"]

NAME = "subspaces"
STAGES = ("sweep",)
_VERSION = 1
PREDICTIONS = ("gauss_rem", "block", "collapse")


def _sweeps(preset: SubspacesPreset):
    for c, (dims, stds) in enumerate(preset.configs()):
        for norm in preset.normalizations():
            for P in preset.sizes():
                key = f"c{c}-g{0 if norm else 1}-P{P}"
                yield key, dims, stds, norm, P


def _stage_config(preset, dims, stds, norm, P) -> dict:
    return {"stage": "sweep", "version": _VERSION, "dims": dims, "std": stds, "normalized": norm, "P": P,
            "times": preset.times, "points": preset.points, "tau_min": preset.tau_min, "tau_max": preset.tau_max,
            "seed": preset.seed, "device": resolve_device(preset.device).type}


def _sweep_seed(preset, dims, stds, norm, P) -> int:
    # Independent of the order of the sweeps, so adding a configuration changes no other result.
    return preset.seed * 1_000_003 + zlib.crc32(repr((dims, stds, norm, P)).encode()) % 1_000_003


def _run_sweep(preset, dims, stds, norm, P, progress):
    device = resolve_device(preset.device)
    gen = make_generator(_sweep_seed(preset, dims, stds, norm, P), device)
    import torch

    ds = block_gaussian(P, dims, stds, normalized=norm, generator=gen, dtype=torch.float64, device=device)
    t_values = tau_to_t(np.logspace(np.log10(preset.tau_min), np.log10(preset.tau_max), preset.times))
    sw = subspace_sweep(ds.data, np.asarray(stds) ** 2, ds.params["blocks"], t_values, preset.points,
                        generator=gen, disable=None if progress else True)
    return {"t": sw.t, "retained": sw.retained, "dimension": sw.dimension, "singular_values": sw.singular_values,
            "max_weight": sw.max_weight}


def simulate(preset: SubspacesPreset | None = None, out: str | Path | None = None, *, stages=STAGES,
             resume: bool = True, progress: bool = False, log=None):
    """Run (or load) every sweep. Returns ``(raw, timings, cached, paths)`` keyed by sweep."""
    preset = (preset or SubspacesPreset()).validate()
    check_stages(stages, STAGES)
    jobs = {f"sweep-{key}": (_stage_config(preset, dims, stds, norm, P),
                             lambda dims=dims, stds=stds, norm=norm, P=P: _run_sweep(preset, dims, stds, norm, P,
                                                                                     progress))
            for key, dims, stds, norm, P in _sweeps(preset)}
    raw, timings, cached, paths = run_stages(out, jobs, resume=resume, log=log)
    strip = lambda d: {k.removeprefix("sweep-"): v for k, v in d.items()}
    return strip(raw), strip(timings), strip(cached), strip(paths)


def _as_sweep(arrays: dict) -> SubspaceSweep:
    return SubspaceSweep(arrays["t"], arrays["retained"], arrays["dimension"], arrays["singular_values"],
                         arrays["max_weight"])


def _rel(measured, predicted):
    return (measured - predicted) / predicted if predicted > 0 else float("nan")


def _verdict(measured, lo, hi, predictions: dict, tolerance: float):
    """Which predictions agree (inside the interval or within ``tolerance`` relative), and which is
    closest in log-ratio."""
    if not math.isfinite(measured):
        return "", "not measured"
    agree = [name for name, p in predictions.items()
             if math.isfinite(p) and ((lo <= p <= hi) or abs(_rel(measured, p)) <= tolerance)]
    closest = min((n for n, p in predictions.items() if p > 0), key=lambda n: abs(math.log(measured / predictions[n])))
    return ",".join(agree) if agree else "none", closest


def _rows(preset, raw):
    conf, tol = preset.confidence, preset.tolerance
    rows = []
    for key, dims, stds, norm, P in _sweeps(preset):
        sw = _as_sweep(raw[key])
        spec = BlockSpectrum.from_std(dims, stds, normalized=norm)
        t_rem = tau_to_t(spec.tau_gauss_rem(P))
        t_blk = tau_to_t(spec.tau_block(P))
        t_col = tau_to_t(float(spec.tau_collapse(P).value))
        base = {"config": "+".join(map(str, dims)), "g": spec.g, "P": P}
        measured = sw.critical_times(confidence=conf, seed=preset.seed)
        for k, (d, s) in enumerate(zip(dims, stds)):
            m, lo, hi = measured[k]
            preds = {"gauss_rem": float(t_rem[k]), "block": float(t_blk[k]), "collapse": t_col}
            agree, closest = _verdict(m, lo, hi, preds, tol)
            rows.append({**base, "subspace": f"block {k + 1}", "dim": d, "std": s,
                         "t_gauss_rem": preds["gauss_rem"], "t_block": preds["block"], "t_collapse": t_col,
                         "measured": m, "ci_low": lo, "ci_high": hi,
                         "rel_gauss_rem": _rel(m, preds["gauss_rem"]), "rel_block": _rel(m, preds["block"]),
                         "rel_collapse": _rel(m, t_col), "agrees": agree, "closest": closest})
        m, lo, hi = sw.condensation_time(confidence=conf, seed=preset.seed)
        agree, closest = _verdict(m, lo, hi, {"collapse": t_col}, tol)
        rows.append({**base, "subspace": "all (largest weight > 1/2)", "dim": spec.N, "std": float("nan"),
                     "t_gauss_rem": float("nan"), "t_block": float("nan"), "t_collapse": t_col,
                     "measured": m, "ci_low": lo, "ci_high": hi, "rel_gauss_rem": float("nan"),
                     "rel_block": float("nan"), "rel_collapse": _rel(m, t_col), "agrees": agree, "closest": closest})
    return pd.DataFrame(rows)


def to_markdown(df: pd.DataFrame) -> str:
    out = df.copy()
    for col in ["t_gauss_rem", "t_block", "t_collapse", "measured", "ci_low", "ci_high"]:
        out[col] = out[col].map(lambda v: f"{v:.4g}" if math.isfinite(v) else "")
    for col in ["rel_gauss_rem", "rel_block", "rel_collapse"]:
        out[col] = out[col].map(lambda v: f"{v:+.0%}" if math.isfinite(v) else "")
    out["std"] = out["std"].map(lambda v: f"{v:g}" if math.isfinite(v) else "")
    return out.to_markdown(index=False)


def run(preset: SubspacesPreset | None = None, out: str | Path | None = None, *, resume: bool = True,
        progress: bool = False, log=None) -> ExperimentResult:
    """Sweep, reconcile, and with ``out`` write ``table.{csv,md,tex}``, ``theory.json`` and plots."""
    preset = (preset or SubspacesPreset()).validate()
    raw, timings, cached, _ = simulate(preset, out, resume=resume, progress=progress, log=log)
    table = _rows(preset, raw)
    theory = {key: BlockSpectrum.from_std(dims, stds, normalized=norm).summary(P)
              for key, dims, stds, norm, P in _sweeps(preset)}
    result = ExperimentResult(NAME, asdict(preset), table, theory, raw=raw, timings=timings, cached=cached)
    result.figures = _figures(preset, raw, table)
    if out is not None:
        write_outputs(out, result, writer=table_writer(to_markdown))
    return result


def summary_line(table: pd.DataFrame) -> str:
    blocks = table[table["subspace"] != "all (largest weight > 1/2)"]
    counts = {p: int(blocks["agrees"].str.split(",").map(lambda a: p in a).sum()) for p in PREDICTIONS}
    closest = blocks["closest"].value_counts().to_dict()
    return (f"{len(blocks)} subspace measurements; agree (interval or tolerance): "
            + ", ".join(f"{k} {v}" for k, v in counts.items())
            + "; closest: " + ", ".join(f"{k} {v}" for k, v in closest.items()))


def _panels(preset):
    configs = preset.configs()
    norms = preset.normalizations()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2 * len(norms), 3.8 * len(configs)), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(configs), len(norms), squeeze=False)
    for ax in axes.ravel():
        ax.grid(True, alpha=0.3)
    return fig, axes, configs, norms


def _figures(preset, raw, table):
    figs = {}
    sizes = preset.sizes()
    P_show = sizes[len(sizes) // 2] if len(sizes) > 1 else sizes[0]
    block_colors = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]

    # 1. Jacobian spectra vs t with predicted critical lines (one P).
    fig, axes, configs, norms = _panels(preset)
    for i, (dims, stds) in enumerate(configs):
        for j, norm in enumerate(norms):
            ax = axes[i, j]
            key = f"c{i}-g{0 if norm else 1}-P{P_show}"
            sw = _as_sweep(raw[key])
            tau = np.expm1(2 * sw.t)
            ax.plot(sw.t, sw.singular_values * tau[:, None], color=ALT_COLOR, lw=0.7)
            spec = BlockSpectrum.from_std(dims, stds, normalized=norm)
            # The authors' singular-value model, one line per block (sorted like the measurement).
            model = spec.singular_value_model(tau, P_show) * tau[:, None]
            starts = np.concatenate([[0], np.cumsum(dims)[:-1]])
            ax.plot(sw.t, np.minimum(model[:, starts], 1.5), color="k", lw=0.7, ls=(0, (1, 2)), alpha=0.8)
            for k in range(len(dims)):
                col = block_colors[k % len(block_colors)]
                ax.axvline(tau_to_t(spec.tau_gauss_rem(P_show)[k]), color=col, ls="--", lw=1,
                           label=f"block {k + 1}: Gaussian-REM rule")
                ax.axvline(max(tau_to_t(spec.tau_block(P_show)[k]), sw.t.min()), color=col, ls=":", lw=1,
                           label=f"block {k + 1}: per-block rule")
            ax.axvline(tau_to_t(float(spec.tau_collapse(P_show).value)), color="k", lw=1, label="global collapse")
            ax.set_xscale("log")
            ax.set_xlabel("time $t$ (OU)")
            ax.set_ylabel(r"$\tau\,\varsigma_i$ (1 = normal; dotted: model, cut at 1.5)")
            ax.set_title(f"dims {dims}, g = {spec.g}, P = {P_show}", fontsize=9)
    axes[0, 0].legend(fontsize=6)
    figs["spectra"] = fig

    # 2. Surviving (local) dimension vs t for each P.
    fig, axes, configs, norms = _panels(preset)
    for i, (dims, stds) in enumerate(configs):
        for j, norm in enumerate(norms):
            ax = axes[i, j]
            for P in sizes:
                sw = _as_sweep(raw[f"c{i}-g{0 if norm else 1}-P{P}"])
                ax.plot(sw.t, np.median(sw.dimension, axis=1), marker=".", label=f"P = {P}")
            ax.set_xscale("log")
            ax.set_xlabel("time $t$ (OU)")
            ax.set_ylabel("local dimension (gap estimator)")
            ax.set_title(f"dims {dims}, g = {0 if norm else 1}", fontsize=9)
    axes[0, 0].legend(fontsize=7)
    figs["dimension"] = fig

    # 3. Phase diagram (t, ln P): critical curves of both rules and measured points.
    fig, axes, configs, norms = _panels(preset)
    lnP = np.linspace(np.log(min(sizes)) - 0.5, np.log(max(sizes)) + 0.5, 200)
    for i, (dims, stds) in enumerate(configs):
        for j, norm in enumerate(norms):
            ax = axes[i, j]
            spec = BlockSpectrum.from_std(dims, stds, normalized=norm)
            g = spec.g
            rem, blk = tau_to_t(spec.tau_gauss_rem(np.exp(lnP))), tau_to_t(spec.tau_block(np.exp(lnP)))
            col = tau_to_t(spec.tau_collapse(np.exp(lnP)).value)
            for k in range(len(dims)):
                c = block_colors[k % len(block_colors)]
                ax.plot(rem[:, k], lnP, color=c, ls="--", lw=1)
                ax.plot(blk[:, k], lnP, color=c, ls=":", lw=1)
                sub = table[(table["config"] == "+".join(map(str, dims))) & (table["g"] == g)
                            & (table["subspace"] == f"block {k + 1}")]
                ax.errorbar(sub["measured"], np.log(sub["P"]), xerr=error_bars(sub["measured"], sub["ci_low"], sub["ci_high"]), fmt="o", ms=4, color=c,
                            capsize=2, label=f"block {k + 1} (d={dims[k]}, std={stds[k]:g})")
            ax.plot(col, lnP, color="k", lw=1, label="global collapse")
            ax.set_xscale("log")
            ax.set_xlim(left=max(1e-5, np.nanmin(blk[blk > 0]) / 2))
            ax.set_xlabel("time $t$ (OU)")
            ax.set_ylabel(r"$\ln P$")
            ax.set_title(f"dims {dims}, g = {g}: lost to the left of each curve\n"
                         f"(dashed: Gaussian-REM rule, dotted: per-block rule)", fontsize=8)
            ax.legend(fontsize=6)
    figs["phase"] = fig
    return figs
