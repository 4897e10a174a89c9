"""Damaged caches (issue 17): every kind of damage to a stored stage result, a sweep task file and
an HMM cache entry is recomputed after one warning line that names the file, with the same
result as an undamaged run, or, under ``--strict-cache``, refused in one line naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from compare.cli import main

STAGE = ["simulate", "linear-denoiser", "--quiet", "--repeats", "20", "--fresh", "20", "--n", "4,8"]
SWEEP = ["sweep", "linear-denoiser", "--grid", "repeats=20,30", "--set", "fresh=20", "--set", "n=16,24", "--quiet"]
HMM = ["theory", "hmm", "--alpha", "0.2", "--alpha-D", "0.5", "--json"]


def _npz_damage(npz):
    """Damage to a stage's .npz (and its JSON sidecar), by name."""
    sidecar = npz.with_suffix(".json")

    def rewrite(fn):
        def damage():
            arrays = dict(np.load(npz))
            np.savez_compressed(npz, **fn(arrays))
        return damage

    return {
        "truncated": lambda: npz.write_bytes(npz.read_bytes()[:40]),
        "empty file": lambda: npz.write_bytes(b""),
        "values scaled by 3": rewrite(lambda a: {k: 3 * v if v.dtype.kind == "f" else v for k, v in a.items()}),
        "NaN written in": rewrite(lambda a: {k: np.full_like(v, np.nan) if v.dtype.kind == "f" else v
                                             for k, v in a.items()}),
        "wrong array names": rewrite(lambda a: {f"x{i}": v for i, v in enumerate(a.values())}),
        "sidecar deleted": lambda: sidecar.unlink(),
        "sidecar not JSON": lambda: sidecar.write_text("{not json"),
        "sidecar empty object": lambda: sidecar.write_text("{}"),
        "another configuration's file": lambda: sidecar.write_text(
            json.dumps({**json.loads(sidecar.read_text()), "config": {"other": 1}})),
    }


def _edit_json(path, fn):
    """A damage that loads ``path`` as JSON, applies ``fn`` to it and writes it back."""
    def damage():
        payload = json.loads(path.read_text())
        fn(payload)
        path.write_text(json.dumps(payload))
    return damage


def _task_damage(task):
    edit = lambda fn: _edit_json(task, fn)  # noqa: E731
    return {
        "truncated": lambda: task.write_text(task.read_text()[:30]),
        "empty object": lambda: task.write_text("{}"),
        "a measured value edited": edit(lambda p: p["table"][0].__setitem__("measured", 999.0)),
        "rows removed": edit(lambda p: p.__setitem__("table", p["table"][:1])),
        "another task's overrides": edit(lambda p: p.__setitem__("overrides", {**p["overrides"], "repeats": 999})),
    }


def _hmm_damage(entry):
    edit = lambda fn: _edit_json(entry, fn)  # noqa: E731
    return {
        "truncated": lambda: entry.write_text(entry.read_text()[:20]),
        "empty object": lambda: entry.write_text("{}"),
        "t_c edited": edit(lambda p: p["value"].__setitem__("t_c", 123.0)),
        "another configuration": edit(lambda p: p.__setitem__("config", {"alpha": 9.0})),
    }


def _run(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _check(args, path, same, capsys):
    """Strict: exit 2, one line, names the file. Lenient: exit 0, one warning naming it, and
    ``same(stdout)``: the result of an undamaged run."""
    code, _, err = _run(args + ["--strict-cache"], capsys)
    assert code == 2 and err.count("\n") == 1 and str(path) in err, err
    code, out, err = _run(args, capsys)
    assert code == 0 and str(path) in err and "recomputing" in err, err
    assert same(out)
    code, _, err = _run(args + ["--strict-cache"], capsys)  # repaired: nothing left to complain about
    assert code == 0 and "warning" not in err


@pytest.mark.parametrize("damage", list(_npz_damage(Path("x.npz"))))
def test_a_damaged_stage_result(damage, tmp_path, capsys):
    out = tmp_path / "out"
    assert _run(STAGE + ["--out", str(out)], capsys)[0] == 0
    (npz,) = (out / "raw").glob("*.npz")
    reference = npz.read_bytes()
    _npz_damage(npz)[damage]()
    _check(STAGE + ["--out", str(out)], npz, lambda _: npz.read_bytes() == reference, capsys)


@pytest.mark.parametrize("damage", list(_task_damage(Path("x.json"))))
def test_a_damaged_sweep_task(damage, tmp_path, capsys):
    out = tmp_path / "sweep"
    assert _run(SWEEP + ["--out", str(out)], capsys)[0] == 0
    reference = (out / "sweep.csv").read_text()
    task = sorted((out / "tasks").glob("*.json"))[0]
    _task_damage(task)[damage]()
    _check(SWEEP + ["--out", str(out)], task, lambda _: (out / "sweep.csv").read_text() == reference, capsys)


@pytest.mark.parametrize("damage", list(_hmm_damage(Path("x.json"))))
def test_a_damaged_hmm_cache_entry(damage, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REGIMES_CACHE", str(tmp_path / "cache"))
    code, reference, _ = _run(HMM, capsys)
    assert code == 0
    (entry,) = (tmp_path / "cache" / "hmm").glob("*.json")
    _hmm_damage(entry)[damage]()
    _check(HMM, entry, lambda out: out == reference, capsys)
