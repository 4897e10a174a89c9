"""The solvable linear one-step denoiser [H24]: the generated variance against its finite-n law,
and the relative-distance criterion Pr(Delta > 0) against n (transition at n ~ d)."""

from __future__ import annotations

import math

import numpy as np

from simulate.stats import binomial_interval, bootstrap_interval, first_crossing
from theory.linear_denoiser import LinearDenoiserModel
from theory.relative_distance import (
    gaussian_hellinger_to,
    gaussian_kl,
    kernel_bandwidth,
    log_kernel_self_overlap,
    relative_distance,
)

from ..driver import Experiment, Reconciliation, Stage
from ..plots import ALT_COLOR, MEASURED_COLOR, THEORY_COLOR, error_bars, new_figure
from ..presets import LinearDenoiserPreset
from ..table import ComparisonRow

__all__ = ["LinearDenoiser"]


def _transition(n: np.ndarray, positive: np.ndarray) -> float:
    """Size where Pr(Delta > 0) first reaches 1/2 (it rises with n), interpolated."""
    order = np.argsort(n)
    return first_crossing(n[order].astype(float), positive.mean(axis=1)[order], 0.5, rising=True)


def _distance_summary(fits) -> dict:
    """Per n the mean individual Hellinger distance (squared) and KL of the generated law to the
    sampling law, and the n after which the Hellinger distance falls (the last n where every
    training set's generated law is degenerate, H^2 = 1)."""
    order = np.argsort(fits["n"])
    n = fits["n"][order]
    h = fits["hellinger"][order].mean(axis=1)
    kl = fits["kl"][order]
    kl_mean = np.where(np.isfinite(kl).all(axis=1), np.mean(np.where(np.isfinite(kl), kl, 0.0), axis=1), np.inf)
    degenerate = np.nonzero(h >= 1.0 - 1e-12)[0]
    last = int(n[degenerate[-1]]) if degenerate.size else None
    after = h[n > (last if last is not None else -1)]
    return {"n": n.tolist(), "hellinger_squared_mean": h.tolist(), "kl_mean": kl_mean.tolist(),
            "last_degenerate_n": last, "falls_after": bool(after.size < 2 or np.all(np.diff(after) < 0)),
            "kl_falls_where_finite": bool(np.all(np.diff(kl_mean[np.isfinite(kl_mean)]) < 0))}


def _h24_rows(preset, fits, cross, lo, hi, conf) -> list:
    """The [H24] statement: the transition (Pr(Delta > 0) = 1/2) lies in the phase where the
    individual distance of the generated law to the sampling law falls with n, which starts after
    the last degenerate size (the generated law has rank min(n - 1, d): full from n = d + 1)."""
    summ = _distance_summary(fits)
    start = summ["last_degenerate_n"]
    rows = []
    if start is not None:
        n = np.asarray(summ["n"])
        first = n[n > start]
        rows.append(ComparisonRow("the individual distance starts to fall (last degenerate n)", "n = d",
                                  float(preset.d), float(start), float(start), float(first[0]) if first.size else
                                  float("nan"), conf, note="measured: last n of the grid where every generated law "
                                  "is degenerate (H^2 = 1); interval up to the next n of the grid", extra={"n": float("nan")}))
        rows.append(ComparisonRow("transition Pr(Delta > 0) = 1/2 lies where the distance falls", "n_cross > n_fall",
                                  float(preset.d + 2), cross, lo, hi, conf, threshold=float(start),
                                  note=f"[H24]: the transition lies in the phase where the KL falls monotonically; "
                                       f"mean Hellinger distance falls after n = {start}: {summ['falls_after']}; "
                                       f"KL falls wherever finite: {summ['kl_falls_where_finite']}",
                                  extra={"n": float("nan")}))
    return rows


