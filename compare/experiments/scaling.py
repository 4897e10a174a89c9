"""The finite-size scaling studies (:mod:`compare.scaling`): which experiment stages each
``(N, seed)`` unit runs, what it measures, and the theory at N = infinity and at finite N.

* :class:`MixtureScaling`: two-class mixture at fixed ``alpha``: REM condensation, lock-in and the
  entropy estimator's zero against ``t_C`` (finite-N: ``t_C^N``), the speciation crossing as a
  difference from ``t_S(N) = ln Lambda(N) / 2``, the cloning probability at ``kappa = 1`` per size.
* :class:`HmmScaling`: hidden-manifold ``t_c`` and ``t_o`` per ``(phi, alpha_D)``, each seed with
  its own ``F`` (linear phi: the theory for that ``F``'s spectrum at every N).
* :class:`SubspacesScaling`: loss times of the first two blocks of a sphere-normalised block
  spectrum whose block dimensions grow with N at fixed fractions, against the per-direction rule,
  the per-block rule and the global collapse, and the global condensation.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from theory import PHI_AT_BIMODALITY, TwoClassMixture
from theory.conventions import tau_to_t

from ..driver import Stage
from ..presets import HmmScalingPreset, MixtureScalingPreset, SubspacesScalingPreset
from ..scaling import ScaledQuantity, ScalingStudy

__all__ = ["MixtureScaling", "HmmScaling", "SubspacesScaling"]


class MixtureScaling(ScalingStudy):
    """Two-class Gaussian mixture [BBBM24] at fixed ``alpha = ln P / N``."""

    name = "gaussian-mixture"
    experiment = "gaussian-mixture"
    preset_type = MixtureScalingPreset
    version = 2
    #: The collapse trajectories stop at t = 0.25 instead of 0.05: nothing moves the lock-in or the
    #: condensation below t ~ t_C / 4, and the steps saved there halve the Euler-Maruyama step
    #: around t_C, whose bias on the measured times is what limits the extrapolation (docs/scaling.md).
    COLLAPSE_END = 0.25
    #: The GPU preset: alpha = 0.04, N = 128 .. 345 (P = 167 .. 10^6).
    large_preset = MixtureScalingPreset(sizes="128,192,256,345", alpha=0.04, trajectories=400, device="cuda")

    def unit_stages(self, unit, setup):
        """The experiment's cloning and collapse stages, and the leave-one-out entropy zero."""
        stages = {s.name: s for s in self.definition.stages(unit, setup)}
        collapse = dataclasses.replace(stages["collapse"], params={**stages["collapse"].params,
                                                                   "t_end": self.COLLAPSE_END})
        return [stages["cloning"], collapse,
                Stage("entropy-zero", self._entropy_zero, uses=("N", "P", "mu", "sigma", "dtype", "entropy_samples"),
                      params={"t_guess": float(setup["summary"]["t_C_finite_N"])})]

    def _entropy_zero(self, ctx):
        from .real_data import entropy_stage

        data = self.definition._training_set(ctx)
        return entropy_stage(data, ctx.stage.params["t_guess"], samples=ctx.preset.entropy_samples,
                             generator=ctx.torch_generator(), progress=False)

    def quantities(self, preset):
        """Condensation, lock-in, entropy zero (vs t_C), speciation difference, phi at kappa = 1."""
        # leading order is intensive: evaluate it at alpha exactly (a large N, P = e^{alpha N}
        # as an integer), not at the rounded P of the smallest size
        big = 1000
        t_c = float(TwoClassMixture(big, int(round(math.exp(preset.alpha * big))), preset.mu,
                                    preset.sigma).collapse_time().value)
        return [
            ScaledQuantity("condensation", "collapse: largest weight stays > 1/2 (REM condensation)", "t_C", t_c,
                           ansatz="ln(N)/N", note="median over trajectories per seed"),
            ScaledQuantity("lock_in", "collapse: nearest training point fixed (lock-in)", "t_C", t_c, ansatz="ln(N)/N",
                           note="median over trajectories per seed"),
            ScaledQuantity("entropy_zero", "collapse: zero of the leave-one-out excess-entropy estimator", "t_C", t_c,
                           note="linear interpolation between 12 times"),
            ScaledQuantity("speciation", "speciation: crossing of phi = 0.7752 minus ln(Lambda(N))/2", "t_S", 0.0,
                           mode="difference", note="bootstrap crossing of the cloning curve"),
            ScaledQuantity("phi_kappa1", "cloning probability at kappa = 1 (exact at every N)", "phi(t_kappa=1)",
                           PHI_AT_BIMODALITY, mode="per-size"),
        ]

    def measure(self, unit, setup, raw):
        """Medians of the lock-in and condensation times, the entropy zero, the cloning crossing
        and phi at kappa = 1, each with its finite-N theory."""
        from simulate.observables import CloningResult, condensation_times_from_weights, lock_in_times_from_indices

        from .real_data import entropy_zero

        summary, theory = setup["summary"], setup["theory"]
        coll = raw["collapse"]
        t_cn = float(summary["t_C_finite_N"])
        lock = lock_in_times_from_indices(coll["times"], coll["nearest_index"])
        cond = condensation_times_from_weights(coll["times"], coll["max_weight"])
        cr = CloningResult(raw["cloning"]["branch_times"], raw["cloning"]["same_class"])
        # one bootstrap draw set per unit, seeded by the unit (no global state)
        t_cross = cr.crossing_interval(PHI_AT_BIMODALITY, confidence=unit.confidence, n_resamples=50,
                                       seed=unit.seed)[0]
        k = int(np.argmin(np.abs(cr.branch_times - summary["t_S_bimodality"])))
        return {
            "condensation": (float(np.median(cond)), t_cn),
            "lock_in": (float(np.median(lock)), t_cn),
            "entropy_zero": (entropy_zero(raw["entropy-zero"], unit.confidence)[0], t_cn),
            "speciation": (float(t_cross), float(summary["t_S"])),
            "phi_kappa1": (float(cr.phi()[k]), float(theory.cloning_probability(cr.branch_times[k]))),
        }

    def finite_n_curve(self, preset, key, sizes):
        """``t_C^N`` (root of the finite-N excess entropy) for the collapse quantities."""
        if key not in ("condensation", "lock_in", "entropy_zero"):
            return None
        out = []
        for n in np.unique(np.round(sizes).astype(int)):
            P = min(int(round(math.exp(preset.alpha * n))), 10 ** 300)
            out.append((n, float(TwoClassMixture(int(n), P, preset.mu, preset.sigma).collapse_time_finite_n().value)))
        n, v = np.array(out).T
        return np.interp(sizes, n, v)


