"""The ``regimes`` command line.

``regimes compare [EXPERIMENT]`` runs theory + simulation + reconciliation (default:
``gaussian-mixture``); ``regimes theory MODEL`` prints predictions; ``regimes simulate
EXPERIMENT`` runs and saves the raw simulation only; ``regimes convert`` converts times between
parameterisations; ``regimes list`` lists the experiments.

Bad input (:class:`theory.InputError`, or a usage error caught by click) prints one line
``error: ...`` on stderr and exits with status 2. Any other exception is a bug: it propagates
with its traceback.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import sys
import time
from pathlib import Path

import click

from theory import DEFAULT_DDPM, TwoClassMixture, conventions
from theory.validation import InputError, require_int, require_nonnegative, require_positive

from .io import check_writable, prepare_output, strict_cache, to_json_ready
from .registry import DEFAULT_EXPERIMENT, EXPERIMENTS, get_experiment
from .style import styled

__all__ = ["cli", "main"]


def _json(obj) -> str:
    """Standard JSON (NaN and inf as null)."""
    return json.dumps(to_json_ready(obj), indent=2)


def _preset_options(preset_cls):
    """Click options generated from a preset dataclass (``--N``, ``--clone-steps``, ...)."""

    def decorate(func):
        for f in reversed(dataclasses.fields(preset_cls)):
            default = f.default
            flag = "--" + f.name.replace("_", "-")
            func = click.option(flag, f.name, type=type(default), default=None, show_default=False,
                                help=f"[default: {default}]")(func)
        return func

    return decorate


def _path_argument(preset_cls):
    """A preset with a ``path`` field (``data``) also takes it as an optional positional argument:
    ``regimes compare data PATH`` is ``regimes compare data --path PATH``."""

    def decorate(func):
        if "path" not in {f.name for f in dataclasses.fields(preset_cls)}:
            return func

        @functools.wraps(func)
        def wrapper(*args, path_argument=None, **kwargs):
            if path_argument is not None:
                if kwargs.get("path") not in (None, path_argument):
                    raise InputError(f"give the dataset once: PATH {path_argument!r} and --path {kwargs['path']!r}")
                kwargs["path"] = path_argument
            return func(*args, **kwargs)

        return click.argument("path_argument", metavar="PATH", required=False, type=click.Path())(wrapper)

    return decorate


def _usable_cache():
    """The HMM cache folder (``$REGIMES_CACHE`` or ``~/.cache/diffusion-regimes``), checked before any
    work: one that cannot be written is announced in one line and the run goes on without it."""
    from .io import strict_cache_enabled
    from .theory_cache import default_cache_dir

    folder = default_cache_dir()
    try:
        prepare_output(folder / "hmm", "cache ($REGIMES_CACHE)")
    except InputError as exc:
        if strict_cache_enabled():
            raise
        click.echo(f"warning: {exc}; computing without the cache", err=True)
        return False
    return folder


def _set_strict_cache(ctx, param, value):
    if value:  # main() restores the previous setting when the command returns
        from .io import set_strict_cache

        set_strict_cache()
    return value


def _strict_cache_option(func):
    return click.option("--strict-cache", is_flag=True, expose_value=False, callback=_set_strict_cache,
                        help="A cached file that cannot be used (damaged, edited, another configuration's) "
                             "is an error, not a recomputation.")(func)


def _common_run_options(func, out_default: str = "regimes-out/EXPERIMENT"):
    func = click.option("--out", "out", type=click.Path(file_okay=False), default=None,
                        help=f"Output directory [default: {out_default}].")(func)
    func = click.option("--no-resume", is_flag=True, help="Recompute cached raw results.")(func)
    func = _strict_cache_option(func)
    func = click.option("--quiet", is_flag=True, help="No progress messages.")(func)
    return func


def _first_paragraph(doc: str) -> str:
    """A docstring's first paragraph on one line (a command's help)."""
    return " ".join(doc.strip().split("\n\n")[0].split())


def _build_preset(experiment, overrides: dict):
    values = {k: v for k, v in overrides.items() if v is not None}
    return experiment.preset(**values)  # presets validate themselves


def _log(quiet: bool):
    return (lambda msg: None) if quiet else (lambda msg: click.echo(msg, err=True))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="diffusion-regimes")
def cli():
    """Dynamical regimes of diffusion models: predict, simulate, reconcile."""


@cli.command("list")
def list_experiments():
    """List the registered experiments."""
    for name, exp in EXPERIMENTS.items():
        mark = " (default)" if name == DEFAULT_EXPERIMENT else ""
        click.echo(f"{name}{mark}: {exp.description}")


# -- compare ---------------------------------------------------------------------------------
class _DefaultExperimentGroup(click.Group):
    """``regimes compare [OPTIONS]`` means ``regimes compare DEFAULT [OPTIONS]``."""

    def parse_args(self, ctx, args):
        if not args or (args[0].startswith("-") and args[0] not in ("-h", "--help")):
            args = [DEFAULT_EXPERIMENT, *args]
        return super().parse_args(ctx, args)


@cli.group("compare", cls=_DefaultExperimentGroup)
def compare_group():
    """Theory vs simulation table and plots.

    Without an experiment name runs the default, gaussian-mixture (options go after it or
    directly after 'compare').
    """


def _run_compare(name: str, out, no_resume: bool, quiet: bool, *, figure_formats=("png",), **overrides):
    exp = get_experiment(name)
    preset = _build_preset(exp, overrides)
    out = Path(out) if out else Path("regimes-out") / name
    prepare_output(out, "--out")  # before any work, not after it
    t0 = time.perf_counter()
    result = exp.run(preset, out, resume=not no_resume, progress=not quiet, log=_log(quiet),
                     figure_formats=figure_formats)
    elapsed = time.perf_counter() - t0
    click.echo(exp.to_markdown(result.table))
    figures = ", ".join(f"{f}.{fmt}" for f in result.figures for fmt in figure_formats)
    click.echo(f"\n{exp.summary_line(result.table)}; {elapsed:.1f} s; results in {out}/ "
               f"(table.csv, table.md, table.tex, {figures})")
    if result.caveats:
        from .table import caveat_lines

        click.echo(caveat_lines(result.caveats), nl=False)


def _register_compare(name: str):
    exp = EXPERIMENTS[name]

    @compare_group.command(name, help=f"{exp.description}")
    @_common_run_options
    @click.option("--figure-format", "figure_format", type=click.Choice(["png", "pdf", "svg", "png+pdf"]),
                  default="png", show_default=True, help="Figure files: PNG for the screen, PDF or SVG (vector) "
                                                         "for papers, or both PNG and PDF.")
    @_preset_options(exp.preset)
    @_path_argument(exp.preset)
    def command(out, no_resume, quiet, figure_format, **overrides):
        _run_compare(name, out, no_resume, quiet, figure_formats=tuple(figure_format.split("+")), **overrides)

    return command


for _name in EXPERIMENTS:
    _register_compare(_name)


# -- simulate --------------------------------------------------------------------------------
@cli.group("simulate")
def simulate_group():
    """Run a simulation alone and save its raw results (NPZ + JSON config) under OUT/raw."""


def _register_simulate(name: str):
    exp = EXPERIMENTS[name]

    @simulate_group.command(name, help=f"Raw simulation of: {exp.description}")
    @click.option("--stage", "stages", multiple=True,
                  help="Stage(s) to run, repeatable; shell patterns such as 'sweep-*' allowed [default: all].")
    @_common_run_options
    @_preset_options(exp.preset)
    @_path_argument(exp.preset)
    def command(stages, out, no_resume, quiet, **overrides):
        preset = _build_preset(exp, overrides)
        out = Path(out) if out else Path("regimes-out") / name
        prepare_output(out, "--out")
        sim = exp.simulate(preset, out, stages=stages or None, resume=not no_resume, progress=not quiet,
                           log=_log(quiet))
        for stage, path in sim.paths.items():
            state = "cached" if sim.cached[stage] else f"{sim.timings[stage]:.1f} s"
            click.echo(f"{stage}: {path} ({state})")

    return command


for _name in EXPERIMENTS:
    _register_simulate(_name)


# -- gallery ---------------------------------------------------------------------------------
@cli.command("gallery")
@click.option("--docs", "docs", type=click.Path(file_okay=False), default="docs", show_default=True,
              help="Folder of the page figures.md and its pictures (figures/NAME/*.png).")
@click.option("--work", "work", type=click.Path(file_okay=False), default="regimes-out/gallery", show_default=True,
              help="Where the runs store their results (reused by the next call).")
@click.option("--only", "only", default=None, help="Comma-separated experiments [default: all].")
@_strict_cache_option
@click.option("--quiet", is_flag=True, help="No progress messages.")
def gallery(docs, work, only, quiet):
    """Run every experiment's default preset and write the figure gallery (docs/figures.md)."""
    from .gallery import build_gallery

    names = None if only is None else [n.strip() for n in only.split(",") if n.strip()]
    if names == []:
        raise InputError(f"--only must name at least one experiment, got {only!r}")
    for name in names or []:
        if name not in EXPERIMENTS:
            raise InputError(f"--only: unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}")
    prepare_output(docs, "--docs")
    prepare_output(work, "--work")
    page = build_gallery(docs, work, names, progress=not quiet, log=_log(quiet))
    click.echo(f"gallery written: {page}")


