"""Geometric memorisation in trained networks [AVS+24] (``regimes compare subspaces-networks``).

[AVS+24] claims that the subspaces of linear-manifold data are lost at different times and sizes
set by their variance, the high-variance ones first, and showed it with trained networks. Here,
for every dataset size ``P``, one **empirical** stage runs the subspaces sweep with the exact
empirical score (:func:`simulate.subspaces.subspace_sweep`), and one stage per **width** trains
an MLP denoiser (EDM preconditioning, :func:`simulate.networks.train_denoiser`) on the same data and
runs the same sweep on the network's score at the same points: its Jacobian (orthogonal probes)
gives the posterior covariance it implies, and the same lost rule (half the points retain less
than :data:`simulate.jacobian.LOST_FRACTION` of a block's generalising variance) gives its loss
time per block. Both are held against the per-direction Gaussian-REM rule, the per-block rule and
the global collapse, in one table (``score`` column), and the summary says per score whether the
blocks are lost in order of their variance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from theory.conventions import tau_to_t
from theory.subspaces import BlockSpectrum

from ..driver import Experiment, Reconciliation, Stage
from ..plots import THEORY_COLOR, error_bars, new_panels
from ..presets import SubspacesNetworksPreset
from ..table import ComparisonRow
from .subspaces import PREDICTIONS, _GLOBAL, _as_sweep, block_rows

__all__ = ["SubspacesNetworks", "block_order"]

_SWEEP_FIELDS = ("dims", "std", "normalized", "times", "points", "tau_min", "tau_max")
_TRAIN_FIELDS = ("train_steps", "batch_size")


def block_order(times, lows, highs) -> str:
    """``"ordered"`` when the loss times fall strictly with the blocks' variance (blocks given from
    the largest variance down) with non-overlapping intervals, ``"ordered (overlapping)"`` when
    only the estimates do, ``"not ordered"`` otherwise, ``"incomplete"`` with a missing time."""
    times, lows, highs = (np.asarray(v, dtype=float) for v in (times, lows, highs))
    if not np.all(np.isfinite(times)):
        return "incomplete"
    if not np.all(np.diff(times) < 0):
        return "not ordered"
    return "ordered" if np.all(lows[:-1] > highs[1:]) else "ordered (overlapping)"


class SubspacesNetworks(Experiment):
    """Trained MLP denoisers against the exact empirical score on linear-manifold data."""

    name = "subspaces-networks"
    caveats = (
        "the network's loss time reads the posterior covariance its Jacobian implies, Cov = tau (I + tau e^{-2t} J), "
        "which is exact for the empirical score; a network that has not converged can imply a covariance that no "
        "posterior has (docs/subspaces.md)",
    )
    preset_type = SubspacesNetworksPreset
    version = 1

    def stages(self, preset, setup):
        """``empirical-P{P}``, then ``net-w{w}-P{P}`` per width; one data stream and one point stream per P."""
        out = []
        for P in preset.sizes():
            out.append(Stage(f"empirical-P{P}", self._empirical, uses=_SWEEP_FIELDS, params={"size": P}))
            for w in preset.widths():
                out.append(Stage(f"net-w{w}-P{P}", self._network, uses=_SWEEP_FIELDS + _TRAIN_FIELDS,
                                 params={"size": P, "width": w}))
        return out

    @staticmethod
    def _data(ctx, dtype):
        import torch

        from simulate.data import block_gaussian

        p, P = ctx.preset, ctx.stage.params["size"]
        return block_gaussian(p.block_dims(), p.stds(), P, normalized=p.normalized == "yes",
                              generator=ctx.torch_generator(f"data-P{P}"), dtype=dtype, device=ctx.device)

    @staticmethod
    def _sweep(ctx, ds, score=None):
        from simulate.subspaces import subspace_sweep

        p, P = ctx.preset, ctx.stage.params["size"]
        t_values = tau_to_t(np.logspace(np.log10(p.tau_min), np.log10(p.tau_max), p.times))
        sw = subspace_sweep(ds.data, np.asarray(p.stds()) ** 2, ds.params["blocks"], t_values, p.points,
                            generator=ctx.torch_generator(f"points-P{P}"), disable=ctx.disable, score=score)
        return {"t": sw.t, "retained": sw.retained, "dimension": sw.dimension, "singular_values": sw.singular_values,
                "max_weight": sw.max_weight}

    def _empirical(self, ctx):
        import torch

        return self._sweep(ctx, self._data(ctx, torch.float64))

    def _network(self, ctx):
        import copy

        import torch

        from simulate.networks import DenoiserScore, EDMPreconditioner, MLPDenoiser, TrainConfig, train_denoiser

        p, P, w = ctx.preset, ctx.stage.params["size"], ctx.stage.params["width"]
        ds = self._data(ctx, torch.float64)
        sigma_data = float(ds.data.var(dim=0).mean().sqrt())
        init = torch.Generator().manual_seed(ctx.seed(f"init-w{w}"))
        net = EDMPreconditioner(MLPDenoiser(ds.N, w, 3, generator=init), sigma_data=sigma_data).to(ctx.device)
        res = train_denoiser(net, ds.data.float(), TrainConfig(steps=p.train_steps, batch_size=p.batch_size,
                                                               seed=ctx.seed(f"training-P{P}-w{w}")),
                             disable=ctx.disable)
        # float64 copy of the EMA weights: probe differences at small t need the precision
        score = DenoiserScore(copy.deepcopy(res.ema).double())
        out = self._sweep(ctx, ds, score)
        out["final_loss"] = np.array(float(np.mean(res.losses[-100:])))
        return out

    def reconcile(self, preset, setup, raw):
        """Per P, block and score one row per rule; the global condensation per P."""
        conf, tol = preset.confidence, preset.tolerance
        dims, stds = preset.block_dims(), preset.stds()
        rows, theory = [], {"order": {}}
        for P in preset.sizes():
            spec = BlockSpectrum.from_std(dims, stds, normalized=preset.normalized == "yes")
            theory[f"P{P}"] = spec.summary(P)
            t_col = tau_to_t(float(spec.tau_collapse(P).value))
            scores = [("empirical", f"empirical-P{P}")] + [(f"MLP width {w}", f"net-w{w}-P{P}") for w in preset.widths()]
            order = np.argsort(stds)[::-1]
            for label, key in scores:
                measured = _as_sweep(raw[key]).critical_times(confidence=conf, seed=preset.seed)
                theory["order"][f"{label}, P = {P}"] = block_order(*(np.array([measured[k][i] for k in order])
                                                                     for i in range(3)))
                loss = float(raw[key]["final_loss"]) if "final_loss" in raw[key] else float("nan")
                rows += block_rows(spec, P, measured, stds, conf, tol, {"P": P, "score": label, "final_loss": loss})
            sw = _as_sweep(raw[f"empirical-P{P}"])
            m, lo, hi = sw.condensation_time(confidence=conf, seed=preset.seed)
            rows.append(ComparisonRow("global condensation (median largest weight > 1/2)", "t_collapse", t_col, m, lo,
                                      hi, conf, tol, "the points' empirical weights (the same for every score)",
                                      extra={"P": P, "score": "empirical", "subspace": _GLOBAL, "dim": spec.N,
                                             "std": float("nan"), "rule": "collapse", "closest": "collapse",
                                             "final_loss": float("nan")}))
        return Reconciliation(rows, theory)

    def summary_line(self, table: pd.DataFrame) -> str:
        """Per score, which prediction is closest to its block losses how often (the variance-order verdicts
        are in theory.json, "order")."""
        blocks = table[(table["subspace"] != _GLOBAL) & (table["rule"] == PREDICTIONS[0])]
        parts = []
        for score, sub in blocks.groupby("score", sort=False):
            closest = sub["closest"].value_counts().to_dict()
            parts.append(f"{score}: closest " + ", ".join(f"{k} {v}" for k, v in closest.items()))
        return f"{len(blocks)} block losses; " + "; ".join(parts)

    def figures(self, preset, setup, raw, rec):
        """loss_times: per P, each score's measured loss time per block against both rules."""
        return {"loss_times": _figure(preset, rec.table)}


