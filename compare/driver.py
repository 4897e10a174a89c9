"""One driver for every experiment (the pattern of diffrax's abstract solver and ``diffeqsolve``).

An experiment (a subclass of :class:`Experiment`) only *declares*:

* ``preset_type``: its frozen preset dataclass, which validates itself when built (so every
  preset object is valid; the CLI turns its fields into options);
* ``version``: bumped when a stage's algorithm changes (part of every cache key);
* :meth:`Experiment.setup`: what stages and reconciliation share (theory objects, data), built once;
* :meth:`Experiment.stages`: a list of :class:`Stage` s (a name, the preset fields and extra
  parameters its result depends on, a compute function);
* :meth:`Experiment.reconcile`: raw arrays -> table rows (:class:`~compare.table.ComparisonRow`)
  and a JSON-ready theory dict;
* :meth:`Experiment.figures`: named matplotlib figures.

The driver (:func:`simulate_experiment` and :func:`run_experiment`) owns everything else, once for all experiments:

* **seeds**: every stage draws from named random streams (:func:`stream_seed`), a
  ``SeedSequence`` spawned from the preset seed by the stream name, so streams never collide
  (``ctx.torch_generator("data")``, ``ctx.numpy_rng()``); no global seeding anywhere;
* **cache keys**: the stage's declared configuration (the preset fields it uses, excluding the
  analysis-only fields ``confidence`` and ``tolerance``, plus its parameters), the experiment name
  and version, the stage name and the resolved device type; raw results live in
  ``OUT/raw/<stage>-<hash>.npz`` with a JSON sidecar holding the configuration and a SHA-256 of the
  arrays, and are reused only when both match (a damaged or edited file is recomputed);
* **outputs**: ``table.{csv,md,tex}`` in one schema (:mod:`compare.table`), ``theory.json``,
  ``preset.json`` and one PNG per figure, all written atomically.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import json
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np
import pandas as pd

from theory.validation import InputError

from .io import CacheMiss, atomic_write_text, config_hash, load_npz, save_npz, to_json_ready, warn_recompute
from .table import make_table, write_table

__all__ = ["Experiment", "Stage", "StageContext", "Reconciliation", "ExperimentResult", "SimulationResult",
           "stream_seed", "stage_config", "simulate_experiment", "run_experiment", "write_outputs", "agreement_summary",
           "DRIVER_VERSION", "ANALYSIS_FIELDS"]

#: Version of the driver's cache layout and seeding scheme (part of every cache key).
DRIVER_VERSION = 1
#: Preset fields that only change the analysis, never a simulation: never part of a cache key.
ANALYSIS_FIELDS = frozenset({"confidence", "tolerance"})


def stream_seed(seed: int, stream: str) -> int:
    """A 63-bit seed for the named random ``stream`` of a run with ``seed``:
    ``SeedSequence(seed, spawn_key=sha256(stream))``. Different names give independent streams."""
    digest = hashlib.sha256(stream.encode()).digest()
    key = tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))
    state = np.random.SeedSequence(int(seed), spawn_key=key).generate_state(2, np.uint64)
    return int(state[0]) & (2 ** 63 - 1)


@dataclass(frozen=True)
class Stage:
    """One cached unit of simulation.

    Parameters
    ----------
    name : str
        Unique within the experiment (the cache file and the ``--stage`` name).
    compute : callable
        ``compute(ctx: StageContext) -> dict`` of numpy-convertible arrays.
    uses : tuple of str, optional
        The preset fields the result depends on. None: every field except
        :data:`ANALYSIS_FIELDS` (always correct; declare ``uses`` to share a stage's cache between
        presets that differ only in fields it ignores).
    params : dict
        Extra configuration that is not a preset field (e.g. the dataset size of one sweep).
    stream : str, optional
        The default random stream of the stage (default: its name).
    """

    name: str
    compute: Callable[["StageContext"], dict]
    uses: tuple[str, ...] | None = None
    params: dict = field(default_factory=dict)
    stream: str | None = None


@dataclass(frozen=True)
class StageContext:
    """What a stage's compute function receives: the validated ``preset``, the resolved ``device``,
    the ``setup`` object, the stage itself and whether to show progress bars."""

    preset: Any
    device: Any
    setup: Any
    stage: Stage
    progress: bool

    @property
    def disable(self) -> bool | None:
        """tqdm's ``disable``: None shows bars on a terminal when ``progress``, True hides them."""
        return None if self.progress else True

    def seed(self, stream: str | None = None) -> int:
        """The seed of a named stream (default: the stage's own)."""
        return stream_seed(self.preset.seed, stream or self.stage.stream or self.stage.name)

    def torch_generator(self, stream: str | None = None):
        """A ``torch.Generator`` on the stage's device, seeded from the named stream."""
        from simulate._torch import make_generator

        return make_generator(self.seed(stream), self.device)

    def numpy_rng(self, stream: str | None = None) -> np.random.Generator:
        """A ``numpy.random.Generator`` seeded from the named stream."""
        return np.random.default_rng(self.seed(stream))


