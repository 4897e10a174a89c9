import json
import subprocess
import sys

import pytest

from compare.cli import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "compare.cli", *args], capture_output=True, text=True, timeout=300)


def test_theory_json_keys_and_values():
    proc = run_cli("theory", "gaussian-mixture", "--N", "256", "--P", "20000", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert {"t_S", "t_C", "alpha", "sigma_EDM"} <= set(out)
    assert out["t_S"] == pytest.approx(2.7745380, abs=5e-8)
    assert out["t_C"] == pytest.approx(1.2987896868, abs=5e-11)
    assert out["alpha"] == pytest.approx(0.0386855, abs=5e-8)
    assert out["sigma_EDM"]["t_C"] == pytest.approx((2.718281828459045 ** (2 * out["t_C"]) - 1) ** 0.5, rel=1e-12)


def test_theory_text_output(capsys):
    assert main(["theory", "gaussian-mixture", "--N", "1024", "--P", "20000", "--sigma", "1", "--mu", "1"]) == 0
    text = capsys.readouterr().out
    assert "t_S" in text and "3.466223" in text and "1.977546" in text


@pytest.mark.parametrize("args,needle", [
    (["theory", "gaussian-mixture", "--N", "0", "--P", "100"], "N must be an integer >= 1"),
    (["theory", "gaussian-mixture", "--N", "10", "--P", "1"], "P must be an integer >= 2"),
    (["theory", "gaussian-mixture", "--N", "10", "--P", "100", "--sigma", "-1"], "sigma must be > 0"),
    (["theory", "gaussian-mixture", "--N", "10", "--P", "100", "--sigma", "nan"], "sigma must be finite"),
    (["theory", "gaussian-mixture", "--N", "ten", "--P", "100"], "N must be a number, a list a,b,c or a range"),
    (["compare", "gaussian-mixture", "--trajectories", "0"], "trajectories must be an integer >= 10"),
    (["compare", "--dtype", "float16"], "dtype"),
    (["compare", "nonexistent"], "No such command"),
    (["convert", "--t", "-2"], "t must be >= 0"),
    (["convert", "--ddpm-step", "5000"], "step must lie in"),
])
def test_bad_input_one_line_exit_2(args, needle):
    proc = run_cli(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_convert(capsys):
    assert main(["convert", "--ddpm-step", "499", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["t"] == pytest.approx(1.2717729485, abs=5e-11)
    assert main(["convert", "--sigma-edm", str(out["sigma_EDM"]), "--json"]) == 0
    back = json.loads(capsys.readouterr().out)
    assert back["ddpm_step"] == pytest.approx(499.0, abs=1e-8)


def test_list_and_latex(capsys):
    assert main(["list"]) == 0
    assert "gaussian-mixture (default)" in capsys.readouterr().out
    assert main(["theory", "latex"]) == 0
    assert "\\begin{align*}" in capsys.readouterr().out


def test_help_exits_zero(capsys):
    assert main(["--help"]) == 0
    assert main(["compare", "--help"]) == 0
    assert "gaussian-mixture" in capsys.readouterr().out


def test_theory_does_not_import_torch():
    code = "import sys; from compare.cli import main; main(['theory','gaussian-mixture','--N','8','--P','9']); " \
           "assert 'torch' not in sys.modules"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_theory_subspaces_json():
    proc = run_cli("theory", "subspaces", "--dims", "2,5,23", "--std", "1,0.3,0.000001", "--P", "1000", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert {"per_subspace", "tau_collapse", "t_collapse"} <= set(out)
    first = out["per_subspace"][0]
    assert set(first) == {"dim", "variance", "tau_gauss_rem", "t_gauss_rem", "tau_block", "t_block"}
    # docs/reference.md, blocks (2, 5, 23) (std 1e-6 is variance 1e-12)
    assert [r["tau_gauss_rem"] for r in out["per_subspace"]] == pytest.approx(
        [0.3103407299, 0.2750269033, 0.2717501748], abs=5e-10)
    assert out["per_subspace"][1]["tau_block"] == pytest.approx(0.00606104199662, abs=1e-13)
    assert out["tau_collapse"] == pytest.approx(0.0310115104518, abs=1e-12)
    assert out["t_collapse"] == pytest.approx(0.5 * __import__("math").log1p(out["tau_collapse"]), rel=1e-14)


def test_theory_subspaces_normalized(capsys):
    assert main(["theory", "subspaces", "--dims", "2,5", "--std", "1,0.3", "--P", "1000", "--normalized"]) == 0
    assert "0.07238241" in capsys.readouterr().out  # s / (2 ln P) for s = 1


@pytest.mark.parametrize("args,needle", [
    (["theory", "subspaces", "--dims", "2,x", "--std", "1,1", "--P", "100"], "--dims"),
    (["theory", "subspaces", "--dims", "2,3", "--std", "1", "--P", "100"], "same length"),
    (["theory", "subspaces", "--dims", "2,3", "--std", "1,-1", "--P", "100"], "std must be > 0"),
    (["theory", "subspaces", "--dims", "2,3", "--std", "1,1", "--P", "1"], "P must be an integer >= 2"),
    (["compare", "subspaces", "--normalized", "maybe"], "normalized"),
])
def test_subspaces_bad_input(args, needle):
    proc = run_cli(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr


def test_theory_data_json(tmp_path):
    rng = __import__("numpy").random.default_rng(0)
    path = tmp_path / "x.npy"
    __import__("numpy").save(path, rng.standard_normal((300, 12)))
    proc = run_cli("theory", "data", str(path), "--json", "--samples", "300")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert {"N", "P", "alpha", "t_S", "t_C_gaussian", "t_C_entropy", "t_C_entropy_ci"} <= set(out)
    assert out["N"] == 12 and out["P"] == 300 and len(out["t_C_entropy_ci"]) == 2


@pytest.mark.parametrize("content,needle", [
    ("nan", "must be finite"),
    ("1d", "must be 2-D"),
    ("p1", "P >= 2"),
    ("str", "numeric"),
])
def test_theory_data_bad_arrays(tmp_path, content, needle):
    np = __import__("numpy")
    arrays = {"nan": np.array([[1.0, np.nan], [2.0, 3.0]]), "1d": np.arange(4.0), "p1": np.ones((1, 3)),
              "str": np.array([["a", "b"], ["c", "d"]])}
    path = tmp_path / "bad.npy"
    np.save(path, arrays[content])
    proc = run_cli("theory", "data", str(path))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr


def test_theory_linear_denoiser_json():
    proc = run_cli("theory", "linear-denoiser", "--d", "100", "--T", "2", "--ell", "0.0183", "--n", "500", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert {"r", "kl_floor", "n_c", "variance_n"} <= set(out)
    assert out["n_c"] == 102 and out["variance_n"] > out["r"]
    bad = run_cli("theory", "linear-denoiser", "--d", "100", "--T", "2", "--ell", "0.0183", "--n", "50")
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error: n must be > d + 2")


def test_theory_hmm_json_and_errors(tmp_path):
    env_cache = str(tmp_path)
    import os
    proc = subprocess.run([sys.executable, "-m", "compare.cli", "theory", "hmm", "--alpha", "0.3", "--alpha-D", "0.3",
                           "--phi", "relu", "--json"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "REGIMES_CACHE": env_cache})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert {"t_c", "t_o", "t_g"} <= set(out)
    assert out["t_c"] == pytest.approx(0.20468346, abs=1e-5) and out["t_o"] == pytest.approx(0.39942496, abs=1e-5)
    assert out["t_g"] < out["t_c"] < out["t_o"]
    assert list((tmp_path / "hmm").glob("times-*.json"))  # cached for the next call
    lin = run_cli("theory", "hmm", "--alpha", "0.2", "--alpha-D", "0.5", "--spectrum", "orthogonal", "--json")
    assert json.loads(lin.stdout)["t_c"] == pytest.approx(0.48385917, abs=5e-9)
    bad = run_cli("theory", "hmm", "--alpha", "0.2", "--alpha-D", "0")
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error: alpha_D must be > 0")