# -- sweep -----------------------------------------------------------------------------------
@cli.command("sweep")
@click.argument("experiment", type=click.Choice(list(EXPERIMENTS)))
@click.option("--grid", "grid", multiple=True, required=True,
              help="NAME=V1,V2,... over a preset field, repeatable (Cartesian product).")
@click.option("--set", "fixed", multiple=True, help="NAME=VALUE fixed for every task, repeatable.")
@click.option("--ray", "ray_address", default=None,
              help="Run on Ray: 'local' starts a local cluster, otherwise a cluster address.")
@click.option("--threads", type=int, default=1, show_default=True, help="torch threads (and Ray CPUs) per task.")
@click.option("--out", "out", type=click.Path(file_okay=False), default=None,
              help="Output directory [default: regimes-out/sweep-EXPERIMENT].")
@click.option("--no-resume", is_flag=True, help="Recompute tasks that finished before.")
@_strict_cache_option
@click.option("--quiet", is_flag=True, help="No progress bar or messages.")
def sweep(experiment, grid, fixed, ray_address, threads, out, no_resume, quiet):
    """Run a grid of EXPERIMENT presets as independent tasks; resumable, same table on every backend."""
    from .sweep import check_ray_address, parse_fixed, parse_grid, run_sweep

    _check_threads(threads)
    check_ray_address(ray_address)  # before any work: ray.init would wait minutes for a dead address
    grid_values = parse_grid(experiment, grid)
    base = parse_fixed(experiment, fixed)
    overlap = set(base) & set(grid_values)
    if overlap:
        raise InputError(f"--set and --grid both name {sorted(overlap)}")
    out = Path(out) if out else Path("regimes-out") / f"sweep-{experiment}"
    prepare_output(out, "--out")
    t0 = time.perf_counter()
    res = run_sweep(experiment, grid_values, out, base=base, ray_address=ray_address, threads=threads,
                    resume=not no_resume, progress=not quiet, log=_log(quiet))
    from .driver import agreement_summary

    click.echo(res.table.to_markdown(index=False))
    click.echo(f"\n{len(res.paths)} tasks ({res.computed} run, {res.reused} reused); {agreement_summary(res.table)}; "
               f"{time.perf_counter() - t0:.1f} s; results in {out}/ (sweep.csv, sweep.md, tasks/)")


# -- scale -----------------------------------------------------------------------------------
@cli.group("scale")
def scale_group():
    """Finite-size scaling: measure at several N (fixed alpha = ln P / N), several seeds each, and
    extrapolate every measured time to N -> infinity (docs/scaling.md)."""


def _scaling_presets():
    """name -> preset type of every scaling study, without importing the studies (they pull in
    scipy and pandas: +1 s on every ``regimes`` call); tests/test_scaling.py checks it against
    the registry."""
    from .presets import HmmScalingPreset, MixtureScalingPreset, SubspacesScalingPreset

    return {"gaussian-mixture": MixtureScalingPreset, "hmm": HmmScalingPreset, "subspaces": SubspacesScalingPreset}