@dataclass
class Reconciliation:
    """What :meth:`Experiment.reconcile` returns: table ``rows`` (``ComparisonRow``), a JSON-ready
    ``theory`` dict, and ``extra`` values the figures reuse; ``table`` is the rows' tidy table,
    built once for the outputs and the figures."""

    rows: list
    theory: dict
    extra: dict = field(default_factory=dict)
    caveats: list = field(default_factory=list)  # run-dependent caveats, after the experiment's own

    @cached_property
    def table(self) -> pd.DataFrame:
        """The rows in the common schema (:func:`compare.table.make_table`)."""
        return make_table(self.rows)


@dataclass
class SimulationResult:
    """Raw arrays per stage, seconds spent, whether each came from the cache, and its file."""

    raw: dict
    timings: dict
    cached: dict
    paths: dict


@dataclass
class ExperimentResult:
    """``table`` (tidy DataFrame in the common schema), ``theory`` (JSON-ready predictions),
    ``figures`` (name -> matplotlib Figure), ``raw`` (stage -> arrays), ``timings`` (stage ->
    seconds), ``cached`` (stage -> loaded from ``OUT/raw`` instead of computed), ``caveats``
    (reconstructed definitions, approximations and artefacts the numbers carry: every output
    repeats them)."""

    name: str
    preset: dict
    table: pd.DataFrame
    theory: dict
    figures: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    cached: dict = field(default_factory=dict)
    caveats: list = field(default_factory=list)


class Experiment(ABC):
    """A theory-vs-simulation experiment: declares its preset, stages, reconciliation and figures."""

    name: ClassVar[str]
    preset_type: ClassVar[type]
    version: ClassVar[int] = 1
    #: What a reader of any output must know: reconstructed definitions, approximations, artefacts.
    caveats: ClassVar[tuple[str, ...]] = ()

    def setup(self, preset) -> Any:
        """Objects shared by the stages and the reconciliation (built once per run)."""
        return None

    @abstractmethod
    def stages(self, preset, setup) -> list[Stage]:
        """The cached units of simulation, in order."""

    @abstractmethod
    def reconcile(self, preset, setup, raw: dict) -> Reconciliation:
        """Table rows and theory from the raw arrays of every stage."""

    def figures(self, preset, setup, raw: dict, rec: Reconciliation) -> dict:
        """Named figures (default: none)."""
        return {}

    def summary_line(self, table: pd.DataFrame) -> str:
        """One line for the terminal after the table."""
        return agreement_summary(table)

    def to_markdown(self, table: pd.DataFrame) -> str:
        """The table as Markdown."""
        from .table import to_markdown

        return to_markdown(table)


def agreement_summary(table: pd.DataFrame) -> str:
    """``"k/n rows agree (i inside the interval, j within a stated tolerance only)"`` over the rows
    with a verdict, then the rows shown but not counted, the flagged zero-width intervals and the
    rows without a measurement, each counted separately."""
    agrees = table["agrees"]
    counted = agrees.isin(["yes", "no"])
    yes = agrees == "yes"
    inside = int((yes & (table["in_interval"] == "yes")).sum()) if "in_interval" in table else int(yes.sum())
    line = (f"{int(yes.sum())}/{int(counted.sum())} rows agree ({inside} inside the interval, "
            f"{int(yes.sum()) - inside} within a stated tolerance only)")
    parts = []
    excluded = int((agrees == "excluded").sum())
    if excluded:
        parts.append(f"{excluded} shown but not counted (post-hoc or straddling)")
    if "in_interval" in table:
        zero = int((table["in_interval"] == "zero-width").sum())
        if zero:
            parts.append(f"{zero} zero-width interval{'s' if zero > 1 else ''} flagged")
    missing = int((agrees == "n/a").sum())
    if missing:
        parts.append(f"{missing} without a measurement")
    return line + ("; " + "; ".join(parts) if parts else "")


def _device(preset):
    from simulate._torch import resolve_device

    return resolve_device(getattr(preset, "device", "cpu"))


def stage_config(experiment: Experiment, preset, stage: Stage, device_type: str) -> dict:
    """The cache key material of ``stage``: declared preset fields (minus analysis-only ones),
    parameters, experiment name and version, driver version, stage name and device type."""
    fields = {f.name for f in dataclasses.fields(preset)} - ANALYSIS_FIELDS - {"device"}
    uses = fields if stage.uses is None else set(stage.uses)
    unknown = uses - fields
    if unknown:
        raise TypeError(f"stage {stage.name!r} of {experiment.name} uses unknown or analysis-only fields {sorted(unknown)}")
    return {"experiment": experiment.name, "version": experiment.version, "driver": DRIVER_VERSION,
            "stage": stage.name, "stream": stage.stream or stage.name, "device": device_type, "seed": preset.seed,
            "preset": {k: getattr(preset, k) for k in sorted(uses)}, "params": stage.params}


