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

import numpy as np
import pandas as pd

from theory.conventions import t_to_tau, tau_to_t
from theory.subspaces import BlockSpectrum

from ..driver import Experiment, Reconciliation, Stage
from ..plots import ALT_COLOR, error_bars
from ..presets import SubspacesPreset
from ..table import ComparisonRow

__all__ = ["Subspaces", "PREDICTIONS", "block_rows"]

#: The predictions each measured block loss is held against (``rule`` column).
PREDICTIONS = ("gauss_rem", "block", "collapse")
_GLOBAL = "all (largest weight > 1/2)"


def _sweeps(preset: SubspacesPreset):
    for c, (dims, stds) in enumerate(preset.configs()):
        for norm in preset.normalizations():
            for P in preset.sizes():
                yield f"c{c}-g{0 if norm else 1}-P{P}", dims, stds, norm, P


def _as_sweep(arrays: dict):
    from simulate.subspaces import SubspaceSweep

    return SubspaceSweep(arrays["t"], arrays["retained"], arrays["dimension"], arrays["singular_values"],
                         arrays["max_weight"])


def _closest(measured: float, predictions: dict) -> str:
    """The prediction closest to ``measured`` in log-ratio."""
    if not math.isfinite(measured):
        return "not measured"
    return min((n for n, p in predictions.items() if p > 0), key=lambda n: abs(math.log(measured / predictions[n])))


def block_rows(spec: BlockSpectrum, P: int, measured, stds, confidence: float, tolerance: float,
               extra: dict) -> list:
    """Per block one row for each rule of :data:`PREDICTIONS` (the same measured loss time, its
    ``closest`` prediction), with ``extra`` context columns; shared with ``subspaces-networks``."""
    t_rem, t_blk = tau_to_t(spec.tau_gauss_rem(P)), tau_to_t(spec.tau_block(P))
    t_col = tau_to_t(float(spec.tau_collapse(P).value))
    rows = []
    for k, (d, s) in enumerate(zip(spec.dims, stds)):
        m, lo, hi = measured[k]
        preds = {"gauss_rem": float(t_rem[k]), "block": float(t_blk[k]), "collapse": t_col}
        closest = _closest(m, preds)
        for rule, pred in preds.items():
            rows.append(ComparisonRow(
                f"block {k + 1} lost (half the points retain < 1/2 of its variance)", f"t_{rule}", pred, m, lo, hi,
                confidence, tolerance, f"bootstrap over points; {tolerance:.0%} tolerance (N = {spec.N})",
                extra={**extra, "subspace": f"block {k + 1}", "dim": d, "std": s, "rule": rule, "closest": closest}))
    return rows


