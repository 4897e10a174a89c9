"""The solvable linear one-step denoiser [H24]: the generated variance against its finite-n law,
and the relative-distance criterion Pr(Delta > 0) against n (transition at n ~ d)."""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np

from simulate.observables import interpolated_crossing
from simulate.stats import binomial_interval, bootstrap_interval
from theory.linear_denoiser import LinearDenoiserModel
from theory.relative_distance import kernel_bandwidth, log_kernel_self_overlap, relative_distance

from ..plots import ALT_COLOR, MEASURED_COLOR, THEORY_COLOR, error_bars, new_figure
from ..presets import LinearDenoiserPreset
from ..table import ComparisonRow, make_table, to_markdown
from .common import ExperimentResult, check_stages, run_stages, summary_line, write_outputs

__all__ = ["LinearDenoiserPreset", "STAGES", "run", "simulate", "summary_line", "to_markdown"]

NAME = "linear-denoiser"
STAGES = ("fits",)
_VERSION = 1


def _fits(preset: LinearDenoiserPreset) -> dict:
    model = LinearDenoiserModel(preset.d, preset.T, preset.ell, preset.s)
    rng = np.random.default_rng(preset.seed)
    fresh = rng.standard_normal((preset.fresh, preset.d)) * preset.s
    fresh_overlap = math.exp(log_kernel_self_overlap(fresh, kernel_bandwidth(preset.fresh, preset.d)))
    sizes = preset.sizes()
    positive = np.zeros((len(sizes), preset.repeats), dtype=bool)
    variance = np.zeros((len(sizes), preset.repeats))
    for i, n in enumerate(sizes):
        for r in range(preset.repeats):
            beta0, B, x = model.sample_fit(n, rng)
            mean, cov = model.generated_law(beta0, B, x)
            variance[i, r] = np.trace(cov) / preset.d
            positive[i, r] = relative_distance(x, fresh, mean, cov, s=preset.s, fresh_self_overlap=fresh_overlap) > 0
    return {"n": np.array(sizes), "positive": positive, "variance": variance}


def simulate(preset: LinearDenoiserPreset | None = None, out=None, *, stages=STAGES, resume: bool = True,
             progress: bool = False, log=None):
    preset = (preset or LinearDenoiserPreset()).validate()
    check_stages(stages, STAGES)
    config = {**asdict(preset), "stage": "fits", "version": _VERSION}
    config.pop("confidence")
    return run_stages(out, {"fits": (config, lambda: _fits(preset))}, resume=resume, log=log)


def run(preset: LinearDenoiserPreset | None = None, out=None, *, resume: bool = True, progress: bool = False,
        log=None):
    preset = (preset or LinearDenoiserPreset()).validate()
    model = LinearDenoiserModel(preset.d, preset.T, preset.ell, preset.s)
    raw, timings, cached, _ = simulate(preset, out, resume=resume, progress=progress, log=log)
    fits = raw["fits"]
    conf = preset.confidence
    rows = []
    for i, n in enumerate(fits["n"]):
        if n > preset.d + 2:
            v = fits["variance"][i]
            # heavy right tail near n = d + 2: the mean's interval is a bootstrap one
            est, lo, hi = bootstrap_interval(np.mean, v, confidence=conf, n_resamples=1000,
                                             rng=np.random.default_rng(preset.seed + int(n)))
            rows.append(ComparisonRow(f"generated variance at n = {n}", "s^2[r + (1-r)d/(n-d-2)]",
                                      model.variance_n(n), est, lo, hi, conf,
                                      note=f"mean over {v.size} training sets (bootstrap interval)"))
    frac = fits["positive"].mean(axis=1)
    cross = interpolated_crossing(-fits["n"].astype(float), frac, 0.5)  # rises with n, i.e. falls with -n
    boot = []
    rng = np.random.default_rng(preset.seed)
    for _ in range(500):
        idx = rng.integers(0, preset.repeats, preset.repeats)
        boot.append(interpolated_crossing(-fits["n"].astype(float), fits["positive"][:, idx].mean(axis=1), 0.5))
    boot = np.array(boot)
    boot = boot[np.isfinite(boot)]
    a = (1 - conf) / 2
    lo, hi = (-np.quantile(boot, 1 - a), -np.quantile(boot, a)) if boot.size else (float("nan"), float("nan"))
    rows.append(ComparisonRow("transition: Pr(Delta > 0) crosses 1/2", "n_c = d + 2", model.n_c, -cross, lo, hi, conf,
                              note="[H24] predicts a transition at n ~ d; n_c = d + 2 is where the variance diverges"))
    table = make_table(rows)
    theory = {**model.summary(), "variance_n": {int(n): model.variance_n(n) for n in fits["n"] if n > preset.d + 2}}
    result = ExperimentResult(NAME, asdict(preset), table, theory, raw=raw, timings=timings, cached=cached)
    result.figures = _figures(preset, model, fits)
    if out is not None:
        write_outputs(out, result)
    return result


def _figures(preset, model, fits):
    figs = {}
    fig, ax = new_figure()
    n = fits["n"]
    k = fits["positive"].sum(axis=1)
    lo, hi = binomial_interval(k, preset.repeats, preset.confidence)
    p = k / preset.repeats
    ax.errorbar(n, p, yerr=error_bars(p, lo, hi), fmt="o-", color=MEASURED_COLOR, capsize=2,
                label=f"Pr($\\Delta$ > 0), {preset.repeats} training sets")
    ax.axvline(preset.d, color=ALT_COLOR, ls=":", label=f"n = d = {preset.d}")
    ax.axvline(model.n_c, color=THEORY_COLOR, ls="--", label=f"$n_c$ = d + 2 = {model.n_c}")
    ax.set_xscale("log")
    ax.set_xlabel("training-set size n")
    ax.set_ylabel("probability of generalisation")
    ax.set_title(f"Linear denoiser, d = {preset.d}, T = {preset.T}, ell = {preset.ell}")
    ax.legend(fontsize=8)
    figs["relative_distance"] = fig

    fig, ax = new_figure()
    ok = n > preset.d + 2
    nn = np.linspace(preset.d + 2.5, n.max() * 1.1, 300)
    ax.plot(nn, model.variance_n(nn), color=THEORY_COLOR, label="finite-n law")
    ax.axhline(model.s**2 * model.r, color=THEORY_COLOR, ls=":", label="population $s^2 r$")
    mean = fits["variance"].mean(axis=1)
    se = fits["variance"].std(axis=1, ddof=1) / math.sqrt(preset.repeats)
    ax.errorbar(n[ok], mean[ok], yerr=2 * se[ok], fmt="o", color=MEASURED_COLOR, capsize=2, label="measured (±2 s.e.)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training-set size n")
    ax.set_ylabel("generated variance per dimension")
    ax.legend(fontsize=8)
    figs["variance"] = fig
    return figs