class HmmScaling(ScalingStudy):
    """Hidden-manifold data [AALMV25]: ``t_c`` and ``t_o`` per configuration at fixed ``alpha``."""

    name = "hmm"
    experiment = "hmm"
    preset_type = HmmScalingPreset
    version = 1
    #: The GPU preset: N = 60 .. 180 at alpha = 0.085 (P = 164 .. 4.4e6), 12 seeds.
    large_preset = HmmScalingPreset(sizes="60,80,120,180", alpha=0.085, seeds=12, device="cuda")

    def unit_stages(self, unit, setup):
        """Per configuration the planted-weight crossings at the pattern and at the centre."""
        from .hmm import _key, _measure

        return [Stage(f"{_key(phi, aD)}-times", lambda ctx, phi=phi, aD=aD: _measure(ctx, phi, aD, ctx.preset.N,
                                                                                     full=False),
                      uses=("N", "alpha", "samples"), params={"phi": phi, "alpha_D": aD})
                for phi, aD in unit.parsed_configs()]

    def quantities(self, preset):
        """t_c and t_o per configuration (REM-type corrections: ln(N)/N preferred)."""
        from .hmm import _times

        unit = self.unit_preset(preset, preset.size_list()[0], preset.seed)
        out = []
        for phi, aD in unit.parsed_configs():
            th = _times(unit, phi, aD)
            for sym, what in (("t_c", "collapse"), ("t_o", "onset of traps")):
                out.append(ScaledQuantity(f"{sym}-{phi}-{aD:g}", f"{what}, {phi}, alpha_D = {aD:g}", sym,
                                          float(th[sym]), ansatz="ln(N)/N",
                                          note="median over samples per seed; finite-N theory (linear phi): the "
                                               "exact spectrum of that seed's F"))
        return out

    def measure(self, unit, setup, raw):
        """Medians of the crossing times; linear phi also the theory for the unit's own F."""
        from simulate.stats import median_interval
        from theory.hmm_linear import LinearHMM

        from .hmm import _inf_nan, _key

        out = {}
        for phi, aD in unit.parsed_configs():
            m = raw[f"{_key(phi, aD)}-times"]
            finite = LinearHMM(aD, np.clip(m["eigenvalues"], 0.0, None)) if phi == "linear" else None
            for sym in ("t_c", "t_o"):
                med = median_interval(_inf_nan(m[sym]), unit.confidence)[0]
                th = float("nan")
                if finite is not None:
                    th = float((finite.collapse_time if sym == "t_c" else finite.onset_time)(unit.alpha).value)
                out[f"{sym}-{phi}-{aD:g}"] = (float(med) if math.isfinite(med) else float("nan"), th)
        return out


