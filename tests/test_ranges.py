"""Ranges for ``regimes theory``: parsing, grid evaluation with positioned errors, the CLI table and plot."""

import io

import numpy as np
import pandas as pd
import pytest

from compare.cli import main
from compare.ranges import MAX_GRID, evaluate_grid, parse_range
from theory import InputError, TwoClassMixture


def test_parse_range_forms():
    np.testing.assert_allclose(parse_range("alpha", "0.01:1:200"), np.linspace(0.01, 1, 200))
    np.testing.assert_allclose(parse_range("P", "1e3:1e7:50:log"), np.geomspace(1e3, 1e7, 50))
    np.testing.assert_allclose(parse_range("mu", "1,2.5,4"), [1, 2.5, 4])
    np.testing.assert_allclose(parse_range("mu", "0.3"), [0.3])
    ints = parse_range("P", "1e3:1e4:50:log", integer=True)
    assert all(isinstance(v, int) for v in ints) and len(set(ints)) == len(ints) and ints[0] == 1000
    assert parse_range("P", "100000000000000000000", integer=True)[0] == 10 ** 20  # exact, beyond 2^63


@pytest.mark.parametrize("text, integer, match", [
    ("1:2", False, "START:STOP:COUNT"), ("1:2:x", False, "with numbers"), ("1:2:0", False, "COUNT"),
    (f"1:2:{MAX_GRID + 1}", False, "COUNT"), ("-1:2:5:log", False, "log range"), ("1:inf:3", False, "finite"),
    ("a,b", False, "a number, a list"), ("", False, "empty"), ("2.5", True, "integers"), ("1:2:3:geo", False, "log"),
])
def test_parse_range_errors_name_the_parameter(text, integer, match):
    with pytest.raises(InputError, match=match) as err:
        parse_range("P", text, integer=integer)
    assert str(err.value).startswith("P ")


def test_grid_error_says_which_value_and_where():
    def point(N, P):
        return {"t_C": float(TwoClassMixture(int(N), int(P), 1.0, 1.0).collapse_time().value)}

    table = evaluate_grid({"N": [50, 100], "P": [1000, 2000, 4000]}, point)
    assert len(table) == 6 and list(table.columns) == ["N", "P", "t_C"]
    with pytest.raises(InputError, match=r"^at N = 50, P = 1 \(grid point 3 of 6\): P must be an integer >= 2"):
        evaluate_grid({"N": [50, 100], "P": [1000, 2000, 1]}, point)
    with pytest.raises(InputError, match=r"^at P = 1 \(grid point 2 of 2\)"):  # only what varies is named
        evaluate_grid({"N": [50], "P": [1000, 1]}, point)


def test_cli_mixture_over_a_range(tmp_path, capsys):
    assert main(["theory", "gaussian-mixture", "--N", "100", "--P", "1e3:1e7:5:log", "--format", "csv"]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(table["P"]) == [1000, 10000, 100000, 1000000, 10000000]
    for P, t_c in zip(table["P"], table["t_C"]):
        assert t_c == pytest.approx(TwoClassMixture(100, int(P), 1.0, 1.0).collapse_time().value, rel=1e-12)
    plot = tmp_path / "times.png"
    assert main(["theory", "gaussian-mixture", "--N", "100", "--P", "1e3:1e7:20:log", "--plot", str(plot)]) == 0
    assert plot.stat().st_size > 0 and "plot:" in capsys.readouterr().err
    # a bad value anywhere: one line naming it and its position, exit 2, no table
    assert main(["theory", "gaussian-mixture", "--N", "100", "--P", "1000,5000,1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "grid point 3 of 3" in captured.err
    assert main(["theory", "gaussian-mixture", "--N", "50,100", "--P", "1e3:1e4:3:log", "--plot",
                 str(tmp_path / "x.png")]) == 2
    assert capsys.readouterr().out == "" and not (tmp_path / "x.png").exists()


def test_cli_hmm_over_a_range_and_a_plane(tmp_path, capsys):
    import json

    args = ["theory", "hmm", "--alpha", "0.05:0.3:4", "--alpha-D", "0.25", "--format", "csv", "--quiet"]
    assert main(args) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(table.columns) == ["alpha", "alpha_D", "t_c", "t_o", "t_g", "converged"] and len(table) == 4
    assert table["converged"].all()
    assert main(["theory", "hmm", "--alpha", str(table["alpha"][2]), "--alpha-D", "0.25", "--json"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert any("reconstructed" in c for c in one["caveats"])  # the t_g caveat travels with the result
    for key in ("t_c", "t_o", "t_g"):
        assert table[key][2] == pytest.approx(one[key], rel=1e-12)
    plane = tmp_path / "phase.png"
    assert main(["theory", "hmm", "--alpha", "0.05:0.3:3", "--alpha-D", "0.25,0.5", "--plot", str(plane),
                 "--quiet"]) == 0
    assert plane.stat().st_size > 0
    capsys.readouterr()
    assert main(["theory", "hmm", "--alpha", "0.1,-1", "--alpha-D", "0.25", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "at alpha = -1.0 (grid point 2 of 2): alpha must be > 0" in err
    assert main(["theory", "hmm", "--alpha", "0.1:0.2:2", "--alpha-D", "0.25", "--basin-at", "0.5"]) == 2


def test_cli_subspaces_over_a_range_of_P(tmp_path, capsys):
    from theory.subspaces import BlockSpectrum

    args = ["theory", "subspaces", "--dims", "2,5", "--std", "1,0.3", "--P", "1e2:1e4:3:log", "--format", "csv"]
    assert main(args + ["--plot", str(tmp_path / "s.png")]) == 0
    out = capsys.readouterr()
    table = pd.read_csv(io.StringIO(out.out))
    assert list(table["P"]) == [100, 1000, 10000] and (tmp_path / "s.png").stat().st_size > 0
    assert "plot:" in out.err and "plot:" not in out.out  # stdout stays a clean table
    spec = BlockSpectrum.from_std([2, 5], [1.0, 0.3])
    one = spec.summary(1000)
    assert table["t_collapse"][1] == pytest.approx(one["t_collapse"], rel=1e-12)
    assert table["t_block_2"][1] == pytest.approx(one["per_subspace"][1]["t_block"], rel=1e-12)
    assert main(["theory", "subspaces", "--dims", "2,5", "--std", "1,0.3", "--P", "10,1"]) == 2
    assert "at P = 1 (grid point 2 of 2)" in capsys.readouterr().err


def test_cli_linear_denoiser_over_ranges(tmp_path, capsys):
    from theory.linear_denoiser import LinearDenoiserModel

    assert main(["theory", "linear-denoiser", "--d", "10", "--T", "1", "--ell", "1", "--n", "13:1000:4:log",
                 "--format", "json", "--plot", str(tmp_path / "l.png")]) == 0
    rows = pd.read_json(io.StringIO(capsys.readouterr().out))
    model = LinearDenoiserModel(10, 1.0, 1.0, 1.0)
    assert list(rows["n"]) == [13, 55, 235, 1000]  # round(13 (1000/13)^(k/3))
    np.testing.assert_allclose(rows["variance_n"], [model.variance_n(n) for n in rows["n"]], rtol=1e-12)
    assert (tmp_path / "l.png").stat().st_size > 0
    assert main(["theory", "linear-denoiser", "--d", "10", "--T", "1,-1", "--ell", "1"]) == 2
    assert "at T = -1.0 (grid point 2 of 2): T must be > 0" in capsys.readouterr().err
