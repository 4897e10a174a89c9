"""The one experiment driver: named random streams, cache keys, verified resumption, stage
selection, `regimes simulate` for every experiment, and errors."""

import json
import subprocess
import sys

import numpy as np
import pytest

from compare import EXPERIMENTS, get_experiment
from compare.cli import main
from compare.driver import ANALYSIS_FIELDS, DRIVER_VERSION, stage_config, stream_seed
from compare.io import strict_cache
from compare.presets import GaussianMixturePreset

SMALL_GM = dict(N=32, P=400, pairs=300, clone_steps=60, trajectories=100, steps=80, entropy_samples=200, device="cpu")

def _digits_file() -> str:
    """Two digit classes as a small uint8 .npz in the tests' sandbox (conftest points HOME there)."""
    import os
    from pathlib import Path

    from sklearn.datasets import load_digits

    path = Path(os.environ["HOME"]).parent / "data" / "digits01.npz"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        d = load_digits()
        keep = d.target < 2
        np.savez(path, data=np.minimum(d.data[keep] * 16, 255).astype(np.uint8).reshape(-1, 8, 8),
                 labels=d.target[keep])
    return str(path)


#: The smallest presets that exercise every stage of every experiment (seconds on a CPU).
TINY = {
    "data": dict(path=_digits_file(), P=120, pairs=40, clone_steps=20, trajectories=30, steps=20,
                 entropy_samples=100, device="cpu"),
    "gaussian-mixture": SMALL_GM,
    "subspaces": dict(dims="2,3", std="1,0.1", P="200", normalized="no", times=6, points=20, device="cpu"),
    "digits": dict(pairs=40, clone_steps=20, trajectories=30, steps=20, entropy_samples=100, device="cpu"),
    "patches": dict(k=3, P="200", trajectories=20, steps=20, entropy_samples=100, device="cpu"),
    "linear-denoiser": dict(n="4,12", repeats=20, fresh=100),
    "regularization": dict(N=4, P=16, c="0,0.1", tau="0.1", trajectories=20, steps=20, device="cpu"),
    "hmm": dict(N=16, alpha=0.2, configs="linear:0.5", samples=20, hessian_points=4, trajectories=10, steps=10,
                test_points=20, scan_N="12,16", device="cpu"),
    "networks": dict(N=4, P="8", width="8", steps="20", batch_size=16, trajectories=10, sampler_steps=10, device="cpu"),
    "subspaces-networks": dict(dims="2,3", std="1,0.1", P="60", width="8", train_steps=20, batch_size=16, times=5,
                               points=6, device="cpu"),
    "image-dimension": dict(digits_P="60", patches_P="80", width=8, train_steps=20, batch_size=16, times=4, points=4,
                            device="cpu"),
}


def test_every_experiment_has_a_tiny_preset():
    assert set(TINY) == set(EXPERIMENTS)


def test_streams_are_deterministic_and_distinct():
    assert stream_seed(0, "data") == stream_seed(0, "data")
    names = ["data", "cloning", "collapse", "entropy"] + [f"{k}-P{P}" for k in ("collapse", "entropy")
                                                          for P in (1000, 3000, 10000, 30000)]
    seeds = {stream_seed(s, n) for s in range(5) for n in names}
    assert len(seeds) == 5 * len(names)  # no collision across seeds and names (seed + P used to collide)
    assert all(0 <= s < 2 ** 63 for s in seeds)


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_stages_declare_valid_configurations(name):
    spec = get_experiment(name)
    preset = spec.preset(**TINY[name])
    stages = spec.definition.stages(preset, spec.definition.setup(preset))
    assert len({s.name for s in stages}) == len(stages) >= 1
    for stage in stages:
        cfg = stage_config(spec.definition, preset, stage, "cpu")
        assert cfg["experiment"] == name and cfg["driver"] == DRIVER_VERSION and cfg["version"] >= 1
        assert not ANALYSIS_FIELDS & set(cfg["preset"]) and "device" not in cfg["preset"]
        json.dumps(cfg)  # the key material is JSON


def test_analysis_fields_do_not_recompute(tmp_path):
    exp = get_experiment("gaussian-mixture")
    first = exp.run(GaussianMixturePreset(**SMALL_GM), tmp_path)
    again = exp.run(GaussianMixturePreset(**SMALL_GM, confidence=0.9), tmp_path)
    assert not any(first.cached.values()) and all(again.cached.values())
    assert (again.table["confidence"] == 0.9).all()