_SUB_RULES = ("gauss_rem", "block", "collapse")


class SubspacesScaling(ScalingStudy):
    """Geometric memorisation [AVS+24] with block dimensions growing with N at fixed fractions."""

    name = "subspaces"
    experiment = "subspaces"
    preset_type = SubspacesScalingPreset
    version = 1
    #: The GPU preset: N = 60 .. 180 at the same fractions, alpha = 0.08 (P = 122 .. 1.8e6), 8 seeds,
    #: 32 noise levels: does block 1's loss settle on the collapse or on the per-block rule?
    large_preset = SubspacesScalingPreset(sizes="60,90,120,180", alpha=0.08, seeds=8, times=32, points=100,
                                          device="cuda")

    @staticmethod
    def _rules(spec, P) -> dict:
        return {"gauss_rem": tau_to_t(spec.tau_gauss_rem(P)), "block": tau_to_t(spec.tau_block(P)),
                "collapse": float(tau_to_t(float(spec.tau_collapse(P).value)))}

    def _limits(self, preset) -> dict:
        """The rules at N = infinity: intensive in the fractions and alpha, so evaluated with the
        exact fractions (dimensions ``fraction * M`` for a large ``M``, ``ln P = alpha M``)."""
        from theory.subspaces import BlockSpectrum

        f = np.array(preset.fraction_list())
        M = 3000.0
        stds = [float(s) for s in preset.std.split(",")]
        var = np.square(stds)
        lp = preset.alpha * M
        # per-direction rule, sphere-normalised (g = 0): tau = s / (2 ln P) -> 0
        gauss = np.zeros_like(var)
        block = var / np.expm1(2.0 * lp / (f * M))
        spec = BlockSpectrum(tuple(int(round(v * M)) for v in f), tuple(var), normalized=True)
        collapse = float(tau_to_t(float(spec.tau_collapse(math.exp(preset.alpha * spec.N)).value)))
        return {"gauss_rem": tau_to_t(gauss), "block": tau_to_t(block), "collapse": collapse}

    def quantities(self, preset):
        """Loss of blocks 1 and 2 against each rule, and the global condensation."""
        lim = self._limits(preset)
        out = []
        for k in (0, 1):
            for rule in _SUB_RULES:
                value = lim[rule] if rule == "collapse" else float(lim[rule][k])
                out.append(ScaledQuantity(f"block{k + 1}-{rule}", f"block {k + 1} lost, against the {rule} rule",
                                          f"t_{rule}", value, note="half the points retain < 1/2 of its variance"))
        out.append(ScaledQuantity("condensation", "global condensation (median largest weight > 1/2)", "t_collapse",
                                  lim["collapse"]))
        return out

    def measure(self, unit, setup, raw):
        """Per-block loss times (bootstrap crossing estimate) and the condensation time, with each
        rule at this N and P."""
        from simulate.subspaces import SubspaceSweep
        from theory.subspaces import BlockSpectrum

        (dims, stds), = unit.configs()
        P = unit.sizes()[0]
        (name, arrays), = raw.items()
        sw = SubspaceSweep(arrays["t"], arrays["retained"], arrays["dimension"], arrays["singular_values"],
                           arrays["max_weight"])
        spec = BlockSpectrum.from_std(dims, stds, normalized=True)
        rules = self._rules(spec, P)
        measured = sw.critical_times(confidence=unit.confidence, n_resamples=50, seed=unit.seed)
        out = {}
        for k in (0, 1):
            for rule in _SUB_RULES:
                th = rules[rule] if rule == "collapse" else float(rules[rule][k])
                out[f"block{k + 1}-{rule}"] = (float(measured[k][0]), th)
        out["condensation"] = (float(sw.condensation_time(confidence=unit.confidence, n_resamples=50,
                                                          seed=unit.seed)[0]), rules["collapse"])
        return out
