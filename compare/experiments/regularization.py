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

import numpy as np

from theory import collapse_time_isotropic
from theory.regularization import tikhonov_profile_ou

from ..driver import Experiment, Reconciliation, Stage
from ..plots import MEASURED_COLOR, THEORY_COLOR, error_bars
from ..presets import RegularizationPreset, parse_float_list
from ..table import ComparisonRow

__all__ = ["Regularization", "one_point_distance"]

T_START, T_END = 3.0, 1e-3


def one_point_distance(c: float, N: int, t_capture: float, t_end: float) -> float:
    """Predicted final offset from the attracting point under ``s_c`` (module docstring)."""
    G = lambda t: float(tikhonov_profile_ou(t, c))
    return math.sqrt(N * -math.expm1(-2 * t_capture)) * G(t_end) / G(t_capture)


class Regularization(Experiment):
    """Tikhonov and floored empirical scores [BDKOS25]: memorised fraction and residual distance."""

    name = "regularization"
    preset_type = RegularizationPreset
    version = 2

    def stages(self, preset, setup):
        """sweep: every ``c`` and ``tau`` from the same starting points (common random numbers)."""
        return [Stage("sweep", self._sweep)]

    @staticmethod
    def _sweep(ctx):
        from simulate.data import isotropic_gaussian, noised
        from simulate.metrics import training_spacing
        from simulate.regularized import FlooredScore, TikhonovScore
        from simulate.samplers import sample_heun, time_grid
        from simulate.scores import EmpiricalScore

        p = ctx.preset
        data = isotropic_gaussian(p.N, p.P, generator=ctx.torch_generator("data"), device=ctx.device).data
        x0, _ = noised(data, T_START, p.trajectories, generator=ctx.torch_generator("start"))
        times = time_grid(T_START, T_END, p.steps)
        nearest = EmpiricalScore(data)
        out = {}
        for kind, values, make in (("c", parse_float_list("c", p.c), lambda v: TikhonovScore(nearest, v)),
                                   ("tau", parse_float_list("tau", p.tau), lambda v: FlooredScore(nearest, v))):
            dists = []
            for v in values:
                x = sample_heun(make(v), x0, times, disable=True)
                idx = nearest.nearest_index(x, T_END)
                dists.append((x - math.exp(-T_END) * data[idx]).norm(dim=1).cpu().numpy())
            out[kind] = np.array(values)
            out[f"distance_{kind}"] = np.stack(dists)
        out["spacing"] = np.array(training_spacing(data))
        return out

    def reconcile(self, preset, setup, raw):
        """Per Tikhonov ``c`` the median residual distance against the one-point law; memorised
        fractions (binomial intervals) for every ``c`` and ``tau`` in the theory JSON."""
        from simulate.metrics import MEMORIZATION_THRESHOLD
        from simulate.stats import binomial_interval, median_interval

        sw = raw["sweep"]
        conf = preset.confidence
        t_c = float(collapse_time_isotropic(math.log(preset.P) / preset.N).value)
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
                                                   f"(threshold {MEMORIZATION_THRESHOLD:.2g} x NN spacing); capture "
                                                   "at t_C, typical offset: 25% tolerance",
                                              extra={"c": float(v), "memorized": memo[(kind, float(v))][0]}))
        theory = {"t_C": t_c, "one_point_distance": {f"{c:g}": one_point_distance(float(c), preset.N, t_c, T_END)
                                                      for c in sw["c"]},
                  "floor_memorized_one_point": {f"{v:g}": floor_memorized_fraction(float(v), preset.N)
                                                for v in sw["tau"]},
                  "memorized": {f"{k}={v:g}": list(map(float, m)) for (k, v), m in memo.items()}}
        return Reconciliation(rows, theory, {"memo": memo, "t_c": t_c})

    def figures(self, preset, setup, raw, rec):
        """regularization."""
        return _figures(preset, raw["sweep"], rec.extra["memo"], rec.extra["t_c"])