def _register_scale(name: str, preset_cls):
    @scale_group.command(name, help=f"Size scan of {name}. {_first_paragraph(preset_cls.__doc__)}",
                         short_help=f"Size scan of {name}.")
    @click.option("--large", is_flag=True, help="The documented GPU preset (needs CUDA), other options override it.")
    @click.option("--ray", "ray_address", default=None,
                  help="Run the units on Ray: 'local' starts a local cluster, otherwise a cluster address.")
    @click.option("--threads", type=int, default=1, show_default=True, help="torch threads per Ray task.")
    @functools.partial(_common_run_options, out_default=f"regimes-out/scale-{name}")
    @_preset_options(preset_cls)
    def command(large, ray_address, threads, out, no_resume, quiet, **overrides):
        from .scaling import get_study, run_scaling, scaling_summary
        from .table import to_markdown

        from .sweep import check_ray_address

        _check_threads(threads)
        check_ray_address(ray_address)  # before any work
        study = get_study(name)
        if large:
            if study.large_preset is None:
                raise InputError(f"--large: the {name} study has no GPU preset")
            import torch

            if not torch.cuda.is_available():
                raise InputError("--large needs CUDA (the GPU preset's sizes take hours on a CPU); run without it")
            base = dataclasses.asdict(study.large_preset)
        else:
            base = {}
        values = {**base, **{k: v for k, v in overrides.items() if v is not None}}
        preset = preset_cls(**values)
        out = Path(out) if out else Path("regimes-out") / f"scale-{name}"
        prepare_output(out, "--out")
        res = run_scaling(study, preset, out, resume=not no_resume, progress=not quiet, log=_log(quiet),
                          ray_address=ray_address, threads=threads)
        click.echo(to_markdown(res.table))
        click.echo(f"\n{scaling_summary(res.table)}; {res.computed} units run, {res.reused} reused; "
                   f"{res.seconds:.1f} s; results in {out}/ (table.csv, table.md, table.tex, scaling.json, "
                   f"{', '.join(f + '.png' for f in res.figures)})")

    return command


for _name, _cls in _scaling_presets().items():
    _register_scale(_name, _cls)


# -- theory ----------------------------------------------------------------------------------
@cli.group("theory")
def theory_group():
    """Closed-form and numerical predictions."""


_RANGE_HELP = " A value, a list a,b,c, or a range START:STOP:COUNT (add :log for geometric spacing)."


def _grid_options(plot_help: str):
    """``--json``, ``--format`` and ``--plot`` of a ``regimes theory`` command that takes ranges."""
    def decorate(func):
        func = click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
                            help=plot_help + " PNG, PDF or SVG by the suffix.")(func)
        func = click.option("--format", "fmt", type=click.Choice(["md", "csv", "json"]), default=None,
                            help="Table format for a grid [default: md].")(func)
        return click.option("--json", "as_json", is_flag=True,
                            help="Print one JSON object (one point) or records (a grid).")(func)
    return decorate


@theory_group.command("gaussian-mixture")
@click.option("--N", "N", required=True, help="Dimension." + _RANGE_HELP)
@click.option("--P", "P", required=True, help="Number of training points." + _RANGE_HELP)
@click.option("--mu", default="1.0", show_default=True, help="Mean scale, |m|^2 = mu^2 N." + _RANGE_HELP)
@click.option("--sigma", default="1.0", show_default=True, help="Within-class standard deviation." + _RANGE_HELP)
@_grid_options("Draw the times against the one parameter that varies.")
def theory_mixture(N, P, mu, sigma, as_json, fmt, plot_path):
    """Speciation and collapse times of the two-class Gaussian mixture, at a point or over ranges."""
    from .ranges import MAX_DIMENSION, evaluate_grid, parse_range

    grid = {"N": parse_range("N", N, integer=True, max_value=MAX_DIMENSION), "P": parse_range("P", P, integer=True),
            "mu": parse_range("mu", mu), "sigma": parse_range("sigma", sigma)}
    if all(len(v) == 1 for v in grid.values()) and fmt is None and plot_path is None:
        _theory_mixture_point(*(v[0] for v in grid.values()), as_json)
        return

    varying = _varying(grid, plot_path, 1)

    def point(N, P, mu, sigma):
        s = TwoClassMixture(int(N), int(P), float(mu), float(sigma)).summary()
        keys = ["alpha", "Lambda", "t_S", "t_S_bimodality", "t_S_curvature", "t_C", "t_C_finite_N"]
        return {**{k: s[k] for k in keys}, **{f"sigma_EDM({k})": s["sigma_EDM"][k] for k in ("t_S", "t_C")}}

    table = evaluate_grid(grid, point)
    _echo_grid_table(table, "json" if as_json else fmt)
    if plot_path is not None:
        _plot_mixture_grid(table, varying[0], plot_path)
        click.echo(f"plot: {plot_path}", err=True)  # stdout stays a clean table


def _echo_grid_table(table, fmt) -> None:
    """A grid's table as markdown (default), CSV or JSON records."""
    if fmt == "csv":
        click.echo(table.to_csv(index=False), nl=False)
    elif fmt == "json":
        click.echo(table.to_json(orient="records", double_precision=15))
    else:
        click.echo(table.to_markdown(index=False, floatfmt=".10g"))


def _varying(grid: dict, plot_path, most: int) -> list[str]:
    """The parameters with more than one value; --plot needs between 1 and ``most`` of them."""
    varying = [k for k, v in grid.items() if len(v) > 1]
    if plot_path is not None:
        from .plots import figure_format

        figure_format(plot_path)  # a bad suffix or an unwritable place is refused before anything is computed
        check_writable(plot_path, "--plot", directory=False)
    if plot_path is not None and not 1 <= len(varying) <= most:
        raise InputError(f"--plot draws against {'one or two varying parameters' if most == 2 else 'one varying parameter'}"
                         f"; {len(varying)} vary ({', '.join(varying) or 'none'})")
    return varying


def _theory_mixture_point(N, P, mu, sigma, as_json):
    summary = TwoClassMixture(int(N), int(P), float(mu), float(sigma)).summary()
    if as_json:
        click.echo(_json(summary))
        return
    click.echo(f"two-class Gaussian mixture: N = {N}, P = {P}, mu = {mu:g}, sigma = {sigma:g}")
    click.echo(f"alpha = ln P / N = {summary['alpha']:.10g}   Lambda = {summary['Lambda']:.10g}")
    click.echo(f"{'quantity':<16}{'t (OU)':>16}{'sigma_EDM':>16}{'DDPM step':>12}")
    for key in ["t_S", "t_S_bimodality", "t_S_curvature", "t_C", "t_C_finite_N"]:
        step = summary["ddpm_step"][key]
        step_s = f"{step:.1f}" if math.isfinite(step) else "-"
        click.echo(f"{key:<16}{summary[key]:>16.10g}{summary['sigma_EDM'][key]:>16.8g}{step_s:>12}")