def test_damaged_cache_entries_are_recomputed(tmp_path, capsys):
    exp = get_experiment("gaussian-mixture")
    preset = GaussianMixturePreset(**SMALL_GM)
    sim = exp.simulate(preset, tmp_path, stages=["entropy"])
    path = sim.paths["entropy"]
    reference = sim.raw["entropy"]["f"].copy()
    logs = []

    def rerun():
        out = exp.simulate(preset, tmp_path, stages=["entropy"], log=logs.append)
        np.testing.assert_array_equal(out.raw["entropy"]["f"], reference)
        return out.cached["entropy"]

    assert rerun()  # intact: reused
    path.write_bytes(path.read_bytes()[:50])  # truncated
    with strict_cache(), pytest.raises(ValueError, match=r"--strict-cache: stage entropy: cached result .*entropy-"):
        rerun()
    assert not rerun()
    warning = capsys.readouterr().err
    assert warning.count("\n") == 1 and str(path) in warning and "recomputing" in warning
    arrays = dict(np.load(path))
    arrays["f"] = 3 * arrays["f"]  # a valid file with edited values
    np.savez_compressed(path, **arrays)
    assert not rerun()
    path.with_suffix(".json").unlink()  # the sidecar commits an entry
    assert not rerun()
    assert rerun()


def test_stage_selection_by_pattern(tmp_path):
    spec = get_experiment("subspaces")
    preset = spec.preset(**{**TINY["subspaces"], "P": "200,300"})
    sim = spec.simulate(preset, tmp_path, stages=["sweep-*-P300"])
    assert list(sim.raw) == ["sweep-c0-g1-P300"]
    with pytest.raises(ValueError, match="stage must be one of"):
        spec.simulate(preset, tmp_path, stages=["nonexistent"])


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_cli_simulate_every_experiment(name, tmp_path, capsys):
    spec = get_experiment(name)
    first = spec.stage_names(spec.preset(**TINY[name]))[0]
    args = ["simulate", name, "--stage", first, "--out", str(tmp_path), "--quiet"]
    args += sum(([f"--{k.replace('_', '-')}", str(v)] for k, v in TINY[name].items()), [])
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{first}: ") and len(list((tmp_path / "raw").glob(f"{first}-*.npz"))) == 1


def test_input_errors_are_one_line_and_bugs_keep_their_traceback(monkeypatch, capsys):
    assert main(["simulate", "hmm", "--stage", "nope", "--out", "/nonexistent-dir", "--quiet"]) == 2
    assert capsys.readouterr().err.startswith("error: stage must be one of")
    from theory import mixture

    def broken(self):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(mixture.TwoClassMixture, "summary", broken)
    with pytest.raises(ZeroDivisionError):
        main(["theory", "gaussian-mixture", "--N", "8", "--P", "9"])


def test_internal_error_traceback_in_a_subprocess():
    """A ValueError from inside numpy is a bug, not bad input: Python prints the traceback."""
    code = ("import numpy as np; from compare.cli import main; from theory import mixture; "
            "mixture.TwoClassMixture.summary = lambda self: np.linalg.cholesky(-np.eye(2)); "
            "main(['theory', 'gaussian-mixture', '--N', '8', '--P', '9'])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "LinAlgError" in proc.stderr


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_figures_pass_the_automatic_referee_checks(name):
    # titles, axis labels, finite limits covering the data, legends: compare.plots.figure_problems
    from compare.plots import figure_problems

    spec = get_experiment(name)
    result = spec.run(spec.preset(**TINY[name]))
    assert result.figures
    for fname, fig in result.figures.items():
        assert figure_problems(fig) == [], (name, fname)
    declared = list(spec.definition.caveats)
    assert result.caveats[:len(declared)] == declared  # run-dependent ones follow (data: its warnings)
    if name == "data":
        assert any(c.startswith("data: 100 Monte Carlo samples") for c in result.caveats)


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_every_experiments_table_tex_compiles(name, tmp_path, compile_latex):
    from compare.table import write_table

    spec = get_experiment(name)
    result = spec.run(spec.preset(**TINY[name]))
    tex = write_table(result.table, tmp_path, caveats=result.caveats)["tex"].read_text()
    pdf = compile_latex("\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage[margin=1cm,landscape]{geometry}\n"
                        "\\begin{document}\n\\tiny\n" + tex + "\n\\end{document}\n", name)
    assert pdf.stat().st_size > 1000
