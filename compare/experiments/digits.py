"""Two digit classes of scikit-learn's digits: speciation and collapse measured with the
empirical score, against the spectrum's ``t_S`` and both ``t_C`` estimates (Gaussian
approximation with the data's spectrum; leave-one-out excess-entropy estimator)."""

from __future__ import annotations

import numpy as np

from theory import PHI_AT_BIMODALITY
from theory.mixture import TwoClassMixture
from theory.data import data_spectrum, speciation_hierarchy
from theory.gaussian import collapse_time

from ..driver import Experiment, Reconciliation, Stage
from ..plots import ALT_COLOR, MEASURED_COLOR, THEORY_COLOR, error_bars, new_figure
from ..presets import DigitsPreset
from ..table import ComparisonRow
from .real_data import GAUSSIAN_T_C_CAVEAT, cloning_stage, collapse_stage, entropy_stage, entropy_zero

__all__ = ["Digits"]


def _theory(ds) -> dict:
    lam, _ = data_spectrum(ds.data)
    alpha = np.log(ds.P) / ds.N
    return {"N": ds.N, "P": ds.P, "alpha": float(alpha), "Lambda": float(lam[0]), "t_S": float(0.5 * np.log(lam[0])),
            "speciation_hierarchy": speciation_hierarchy(lam).tolist(),
            "t_C_gaussian": float(collapse_time(lam, alpha).value), "preprocessing": ds.preprocessing,
            "spectrum": lam.tolist()}


class Digits(Experiment):
    """Two classes of scikit-learn's digits against the spectrum's t_S and both t_C estimates."""

    name = "digits"
    caveats = (GAUSSIAN_T_C_CAVEAT,)
    preset_type = DigitsPreset
    version = 2

    def setup(self, preset):
        """The selected, preprocessed digits and their spectral predictions."""
        from simulate.datasets import load_digits

        ds = load_digits(classes=preset.class_list(), scale=preset.scale)
        return {"dataset": ds, "theory": _theory(ds)}

    def stages(self, preset, setup):
        """cloning, collapse, entropy (streams of the same names)."""
        data = ("classes", "scale")
        return [Stage("cloning", self._cloning, uses=data + ("pairs", "clone_steps")),
                Stage("collapse", self._collapse, uses=data + ("trajectories", "steps")),
                Stage("entropy", self._entropy, uses=data + ("entropy_samples",))]

    @staticmethod
    def _tensor(ctx):
        import torch

        return torch.as_tensor(ctx.setup["dataset"].data, dtype=torch.float64, device=ctx.device)

    def _cloning(self, ctx):
        return cloning_stage(self._tensor(ctx), ctx.setup["dataset"].labels, ctx.setup["theory"]["t_S"],
                             pairs=ctx.preset.pairs, steps=ctx.preset.clone_steps, generator=ctx.torch_generator(),
                             progress=ctx.progress)

    def _collapse(self, ctx):
        return collapse_stage(self._tensor(ctx), ctx.setup["theory"]["t_S"], trajectories=ctx.preset.trajectories,
                              steps=ctx.preset.steps, generator=ctx.torch_generator(), progress=ctx.progress)

    def _entropy(self, ctx):
        return entropy_stage(self._tensor(ctx), ctx.setup["theory"]["t_C_gaussian"],
                             samples=ctx.preset.entropy_samples, generator=ctx.torch_generator(),
                             progress=ctx.progress)

    def reconcile(self, preset, setup, raw):
        """Speciation crossing against t_S; condensation and lock-in against both t_C estimates."""
        from simulate.observables import CloningResult, condensation_times_from_weights, lock_in_times_from_indices
        from simulate.stats import median_interval

        conf = preset.confidence
        th = dict(setup["theory"])
        t_ent, ent_lo, ent_hi = entropy_zero(raw["entropy"], conf)
        th["t_C_entropy"], th["t_C_entropy_ci"] = t_ent, [ent_lo, ent_hi]
        cr = CloningResult(raw["cloning"]["branch_times"], raw["cloning"]["same_class"], raw["cloning"]["same_point"])
        t_cross, lo, hi = cr.crossing_interval(PHI_AT_BIMODALITY, confidence=conf, n_resamples=500, seed=preset.seed)
        coll = raw["collapse"]
        lock = lock_in_times_from_indices(coll["times"], coll["nearest_index"])
        cond = condensation_times_from_weights(coll["times"], coll["max_weight"])
        lm, llo, lhi = median_interval(lock, conf)
        cm, clo, chi = median_interval(cond, conf)
        ent_note = f"leave-one-out excess-entropy zero, {th['t_C_entropy_ci'][0]:.4g}..{th['t_C_entropy_ci'][1]:.4g}"
        rows = [
            ComparisonRow("speciation time (top eigenvalue)", "t_S", th["t_S"], t_cross, lo, hi, conf, tolerance=0.03,
                          note="measured: crossing of phi = 0.7752 (exact level for a symmetric Gaussian mixture "
                               "only); class = label of the nearest training point"),
            ComparisonRow("collapse time, Gaussian approximation", "t_C^gauss", th["t_C_gaussian"], cm, clo, chi, conf,
                          tolerance=0.10, note="measured: largest weight stays above 1/2 (median)"),
            ComparisonRow("collapse time, entropy estimator", "t_C^entropy", th["t_C_entropy"], cm, clo, chi, conf,
                          tolerance=0.10, note=f"measured: largest weight stays above 1/2 (median); theory: {ent_note}"),
            ComparisonRow("collapse time, entropy estimator", "t_C^entropy", th["t_C_entropy"], lm, llo, lhi, conf,
                          tolerance=0.10, note="measured: nearest training point fixed (median lock-in time)"),
        ]
        return Reconciliation(rows, th, {"cloning": cr, "lock": lock, "cond": cond, "crossing": (t_cross, lo, hi)})

    def figures(self, preset, setup, raw, rec):
        """speciation, collapse, entropy."""
        e = rec.extra
        return _figures(preset, rec.theory, e["cloning"], raw["collapse"], e["lock"], e["cond"], raw["entropy"],
                        e["crossing"])