def _figure(preset, table):
    from ..style import STYLE

    sizes = preset.sizes()
    fig, axes = new_panels(1, len(sizes), panel_aspect=1.1)
    scores = list(dict.fromkeys(table["score"]))
    colors = dict(zip(scores, ["k", *[c for c in STYLE.series if c != THEORY_COLOR]]))
    markers = dict(zip(scores, "osD^v<>"))
    for ax, P in zip(axes[0], sizes):
        sub = table[(table["P"] == P) & (table["subspace"] != _GLOBAL) & (table["rule"] == PREDICTIONS[0])]
        blocks = list(dict.fromkeys(sub["subspace"]))
        x = np.arange(len(blocks))
        for j, score in enumerate(scores):
            s = sub[sub["score"] == score].set_index("subspace").loc[blocks]
            ax.errorbar(x + 0.08 * (j - 1), s["measured"], yerr=error_bars(s["measured"], s["ci_low"], s["ci_high"]),
                        fmt=markers[score], color=colors[score], capsize=2, ms=4,
                        label=f"{score} ({preset.confidence:.0%} bootstrap)")
        rules = table[(table["P"] == P) & (table["subspace"] != _GLOBAL) & (table["score"] == scores[0])]
        for rule, ls, label in (("gauss_rem", "--", "Gaussian-REM rule"), ("block", ":", "per-block rule")):
            r = rules[rules["rule"] == rule].set_index("subspace").loc[blocks]
            ax.plot(x, r["theory"], ls, color=THEORY_COLOR, marker="_", ms=12, label=label)
        col = table[(table["P"] == P) & (table["subspace"] == _GLOBAL)]["theory"].iloc[0]
        ax.axhline(col, color="0.35", ls="-.", lw=0.9, label="global collapse (theory)")
        never = [sc for sc in scores if sub[sub["score"] == sc]["measured"].isna().all()]
        if never:  # a score that keeps every block has no point to draw: say so in the panel
            ax.text(0.03, 0.03, "no block lost on the grid:\n" + "\n".join(never), transform=ax.transAxes,
                    fontsize=6, va="bottom")
        ax.set_yscale("log")
        ax.set_xticks(x, [f"{b}\nstd {s:g}" for b, s in zip(blocks, preset.stds())])
        ax.set_xlabel("block (variance falls to the right)")
        ax.set_ylabel("loss time $t$ (OU)")
        ax.set_title(f"P = {P}")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=6.5)
    fig.suptitle(f"Subspace loss: trained MLPs vs the empirical score, N = {sum(preset.block_dims())}, "
                 f"g = {0 if preset.normalized == 'yes' else 1}, {preset.train_steps} training steps")
    return fig
