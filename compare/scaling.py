"""Finite-size scaling: verdicts at N -> infinity for the measured transition times.

A :class:`ScalingStudy` declares, for one experiment:

* ``preset_type``: a frozen, self-validating preset holding the intensive parameters (``alpha =
  ln P / N``, so ``P = round(e^{alpha N})`` at each size; ``alpha_D``; spectrum fractions), the
  ``sizes``, the number of ``seeds`` and the per-unit simulation sizes;
* :meth:`ScalingStudy.unit_preset`: the experiment's preset at one size and seed (its own seed, so
  every seed draws its own quenched disorder: data, features ``F``);
* :meth:`ScalingStudy.unit_stages`: the experiment stages that unit runs (the driver's cached,
  resumable stages of :mod:`compare.driver`);
* :meth:`ScalingStudy.quantities` and :meth:`ScalingStudy.measure`: the measured times and, where
  the theory has one, their finite-N prediction for this unit.

:func:`run_scaling` runs every ``(N, seed)`` unit, in-process (stages cached under
``OUT/units/N<N>-seed<k>/raw``) or as Ray tasks, stores each unit's measurements in a verified
file (``OUT/units/N<N>-seed<k>-<hash>.npz``: a resumed run recomputes nothing finished), and
reconciles: per quantity one row per size (mean over seeds, Student interval, finite-N theory) and
one extrapolated row (:func:`compare.extrapolation.extrapolate`) whose verdict is whether the
theory at N = infinity lies inside the intercept's interval: no tolerance. Three modes:

* ``extrapolate``: the measured time itself;
* ``difference``: ``measured - theory(N)`` for a theory that depends on N through a known term
  (``t_S = ln Lambda(N) / 2``), extrapolated to its limit;
* ``per-size``: a theory exact at every N (the cloning probability at ``kappa = 1``): compared at
  each N, not extrapolated.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np
import pandas as pd

from theory.validation import InputError

from .driver import ANALYSIS_FIELDS, Experiment, stream_seed
from .extrapolation import ANSATZE, extrapolate, per_size_summary
from .io import CacheMiss, atomic_write_text, config_hash, load_npz, save_npz, to_json_ready, warn_recompute
from .style import styled
from .table import ComparisonRow, make_table, write_table

__all__ = ["ScaledQuantity", "ScalingStudy", "ScalingResult", "run_scaling", "unit_seed", "scaling_summary",
           "SCALING_STUDIES", "get_study", "SCALING_VERSION", "MODES"]

#: Version of the unit files' layout (part of every unit's cache key).
SCALING_VERSION = 1
MODES = ("extrapolate", "difference", "per-size")


@dataclass(frozen=True)
class ScaledQuantity:
    """One measured quantity of a study.

    ``key`` names it in :meth:`ScalingStudy.measure`; ``limit`` is the theory at N = infinity (of
    the difference, in ``difference`` mode); ``ansatz`` the finite-size correction the theory
    predicts (a key of :data:`compare.extrapolation.ANSATZE`); ``mode`` one of :data:`MODES`."""

    key: str
    label: str
    symbol: str
    limit: float
    mode: str = "extrapolate"
    ansatz: str = "1/N"
    note: str = ""

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.ansatz not in ANSATZE:
            raise ValueError(f"ansatz must be one of {list(ANSATZE)}, got {self.ansatz!r}")


class ScalingStudy(ABC):
    """Declares the size scan of one experiment (module docstring)."""

    name: ClassVar[str]
    experiment: ClassVar[str]
    preset_type: ClassVar[type]
    version: ClassVar[int] = 1
    #: The documented preset that only a GPU reaches in time (None: there is none).
    large_preset: ClassVar[Any] = None

    def unit_preset(self, preset, N: int, seed: int):
        """The experiment's preset at size ``N`` with seed ``seed`` (the scaling preset's ``unit``)."""
        return preset.unit(N, seed)

    def unit_stages(self, unit_preset, setup) -> list:
        """The experiment stages a unit runs (default: all of them)."""
        return self.definition.stages(unit_preset, setup)

    @abstractmethod
    def quantities(self, preset) -> list[ScaledQuantity]:
        """The measured quantities, in table order."""

    @abstractmethod
    def measure(self, unit_preset, setup, raw: dict) -> dict[str, tuple[float, float]]:
        """``{key: (measured, finite-N theory or NaN)}`` of one unit from its stages' arrays."""

    def finite_n_curve(self, preset, key: str, sizes: np.ndarray) -> np.ndarray | None:
        """A dense finite-N theory curve for the figure (None: only the per-unit values)."""
        return None

    @property
    def definition(self) -> Experiment:
        """The experiment object these units run."""
        from .registry import get_experiment

        return get_experiment(self.experiment).definition


