"""Sweeps: a grid of experiment presets run as independent tasks, locally or on a Ray cluster.

Each task is one ``regimes compare EXPERIMENT`` with some preset fields overridden. Its result (the
comparison table as records, plus the theory JSON) is written atomically to
``OUT/tasks/<config hash>.json`` by the driver as soon as the task finishes, so an interrupted
sweep resumes without recomputing or losing finished tasks. The aggregated table (``OUT/sweep.csv``,
``.md``) has one block of rows per task, with the grid values as leading columns, in grid order;
it does not depend on the backend or on the order in which tasks finished.

Determinism: every task sets ``torch.set_num_threads(threads)`` (default 1) so that its floating
point reductions are the same in-process and in a Ray worker.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import time
from pathlib import Path
from typing import Callable

import pandas as pd
from tqdm.auto import tqdm

from theory.validation import InputError

from .io import atomic_write_text, config_hash, to_json_ready, warn_recompute
from .registry import get_experiment

__all__ = ["parse_grid", "parse_fixed", "expand_grid", "run_task", "run_sweep", "run_on_ray", "check_ray_address",
           "SweepResult"]


def _field_types(experiment) -> dict:
    return {f.name: type(f.default) for f in dataclasses.fields(experiment.preset)}


def _convert(name: str, raw: str, typ: type):
    try:
        if typ is bool:
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return raw.lower() in ("true", "1")
        return typ(raw)
    except ValueError:
        raise InputError(f"grid value for {name} must be a {typ.__name__}, got {raw!r}") from None


def parse_grid(experiment_name: str, specs) -> dict[str, list]:
    """``["N=32,64", "seed=0,1"]`` -> ``{"N": [32, 64], "seed": [0, 1]}``, typed by the preset.

    A value list may use ``;`` instead of ``,`` when the values themselves contain commas
    (``configs=linear:0.25;tanh:0.25``)."""
    types = _field_types(get_experiment(experiment_name))
    grid: dict[str, list] = {}
    for spec in specs:
        name, sep, values = str(spec).partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not values.strip():
            raise InputError(f"grid must look like NAME=V1,V2,..., got {spec!r}")
        if name not in types:
            raise InputError(f"grid parameter must be a field of the {experiment_name} preset "
                             f"({', '.join(sorted(types))}), got {name!r}")
        if name in grid:
            raise InputError(f"grid parameter {name!r} given twice")
        sep_char = ";" if ";" in values else ","
        grid[name] = [_convert(name, v.strip(), types[name]) for v in values.split(sep_char) if v.strip()]
    return grid


def parse_fixed(experiment_name: str, specs) -> dict:
    """``["c=0,0.01", "steps=30"]`` -> ``{"c": "0,0.01", "steps": 30}``: one value each, unsplit."""
    types = _field_types(get_experiment(experiment_name))
    fixed = {}
    for spec in specs:
        name, sep, value = str(spec).partition("=")
        name = name.strip().replace("-", "_")
        if not sep:
            raise InputError(f"--set must look like NAME=VALUE, got {spec!r}")
        if name not in types:
            raise InputError(f"--set parameter must be a field of the {experiment_name} preset "
                             f"({', '.join(sorted(types))}), got {name!r}")
        fixed[name] = _convert(name, value.strip(), types[name])
    return fixed


def expand_grid(grid: dict[str, list]) -> list[dict]:
    """The Cartesian product, in row-major order of ``grid``'s keys."""
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def run_task(experiment_name: str, overrides: dict, threads: int = 1) -> dict:
    """Run one task in this process (also the body of the Ray remote): returns the table as
    records and the theory JSON. Nothing is written here; the driver writes."""
    import torch

    torch.set_num_threads(threads)
    exp = get_experiment(experiment_name)
    preset = exp.preset(**overrides)
    t0 = time.perf_counter()
    result = exp.run(preset, None)
    records = json.loads(result.table.to_json(orient="records", double_precision=15))
    theory = to_json_ready(result.theory)
    return {"experiment": experiment_name, "overrides": overrides, "table": records, "theory": theory,
            "seconds": time.perf_counter() - t0}


@dataclasses.dataclass
class SweepResult:
    """The aggregated ``table``, how many tasks were ``computed`` and ``reused``, and each task's file."""
    table: pd.DataFrame
    computed: int
    reused: int
    paths: dict


def _task_path(out: Path, experiment_name: str, preset_fields: dict) -> Path:
    key = config_hash({"experiment": experiment_name, "preset": preset_fields})
    return out / "tasks" / f"{key}.json"


