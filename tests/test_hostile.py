"""Hostile input at the command line: every case ends in exit 0 with a correct answer, or exit 2
with one line naming the parameter, before any work is spent; never a traceback (issue 17)."""

import subprocess
import sys

import pytest

from compare.cli import main

BIG_P = "1" + "0" * 400  # a legal dataset size far beyond float64 (the theory works in ln P)


def _file(tmp_path):
    f = tmp_path / "a-file"
    f.write_text("x")
    return f


REFUSED = [  # (arguments, words the one-line error must contain); {file} is a plain file
    (["theory", "subspaces", "--dims", "1000000000000", "--std", "1", "--P", "100"], "dims add up to N"),
    (["theory", "gaussian-mixture", "--N", "100", "--P", "1e3:1e5:3", "--plot", "{file}/x.png"], "--plot"),
    (["theory", "gaussian-mixture", "--N", "100", "--P", "1e3:1e5:3", "--plot", "x.jpg"], "plot file must end in"),
    (["theory", "gaussian-mixture", "--N", "100", "--P", "2.5"], "P must be integers"),
    (["theory", "gaussian-mixture", "--N", "100", "--P", "1e20000"], "P must be integers below 10^10000"),
    (["theory", "hmm", "--alpha", "1e300", "--alpha-D", "0.5"], "no converged solution at alpha = 1e+300"),
    (["compare", "linear-denoiser", "--out", "{file}/sub", "--quiet"], "--out"),
    (["simulate", "linear-denoiser", "--out", "{file}/sub", "--quiet"], "--out"),
    (["scale", "subspaces", "--out", "{file}/sub", "--quiet"], "--out"),
    (["sweep", "linear-denoiser", "--grid", "repeats=20", "--out", "{file}/sub", "--quiet"], "--out"),
    (["sweep", "linear-denoiser", "--grid", "repeats=20", "--ray", "127.0.0.1:1", "--quiet"], "--ray: cannot reach"),
    (["scale", "subspaces", "--ray", "127.0.0.1:1", "--quiet"], "--ray: cannot reach"),
    (["sweep", "linear-denoiser", "--grid", "repeats=20", "--ray", "nowhere", "--quiet"], "--ray must be"),
]