def unit_seed(seed: int, replica: int) -> int:
    """The seed of replica ``replica`` (an independent named stream of the study's ``seed``)."""
    return stream_seed(seed, f"replica-{replica}") % 2 ** 32


class _UnitExperiment(Experiment):
    """The study's unit seen by the experiment driver: the experiment's setup and the study's
    stages, under the study's name and version (so its stage caches are its own)."""

    def __init__(self, study: ScalingStudy):
        self.study = study
        self.name = f"{study.name}-unit"
        self.preset_type = study.definition.preset_type
        self.version = study.version * 1000 + study.definition.version

    def setup(self, preset):
        return self.study.definition.setup(preset)

    def stages(self, preset, setup):
        return self.study.unit_stages(preset, setup)

    def reconcile(self, preset, setup, raw):  # units are reconciled by the study, not one by one
        raise NotImplementedError


def _unit_config(study: ScalingStudy, unit_preset, N: int, replica: int) -> dict:
    fields = {k: v for k, v in dataclasses.asdict(unit_preset).items() if k not in ANALYSIS_FIELDS}
    return {"study": study.name, "version": study.version, "experiment_version": study.definition.version,
            "scaling": SCALING_VERSION, "N": N, "replica": replica, "unit": fields}


def measure_unit(study: ScalingStudy, preset, N: int, replica: int, raw_dir=None, *, progress: bool = False,
                 log=None) -> dict:
    """Run one ``(N, replica)`` unit (stages cached under ``raw_dir`` when given) and return
    ``{key: [measured, finite-N theory]}``."""
    from .driver import simulate_experiment

    unit = study.unit_preset(preset, N, unit_seed(preset.seed, replica))
    adapter = _UnitExperiment(study)
    setup = adapter.setup(unit)
    sim = simulate_experiment(adapter, unit, raw_dir, progress=progress, log=log, setup=setup)
    return {k: [float(v[0]), float(v[1])] for k, v in study.measure(unit, setup, sim.raw).items()}


def _remote_unit(study_name: str, preset_fields: dict, N: int, replica: int, threads: int) -> dict:
    """Body of a Ray task: one unit, nothing written (the driver writes)."""
    import torch

    torch.set_num_threads(threads)
    study = get_study(study_name)
    return measure_unit(study, study.preset_type(**preset_fields), N, replica)


@dataclass
class ScalingResult:
    """``table`` (one row per (quantity, N) and one per extrapolated quantity), ``extrapolations``
    (key -> :class:`~compare.extrapolation.Extrapolation`), ``units`` ((N, replica) -> measurements),
    ``figures``, how many units were ``computed`` and ``reused``."""

    name: str
    preset: dict
    table: pd.DataFrame
    extrapolations: dict
    units: dict
    figures: dict = field(default_factory=dict)
    computed: int = 0
    reused: int = 0
    seconds: float = 0.0