@styled
def _plot_mixture_grid(table, name: str, path) -> None:
    """t_S, t_C and t_C^N against ``name``; sigma_EDM on a twin axis."""
    from .plots import ALT_COLOR, MEASURED_COLOR, THEORY_COLOR, new_figure, save_figure

    x = table[name].astype(float).to_numpy()
    fig, ax = new_figure()
    for key, label, color, style in (("t_S", "$t_S = \\ln(\\Lambda)/2$", THEORY_COLOR, "-"),
                                     ("t_C", "$t_C$ (leading order)", MEASURED_COLOR, "-"),
                                     ("t_C_finite_N", "$t_C^N$ (finite N)", ALT_COLOR, "--")):
        ax.plot(x, table[key].astype(float), style, color=color, label=label)
    if x.min() > 0 and x.max() / x.min() > 30:
        ax.set_xscale("log")
    ax.set_xlabel(name)
    ax.set_ylabel("t (OU time)")
    fixed = ", ".join(f"{k} = {table[k].iloc[0]}" for k in ("N", "P", "mu", "sigma") if k != name)
    ax.set_title(f"two-class Gaussian mixture: times against {name} ({fixed})", fontsize=9)
    _sigma_edm_axis(ax)
    ax.legend(fontsize=8)
    save_figure(fig, path)


def _sigma_edm_axis(ax) -> None:
    """sigma_EDM on a twin y axis of an axis in OU time t."""
    import numpy as np

    from theory.conventions import sigma_edm_to_t, t_to_sigma_edm

    sec = ax.secondary_yaxis("right", functions=(lambda t: t_to_sigma_edm(np.clip(t, 1e-12, 300)),
                                                 lambda s: sigma_edm_to_t(np.clip(s, 1e-12, 1e120))))
    sec.set_ylabel("$\\sigma_{EDM}$")


def _check_threads(threads) -> int:
    """torch threads per task: at least 1, at most the larger of the CPU count and 1024 (a count
    beyond that is a typo, and torch cannot take it)."""
    import os

    threads = require_int("threads", threads, 1)
    cpus = os.cpu_count() or 1
    if threads > max(cpus, 1024):
        raise InputError(f"threads must be at most {max(cpus, 1024)}, got {threads}")
    return threads


def _csv(kind, name):
    def convert(text):
        items = str(text).split(",")
        try:
            values = [kind(v) for v in items]
        except ValueError:
            values = None
        if not values or any(not v.strip() for v in items):
            raise click.BadParameter(f"must be a comma-separated list of numbers, got {text!r}", param_hint=name)
        return values

    return convert


@theory_group.command("subspaces")
@click.option("--dims", required=True, help="Block dimensions, e.g. 2,5,23.")
@click.option("--std", "stds", required=True, help="Block standard deviations, e.g. 1,0.3,0.01.")
@click.option("--P", "P", required=True, help="Number of training points." + _RANGE_HELP)
@click.option("--normalized", is_flag=True, help="Sphere-projected data (g = 0); default g = 1.")
@_grid_options("Draw each block's critical time under both rules and the global collapse against P.")
def theory_subspaces(dims, stds, P, normalized, as_json, fmt, plot_path):
    """Per-subspace critical noise levels of linear-manifold data under both rules, at one P or over
    a range of P."""
    from theory.subspaces import BlockSpectrum

    from .ranges import evaluate_grid, parse_range

    spec = BlockSpectrum.from_std(_csv(int, "--dims")(dims), _csv(float, "--std")(stds), normalized=normalized)
    grid = {"P": parse_range("P", P, integer=True)}
    if len(grid["P"]) > 1 or fmt is not None or plot_path is not None:
        _varying(grid, plot_path, 1)

        def point(P):
            summary = spec.summary(P)
            row = {"t_collapse": summary["t_collapse"]}
            for k, block in enumerate(summary["per_subspace"], start=1):
                row[f"t_block_{k}"] = block["t_block"]
                row[f"t_gauss_rem_{k}"] = block["t_gauss_rem"]
            return row

        table = evaluate_grid(grid, point)
        _echo_grid_table(table, "json" if as_json else fmt)
        if plot_path is not None:
            _plot_subspaces_grid(table, spec, plot_path)
            click.echo(f"plot: {plot_path}", err=True)  # stdout stays a clean table
        return
    P = grid["P"][0]
    summary = spec.summary(P)
    if as_json:
        click.echo(_json(summary))
        return
    click.echo(f"blocks {list(spec.dims)}, variances {list(spec.variances)}, N = {spec.N}, P = {P}, g = {spec.g}")
    click.echo(f"{'dim':>5}{'variance':>12}{'tau_gauss_rem':>16}{'t_gauss_rem':>14}{'tau_block':>14}{'t_block':>12}")
    for row in summary["per_subspace"]:
        click.echo(f"{row['dim']:>5}{row['variance']:>12.4g}{row['tau_gauss_rem']:>16.8g}{row['t_gauss_rem']:>14.6g}"
                   f"{row['tau_block']:>14.6g}{row['t_block']:>12.6g}")
    click.echo(f"global collapse: tau_c = {summary['tau_collapse']:.10g}, t_c = {summary['t_collapse']:.10g}")


@styled
def _plot_subspaces_grid(table, spec, path) -> None:
    """Each block's critical time (block rule solid, Gaussian-REM rule dashed, one colour per block)
    and the global collapse against P, with sigma_EDM on a twin axis."""
    import matplotlib

    from .plots import new_figure, save_figure

    fig, ax = new_figure()
    x = table["P"].astype(float).to_numpy()
    cmap = matplotlib.colormaps["viridis"]
    for k, (d, var) in enumerate(zip(spec.dims, spec.variances), start=1):
        c = cmap(0.8 * (k - 1) / max(len(spec.dims) - 1, 1))  # stop short of viridis' pale yellow
        ax.plot(x, table[f"t_block_{k}"].astype(float), "-", color=c,
                label=f"block {k}: dim {d}, variance {var:.3g}")
        ax.plot(x, table[f"t_gauss_rem_{k}"].astype(float), "--", color=c)
    ax.plot(x, table["t_collapse"].astype(float), "-", color="black", lw=2, label="global collapse $t_C$")
    ax.plot([], [], "k-", lw=1, label="block rule")
    ax.plot([], [], "k--", lw=1, label="Gaussian-REM rule")
    ax.set_xscale("log")
    times = table[[c for c in table.columns if c.startswith("t_")]].astype(float).to_numpy()
    if times.min() > 0 and times.max() / times.min() > 30:
        ax.set_yscale("log")
    ax.set_xlabel("P (training points)")
    ax.set_ylabel("t (OU time) at which the block is lost")
    ax.set_title(f"linear-manifold data, N = {spec.N}: per-block critical times against P", fontsize=9)
    _sigma_edm_axis(ax)
    ax.legend(fontsize=7)
    save_figure(fig, path)