def _figures(preset, th, cr, coll, lock, cond, ent, crossing):
    from simulate.observables import fraction_at_or_after
    from simulate.stats import binomial_interval, median_interval

    figs = {}
    fig, ax = new_figure()
    lo, hi = cr.phi_interval(preset.confidence)
    phi = cr.phi()
    ax.errorbar(cr.branch_times, phi, yerr=error_bars(phi, lo, hi), fmt="o", color=MEASURED_COLOR, ms=4, capsize=2,
                label=f"same class ({preset.confidence:.0%} intervals)")
    same = cr.same_point.mean(axis=0)
    slo, shi = binomial_interval(np.round(same * cr.same_point.shape[0]), cr.same_point.shape[0], preset.confidence)
    ax.errorbar(cr.branch_times, same, yerr=error_bars(same, slo, shi), fmt="s-", color=ALT_COLOR, ms=3, capsize=2,
                label=f"same training point ({preset.confidence:.0%} intervals)")
    if th["Lambda"] > 1:
        # the theory curve of the one-direction model: a symmetric two-Gaussian mixture with this top
        # eigenvalue (|m|^2 = Lambda - 1, unit variance elsewhere, as the unit convention makes the data)
        model = TwoClassMixture(N=1, P=2, mu=float(np.sqrt(th["Lambda"] - 1.0)), sigma=1.0)
        tt = np.linspace(min(cr.branch_times) * 0.9, max(cr.branch_times) * 1.05, 200)
        ax.plot(tt, model.cloning_probability(tt), color=THEORY_COLOR, lw=1.2,
                label="two-Gaussian model with this $\\Lambda$ ($|m|^2 = \\Lambda - 1$, $\\sigma = 1$)")
    ax.axhline(PHI_AT_BIMODALITY, color=ALT_COLOR, lw=0.8, ls=":",
               label=f"level {PHI_AT_BIMODALITY:.4f}: its crossing is the measured $t_S$")
    ax.axvline(th["t_S"], color=THEORY_COLOR, ls="--", label=f"theory $t_S = \\ln(\\Lambda)/2$ = {th['t_S']:.3f}")
    ax.axvspan(crossing[1], crossing[2], color=MEASURED_COLOR, alpha=0.15,
               label=f"measured crossing {crossing[0]:.3f} ({preset.confidence:.0%} interval)")
    ax.set_xlabel("branch time $t$ (OU)")
    ax.set_ylabel("fraction of clone pairs")
    ax.set_title(f"Digits {preset.classes}: cloning, N = {th['N']}, P = {th['P']} ({cr.n_pairs} pairs)")
    ax.legend(fontsize=7, loc="lower right", bbox_to_anchor=(1.0, 0.06))  # the empty corner above the floor
    figs["speciation"] = fig

    fig, ax = new_figure()
    grid = coll["times"][::-1]
    ax.plot(grid, fraction_at_or_after(lock, grid), color=MEASURED_COLOR, label="nearest point fixed")
    ax.plot(grid, fraction_at_or_after(cond, grid), color=ALT_COLOR, label="largest weight > 1/2")
    ax.axvline(th["t_C_gaussian"], color=THEORY_COLOR, ls="--", label=f"Gaussian $t_C$ = {th['t_C_gaussian']:.3f}")
    ax.axvline(th["t_C_entropy"], color=THEORY_COLOR, ls=":", label=f"entropy $t_C$ = {th['t_C_entropy']:.3f}")
    for values, color, what in ((lock, MEASURED_COLOR, "nearest point fixed"), (cond, ALT_COLOR, "largest weight")):
        med, mlo, mhi = median_interval(np.asarray(values, dtype=float)[np.isfinite(values)], preset.confidence)
        ax.axvspan(mlo, mhi, color=color, alpha=0.15, label=f"median, {what}: {med:.3f} ({preset.confidence:.0%})")
    ax.axhline(0.5, color="k", lw=0.6, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("time $t$ (OU)")
    ax.set_ylabel("fraction of trajectories collapsed")
    ax.set_title(f"Digits {preset.classes}: collapse, N = {th['N']}, P = {th['P']}")
    ax.legend(fontsize=8)
    figs["collapse"] = fig

    fig, ax = new_figure()
    a = th["alpha"]
    ax.errorbar(ent["t"], ent["f"] / a, yerr=2 * ent["stderr"] / a, fmt="o", ms=3, color=MEASURED_COLOR,
                label="$f^e$, all points (±2 s.e.)")
    ax.errorbar(ent["t"], ent["f_rest"] / a, yerr=2 * ent["stderr_rest"] / a, fmt="s", ms=3, color=ALT_COLOR,
                label="$f^e$, leave-one-out (±2 s.e.)")
    ax.axvline(th["t_C_entropy"], color=THEORY_COLOR, ls=":", label=f"entropy $t_C$ = {th['t_C_entropy']:.3f}")
    ax.axvline(th["t_C_gaussian"], color=THEORY_COLOR, ls="--", label=f"Gaussian $t_C$ = {th['t_C_gaussian']:.3f}")
    lam = np.asarray(th["spectrum"])
    from theory.gaussian import excess_entropy

    tt = np.linspace(ent["t"].min(), ent["t"].max(), 200)
    ax.plot(tt, excess_entropy(tt, lam, a) / a, color=THEORY_COLOR, label="Gaussian, data spectrum")
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xlabel("time $t$ (OU)")
    ax.set_ylabel("$f/\\alpha$")
    ax.set_title(f"Digits {preset.classes}: excess entropy near the collapse, N = {th['N']}, P = {th['P']}")
    ax.legend(fontsize=8)
    figs["entropy"] = fig
    return figs