class LinearDenoiser(Experiment):
    """The solvable linear one-step denoiser [H24] (numpy only: all draws from the ``fits`` stream)."""

    name = "linear-denoiser"
    preset_type = LinearDenoiserPreset
    version = 3

    def setup(self, preset):
        """The closed-form model."""
        return LinearDenoiserModel(preset.d, preset.T, preset.ell, preset.s)

    def stages(self, preset, setup):
        """fits: ``repeats`` training sets per n, each fitted and scored by the relative distance."""
        return [Stage("fits", self._fits)]

    @staticmethod
    def _fits(ctx):
        p, model = ctx.preset, ctx.setup
        rng = ctx.numpy_rng()
        fresh = rng.standard_normal((p.fresh, p.d)) * p.s
        fresh_overlap = math.exp(log_kernel_self_overlap(fresh, kernel_bandwidth(p.fresh, p.d)))
        sizes = p.sizes()
        positive = np.zeros((len(sizes), p.repeats), dtype=bool)
        variance = np.zeros((len(sizes), p.repeats))
        hellinger = np.zeros((len(sizes), p.repeats))
        kl = np.zeros((len(sizes), p.repeats))
        law = (np.zeros(p.d), p.s**2 * np.eye(p.d))  # the sampling law of the data
        for i, n in enumerate(sizes):
            for r in range(p.repeats):
                beta0, B, x = model.sample_fit(n, rng)
                mean, cov = model.generated_law(beta0, B, x)
                variance[i, r] = np.trace(cov) / p.d
                positive[i, r] = relative_distance(x, fresh, mean, cov, s=p.s, fresh_self_overlap=fresh_overlap) > 0
                # the individual distance of this training set's generated law to the sampling law
                hellinger[i, r] = gaussian_hellinger_to(mean, cov, *law)
                kl[i, r] = gaussian_kl(mean, cov, *law)
        return {"n": np.array(sizes), "positive": positive, "variance": variance, "hellinger": hellinger, "kl": kl}

    def reconcile(self, preset, setup, raw):
        """Mean generated variance per n against the finite-n law; the Pr(Delta > 0) = 1/2 crossing
        against n_c = d + 2."""
        model, fits = setup, raw["fits"]
        conf = preset.confidence
        rng = np.random.default_rng(preset.seed)
        rows = []
        for i, n in enumerate(fits["n"]):
            if n > preset.d + 2:
                v = fits["variance"][i]
                # heavy right tail near n = d + 2: the mean's interval is a bootstrap one
                est, lo, hi = bootstrap_interval(np.mean, v, confidence=conf, n_resamples=1000, rng=rng)
                rows.append(ComparisonRow(f"generated variance at n = {n}", "s^2[r + (1-r)d/(n-d-2)]",
                                          model.variance_n(n), est, lo, hi, conf,
                                          note=f"mean over {v.size} training sets (bootstrap interval)",
                                          extra={"n": int(n)}))
        # the repeats of every n are independent: resample them per n
        cross, lo, hi = bootstrap_interval(lambda pos: _transition(fits["n"], pos), fits["positive"].astype(float),
                                           confidence=conf, n_resamples=500, rng=rng, axis=1, strata_axis=0)
        rows.append(ComparisonRow("transition: Pr(Delta > 0) crosses 1/2", "n_c = d + 2", model.n_c, cross, lo, hi, conf,
                                  note="[H24] predicts a transition at n ~ d; n_c = d + 2 is where the variance "
                                       "diverges", extra={"n": float("nan")}))
        rows += _h24_rows(preset, fits, cross, lo, hi, conf)
        theory = {**model.summary(), "variance_n": {int(n): model.variance_n(n) for n in fits["n"] if n > preset.d + 2},
                  "individual_distance": _distance_summary(fits)}
        return Reconciliation(rows, theory)

    def figures(self, preset, setup, raw, rec):
        """relative_distance, variance."""
        return _figures(preset, setup, raw["fits"])


def _figures(preset, model, fits):
    figs = {}
    fig, ax = new_figure()
    n = fits["n"]
    k = fits["positive"].sum(axis=1)
    lo, hi = binomial_interval(k, preset.repeats, preset.confidence)
    p = k / preset.repeats
    ax.errorbar(n, p, yerr=error_bars(p, lo, hi), fmt="o-", color=MEASURED_COLOR, capsize=2,
                label=f"Pr($\\Delta$ > 0), {preset.repeats} training sets ({preset.confidence:.0%} interval)")
    ax.axvline(preset.d, color=ALT_COLOR, ls=":", label=f"n = d = {preset.d}")
    ax.axvline(model.n_c, color=THEORY_COLOR, ls="--", label=f"$n_c$ = d + 2 = {model.n_c}")
    if "hellinger" in fits:  # the individual distance of each generated law to the sampling law [H24]
        h = fits["hellinger"]
        se = h.std(axis=1, ddof=1) / np.sqrt(h.shape[1])
        ax.errorbar(n, h.mean(axis=1), yerr=2 * se, fmt="s--", color=ALT_COLOR, ms=4, capsize=2,
                    label="individual distance: mean Hellinger $H^2$ to the data law (±2 s.e.)")
    ax.set_xscale("log")
    ax.set_xlabel("training-set size n")
    ax.set_ylabel("probability of generalisation; $H^2$")
    ax.set_title(f"Linear denoiser, d = {preset.d}, T = {preset.T}, ell = {preset.ell}")
    ax.legend(fontsize=7, loc="center right")
    figs["relative_distance"] = fig

    fig, ax = new_figure()
    ok = n > preset.d + 2
    nn = np.linspace(preset.d + 2.5, max(n.max() * 1.1, 3 * (preset.d + 2)), 300)  # also when every n <= d + 2
    ax.plot(nn, model.variance_n(nn), color=THEORY_COLOR, label="finite-n law")
    ax.axhline(model.s**2 * model.r, color=THEORY_COLOR, ls=":", label="population $s^2 r$")
    mean = fits["variance"].mean(axis=1)
    se = fits["variance"].std(axis=1, ddof=1) / math.sqrt(preset.repeats)
    ax.errorbar(n[ok], mean[ok], yerr=2 * se[ok], fmt="o", color=MEASURED_COLOR, capsize=2, label="measured (±2 s.e.)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    from matplotlib.ticker import NullFormatter

    ax.yaxis.set_minor_formatter(NullFormatter())  # minor labels collide on a short decade
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(n[ok], [str(int(v)) for v in n[ok]])  # the measured sizes, in plain numbers
    ax.set_xlabel("training-set size n")
    ax.set_ylabel("generated variance per dimension")
    ax.set_title(f"Linear denoiser: generated variance, d = {preset.d}, T = {preset.T}, ell = {preset.ell}",
                 fontsize=9)
    ax.legend(fontsize=8)
    figs["variance"] = fig
    return figs