def _dataset_options(func):
    """The options that read a dataset in any supported format (``regimes theory data``,
    ``regimes compare data``, ``regimes measure``)."""
    for option in reversed([
        click.option("--format", "fmt", type=click.Choice(["auto", "idx", "cifar", "folder", "npz", "npy", "hf"]),
                     default="auto", show_default=True, help="Dataset format (auto detects it; docs/your-data.md)."),
        click.option("--convention", type=click.Choice(["auto", "unit", "bbbm24", "raw"]), default="auto",
                     show_default=True, help="Preprocessing: unit (pixels to [0,1], centred, unit mean variance), "
                     "bbbm24 ([0,1], MNIST padded to 32x32, one mean per channel), raw (as stored); auto: raw for "
                     "float arrays, unit otherwise."),
        click.option("--classes", default=None, help="Comma-separated labels to keep [default: all]."),
        click.option("--P", "P", type=int, default=None, help="Seeded random subsample of this many samples."),
        click.option("--split", type=click.Choice(["train", "test"]), default="train", show_default=True),
        click.option("--mode", type=click.Choice(["L", "RGB"]), default=None,
                     help="Grey (L) or colour (RGB) images [default: as stored; folders RGB]."),
        click.option("--size", type=int, default=None, help="Image folders: resize and centre-crop to size x size."),
    ]):
        func = option(func)
    return func


def _load_dataset_from_options(path, fmt, convention, classes, P, seed, split, mode, size, scale=None):
    """The :class:`~simulate.datasets.ArrayDataset` the dataset options describe (``--convention auto``:
    ``raw`` for float arrays, ``unit`` for images and 8-bit arrays; the legacy ``--scale`` maps onto
    it)."""
    from simulate.datasets import load_dataset

    from .presets import parse_int_list

    class_list = None if classes is None else parse_int_list("classes", classes)
    if P is not None:
        require_int("P", P, 2)
    if size is not None:
        require_int("size", size, 1)
    if scale is not None and convention == "auto":  # the older option: none = as given, unit = rescaled
        convention = {"none": "raw", "unit": "unit"}[scale]
    return load_dataset(path, format=fmt, convention=convention, classes=class_list, P=P, seed=seed, split=split,
                        mode=mode, size=size)


@theory_group.command("data")
@click.argument("path", type=click.Path())
@_dataset_options
@click.option("--scale", type=click.Choice(["none", "unit"]), default=None,
              help="Older form of --convention: none = raw, unit = unit.")
@click.option("--spectrum", "matrix", type=click.Choice(["covariance", "second-moment"]), default="covariance",
              show_default=True, help="Matrix of Lambda: the centred covariance, or X^T X / P about the "
              "convention's means (docs/your-data.md).")
@click.option("--samples", type=int, default=2000, show_default=True, help="Monte Carlo samples per time.")
@click.option("--entropy-P", "entropy_P", type=int, default=None,
              help="Run the entropy estimator on a seeded subsample of this many points (its t_C is for that size).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--collapse-below", "collapse_below", type=float, multiple=True,
              help="Report the dataset size that pushes the Gaussian t_C below this t (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def theory_data(path, fmt, convention, classes, P, split, mode, size, scale, matrix, samples, entropy_P, seed, device,
                collapse_below, as_json, quiet):
    """Speciation and collapse times predicted from a dataset: IDX (MNIST family), CIFAR pickles, image
    folders, .npy/.npz, saved Hugging Face datasets; rows are samples."""
    from .data_theory import summarize_data

    require_int("samples", samples, 10)
    if samples > 10 ** 8:
        raise InputError(f"samples must be at most 10^8 per time, got {samples}")
    for t in collapse_below:
        if not (t > 0 and math.isfinite(t)):
            raise InputError(f"collapse-below must be a time > 0, got {t}")
    ds = _load_dataset_from_options(path, fmt, convention, classes, P, seed, split, mode, size, scale)
    if entropy_P is not None:
        require_int("entropy-P", entropy_P, 2)
        if entropy_P > ds.P:
            raise InputError(f"entropy-P must be at most the {ds.P} samples loaded, got {entropy_P}")
    summary = summarize_data(ds.data, samples=samples, seed=seed, device=device, collapse_below=collapse_below,
                             progress=not (quiet or as_json), entropy_P=entropy_P, matrix=matrix,
                             preprocessing=ds.preprocessing)
    if as_json:
        click.echo(_json(summary))
        return
    lo, hi = summary["t_C_entropy_ci"]
    pre = summary["preprocessing"]
    click.echo(f"{path}: P = {summary['P']}, N = {summary['N']}, alpha = {summary['alpha']:.6g}, "
               f"Lambda = {summary['Lambda']:.6g} ({summary['spectrum_matrix']}, {summary['spectrum_method']})")
    click.echo(f"convention: {pre.get('convention')} ({', '.join(f'{k} {v}' for k, v in pre.items() if k in ('format', 'pixels', 'padded', 'divided_by'))})")
    click.echo(f"{'quantity':<16}{'t (OU)':>12}{'sigma_EDM':>12}{'DDPM step':>11}")
    for key in ["t_S", "t_C_gaussian", "t_C_entropy"]:
        step = summary["ddpm_step"][key]
        click.echo(f"{key:<16}{summary[key]:>12.6g}{summary['sigma_EDM'][key]:>12.6g}"
                   f"{(f'{step:.1f}' if math.isfinite(step) else '-'):>11}")
    click.echo(f"t_C_entropy {summary['confidence']:.0%} interval: [{lo:.6g}, {hi:.6g}] ({summary['entropy_samples']} "
               f"samples per time, P = {summary['entropy_P']}"
               + (f"; Gaussian t_C at that P: {summary['t_C_gaussian_at_entropy_P']:.6g}" if summary["entropy_P"] != summary["P"] else "")
               + ")")
    click.echo("speciation hierarchy (1/2 ln Lambda_k): " + (", ".join(f"{v:.4g}" for v in summary["speciation_hierarchy"])
                                                            or "none (no eigenvalue above 1)"))
    for row in summary["samples_for_collapse_below"]:
        click.echo(f"Gaussian t_C falls below t = {row['t']:.4g} at P = 10^{row['log10_P']:.4g}")
    for warning in summary["warnings"]:
        click.echo(f"warning: {warning}")