class Subspaces(Experiment):
    """Per-subspace critical times of linear-manifold data [AVS+24]."""

    name = "subspaces"
    caveats = (
        'measured with the exact empirical score only, at small N; [AVS+24] made its case with trained '
        'networks (docs/subspaces.md)',
    )
    preset_type = SubspacesPreset
    version = 2

    def stages(self, preset, setup):
        """One sweep per (configuration, normalisation, P). Its random stream is named by its
        content, so adding a configuration changes no other result."""
        return [Stage(f"sweep-{key}", self._sweep, uses=("times", "points", "tau_min", "tau_max"),
                      params={"dims": dims, "std": stds, "normalized": norm, "P": P},
                      stream=f"sweep dims={dims} std={stds} normalized={norm} P={P}")
                for key, dims, stds, norm, P in _sweeps(preset)]

    @staticmethod
    def _sweep(ctx):
        import torch

        from simulate.data import block_gaussian
        from simulate.subspaces import subspace_sweep

        p, q = ctx.preset, ctx.stage.params
        gen = ctx.torch_generator()
        ds = block_gaussian(q["dims"], q["std"], q["P"], normalized=q["normalized"], generator=gen,
                            dtype=torch.float64, device=ctx.device)
        t_values = tau_to_t(np.logspace(np.log10(p.tau_min), np.log10(p.tau_max), p.times))
        sw = subspace_sweep(ds.data, np.asarray(q["std"]) ** 2, ds.params["blocks"], t_values, p.points,
                            generator=gen, disable=ctx.disable)
        return {"t": sw.t, "retained": sw.retained, "dimension": sw.dimension, "singular_values": sw.singular_values,
                "max_weight": sw.max_weight}

    def reconcile(self, preset, setup, raw):
        """Per block and prediction rule one row (``rule``, ``closest`` columns), plus the global
        condensation against the global collapse."""
        conf, tol = preset.confidence, preset.tolerance
        rows, theory = [], {}
        for key, dims, stds, norm, P in _sweeps(preset):
            sw = _as_sweep(raw[f"sweep-{key}"])
            spec = BlockSpectrum.from_std(dims, stds, normalized=norm)
            theory[key] = spec.summary(P)
            t_col = tau_to_t(float(spec.tau_collapse(P).value))
            base = {"config": "+".join(map(str, dims)), "g": spec.g, "P": P}
            rows += block_rows(spec, P, sw.critical_times(confidence=conf, seed=preset.seed), stds, conf, tol, base)
            m, lo, hi = sw.condensation_time(confidence=conf, seed=preset.seed)
            rows.append(ComparisonRow("global condensation (median largest weight > 1/2)", "t_collapse", t_col, m, lo,
                                      hi, conf, tol, "global collapse of the block spectrum",
                                      extra={**base, "subspace": _GLOBAL, "dim": spec.N, "std": float("nan"),
                                             "rule": "collapse", "closest": _closest(m, {"collapse": t_col})}))
        return Reconciliation(rows, theory)

    def summary_line(self, table: pd.DataFrame) -> str:
        """How many block losses agree with each rule, and which rule is closest how often."""
        blocks = table[table["subspace"] != _GLOBAL]
        counts = {r: int(((blocks["rule"] == r) & (blocks["agrees"] == "yes")).sum()) for r in PREDICTIONS}
        one_per_block = blocks[blocks["rule"] == PREDICTIONS[0]]
        closest = one_per_block["closest"].value_counts().to_dict()
        return (f"{len(one_per_block)} subspace measurements; agree (interval or tolerance): "
                + ", ".join(f"{k} {v}" for k, v in counts.items())
                + "; closest: " + ", ".join(f"{k} {v}" for k, v in closest.items()))

    def figures(self, preset, setup, raw, rec):
        """spectra, dimension, phase (see :func:`_figures`)."""
        return _figures(preset, {k.removeprefix("sweep-"): v for k, v in raw.items()}, rec.table)


def _panels(preset, sharex: bool = False):
    configs = preset.configs()
    norms = preset.normalizations()
    from ..plots import new_panels

    fig, axes = new_panels(len(configs), len(norms), sharex="all" if sharex else "none")
    return fig, axes, configs, norms


