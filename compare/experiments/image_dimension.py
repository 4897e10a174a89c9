"""Local dimension of trained networks on images [AVS+24] (``regimes compare image-dimension``).

For scikit-learn's digits and 8 x 8 patches of scikit-image's images (``unit`` convention), at
each dataset size ``P`` one stage trains an MLP denoiser (EDM preconditioning) and measures, at
``points`` forward-noised training points per time, the local dimension of the network's score
(orthogonal-probe Jacobian, symmetrised) and of the exact empirical score (closed-form Jacobian)
at the same points, by both estimators: the largest multiplicative gap and the second-difference
spike (:mod:`simulate.jacobian`). The table compares, per dataset, P and score, the time at which
the mean gap dimension first falls below 1/2 (scanning down in t: the score has lost every tangent
direction) with the Gaussian ``t_C`` of that training set, where the exact score collapses.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..driver import Experiment, Reconciliation, Stage
from ..plots import new_panels
from ..presets import ImageDimensionPreset
from ..table import ComparisonRow

__all__ = ["ImageDimension", "dimension_loss_time"]

_FIELDS = ("width", "train_steps", "batch_size", "times", "points", "t_min", "t_max")


def dimension_loss_time(t, mean_dimension, level: float = 0.5) -> float:
    """Below the time of its largest value, where the mean dimension first falls under ``level``
    (scanning down in ``t``), interpolated linearly in ``ln t``; NaN when it never does on the
    grid. ``t`` decreasing."""
    t, d = np.asarray(t, dtype=float), np.asarray(mean_dimension, dtype=float)
    top = int(np.argmax(d))
    below = np.nonzero(d[top:] < level)[0]
    if d[top] < level or below.size == 0:
        return float("nan")
    j = top + int(below[0])
    frac = (d[j - 1] - level) / (d[j - 1] - d[j])
    return float(np.exp(np.log(t[j - 1]) + frac * (np.log(t[j]) - np.log(t[j - 1]))))


def _load(name: str, P: int, seed: int):
    from simulate.datasets import load_digits, load_patches

    if name == "digits":
        return load_digits(P=P if P < 1797 else None, seed=seed)
    return load_patches(k=8, P=P, seed=seed)


class ImageDimension(Experiment):
    """Trained MLPs against the exact empirical score: local dimension on digits and patches."""

    name = "image-dimension"
    caveats = (
        "t_C (Gaussian) treats the images as Gaussian with their empirical spectrum; the dimension-loss time is "
        "read at a fixed 1/2 level of the mean gap estimate (docs/networks.md)",
    )
    preset_type = ImageDimensionPreset
    version = 1

    def stages(self, preset, setup):
        """One stage per (dataset, P): training, then both scores' local dimensions over t."""
        return [Stage(f"{name}-P{P}", self._run, uses=_FIELDS, params={"dataset": name, "size": P})
                for name, P in preset.datasets()]

    @staticmethod
    def _run(ctx):
        import copy

        import torch

        from simulate.data import noised
        from simulate.jacobian import empirical_score_jacobian, local_dimension_gap, local_dimension_spike, probe_jacobian
        from simulate.networks import DenoiserScore, EDMPreconditioner, MLPDenoiser, TrainConfig, train_denoiser
        from simulate.scores import EmpiricalScore

        p, name, P = ctx.preset, ctx.stage.params["dataset"], ctx.stage.params["size"]
        ds = ctx.setup[(name, P)]["dataset"]  # the set whose t_C the table holds
        data = torch.as_tensor(ds.data, dtype=torch.float64, device=ctx.device)
        init = torch.Generator().manual_seed(ctx.seed("init"))
        net = EDMPreconditioner(MLPDenoiser(ds.N, p.width, 3, generator=init)).to(ctx.device)
        res = train_denoiser(net, data.float(), TrainConfig(steps=p.train_steps, batch_size=p.batch_size,
                                                            seed=ctx.seed(f"training-{name}-P{P}")), disable=ctx.disable)
        network = DenoiserScore(copy.deepcopy(res.ema).double())
        empirical = EmpiricalScore(data)
        gen = ctx.torch_generator("points")
        probes = torch.Generator(device=data.device).manual_seed(0)
        t_values = np.geomspace(p.t_max, p.t_min, p.times)
        out = {"t": t_values, "final_loss": np.array(float(np.mean(res.losses[-100:])))}
        for key in ("net_gap", "net_spike", "emp_gap", "emp_spike"):
            out[key] = np.zeros((p.times, p.points))
        for i, t in enumerate(t_values):
            x, _ = noised(data, float(t), p.points, generator=gen)
            var = -math.expm1(-2.0 * float(t))
            J_net = probe_jacobian(network, x, float(t), step=1e-3 * math.sqrt(var), generator=probes)
            for label, J in (("net", 0.5 * (J_net + J_net.transpose(1, 2))),
                             ("emp", empirical_score_jacobian(empirical, x, float(t)))):
                sv = torch.linalg.svdvals(J).double().cpu().numpy()
                out[f"{label}_gap"][i] = local_dimension_gap(sv)
                out[f"{label}_spike"][i] = local_dimension_spike(sv)
        return out

    def setup(self, preset):
        """Each training set (subsample and patch positions from the stream ``data-NAME-PP``) and its
        Gaussian t_C (its own spectrum and alpha = ln P / N)."""
        from theory.data import data_spectrum
        from theory.gaussian import collapse_time

        from ..driver import stream_seed

        out = {}
        for name, P in preset.datasets():
            ds = _load(name, P, stream_seed(preset.seed, f"data-{name}-P{P}") % (2 ** 31))
            lam, _ = data_spectrum(ds.data)
            out[(name, P)] = {"dataset": ds, "t_C": float(collapse_time(lam, math.log(ds.P) / ds.N).value),
                              "t_S": 0.5 * math.log(lam[0]), "N": ds.N, "P": ds.P}
        return out

    def reconcile(self, preset, setup, raw):
        """Per dataset, P and score: the time the mean gap dimension first falls below 1/2, with a
        bootstrap over points, against the Gaussian t_C."""
        from simulate.stats import bootstrap_interval

        conf = preset.confidence
        rng = np.random.default_rng(preset.seed)
        rows, theory = [], {}
        for name, P in preset.datasets():
            r = raw[f"{name}-P{P}"]
            th = setup[(name, P)]
            theory[f"{name}-P{P}"] = {**{k: v for k, v in th.items() if k != "dataset"},
                                      "final_loss": float(r["final_loss"])}
            t = np.asarray(r["t"])
            for label, who in (("empirical", "emp"), (f"MLP width {preset.width}", "net")):
                for estimator in ("gap", "spike"):
                    dims = np.asarray(r[f"{who}_{estimator}"])
                    est, lo, hi = bootstrap_interval(lambda d: dimension_loss_time(t, d.mean(axis=1)), dims,
                                                     confidence=conf, n_resamples=300, rng=rng, axis=1, strata_axis=0)
                    rows.append(ComparisonRow(f"local dimension lost ({estimator} estimator, mean < 1/2)", "t_C^gauss",
                                              th["t_C"], est, lo, hi, conf, tolerance=0.25,
                                              note=f"{preset.points} points per time; bootstrap over points; "
                                                   "interpolated in ln t",
                                              extra={"dataset": name, "P": P, "score": label, "estimator": estimator}))
        return Reconciliation(rows, theory)

    def summary_line(self, table: pd.DataFrame) -> str:
        """How many networks lose their local dimension at all (gap estimator), against the empirical score."""
        table = table[table["estimator"] == "gap"]
        nets = table[table["score"] != "empirical"]
        lost = int(np.isfinite(nets["measured"].astype(float)).sum())
        return f"{lost} of {len(nets)} networks lose their local dimension on the grid (the empirical score: " \
               f"{int(np.isfinite(table[table['score'] == 'empirical']['measured'].astype(float)).sum())} of " \
               f"{len(table) - len(nets)})"

    def figures(self, preset, setup, raw, rec):
        """dimension: mean local dimension (both estimators) against t per dataset, network and empirical score."""
        from ..style import STYLE

        names = list(dict.fromkeys(n for n, _ in preset.datasets()))
        fig, axes = new_panels(2, len(names), panel_aspect=0.75, sharex="all")
        for col, name in enumerate(names):
            sizes = [P for n, P in preset.datasets() if n == name]
            for row, estimator in enumerate(("gap", "spike")):
                ax = axes[row, col]
                for j, P in enumerate(sizes):
                    r, color = raw[f"{name}-P{P}"], STYLE.series[(j + 1) % len(STYLE.series)]
                    for who, ls, label in (("net", "-", f"MLP, P = {P}"), ("emp", "--", f"empirical, P = {P}")):
                        d = np.asarray(r[f"{who}_{estimator}"])
                        se = d.std(axis=1, ddof=1) / np.sqrt(d.shape[1])
                        ax.errorbar(r["t"], d.mean(axis=1), yerr=2 * se, fmt="o" + ls, ms=3, capsize=2, color=color,
                                    label=label)
                    ax.axvline(setup[(name, P)]["t_C"], color=color, ls=":", lw=1,
                               label=f"Gaussian $t_C$, P = {P}: {setup[(name, P)]['t_C']:.3g}")
                ax.set_xscale("log")
                ax.set_xlabel("time $t$ (OU)")
                ax.set_ylabel(f"dimension ({estimator})")
                ax.set_title(f"{name} (N = 64), {estimator} estimator")
                ax.legend(fontsize=5.5)
        fig.suptitle(f"Local dimension, MLPs (width {preset.width}, {preset.train_steps} steps) and the empirical "
                     f"score; mean over {preset.points} points, ±2 s.e.")
        return {"dimension": fig}