@theory_group.command("linear-denoiser")
@click.option("--d", "d", required=True, help="Dimension." + _RANGE_HELP)
@click.option("--T", "T", required=True, help="Forward time." + _RANGE_HELP)
@click.option("--ell", required=True, help="Noise scale of the forward OU process." + _RANGE_HELP)
@click.option("--s", "s", default="1.0", show_default=True, help="Data standard deviation." + _RANGE_HELP)
@click.option("--n", "n", default=None, help="Training-set size for the finite-n variance." + _RANGE_HELP)
@_grid_options("Draw the variance ratio (and the finite-n variance) against the one parameter that varies.")
def theory_linear_denoiser(d, T, ell, s, n, as_json, fmt, plot_path):
    """The solvable linear one-step denoiser model [H24]: variance ratio, KL floor, transition size,
    at a point or over ranges."""
    from theory.linear_denoiser import LinearDenoiserModel

    from .ranges import MAX_DIMENSION, evaluate_grid, parse_range

    grid = {"d": parse_range("d", d, integer=True, max_value=MAX_DIMENSION), "T": parse_range("T", T),
            "ell": parse_range("ell", ell), "s": parse_range("s", s)}
    if n is not None:
        grid["n"] = parse_range("n", n, integer=True, max_value=MAX_DIMENSION)
    if any(len(v) > 1 for v in grid.values()) or fmt is not None or plot_path is not None:
        varying = _varying(grid, plot_path, 1)

        def point(d, T, ell, s, n=None):
            out = LinearDenoiserModel(int(d), float(T), float(ell), float(s)).summary(None if n is None else int(n))
            return {k: out[k] for k in ("r", "kl_floor", "n_c", "variance_n") if k in out}

        table = evaluate_grid(grid, point)
        _echo_grid_table(table, "json" if as_json else fmt)
        if plot_path is not None:
            _plot_linear_denoiser_grid(table, varying[0], plot_path)
            click.echo(f"plot: {plot_path}", err=True)  # stdout stays a clean table
        return
    d, T, ell, s = int(grid["d"][0]), float(grid["T"][0]), float(grid["ell"][0]), float(grid["s"][0])
    n = None if n is None else int(grid["n"][0])
    summary = LinearDenoiserModel(d, T, ell, s).summary(n)
    if as_json:
        click.echo(_json(summary))
        return
    click.echo(f"linear one-step denoiser: d = {d}, T = {T}, ell = {ell}, s = {s}")
    click.echo(f"population variance ratio r = {summary['r']:.10g}   KL floor = {summary['kl_floor']:.10g}   "
               f"n_c = d + 2 = {summary['n_c']}")
    if n is not None:
        click.echo(f"expected generated variance at n = {n}: {summary['variance_n']:.10g}")


@styled
def _plot_linear_denoiser_grid(table, name: str, path) -> None:
    """The population variance ratio r and, with n, the expected generated variance / s^2 against
    ``name`` (n: log axes and the transition size n_c = d + 2 marked)."""
    from .plots import ALT_COLOR, MEASURED_COLOR, THEORY_COLOR, new_figure, save_figure

    fig, ax = new_figure()
    x = table[name].astype(float).to_numpy()
    ax.plot(x, table["r"].astype(float), "-", color=THEORY_COLOR, label="population variance ratio $r$")
    if "variance_n" in table:
        ax.plot(x, table["variance_n"].astype(float) / table["s"].astype(float) ** 2, "-", color=MEASURED_COLOR,
                label="expected generated variance / $s^2$ at $n$")
    if name == "n":
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.axvline(float(table["n_c"].iloc[0]), color=ALT_COLOR, ls=":", label="$n_c = d + 2$")
    ax.set_xlabel(name)
    ax.set_ylabel("variance ratio")
    fixed = ", ".join(f"{k} = {table[k].iloc[0]}" for k in ("d", "T", "ell", "s", "n") if k in table and k != name)
    ax.set_title(f"linear one-step denoiser [H24] against {name} ({fixed})", fontsize=9)
    ax.legend(fontsize=8)
    save_figure(fig, path)


@theory_group.command("hmm")
@click.option("--alpha", required=True, help="alpha = ln P / N." + _RANGE_HELP)
@click.option("--alpha-D", "alpha_D", required=True, help="Latent dimension ratio D / N." + _RANGE_HELP)
@click.option("--phi", default="linear", show_default=True,
              type=click.Choice(["linear", "tanh", "relu", "sign"]), help="Nonlinearity (standardised).")
@click.option("--spectrum", default="mp", show_default=True, type=click.Choice(["mp", "orthogonal", "isotropic"]),
              help="Spectrum of F F^T / D (linear phi only; nonlinear phi uses Gaussian F).")