def _figures(preset, raw, table):
    figs = {}
    sizes = preset.sizes()
    P_show = sizes[len(sizes) // 2] if len(sizes) > 1 else sizes[0]
    from ..style import STYLE

    block_colors = STYLE.series
    conf = f"{preset.confidence:.0%}"
    Ns = sorted({sum(dims) for dims, _ in preset.configs()})
    N = f"N = {Ns[0]}" if len(Ns) == 1 else "N = sum of dims"

    # 1. Jacobian spectra vs t with predicted critical lines (one P). Each block has one colour: its share of
    # the ranked singular values (measured: thin solid), the authors' model (thick, translucent) and its
    # rules (dashed: Gaussian REM, dotted: per block, as in the phase figure; at the left edge when earlier than the simulated
    # window); black: the global collapse. One time axis for all.
    fig, axes, configs, norms = _panels(preset, sharex=True)
    for i, (dims, stds) in enumerate(configs):
        for j, norm in enumerate(norms):
            ax = axes[i, j]
            key = f"c{i}-g{0 if norm else 1}-P{P_show}"
            sw = _as_sweep(raw[key])
            tau = t_to_tau(sw.t)
            spec = BlockSpectrum.from_std(dims, stds, normalized=norm)
            measured = sw.singular_values * tau[:, None]
            # The authors' singular-value model, one line per block (sorted like the measurement).
            model = spec.singular_value_model(tau, P_show) * tau[:, None]
            starts = np.concatenate([[0], np.cumsum(dims)[:-1]])
            for k, (start, d) in enumerate(zip(starts, dims)):
                col = block_colors[k % len(block_colors)]
                ax.plot(sw.t, measured[:, start:start + d], color=col, lw=0.6, alpha=0.8)
                ax.plot(sw.t, np.minimum(model[:, start], 1.5), color=col, lw=3, alpha=0.3)
                # a rule earlier than the simulated window is drawn at its left edge
                ax.axvline(max(tau_to_t(spec.tau_gauss_rem(P_show)[k]), sw.t.min()), color=col, ls="--", lw=1)
                ax.axvline(max(tau_to_t(spec.tau_block(P_show)[k]), sw.t.min()), color=col, ls=":", lw=1.2)
                ax.plot([], [], color=col, lw=2, label=f"block {k + 1}: d = {d}, std = {stds[k]:g}")
            ax.axvline(tau_to_t(float(spec.tau_collapse(P_show).value)), color="k", lw=1, label="global collapse")
            ax.set_xscale("log")
            ax.set_xlim(sw.t.min(), sw.t.max())
            ax.set_xlabel("time $t$ (OU)")
            ax.set_ylabel(r"$\tau\,\varsigma_i$ (1 = normal; model cut at 1.5)")
            ax.set_title(f"dims {dims}, g = {spec.g}")
    handles = axes[0, 0].get_legend_handles_labels()[0]
    from matplotlib.lines import Line2D

    handles += [Line2D([], [], color="k", lw=0.6, label="measured (ranked directions)"),
                Line2D([], [], color="k", lw=3, alpha=0.3, label="model [AVS+24]"),
                Line2D([], [], color="k", ls="--", lw=1, label="Gaussian-REM rule"),
                Line2D([], [], color="k", ls=":", lw=1.2, label="per-block rule")]
    # one legend for the four panels, outside the data
    fig.legend(handles=handles, loc="outside lower center", ncols=4, fontsize=6.5)
    fig.suptitle(f"Empirical-score Jacobian spectra, {N}, P = {P_show}")
    figs["spectra"] = fig

    # 2. Surviving (local) dimension vs t for each P.
    fig, axes, configs, norms = _panels(preset)
    for i, (dims, stds) in enumerate(configs):
        for j, norm in enumerate(norms):
            ax = axes[i, j]
            for P in sizes:
                sw = _as_sweep(raw[f"c{i}-g{0 if norm else 1}-P{P}"])
                # the estimate is an integer per point: its mean over the points (a median of integers
                # jumps by halves), with two standard errors
                dim = np.asarray(sw.dimension, dtype=float)
                se = dim.std(axis=1, ddof=1) / np.sqrt(dim.shape[1]) if dim.shape[1] > 1 else np.zeros(len(dim))
                ax.errorbar(sw.t, dim.mean(axis=1), yerr=2 * se, marker=".", capsize=2, label=f"P = {P}")
            ax.set_xscale("log")
            ax.set_xlabel("time $t$ (OU)")
            ax.set_ylabel("local dimension\n(mean over points, ±2 s.e.)")
            ax.set_title(f"dims {dims}, g = {0 if norm else 1}")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside right center", fontsize=7)
    fig.suptitle(f"Local dimension (gap estimator) of the empirical score, {N}, {preset.points} points")
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
                            & (table["subspace"] == f"block {k + 1}") & (table["rule"] == PREDICTIONS[0])]
                ax.errorbar(sub["measured"], np.log(sub["P"]), xerr=error_bars(sub["measured"], sub["ci_low"], sub["ci_high"]), fmt="o", ms=4, color=c,
                            capsize=2, label=f"block {k + 1} (d = {dims[k]}, std = {stds[k]:g})")
            ax.plot(col, lnP, color="k", lw=1, label="global collapse")
            ax.plot([], [], color="k", ls="--", lw=1, label="Gaussian-REM rule")
            ax.plot([], [], color="k", ls=":", lw=1, label="per-block rule")
            ax.set_xscale("log")
            ax.set_xlim(left=max(1e-5, np.nanmin(blk[blk > 0]) / 2))
            ax.set_xlabel("time $t$ (OU)")
            ax.set_ylabel(r"$\ln P$")
            ax.set_title(f"dims {dims}, g = {g}")
            ax.legend(fontsize=6)
    fig.suptitle(f"Subspace loss, {N}: lost to the left of each curve\npoints: measured loss time ({conf} bootstrap interval over points)")
    figs["phase"] = fig
    return figs