@pytest.mark.parametrize("args,words", REFUSED, ids=[" ".join(a[:2]) + f" [{w}]" for a, w in REFUSED])
def test_refused_in_one_line(args, words, tmp_path, capsys):
    f = _file(tmp_path)
    args = [a.replace("{file}", str(f)) for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and words in err, err
    assert f.read_text() == "x"  # nothing was written over the file


def test_big_dataset_sizes_are_answered_exactly(capsys):
    import math

    from theory import TwoClassMixture
    from theory.subspaces import BlockSpectrum

    assert main(["theory", "gaussian-mixture", "--N", "100", "--P", BIG_P, "--json"]) == 0
    import json

    out = json.loads(capsys.readouterr().out)
    assert out["alpha"] == pytest.approx(400 * math.log(10) / 100, rel=1e-15)
    assert out["t_C"] == pytest.approx(TwoClassMixture(100, 10**400).summary()["t_C"], rel=1e-15)
    assert main(["theory", "subspaces", "--dims", "2,5", "--std", "1,0.3", "--P", "1e400", "--json"]) == 0
    sub = json.loads(capsys.readouterr().out)
    assert sub["P"] == 10**400
    assert sub["tau_collapse"] == pytest.approx(
        float(BlockSpectrum.from_std([2, 5], [1.0, 0.3]).tau_collapse(10**400).value), rel=1e-12)


def test_no_traceback_from_a_subprocess(tmp_path):
    # the console entry point: one line on stderr, exit 2 (what a shell user sees)
    f = _file(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "compare.cli", "compare", "linear-denoiser", "--out", f"{f}/x"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


def test_a_root_below_float64_is_not_reported_converged():
    import numpy as np

    from theory.gaussian import collapse_time

    res = collapse_time(np.ones(10), 690.8)  # t_C ~ e^-1381 / 2: below every float64
    assert res.converged is False and "below the float64 range" in res.flag
    grid = collapse_time(np.ones(10), np.array([0.5, 690.8]))
    assert list(grid.converged) == [True, False] and grid.flag[0] == "converged"


def test_a_basin_above_the_onset_is_no_trap_not_a_huge_negative_number():
    import numpy as np

    from theory.hmm_linear import LinearHMM
    from theory.result import NO_TRAP

    m = LinearHMM(0.5)
    far = m.basin(50.0, 0.2)  # the formula gives -1.1e43 here
    assert np.isnan(far.value) and far.flag == NO_TRAP and far.converged
    grid = m.basin(np.array([0.5, 50.0]), 0.2)
    assert grid.value[0] > 0 and np.isnan(grid.value[1]) and list(grid.flag) == ["closed form", NO_TRAP]
    assert np.isnan(float(m.basin(50.0, 0.2, dps=30).value))
    assert m.basin(m.onset_time(0.2).value, 0.2).value == pytest.approx(0.0, abs=1e-12)  # the onset is kept


def test_strict_cache_refuses_an_edited_hmm_entry(tmp_path, monkeypatch, capsys):
    import json

    monkeypatch.setenv("REGIMES_CACHE", str(tmp_path / "cache"))
    args = ["theory", "hmm", "--alpha", "0.2", "--alpha-D", "0.5", "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    (entry,) = (tmp_path / "cache" / "hmm").glob("*.json")
    stored = json.loads(entry.read_text())
    stored["value"]["t_c"] = 123.0  # edited, checksum left as it was
    entry.write_text(json.dumps(stored))
    assert main(args + ["--strict-cache"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--strict-cache" in err and str(entry) in err
    assert main(args) == 0  # without the flag: one warning naming the file, then the true value
    captured = capsys.readouterr()
    assert json.loads(captured.out)["t_c"] == first["t_c"] and str(entry) in captured.err


def test_an_unwritable_cache_is_announced_before_work_and_skipped(tmp_path, monkeypatch, capsys):
    f = _file(tmp_path)
    monkeypatch.setenv("REGIMES_CACHE", str(f / "cache"))  # under a plain file: cannot be created
    assert main(["theory", "hmm", "--alpha", "0.2", "--alpha-D", "0.5"]) == 0
    captured = capsys.readouterr()
    assert "computing without the cache" in captured.err and "t_c" in captured.out
    assert main(["theory", "hmm", "--alpha", "0.2", "--alpha-D", "0.5", "--strict-cache"]) == 2


def test_orphaned_temporary_files_are_removed_and_outputs_get_the_umask(tmp_path, capsys):
    import os

    out = tmp_path / "out"
    (out / "raw").mkdir(parents=True)
    dead = out / "raw" / ".x.npz.pid999999999.abc123.tmp"  # a writer that no longer exists
    live = out / f".table.csv.pid{os.getpid()}.abc123.tmp"  # this process: alive, kept
    dead.write_bytes(b"half")
    live.write_bytes(b"half")
    old = os.umask(0o027)
    try:
        assert main(["simulate", "linear-denoiser", "--out", str(out), "--quiet", "--repeats", "20", "--fresh", "20",
                     "--n", "4,8"]) == 0
    finally:
        os.umask(old)
    assert not dead.exists() and live.exists()
    assert "removed 1 temporary file" in capsys.readouterr().err
    written = [p for p in out.rglob("*") if p.is_file() and not p.name.endswith(".tmp")]
    assert written and all(p.stat().st_mode & 0o777 == 0o640 for p in written)


def test_a_damaged_stage_file_is_refused_by_name_under_strict_cache(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["simulate", "linear-denoiser", "--out", str(out), "--quiet", "--repeats", "20", "--fresh", "20",
            "--n", "4,8"]
    assert main(args) == 0
    capsys.readouterr()
    (npz,) = (out / "raw").glob("*.npz")
    npz.write_bytes(npz.read_bytes()[:40])  # truncated
    assert main(args + ["--strict-cache"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(npz) in err
    assert main(args) == 0 and str(npz) in capsys.readouterr().err


SMALL_MIXTURE = ["compare", "--quiet", "--N", "32", "--P", "200", "--pairs", "200", "--trajectories", "100",
                 "--steps", "40", "--entropy-samples", "200", "--clone-steps", "30", "--device", "cpu"]


def _outputs(folder):
    """Every result file's bytes, figures aside (PNG metadata is not part of the result)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix in (".csv", ".md", ".tex", ".json", ".npz")}


def _regimes(out, *extra):
    return [sys.executable, "-m", "compare.cli", *SMALL_MIXTURE, "--out", str(out), *extra]


def test_a_killed_compare_resumes_to_the_same_bytes_and_concurrent_runs_agree(tmp_path):
    """SIGKILL after the first stage is stored, resume: byte-identical to an uninterrupted run; two
    identical runs at once into one folder, and a run with other thread counts, give the same bytes."""
    import os
    import signal
    import time

    fresh = tmp_path / "fresh"
    assert subprocess.run(_regimes(fresh), capture_output=True, timeout=300).returncode == 0
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_regimes(killed), start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not list((killed / "raw").glob("*.json")):
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 1 <= len(list((killed / "raw").glob("*.json"))) < 3 and not (killed / "table.csv").exists()
    assert subprocess.run(_regimes(killed), capture_output=True, timeout=300).returncode == 0
    assert _outputs(killed) == _outputs(fresh)
    both = tmp_path / "both"
    procs = [subprocess.Popen(_regimes(both), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(2)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    assert _outputs(both) == _outputs(fresh)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    one = tmp_path / "one-thread"
    assert subprocess.run(_regimes(one), capture_output=True, timeout=300, env=env).returncode == 0
    assert _outputs(one) == _outputs(fresh)


def test_the_linear_hmm_at_large_alpha():
    """alpha = 20 was NaN ('no sign change'): the root sits at g = e^80, beyond the old bracket.
    Beyond g = e^700 the float64 answer is NaN with the reason, and dps= gives the number."""
    import mpmath as mp

    from theory import regime_times
    from theory.hmm_linear import LinearHMM

    m = LinearHMM(0.5)
    r = regime_times(20, 0.5)
    assert r["converged"] and 0 < r["t_g"] < r["t_c"] < r["t_o"] < 1e-34
    assert r["t_c"] == pytest.approx(float(m.collapse_time(20, dps=30).value), rel=1e-12)
    far = m.collapse_time(200)
    assert not far.converged and "below the float64 range" in far.flag
    exact = m.collapse_time(200, dps=30).value
    assert 0 < exact < mp.mpf("1e-308")
