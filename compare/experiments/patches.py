"""Image patches at fixed N = k^2: the collapse time as a function of P, predicted from the data
(Gaussian approximation with each subset's spectrum; leave-one-out excess-entropy estimator) and
measured with the empirical score. Subsets are nested: the first P rows of one shuffled pool of
patches, preprocessed once."""

from __future__ import annotations

import numpy as np

from theory.data import data_spectrum
from theory.gaussian import collapse_time

from ..driver import Experiment, Reconciliation, Stage
from ..plots import ALT_COLOR, MEASURED_COLOR, THEORY_COLOR, error_bars, new_figure
from ..presets import PatchesPreset
from ..table import ComparisonRow
from .real_data import GAUSSIAN_T_C_CAVEAT, collapse_stage, entropy_stage, entropy_zero

__all__ = ["Patches"]


def _gaussian(pool, P: int) -> tuple[float, float]:
    lam, _ = data_spectrum(pool.data[:P])
    return float(0.5 * np.log(lam[0])), float(collapse_time(lam, np.log(P) / pool.N).value)


class Patches(Experiment):
    """k x k image patches at several P: predicted t_C(P) against measured collapse."""

    name = "patches"
    caveats = (GAUSSIAN_T_C_CAVEAT,)
    preset_type = PatchesPreset
    version = 2

    def setup(self, preset):
        """One shuffled pool of patches (numpy stream ``pool``), preprocessed once; per P the
        spectrum's ``t_S`` and Gaussian ``t_C`` of the first P rows."""
        from simulate.datasets import load_patches
        from ..driver import stream_seed

        pool = load_patches(k=preset.k, P=max(preset.sizes()), seed=stream_seed(preset.seed, "pool"),
                            scale=preset.scale)
        return {"pool": pool, "gaussian": {P: _gaussian(pool, P) for P in preset.sizes()}}

    def stages(self, preset, setup):
        """Per P: collapse and entropy, each with its own stream (``collapse-P{P}``, ``entropy-P{P}``)."""
        data = ("k", "scale")
        out = []
        for P in preset.sizes():
            params = {"size": P, "pool": max(preset.sizes())}  # subsets are the first P rows of the pool
            out.append(Stage(f"collapse-P{P}", self._collapse, uses=data + ("trajectories", "steps"), params=params))
            out.append(Stage(f"entropy-P{P}", self._entropy, uses=data + ("entropy_samples",), params=params))
        return out

    @staticmethod
    def _subset(ctx):
        import torch

        P = ctx.stage.params["size"]
        return torch.as_tensor(ctx.setup["pool"].data[:P], dtype=torch.float64, device=ctx.device)

    def _collapse(self, ctx):
        t_gauss = ctx.setup["gaussian"][ctx.stage.params["size"]][1]
        return collapse_stage(self._subset(ctx), max(2.0 * t_gauss, 0.5), trajectories=ctx.preset.trajectories,
                              steps=ctx.preset.steps, generator=ctx.torch_generator(), progress=ctx.progress)

    def _entropy(self, ctx):
        t_gauss = ctx.setup["gaussian"][ctx.stage.params["size"]][1]
        return entropy_stage(self._subset(ctx), t_gauss, samples=ctx.preset.entropy_samples,
                             generator=ctx.torch_generator(), progress=ctx.progress)

    def reconcile(self, preset, setup, raw):
        """Per P the condensation median against both t_C estimates."""
        from simulate.observables import condensation_times_from_weights, lock_in_times_from_indices
        from simulate.stats import median_interval

        conf = preset.confidence
        pool = setup["pool"]
        rows, per_p = [], {}
        for P in preset.sizes():
            t_s, t_gauss = setup["gaussian"][P]
            coll = raw[f"collapse-P{P}"]
            cond = condensation_times_from_weights(coll["times"], coll["max_weight"])
            lock = lock_in_times_from_indices(coll["times"], coll["nearest_index"])
            cm, clo, chi = median_interval(cond, conf)
            lm, llo, lhi = median_interval(lock, conf)
            t_ent, elo, ehi = entropy_zero(raw[f"entropy-P{P}"], conf)
            per_p[P] = {"alpha": float(np.log(P) / pool.N), "t_S": t_s, "t_C_gaussian": t_gauss, "t_C_entropy": t_ent,
                        "t_C_entropy_ci": [elo, ehi], "measured_condensation": [cm, clo, chi],
                        "measured_lock_in": [lm, llo, lhi]}
            rows.append(ComparisonRow(f"collapse time at P = {P}, Gaussian approximation", "t_C^gauss", t_gauss, cm,
                                      clo, chi, conf, tolerance=0.10,
                                      note="measured: largest weight stays above 1/2 (median)", extra={"P": P}))
            rows.append(ComparisonRow(f"collapse time at P = {P}, entropy estimator", "t_C^entropy", t_ent, cm, clo,
                                      chi, conf, tolerance=0.10,
                                      note=f"theory interval {elo:.4g}..{ehi:.4g}; measured: largest weight > 1/2",
                                      extra={"P": P}))
        th = {"N": pool.N, "k": preset.k, "preprocessing": pool.preprocessing, "per_P": per_p}
        return Reconciliation(rows, th)

    def figures(self, preset, setup, raw, rec):
        """collapse_vs_P."""
        return {"collapse_vs_P": _figure(preset, setup["pool"], rec.theory["per_P"])}


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
                color=THEORY_COLOR, capsize=2, label=f"entropy estimator, zero of $f^e$ ({preset.confidence:.0%} interval)")
    level = f"median, {preset.confidence:.0%} interval"
    for key, color, label in [("measured_condensation", MEASURED_COLOR, f"measured: largest weight > 1/2 ({level})"),
                              ("measured_lock_in", ALT_COLOR, f"measured: nearest point fixed ({level})")]:
        m = np.array([per_p[P][key] for P in sizes])
        ax.errorbar(sizes * 1.03, m[:, 0], yerr=error_bars(m[:, 0], m[:, 1], m[:, 2]), fmt="o", ms=4, color=color,
                    capsize=2, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("number of patches $P$")
    ax.set_ylabel("collapse time $t_C$ (OU)")
    ax.set_title(f"Collapse of {preset.k} x {preset.k} image patches (N = {pool.N}) against P, "
                 f"{preset.trajectories} trajectories")
    ax.legend(fontsize=7)
    return fig
