"""Trained denoisers against the exact empirical score and the theory [BDKOS25, BBBM24].

For each training-set size P: the empirical score of P isotropic Gaussian points memorises (the
collapse time ``t_C`` is measured as the median time after which the nearest scaled training
point stops changing); MLP denoisers of several widths trained on the same points are run with the
same backward SDE and tracked the same way. The table gives, per P and width, the memorised
fraction and the measured collapse time of the network against the empirical score and ``t_C``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from theory import collapse_time_isotropic

from ..driver import Experiment, Reconciliation, Stage
from ..plots import ALT_COLOR, MEASURED_COLOR, THEORY_COLOR, error_bars, new_figure
from ..presets import NetworksPreset, parse_int_list
from ..table import ComparisonRow

__all__ = ["Networks"]

T_START, T_END = 4.0, 2e-3
#: The collapse of the empirical score is measured at one N: the finite-N tolerance of
#: docs/gaussian-mixture.md. A network "agrees" when it memorises on the REM's schedule.
TOLERANCE = 0.10


def _networks(preset):
    """``(key, width, training steps)`` of every network trained at each P."""
    return [(f"w{w}_s{s}", w, s) for w in parse_int_list("width", preset.width)
            for s in parse_int_list("steps", preset.steps)]


class Networks(Experiment):
    """Trained MLP denoisers against the exact empirical score and the theory t_C."""

    name = "networks"
    caveats = (
        "where no network memorises (P = 512 in the preset), the measured 'collapse' is only the last sampler"
        " steps' nearest training point, not a collapse (docs/networks.md)",
    )
    preset_type = NetworksPreset
    version = 2

    def stages(self, preset, setup):
        """One stage per training-set size: the empirical score and every network on the same data,
        sampled from the same starting points with the same noise (stream ``sampler``)."""
        sim = ("N", "width", "steps", "batch_size", "trajectories", "sampler_steps", "tikhonov")
        return [Stage(f"P{P}", self._run_P, uses=sim, params={"size": P}) for P in parse_int_list("P", preset.P)]

    @staticmethod
    def _run_P(ctx):
        import torch

        from simulate.data import isotropic_gaussian
        from simulate.metrics import memorized_fraction
        from simulate.networks import DenoiserScore, EDMPreconditioner, MLPDenoiser, TrainConfig, train_denoiser
        from simulate.observables import lock_in_times_from_indices, track_nearest
        from simulate.samplers import time_grid
        from simulate.scores import EmpiricalScore

        p, P, device = ctx.preset, ctx.stage.params["size"], ctx.device
        data = isotropic_gaussian(p.N, P, generator=ctx.torch_generator(f"data-P{P}"), dtype=torch.float32,
                                  device=device).data
        empirical = EmpiricalScore(data)
        times = time_grid(T_START, T_END, p.sampler_steps)
        x0 = torch.randn(p.trajectories, p.N, generator=ctx.torch_generator(f"start-P{P}"), dtype=torch.float32,
                         device=device)
        out = {}
        # under a Tikhonov penalty the networks' target is the Tikhonov-regularised empirical score
        reference = empirical
        if p.tikhonov:
            from simulate.regularized import TikhonovScore

            reference = TikhonovScore(empirical, p.tikhonov)
        x, idx = track_nearest(reference, empirical, x0, times, generator=ctx.torch_generator("sampler"))
        out["empirical_lock_in"] = lock_in_times_from_indices(times, idx)
        out["empirical_memorized"] = np.array(memorized_fraction(x, data)[0])
        for key, w, steps in _networks(p):
            # the same initial weights for every P and training length of a width
            init = torch.Generator().manual_seed(ctx.seed(f"init-w{w}"))
            net = EDMPreconditioner(MLPDenoiser(p.N, w, 3, generator=init)).to(device)
            res = train_denoiser(net, data, TrainConfig(steps=steps, batch_size=p.batch_size, tikhonov=p.tikhonov,
                                                        seed=ctx.seed(f"training-P{P}")), disable=ctx.disable)
            x, idx = track_nearest(DenoiserScore(res.ema), empirical, x0, times, generator=ctx.torch_generator("sampler"))
            out[f"{key}_lock_in"] = lock_in_times_from_indices(times, idx)
            out[f"{key}_memorized"] = np.array(memorized_fraction(x, data)[0])
            out[f"{key}_final_loss"] = np.array(float(np.mean(res.losses[-100:])))
        return out

    def reconcile(self, preset, setup, raw):
        """Per P and score: the median lock-in time against the isotropic t_C, with the memorised
        fraction (binomial interval) and the final training loss as extra columns."""
        from simulate.stats import binomial_interval, median_interval

        conf = preset.confidence
        rows, theory = [], {}
        for P in parse_int_list("P", preset.P):
            r = raw[f"P{P}"]
            alpha = math.log(P) / preset.N
            t_c = float(collapse_time_isotropic(alpha).value)
            theory[f"P{P}"] = {"alpha": alpha, "t_C": t_c}
            labels = {"empirical": "empirical", **{k: f"MLP width {w}, {st} steps" for k, w, st in _networks(preset)}}
            for who, label in labels.items():
                med, lo, hi = median_interval(r[f"{who}_lock_in"], conf)
                memo = float(r[f"{who}_memorized"])
                mlo, mhi = binomial_interval(round(memo * preset.trajectories), preset.trajectories, conf)
                rows.append(ComparisonRow(
                    f"collapse time (nearest point fixed), {label}, P = {P}", "t_C", t_c, med, lo, hi, conf, TOLERANCE,
                    "median lock-in time of the backward SDE; a network agrees when it memorises on the REM's "
                    "schedule (10% finite-N tolerance)",
                    extra={"P": P, "score": label, "memorized": memo, "memorized_low": float(mlo),
                           "memorized_high": float(mhi),
                           "final_loss": float(r[f"{who}_final_loss"]) if who != "empirical" else float("nan")}))
        caveats = []
        if preset.tikhonov:
            theory["tikhonov"] = preset.tikhonov
            caveats.append(f"tikhonov = {preset.tikhonov:g}: the networks are trained with the score-norm penalty and the "
                           "'empirical' rows are the Tikhonov-regularised empirical score with the same c, their target "
                           "(docs/networks.md)")
        return Reconciliation(rows, theory, caveats=caveats)

    def summary_line(self, table: pd.DataFrame) -> str:
        """How often a network memorises less than the empirical score at the same P."""
        emp = table[table["score"] == "empirical"].set_index("P")["memorized"]
        nets = table[table["score"] != "empirical"]
        less = int(sum(row.memorized < emp[row.P] for row in nets.itertuples()))
        return f"networks memorise less than the empirical score in {less} of {len(nets)} runs"

    def figures(self, preset, setup, raw, rec):
        """memorization, collapse."""
        return _figures(preset, rec.table)


#: Memorised fraction below which a run's lock-in time is not drawn as a collapse time.
MEMORISED_FOR_COLLAPSE = 0.5


def _figures(preset, table):
    from matplotlib.ticker import FormatStrFormatter

    from ..style import STYLE

    level = f"{preset.confidence:.0%}"
    fig, ax = new_figure()
    # the empirical score in black, the networks in the palette's colours other than the theory's
    colors = ["k", *[c for c in STYLE.series if c != THEORY_COLOR]]
    for k, (who, sub) in enumerate(table.groupby("score", sort=False)):
        ax.errorbar(sub["P"] * (1 + 0.04 * k), sub["memorized"],
                    yerr=error_bars(sub["memorized"], sub["memorized_low"], sub["memorized_high"]),
                    fmt="o-", capsize=2, color=colors[k % len(colors)], label=who)
    ax.axhline(1.0, color=THEORY_COLOR, ls="--", lw=1, label="theory: the exact empirical score memorises every sample")
    ax.set_xscale("log")
    ax.set_xlabel("training-set size P")
    ax.set_ylabel("memorised fraction of samples")
    ax.set_title(f"Memorisation of networks and the empirical score, N = {preset.N}\n"
                 f"{preset.trajectories} samples per run ({level} binomial intervals)")
    fig.legend(loc="outside lower center", ncols=2, fontsize=7)
    fig2, ax2 = new_figure()
    omitted = 0
    for k, (who, sub) in enumerate(table.groupby("score", sort=False)):
        # without memorisation the lock-in time is the sampler's last steps, not a collapse (docs/networks.md):
        # such points are not data
        sub_ok = sub[sub["memorized"] >= MEMORISED_FOR_COLLAPSE]
        omitted += len(sub) - len(sub_ok)
        if len(sub_ok):
            ax2.errorbar(sub_ok["P"] * (1 + 0.04 * k), sub_ok["measured"],
                         yerr=error_bars(sub_ok["measured"], sub_ok["ci_low"], sub_ok["ci_high"]), fmt="o-",
                         capsize=2, color=colors[k % len(colors)], label=f"{who} (median, {level} interval)")
    Ps = np.geomspace(table["P"].min(), table["P"].max(), 100)
    ax2.plot(Ps, collapse_time_isotropic(np.log(Ps) / preset.N).value, color=THEORY_COLOR, ls="--", label="theory $t_C$")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    # plain decimals on the short log range (matplotlib writes 6e-01)
    ax2.yaxis.set_major_formatter(FormatStrFormatter("%.2g"))
    ax2.yaxis.set_minor_formatter(FormatStrFormatter("%.2g"))
    ax2.set_xlabel("training-set size P")
    ax2.set_ylabel("collapse time (nearest point fixed, median)")
    ax2.set_title(f"Collapse of networks and the empirical score, N = {preset.N}"
                  + (f"\n({omitted} runs memorising < {MEMORISED_FOR_COLLAPSE:.0%} not drawn: no collapse)"
                     if omitted else ""), fontsize=9)
    ax2.legend(fontsize=8)
    return {"memorization": fig, "collapse": fig2}