def run_scaling(study: ScalingStudy, preset=None, out=None, *, resume: bool = True, progress: bool = False,
                log: Callable[[str], None] | None = None, ray_address=None, threads: int = 1,
                n_resamples: int = 2000) -> ScalingResult:
    """Run every ``(N, seed)`` unit of ``study`` (or reuse it from ``OUT/units``), extrapolate,
    and with ``out`` write ``table.{csv,md,tex}``, ``scaling.json``, ``preset.json`` and one figure
    per quantity. ``ray_address``: None in-process, ``"local"`` or a cluster address for Ray."""
    from tqdm.auto import tqdm

    preset = preset if preset is not None else study.preset_type()
    if not isinstance(preset, study.preset_type):
        raise InputError(f"preset must be a {study.preset_type.__name__}, got {type(preset).__name__}")
    log = log or (lambda msg: None)
    t0 = time.perf_counter()
    out = None if out is None else Path(out)
    sizes = preset.size_list()
    jobs = [(N, k) for N in sizes for k in range(preset.seeds)]
    configs = {(N, k): _unit_config(study, study.unit_preset(preset, N, unit_seed(preset.seed, k)), N, k)
               for N, k in jobs}
    paths = {job: None if out is None else out / "units" / f"N{job[0]}-seed{job[1]}-{config_hash(configs[job])}.npz"
             for job in jobs}
    units, reused = {}, 0
    for job, path in paths.items():
        if resume and path is not None and path.exists():
            try:
                arrays = load_npz(path, expect={"config": configs[job]})
                units[job] = {k[:-len(".pair")]: [float(v) for v in a] for k, a in arrays.items()}
                reused += 1
            except CacheMiss as exc:
                warn_recompute(f"N = {job[0]}, seed {job[1]}: stored unit", path, str(exc))
    todo = [job for job in jobs if job not in units]
    log(f"{study.name}: {len(jobs)} units (sizes {sizes} x {preset.seeds} seeds): {reused} finished before, "
        f"{len(todo)} to run" + (f" on Ray ({ray_address})" if ray_address else ""))

    def finish(job, measured):
        units[job] = measured
        if paths[job] is not None:
            save_npz(paths[job], {f"{k}.pair": np.array(v) for k, v in measured.items()},
                     meta={"config": configs[job]})

    bar = tqdm(total=len(todo), disable=not progress, desc=f"scale {study.name}")
    if ray_address is None:
        for N, k in todo:
            raw_dir = None if out is None else out / "units" / f"N{N}-seed{k}"
            finish((N, k), measure_unit(study, preset, N, k, raw_dir, progress=False, log=None))
            bar.update()
    else:
        from .sweep import run_on_ray

        fields = dataclasses.asdict(preset)
        run_on_ray(_remote_unit, {job: (study.name, fields, job[0], job[1], threads) for job in todo},
                   ray_address, threads, finish, bar)
    bar.close()
    table, extrapolations = reconcile_scaling(study, preset, units, n_resamples=n_resamples)
    result = ScalingResult(study.name, dataclasses.asdict(preset), table, extrapolations, units,
                           computed=len(todo), reused=reused)
    result.figures = scaling_figures(study, preset, units, extrapolations)
    result.seconds = time.perf_counter() - t0
    if out is not None:
        _write(out, result)
    return result


def _per_size(units: dict, key: str, sizes, seeds: int):
    value = {N: np.array([units[(N, k)][key][0] for k in range(seeds)]) for N in sizes}
    theory = {N: np.array([units[(N, k)][key][1] for k in range(seeds)]) for N in sizes}
    return value, theory


def _series(q, value: dict, theory: dict, sizes) -> dict:
    """Per size the seeds' values of what is extrapolated: ``measured - theory(N)`` in difference
    mode, the measured value otherwise."""
    return {N: (value[N] - theory[N]) if q.mode == "difference" else value[N] for N in sizes}


def _mean_finite(v) -> float:
    v = np.asarray(v, dtype=float)
    return float(v.mean()) if np.all(np.isfinite(v)) else float("nan")