def _select(stage_list: list[Stage], patterns) -> list[Stage]:
    if patterns is None:
        return stage_list
    names = [s.name for s in stage_list]
    chosen = [s for s in stage_list if any(fnmatch.fnmatchcase(s.name, p) for p in patterns)]
    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(n, p) for n in names)]
    if unmatched:
        raise InputError(f"stage must be one of {names} (shell patterns allowed), got {unmatched}")
    return chosen


def _validated(experiment: Experiment, preset):
    """The preset (default: the preset type's defaults). Presets validate themselves when built
    (``__post_init__``), so a preset object is always valid: nothing is checked twice."""
    preset = preset if preset is not None else experiment.preset_type()
    if not isinstance(preset, experiment.preset_type):
        raise InputError(f"preset must be a {experiment.preset_type.__name__}, got {type(preset).__name__}")
    return preset


def simulate_experiment(experiment: Experiment, preset=None, out=None, *, stages=None, resume: bool = True,
             progress: bool = False, log: Callable[[str], None] | None = None, setup=None) -> SimulationResult:
    """Run (or load) the stages of ``experiment``; with ``out``, cache their raw arrays in ``OUT/raw``.

    ``stages``: names or shell patterns (``"sweep-*-P250"``) to run; default all.
    """
    preset = _validated(experiment, preset)
    log = log or (lambda msg: None)
    device = _device(preset)
    setup = experiment.setup(preset) if setup is None else setup
    stage_list = experiment.stages(preset, setup)
    if len({s.name for s in stage_list}) != len(stage_list):
        raise TypeError(f"{experiment.name}: stage names must be unique")
    result = SimulationResult({}, {}, {}, {})
    for stage in _select(stage_list, stages):
        config = stage_config(experiment, preset, stage, device.type)
        ctx = StageContext(preset, device, setup, stage, progress)
        path = None if out is None else Path(out) / "raw" / f"{stage.name}-{config_hash(config)}.npz"
        log(f"{stage.name} ...")
        t0 = time.perf_counter()
        arrays, cached = None, False
        if path is not None and resume and path.exists():
            try:
                arrays, cached = load_npz(path, expect={"config": config}), True
            except CacheMiss as exc:
                warn_recompute(f"stage {stage.name}: cached result", path, str(exc))
        if arrays is None:
            arrays = {k: np.asarray(v) for k, v in stage.compute(ctx).items()}
            if path is not None:
                save_npz(path, arrays, meta={"config": config})
        result.raw[stage.name], result.cached[stage.name] = arrays, cached
        result.timings[stage.name], result.paths[stage.name] = time.perf_counter() - t0, path
    return result


def run_experiment(experiment: Experiment, preset=None, out=None, *, resume: bool = True, progress: bool = False,
        log: Callable[[str], None] | None = None, figure_formats=("png",)) -> ExperimentResult:
    """Simulate, reconcile with theory, draw; with ``out`` write the table, ``theory.json``,
    ``preset.json`` and the figures (atomically, one file per figure and format in
    ``figure_formats``: ``png``, ``pdf``, ``svg``)."""
    preset = _validated(experiment, preset)
    setup = experiment.setup(preset)
    sim = simulate_experiment(experiment, preset, out, resume=resume, progress=progress, log=log, setup=setup)
    rec = experiment.reconcile(preset, setup, sim.raw)
    result = ExperimentResult(experiment.name, dataclasses.asdict(preset), rec.table, rec.theory, raw=sim.raw,
                              timings=sim.timings, cached=sim.cached,
                              caveats=list(experiment.caveats) + list(rec.caveats))
    from .style import STYLE

    with STYLE.context():  # the one figure style; fonts are fixed when the artists are made
        result.figures = experiment.figures(preset, setup, sim.raw, rec)
    if out is not None:
        write_outputs(out, result, figure_formats)
    return result


def write_outputs(out, result: ExperimentResult, figure_formats=("png",)) -> None:
    """``table.{csv,md,tex}``, ``theory.json``, ``preset.json`` and each figure in each of
    ``figure_formats``, atomically."""
    from .plots import save_figure

    out = Path(out)
    write_table(result.table, out, caveats=result.caveats)
    theory = {"caveats": result.caveats, **result.theory}
    atomic_write_text(out / "theory.json", json.dumps(to_json_ready(theory), indent=2))
    atomic_write_text(out / "preset.json", json.dumps(result.preset, indent=2))
    for name, fig in result.figures.items():
        for fmt in figure_formats:
            save_figure(fig, out / f"{name}.{fmt}")