def floor_memorized_fraction(tau: float, N: int) -> float:
    """One-point law of the floored score (docs/networks.md): the flow memorises iff
    ``|x_T - a|/sigma_T <= sqrt(2 ln(1/tau))``, and for a start drawn around ``a`` that ratio is
    ``|z|``, ``z ~ N(0, I_N)``: the fraction is ``P(chi^2_N <= 2 ln(1/tau))``."""
    from scipy.stats import chi2

    return float(chi2.cdf(2.0 * math.log(1.0 / tau), N)) if tau < 1 else 0.0


NO_C = 1e-4  # where c = 0 is drawn on the log axis
NO_TAU = 1e-8  # where floors below 1e-12 (no floor in effect) are drawn


def _figures(preset, sw, memo, t_c):
    from ..plots import new_panels

    fig, axes = new_panels(1, 2, panel_aspect=0.8)
    ax1, ax2 = axes[0]
    for ax, kind, label in ((ax1, "c", "Tikhonov $c$"), (ax2, "tau", "floor $\\tau$")):
        vals = np.asarray(sw[kind], dtype=float)
        m = np.array([memo[(kind, float(v))] for v in vals])
        # c = 0 and a floor of 1e-300 (no floor in effect) have no place on a log axis: drawn at a marker value
        stand_in = NO_C if kind == "c" else NO_TAU
        x = np.where(vals < (NO_C if kind == "c" else NO_TAU), stand_in, vals)
        ax.errorbar(x, m[:, 0], yerr=error_bars(m[:, 0], m[:, 1], m[:, 2]), fmt="o-", color="k", capsize=2,
                    label="memorised fraction (95% interval)")
        ax.set_xscale("log")
        shown = "$c = 0$" if kind == "c" else "$\\tau < 10^{-12}$"
        where = f"$10^{{{int(round(np.log10(stand_in)))}}}$"
        ax.set_xlabel(label + (f" ({shown} drawn at {where})" if np.any(x != vals) else ""))
        ax.set_ylabel("fraction of samples memorised")
        ax.set_ylim(-0.05, 1.05)
        ax.grid(True, alpha=0.3)
    taus = np.geomspace(NO_TAU, 0.999, 200)
    ax2.plot(taus, [floor_memorized_fraction(float(v), preset.N) for v in taus], "-", color=THEORY_COLOR,
             label="one-point law $P(\\chi^2_N \\leq 2\\ln(1/\\tau))$")
    ax1.set_title("Tikhonov-regularised score", fontsize=9)
    ax2.set_title("floored score", fontsize=9)
    ax2.legend(fontsize=7, loc="best")
    ax3 = ax1.twinx()
    c_x = np.maximum(np.asarray(sw["c"], dtype=float), NO_C)
    med = [np.median(d) for d in sw["distance_c"]]
    # the theory as a curve, not a polyline through the measured c (its value at the c = 0 stand-in is c = 0's)
    c_grid = np.geomspace(NO_C, c_x.max(), 80)
    pred = [one_point_distance(float(c) if c > NO_C else 0.0, preset.N, t_c, T_END) for c in c_grid]
    ax3.plot(c_x, med, "s--", color=MEASURED_COLOR, label="median distance (measured)")
    ax3.plot(c_grid, pred, "-", color=MEASURED_COLOR, lw=1, alpha=0.7, label="median distance, one-point law (theory)")
    ax3.set_ylabel("distance to nearest training point", color=MEASURED_COLOR)
    ax3.tick_params(axis="y", colors=MEASURED_COLOR)
    handles = ax1.get_legend_handles_labels()[0] + ax3.get_legend_handles_labels()[0]
    ax3.legend(handles, [h.get_label() for h in handles], fontsize=7, loc="upper left", framealpha=0.9)
    fig.suptitle(f"Regularised empirical scores, N = {preset.N}, P = {preset.P}")
    return {"regularization": fig}