def reconcile_scaling(study: ScalingStudy, preset, units: dict, *, n_resamples: int = 2000):
    """The scaling table and the extrapolations (key -> Extrapolation) from the units' measurements."""
    sizes, seeds, conf = preset.size_list(), preset.seeds, preset.confidence
    rows, extrapolations = [], {}
    for q in study.quantities(preset):
        value, theory = _per_size(units, q.key, sizes, seeds)
        diff = q.mode == "difference"
        ys = _series(q, value, theory, sizes)
        for N in sizes:
            y = ys[N]
            mean, lo, hi = per_size_summary(y, conf)
            th = 0.0 if diff else _mean_finite(theory[N])
            finite = np.isfinite(y)
            note = (f"mean over {int(finite.sum())} seeds (of {seeds}), Student interval"
                    + ("; theory: finite-N prediction, mean over the seeds' disorder" if np.isfinite(th) and not diff
                       else "") + (f"; {seeds - int(finite.sum())} seeds gave no finite value" if not finite.all()
                                   else ""))
            rows.append(ComparisonRow(q.label, (q.symbol + " - theory(N)") if diff else q.symbol, th, mean, lo, hi,
                                      conf, note=note, extra={"N": str(N), "P": str(_P(preset, N)),
                                                              "seeds": int(finite.sum()), "fit": ""}))
        if q.mode == "per-size":
            continue
        bad = [N for N in sizes if not np.all(np.isfinite(ys[N]))]
        if bad:
            rows.append(ComparisonRow(q.label, q.symbol, q.limit, float("nan"), float("nan"), float("nan"), conf,
                                      note=f"not extrapolated: non-finite measurements at N = {bad}",
                                      extra={"N": "inf", "P": "", "seeds": 0, "fit": ""}))
            continue
        rng = np.random.default_rng(stream_seed(preset.seed, f"bootstrap-{q.key}"))
        ex = extrapolate(ys, preferred=q.ansatz, confidence=conf, n_resamples=n_resamples, rng=rng)
        extrapolations[q.key] = ex
        chi = "; ".join(f"{a}: chi2/dof = {f.chi2_per_dof:.2f}" + (f" (p = {f.p_value:.2f})" if f.dof else "")
                        for a, f in ex.fits.items())
        note = (f"N -> inf: intercept of the {ex.chosen} fit ({ex.reason}); {chi}; bootstrap over seeds, "
                f"Student t with {ex.dof:.1f} dof" + ("" if ex.trusted else "; NOT TO BE TRUSTED") +
                (f"; {q.note}" if q.note else ""))
        rows.append(ComparisonRow(q.label, ("lim " + q.symbol + " - theory(N)") if diff else q.symbol, q.limit,
                                  ex.intercept, ex.low, ex.high, conf, note=note,
                                  extra={"N": "inf", "P": "", "seeds": int(ex.counts.sum()), "fit": ex.chosen}))
    return make_table(rows), extrapolations


def _P(preset, N: int) -> int:
    return int(round(math.exp(preset.alpha * N)))


def scaling_summary(table: pd.DataFrame) -> str:
    """One line: the extrapolated verdicts, then the per-size ones against finite-N theory."""
    limit = table[table["N"] == "inf"]
    sized = table[(table["N"] != "inf") & table["agrees"].isin(["yes", "no"])]
    counted = limit["agrees"].isin(["yes", "no"])
    line = f"N -> inf: {int((limit['agrees'] == 'yes').sum())}/{int(counted.sum())} extrapolations agree"
    untrusted = int(limit["note"].str.contains("NOT TO BE TRUSTED", regex=False).sum())
    if untrusted:
        line += f" ({untrusted} from fits that every ansatz fails: not to be trusted)"
    line += f"; per size (finite-N theory): {int((sized['agrees'] == 'yes').sum())}/{len(sized)} rows agree"
    missing = int((limit["agrees"] == "n/a").sum())
    return line + (f"; {missing} not extrapolated" if missing else "")