@click.option("--basin-at", "basin_at", type=float, multiple=True, help="Also print r*(t) at these OU times.")
@click.option("--no-cache", is_flag=True, help="Do not read or write the on-disk cache of nonlinear solves.")
@_strict_cache_option
@_grid_options("One varying parameter: t_c, t_o, t_g against it; two: the phase diagram of t_c and t_o.")
@click.option("--quiet", is_flag=True, help="No progress bar over a grid.")
def theory_hmm(alpha, alpha_D, phi, spectrum, basin_at, no_cache, as_json, fmt, plot_path, quiet):
    """Hidden-manifold model [AALMV25]: collapse t_c, onset of traps t_o, generalisation t_g, at a
    point or over ranges of alpha and alpha_D (nonlinear phi: about a second per point, cached)."""
    from theory.conventions import t_to_sigma_edm
    from theory.hmm_phase import T_G_CAVEAT, hidden_manifold

    from .ranges import evaluate_grid, parse_range
    from .theory_cache import cached_basin, cached_regime_times, cached_regime_times_line

    for t in basin_at:
        try:
            require_positive("t", t)
        except InputError as exc:
            raise InputError(f"--basin-at: {exc}") from None
    cache = False if no_cache else _usable_cache()
    grid = {"alpha": parse_range("alpha", alpha), "alpha_D": parse_range("alpha_D", alpha_D)}
    if len(grid["alpha"]) > 1 or len(grid["alpha_D"]) > 1 or fmt is not None or plot_path is not None:
        if basin_at:
            raise InputError("--basin-at is for one (alpha, alpha_D) point, not a grid")
        varying = _varying(grid, plot_path, 2)
        from tqdm.auto import tqdm

        # tqdm's convention: None shows the bar on a terminal only
        bar = tqdm(total=len(grid["alpha"]) * len(grid["alpha_D"]), disable=True if quiet else None,
                   desc=f"hmm {phi}", file=sys.stderr)
        lines = {}

        def line(alpha_D):  # every alpha at this alpha_D, solved along the line at once
            if alpha_D not in lines:
                rows = cached_regime_times_line(grid["alpha"], alpha_D, phi, spectrum=spectrum, cache_dir=cache)
                lines[alpha_D] = {row["alpha"]: row for row in rows}
                bar.update(len(rows))
            return lines[alpha_D]

        def point(alpha, alpha_D):
            row = line(alpha_D)[float(alpha)]
            return {k: float(row[k]) for k in ("t_c", "t_o", "t_g")} | {"converged": bool(row["converged"])}

        def check(alpha, alpha_D):
            require_positive("alpha", alpha)
            require_positive("alpha_D", alpha_D)
            return {}

        evaluate_grid(grid, check)  # every value first, so that a bad one is named at its own position
        try:
            table = evaluate_grid(grid, point)
        finally:
            bar.close()
        _echo_grid_table(table, "json" if as_json else fmt)
        click.echo(f"caveat: {T_G_CAVEAT}", err=True)  # on stderr: stdout stays a clean table
        if plot_path is not None:
            _plot_hmm_grid(table, varying, phi, plot_path)
            click.echo(f"plot: {plot_path}", err=True)  # stdout stays a clean table
        return
    alpha, alpha_D = float(grid["alpha"][0]), float(grid["alpha_D"][0])
    model = hidden_manifold(alpha_D, phi, spectrum)
    out = dict(cached_regime_times(alpha, alpha_D, phi, spectrum=spectrum, model=model, cache_dir=cache))
    if not out["converged"]:
        failed = [f"{q} ({out['flags'][q]})" for q in ("t_c", "t_o", "t_g") if out["flags"][q] != "converged"]
        raise InputError(f"no converged solution at alpha = {alpha:g}, alpha_D = {alpha_D:g}, phi = {phi}: "
                         + "; ".join(failed))
    for key in ("t_c", "t_o", "t_g"):
        out["sigma_edm_" + key[2:]] = _in_float64(t_to_sigma_edm, out[key])
    out["t_g_definition"] = "reconstructed (docs/hmm.md): minimiser of the kernel estimate's test NLL"
    out["caveats"] = [T_G_CAVEAT]
    if basin_at:
        out["basin"] = [{"t": t, "r_star": cached_basin(t, alpha, alpha_D, phi, spectrum=spectrum, model=model,
                                                        cache_dir=cache)} for t in basin_at]
    if as_json:
        click.echo(_json(out))
        return
    click.echo(f"hidden-manifold model: phi = {phi}, alpha = {alpha}, alpha_D = {alpha_D}"
               + (f", spectrum = {spectrum}" if phi == "linear" else " (replica symmetric)"))
    for key, label in (("o", "onset of traps"), ("c", "collapse"), ("g", "generalisation")):
        sigma = out["sigma_edm_" + key]
        sigma = "beyond float64" if sigma is None else f"{sigma:.8g}"
        click.echo(f"t_{key} = {out['t_' + key]:.10g}   sigma_EDM = {sigma}   ({label})")
    for row in out.get("basin", []):
        if math.isnan(row["r_star"]):
            click.echo(f"basin r*({row['t']:.6g}): no trap (t is above the onset time)")
        else:
            click.echo(f"basin r*({row['t']:.6g}) = {row['r_star']:.8g}  (radius^2 = N r* Delta_t)")
    click.echo(f"caveat: {T_G_CAVEAT}")


@styled
def _plot_hmm_grid(table, varying: list, phi: str, path) -> None:
    """One varying parameter: t_o, t_c, t_g against it; two: t_c and t_o over the plane."""
    import numpy as np

    from .plots import ALT_COLOR, MEASURED_COLOR, THEORY_COLOR, new_figure, save_figure

    labels = {"alpha": "$\\alpha = \\ln P / N$", "alpha_D": "$\\alpha_D = D / N$"}
    if len(varying) == 1:
        name = varying[0]
        fig, ax = new_figure()
        x = table[name].to_numpy(float)
        for key, label, color in (("t_o", "$t_o$ (onset of traps)", THEORY_COLOR),
                                  ("t_c", "$t_c$ (collapse)", MEASURED_COLOR),
                                  ("t_g", "$t_g$ (generalisation, reconstructed)", ALT_COLOR)):
            ax.plot(x, _converged_only(table, key), "-", color=color, label=label)
        other = "alpha_D" if name == "alpha" else "alpha"
        ax.set_xlabel(labels[name])
        ax.set_ylabel("t (OU time)")
        _sigma_edm_axis(ax)
        ax.set_title(f"hidden-manifold model, $\\phi$ = {phi}, {other} = {table[other].iloc[0]:g}", fontsize=9)
        ax.legend(fontsize=8)
    else:
        fig, axes = _two_panels()
        a_vals, d_vals = np.unique(table["alpha"]), np.unique(table["alpha_D"])
        for ax, key, label in zip(axes, ("t_c", "t_o"), ("$t_c$ (collapse)", "$t_o$ (onset of traps)")):
            z = (table.assign(**{key: _converged_only(table, key)})
                 .pivot(index="alpha_D", columns="alpha", values=key).loc[d_vals, a_vals].to_numpy(float))
            mesh = ax.pcolormesh(a_vals, d_vals, z, shading="nearest", cmap="viridis")
            if min(z.shape) > 1:
                ax.contour(a_vals, d_vals, z, colors="white", linewidths=0.6)
            fig.colorbar(mesh, ax=ax, label=label)
            ax.set_xlabel(labels["alpha"])
            ax.set_ylabel(labels["alpha_D"])
            ax.set_title(f"{label}, $\\phi$ = {phi}", fontsize=9)
    save_figure(fig, path)


def _converged_only(table, key: str):
    """``table[key]`` with the points whose solve did not converge blanked (not drawn)."""
    import numpy as np

    values = table[key].to_numpy(float)
    return np.where(table["converged"].to_numpy(bool), values, np.nan) if "converged" in table else values


