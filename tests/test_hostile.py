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