def _task_checksum(payload: dict) -> str:
    """SHA-256 of a task's canonical JSON (without its own checksum)."""
    body = {k: v for k, v in payload.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _read_task(path: Path, experiment_name: str, overrides: dict) -> dict | None:
    """A finished task's payload, if the file is this task's (experiment and overrides recorded in
    it), complete and unedited (its checksum); otherwise ``None`` after one warning line naming the
    file, and the task is recomputed."""
    problem = None
    try:
        payload = json.loads(path.read_text())
        if not isinstance(payload, dict) or not {"experiment", "overrides", "table", "theory"} <= set(payload):
            problem = "it is incomplete"
        elif payload["experiment"] != experiment_name or payload["overrides"] != json.loads(json.dumps(overrides)):
            problem = "it records another task"
        elif payload.get("sha256") != _task_checksum(payload):
            problem = "its contents fail their checksum"
        else:
            return payload
    except (OSError, ValueError):
        problem = "it cannot be read"
    warn_recompute("task file", path, problem)
    return None


def _aggregate(tasks: list[dict], results: dict[int, dict], grid_keys: list[str]) -> pd.DataFrame:
    frames = []
    for i, overrides in enumerate(tasks):
        df = pd.DataFrame(results[i]["table"])
        for j, k in enumerate(grid_keys):
            df.insert(j, k, overrides[k])
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def run_sweep(experiment_name: str, grid: dict[str, list], out, *, base: dict | None = None, ray_address=None,
              threads: int = 1, resume: bool = True, progress: bool = True,
              log: Callable[[str], None] | None = None) -> SweepResult:
    """Run every grid point of ``experiment_name`` (preset fields in ``base`` fixed) and aggregate.

    ``ray_address``: None runs in-process; ``"local"`` starts a local Ray; anything else is passed to
    ``ray.init(address=...)``. Finished tasks found under ``OUT/tasks`` are reused when ``resume``."""
    log = log or (lambda msg: None)
    exp = get_experiment(experiment_name)
    base = dict(base or {})
    out = Path(out)
    tasks = expand_grid(grid)
    if not tasks:
        raise InputError("grid must contain at least one value per parameter")
    for overrides in tasks:  # validate every preset before starting anything
        exp.preset(**{**base, **overrides})
    paths = {i: _task_path(out, experiment_name, {**base, **o}) for i, o in enumerate(tasks)}
    results, reused = {}, 0
    for i, path in paths.items():
        if resume and path.exists():
            payload = _read_task(path, experiment_name, {**base, **tasks[i]})
            if payload is not None:
                results[i] = payload
                reused += 1
    todo = [i for i in range(len(tasks)) if i not in results]
    log(f"{len(tasks)} tasks: {reused} finished before, {len(todo)} to run"
        + (f" on Ray ({ray_address})" if ray_address else " in-process"))

    def finish(i, payload):
        atomic_write_text(paths[i], json.dumps({**payload, "sha256": _task_checksum(payload)}, indent=1))
        results[i] = payload

    bar = tqdm(total=len(todo), disable=not progress, desc=f"sweep {experiment_name}")
    if ray_address is None:
        for i in todo:
            finish(i, run_task(experiment_name, {**base, **tasks[i]}, threads))
            bar.update()
    else:
        run_on_ray(run_task, {i: (experiment_name, {**base, **tasks[i]}, threads) for i in todo}, ray_address, threads,
                   finish, bar)
    bar.close()
    table = _aggregate(tasks, results, list(grid))
    atomic_write_text(out / "sweep.csv", table.to_csv(index=False))
    atomic_write_text(out / "sweep.md", table.to_markdown(index=False))
    return SweepResult(table, len(todo), reused, paths)


def check_ray_address(address) -> None:
    """Refuse, before any work, a Ray address that cannot be reached: ``host:port`` (or
    ``ray://host:port``) gets one TCP connection attempt of 5 s (``ray.init`` would wait minutes).
    ``"local"`` and ``"auto"`` are left to Ray."""
    import socket

    if address in (None, "local", "auto"):
        return
    text = str(address)
    host, sep, port = text.split("://", 1)[-1].rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--ray must be 'local', 'auto' or HOST:PORT (optionally ray://HOST:PORT), got {text!r}")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise InputError(f"--ray: cannot reach {text}: {exc.strerror or exc}") from None


def run_on_ray(function, jobs: dict, address, threads: int, finish, bar):
    """Run ``function(*args)`` for every ``key -> args`` of ``jobs`` as Ray tasks of ``threads``
    CPUs; ``finish(key, result)`` is called as soon as each arrives (so it is written at once).
    ``address``: ``"local"`` starts a local Ray, anything else is passed to ``ray.init``."""
    try:
        import ray
    except ImportError:
        raise InputError("--ray needs the 'ray' package: pip install 'diffusion-regimes[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        if address == "local":
            ray.init(num_cpus=None, include_dashboard=False, log_to_driver=False)
        else:
            check_ray_address(address)
            try:
                ray.init(address=address, log_to_driver=False)
            except ConnectionError as exc:
                raise InputError(f"--ray: cannot connect to {address}: {exc}") from None
    try:
        remote = ray.remote(num_cpus=threads)(function)
        pending = {remote.remote(*args): key for key, args in jobs.items()}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                finish(pending.pop(ref), ray.get(ref))  # written as soon as it arrives
                bar.update()
    finally:
        if started_here:
            ray.shutdown()
