"""``regimes sweep``: grid parsing, resumption after a kill, and identical tables on every backend."""

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from compare.sweep import expand_grid, parse_fixed, parse_grid, run_sweep

BASE = {"c": "0,0.01", "tau": "1e-300", "trajectories": 60, "steps": 60}
GRID = {"seed": [0, 1, 2], "N": [4, 6]}


def test_parse_grid_types_and_errors():
    g = parse_grid("regularization", ["seed=0,1", "N=4", "c=0;0.01"])
    assert g == {"seed": [0, 1], "N": [4], "c": ["0", "0.01"]}
    assert expand_grid({"a": [1, 2], "b": ["x", "y"]}) == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"},
                                                         {"a": 2, "b": "x"}, {"a": 2, "b": "y"}]
    assert parse_fixed("regularization", ["c=0,0.01", "steps=30"]) == {"c": "0,0.01", "steps": 30}
    with pytest.raises(ValueError, match="field of the regularization preset"):
        parse_grid("regularization", ["width=1,2"])
    with pytest.raises(ValueError, match="must be a int"):
        parse_grid("regularization", ["N=four"])
    with pytest.raises(ValueError, match="NAME=V1"):
        parse_grid("regularization", ["N"])


def test_killed_sweep_resumes_to_the_same_table(tmp_path):
    reference = run_sweep("regularization", GRID, tmp_path / "ref", base=BASE, progress=False)
    assert reference.computed == 6 and len(reference.table) == 12
    assert list(reference.table.columns[:2]) == ["seed", "N"]
    out = tmp_path / "killed"
    code = ("from compare.sweep import run_sweep; "
            f"run_sweep('regularization', {GRID!r}, {str(out)!r}, base={BASE!r}, progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list((out / "tasks").glob("*.json")):
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = len(list((out / "tasks").glob("*.json")))
    assert 1 <= finished < 6, finished  # killed mid-way
    assert not list((out / "tasks").glob("*.tmp*"))  # atomic writes leave no partial file behind
    resumed = run_sweep("regularization", GRID, out, base=BASE, progress=False)
    assert resumed.reused == finished and resumed.computed == 6 - finished
    pd.testing.assert_frame_equal(resumed.table, reference.table)
    assert (out / "sweep.csv").read_text() == (tmp_path / "ref" / "sweep.csv").read_text()


def test_ray_and_local_backends_give_identical_tables(tmp_path):
    ray = pytest.importorskip("ray")
    grid = {"seed": [0, 1], "N": [4]}
    run_sweep("regularization", grid, tmp_path / "local", base=BASE, progress=False)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = run_sweep("regularization", grid, tmp_path / "ray", base=BASE, ray_address="local", progress=False)
    finally:
        ray.shutdown()
    assert on_ray.computed == 2
    assert (tmp_path / "ray" / "sweep.csv").read_text() == (tmp_path / "local" / "sweep.csv").read_text()


def test_cli_sweep_errors():
    from compare.cli import main

    assert main(["sweep", "regularization", "--grid", "bogus=1"]) == 2
    assert main(["sweep", "regularization", "--grid", "N=4", "--set", "N=6"]) == 2


def test_rows_agree_is_counted_for_every_schema(tmp_path, capsys):
    """subspaces and networks tables share the common schema, so the sweep's count is right."""
    from compare.cli import main
    from compare.driver import agreement_summary

    res = run_sweep("subspaces", {"seed": [0, 1]}, tmp_path / "sub", progress=False,
                    base={"dims": "2,3", "std": "1,0.1", "P": "200", "normalized": "no", "times": 6, "points": 20,
                          "device": "cpu"})
    verdicts = res.table["agrees"].isin(["yes", "no"]).sum()
    assert verdicts > 0 and f"/{verdicts} rows agree (" in agreement_summary(res.table)
    args = ["sweep", "networks", "--grid", "seed=0", "--set", "N=4", "--set", "P=8", "--set", "width=8", "--set",
            "steps=20", "--set", "batch_size=16", "--set", "trajectories=10", "--set", "sampler_steps=10",
            "--set", "device=cpu", "--out", str(tmp_path / "net"), "--quiet"]
    assert main(args) == 0
    assert "/2 rows agree" in capsys.readouterr().out  # the empirical score and one network


def test_damaged_foreign_or_edited_task_files_are_recomputed_by_name(tmp_path, capsys):
    import json

    out = tmp_path / "s"
    first = run_sweep("regularization", GRID, out, base=BASE, progress=False)
    files = sorted((out / "tasks").glob("*.json"))
    edited, emptied, foreign, blank = files[:4]
    payload = json.loads(edited.read_text())
    payload["table"][0]["measured"] = 999.0  # an edited measurement
    edited.write_text(json.dumps(payload))
    payload = json.loads(emptied.read_text())
    payload["table"] = payload["table"][:1]  # rows removed
    emptied.write_text(json.dumps(payload))
    foreign.write_text(files[4].read_text())  # another task's file under this task's hash
    blank.write_text("{}")
    capsys.readouterr()
    again = run_sweep("regularization", GRID, out, base=BASE, progress=False)
    assert again.reused == 2 and again.computed == 4
    pd.testing.assert_frame_equal(again.table, first.table)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 4 and all(line.startswith("warning: task file ") for line in err)
    reasons = " ".join(err)
    assert "checksum" in reasons and "another task" in reasons and "incomplete" in reasons