def _two_panels():
    """A two-panel ``Figure`` on the Agg canvas (no pyplot state), like :func:`plots.new_figure`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.0, 3.8), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(1, 2)


@theory_group.command("latex")
@click.option("--format", "fmt", type=click.Choice(["align", "tex", "md"]), default="align", show_default=True,
              help="align: one align* block; tex: a complete document with labelled equations, sources and "
                   "symbols; md: Markdown with $$...$$.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None, help="Write to this file.")
def theory_latex(fmt, out_path):
    """The sympy derivations of the closed forms, simplified and typeset."""
    from theory.symbolic import latex_report

    text = latex_report(fmt)
    if out_path is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    from .io import atomic_write_text

    atomic_write_text(Path(out_path), text)
    click.echo(f"wrote {out_path}")


# -- convert ---------------------------------------------------------------------------------
# -- measure ---------------------------------------------------------------------------------
@cli.command("measure")
@click.argument("model_spec", metavar="MODEL")
@click.option("--data", "data_path", required=True, type=click.Path(), help="The training set (any supported format).")
@_dataset_options
@click.option("--trajectories", type=int, default=200, show_default=True, help="Generated samples.")
@click.option("--steps", type=int, default=150, show_default=True, help="Sampler steps (log grid).")
@click.option("--pairs", type=int, default=200, show_default=True, help="Cloned pairs (labelled data).")
@click.option("--jacobian-points", "jacobian_points", type=int, default=8, show_default=True,
              help="Points per time of the local-dimension probe (0: skip).")
@click.option("--entropy-samples", "entropy_samples", type=int, default=1000, show_default=True,
              help="Monte Carlo samples of the entropy t_C (0: skip).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--out", "out", type=click.Path(file_okay=False), default="regimes-out/measure", show_default=True)
@click.option("--figure-format", "figure_format", type=click.Choice(["png", "pdf", "svg", "png+pdf"]), default="png",
              show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def measure_command(model_spec, data_path, fmt, convention, classes, P, split, mode, size, trajectories, steps, pairs,
                    jacobian_points, entropy_samples, seed, device, out, figure_format, quiet):
    """Measure a trained diffusion model against its training set: memorisation, collapse (lock-in),
    cloning and the Jacobian local dimension, next to the theory's t_S and t_C.

    MODEL is a folder written by a diffusers pipeline's save_pretrained (unet/ and scheduler/), or
    module:function (or file.py:function) returning a simulate.external adapter (EDM, k-diffusion,
    any callable with a declared convention). docs/your-data.md.
    """
    from simulate.external import load_model

    from .measure import measure, write_measure_outputs

    for name, value, low in (("trajectories", trajectories, 2), ("steps", steps, 2), ("pairs", pairs, 1),
                             ("jacobian-points", jacobian_points, 0), ("entropy-samples", entropy_samples, 0)):
        require_int(name, value, low)
        if value > 10 ** 7:
            raise InputError(f"{name} must be at most 10^7, got {value}")
    if 0 < entropy_samples < 10:
        raise InputError(f"entropy-samples must be 0 (skip) or at least 10, got {entropy_samples}")
    prepare_output(out, "--out")
    ds = _load_dataset_from_options(data_path, fmt, convention, classes, P, seed, split, mode, size)
    model = load_model(model_spec)
    t0 = time.perf_counter()
    result = measure(model, ds, trajectories=trajectories, steps=steps, pairs=pairs, jacobian_points=jacobian_points,
                     entropy_samples=entropy_samples, seed=seed, device=device, progress=not quiet)
    formats = tuple(figure_format.split("+"))
    write_measure_outputs(out, result, formats)
    from .table import caveat_lines, to_markdown

    click.echo(to_markdown(result.table))
    m = result.theory["measured"]
    lo, hi = m["memorized_ci"]
    q = m["distance_ratio_quantiles"]
    click.echo(f"\nmemorised fraction {m['memorized_fraction']:.3f} [{lo:.3f}, {hi:.3f}]; nearest-neighbour ratio d1/d2 "
               f"median {q['q50']:.3g} (10%: {q['q10']:.3g}, 90%: {q['q90']:.3g}); "
               f"{time.perf_counter() - t0:.1f} s; results in {out}/")
    if result.caveats:
        click.echo(caveat_lines(result.caveats), nl=False)


@cli.command("convert")
@click.option("--t", "t", type=float, default=None, help="OU time.")
@click.option("--sigma-edm", type=float, default=None, help="EDM noise level.")
@click.option("--tau", type=float, default=None, help="Variance-exploding noise variance.")
@click.option("--ddpm-step", type=float, default=None, help="DDPM step (linear beta 1e-4..2e-2, 1000 steps).")
@click.option("--json", "as_json", is_flag=True)
def convert(t, sigma_edm, tau, ddpm_step, as_json):
    """Convert one time between OU t, sigma_EDM, tau and DDPM step."""
    given = {k: v for k, v in dict(t=t, sigma_edm=sigma_edm, tau=tau, ddpm_step=ddpm_step).items() if v is not None}
    if len(given) != 1:
        raise InputError("give exactly one of --t, --sigma-edm, --tau, --ddpm-step")
    (key, value), = given.items()
    if key == "t":
        t = float(require_nonnegative("t", value))
    elif key == "sigma_edm":
        t = conventions.sigma_edm_to_t(value)
    elif key == "tau":
        t = conventions.tau_to_t(value)
    else:
        t = conventions.t_from_ddpm_step(value)
    lo, hi = DEFAULT_DDPM.times[0], DEFAULT_DDPM.times[-1]
    out = {"t": t, "tau": _in_float64(conventions.t_to_tau, t), "sigma_EDM": _in_float64(conventions.t_to_sigma_edm, t),
           "ddpm_step": conventions.ddpm_step_from_t(t) if lo <= t <= hi else None}
    if as_json:
        click.echo(json.dumps(out))  # beyond float64 tau and sigma_EDM are null (their values are in the text output)
    else:
        step = "-" if out["ddpm_step"] is None else f"{out['ddpm_step']:.4f}"
        # beyond float64 (tau: t > 354.9, sigma_EDM: t > 709.8) the value is printed from an mpmath evaluation
        text = {k: f"{out[k]:.10g}" if out[k] is not None else _mp_format(f(t, dps=20))
                for k, f in (("tau", conventions.t_to_tau), ("sigma_EDM", conventions.t_to_sigma_edm))}
        click.echo(f"t = {out['t']:.10g}  tau = {text['tau']}  sigma_EDM = {text['sigma_EDM']}  DDPM step = {step}")


def _in_float64(convert, t):
    """``convert(t)``, or None where the value exceeds float64 (the conversion refuses it)."""
    try:
        return float(convert(t))
    except InputError:
        return None


def _mp_format(value) -> str:
    """An mpmath number with 10 significant digits."""
    import mpmath as mp

    return mp.nstr(value, 10)


def main(argv=None) -> int:
    """Entry point: bad input is one line ``error: ...`` and exit status 2; a bug keeps its traceback."""
    try:
        with strict_cache(False):  # --strict-cache lasts for this command only
            cli.main(args=argv, prog_name="regimes", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        return 2
    except InputError as exc:
        click.echo(f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", err=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