@styled
def scaling_figures(study: ScalingStudy, preset, units: dict, extrapolations: dict) -> dict:
    """One figure per quantity: measurements against 1/N (seeds as dots, means with their interval),
    the chosen fit with its bootstrap band, the other ansatz dashed, the theory at 1/N = 0 and the
    finite-N theory where there is one."""
    from .plots import ALT_COLOR, MEASURED_COLOR, THEORY_COLOR, error_bars, new_figure

    sizes, seeds, conf = preset.size_list(), preset.seeds, preset.confidence
    figs = {}
    for q in study.quantities(preset):
        value, theory = _per_size(units, q.key, sizes, seeds)
        diff = q.mode == "difference"
        fig, ax = new_figure()
        x = 1.0 / np.array(sizes, dtype=float)
        ys = _series(q, value, theory, sizes)
        for N in sizes:
            ax.plot(np.full(seeds, 1.0 / N), ys[N], ".", color=MEASURED_COLOR, alpha=0.35, ms=4)
        summ = np.array([per_size_summary(ys[N], conf) for N in sizes])
        ax.errorbar(x, summ[:, 0], yerr=error_bars(*summ.T), fmt="o", color=MEASURED_COLOR, capsize=3,
                    label=f"measured: mean of {seeds} seeds ({conf:.0%} CI)")
        if not diff:
            th = np.array([_mean_finite(theory[N]) for N in sizes])
            dense_n = np.geomspace(min(sizes) * 0.9, max(sizes) * 50, 80)
            dense = study.finite_n_curve(preset, q.key, dense_n)
            if dense is not None:
                ax.plot(1.0 / dense_n, dense, ":", color=THEORY_COLOR, label="theory at finite N")
            elif np.any(np.isfinite(th)):
                ax.plot(x, th, "s:", color=THEORY_COLOR, ms=4, label="theory at finite N (this disorder)")
        ex = extrapolations.get(q.key)
        if ex is not None:
            grid = ex.band["N"]
            xs = np.concatenate([1.0 / grid, [0.0]])
            for name, fit in ex.fits.items():
                chosen = name == ex.chosen
                ax.plot(xs, np.concatenate([fit.predict(grid), [fit.intercept]]), "-" if chosen else "--",
                        color=MEASURED_COLOR if chosen else ALT_COLOR, lw=1.2 if chosen else 0.9,
                        label=f"fit a + b {name}" + (" (chosen)" if chosen else "") +
                              (f", $\\chi^2$/dof = {fit.chi2_per_dof:.2f}" if fit.dof else ""))
            ax.fill_between(1.0 / grid, ex.band["low"], ex.band["high"], color=MEASURED_COLOR, alpha=0.12, lw=0)
            ax.errorbar([0.0], [ex.intercept], yerr=error_bars([ex.intercept], [ex.low], [ex.high]), fmt="D",
                        color=MEASURED_COLOR, capsize=4, ms=5,
                        label=f"extrapolated {ex.intercept:.4g} [{ex.low:.4g}, {ex.high:.4g}]")
        ax.plot([0.0], [q.limit], "*", color=THEORY_COLOR, ms=12, label=f"theory, N = $\\infty$: {q.limit:.4g}")
        ax.set_xlim(left=-0.04 * x.max())
        ax.set_xlabel("1/N")
        ax.set_ylabel(f"{q.symbol} - theory(N)" if diff else q.symbol)
        ax.set_title(f"{q.label}\n{study.name}, N = {', '.join(map(str, sizes))}, alpha = {preset.alpha:g}",
                     fontsize=9)
        ax.legend(fontsize=7)
        figs[f"scaling-{q.key}"] = fig
    return figs


def _write(out: Path, result: ScalingResult) -> None:
    from .plots import save_figure

    write_table(result.table, out)
    payload = {"study": result.name, "units": {f"N{N}-seed{k}": v for (N, k), v in sorted(result.units.items())},
               "extrapolations": {k: {"chosen": e.chosen, "reason": e.reason, "intercept": e.intercept,
                                      "interval": [e.low, e.high], "confidence": e.confidence, "dof": e.dof,
                                      "trusted": e.trusted, "sizes": e.sizes, "means": e.means, "stderr": e.stderr,
                                      "fits": {a: {"intercept": f.intercept, "slope": f.slope, "chi2": f.chi2,
                                                   "dof": f.dof, "p_value": f.p_value} for a, f in e.fits.items()}}
                                  for k, e in result.extrapolations.items()}}
    atomic_write_text(out / "scaling.json", json.dumps(to_json_ready(payload), indent=2))
    atomic_write_text(out / "preset.json", json.dumps(result.preset, indent=2))
    for name, fig in result.figures.items():
        save_figure(fig, out / f"{name}.png")


#: Registered studies: name -> "module:Class".
SCALING_STUDIES = {
    "gaussian-mixture": "compare.experiments.scaling:MixtureScaling",
    "hmm": "compare.experiments.scaling:HmmScaling",
    "subspaces": "compare.experiments.scaling:SubspacesScaling",
}


def get_study(name: str) -> ScalingStudy:
    """The registered scaling study called ``name``."""
    try:
        target = SCALING_STUDIES[name]
    except KeyError:
        raise InputError(f"scaling study must be one of {sorted(SCALING_STUDIES)}, got {name!r}") from None
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)()
