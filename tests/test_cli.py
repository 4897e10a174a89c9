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
    (["theory", "gaussian-mixture", "--N", "ten", "--P", "100"], "--N"),
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
