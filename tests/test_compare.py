import json

import pandas as pd
import pytest

from compare import get_experiment
from compare.cli import main
from compare.presets import GaussianMixturePreset
from compare.table import COLUMNS, ComparisonRow, make_table
from simulate.stats import binomial_interval

SMALL = dict(N=32, P=400, pairs=300, clone_steps=60, trajectories=100, steps=80, entropy_samples=200, device="cpu")


def assert_common_schema(table: pd.DataFrame) -> None:
    """The one table schema: the common columns first, context columns, ``note`` last."""
    assert list(table.columns[:len(COLUMNS) - 1]) == COLUMNS[:-1] and table.columns[-1] == "note"
    assert set(table["agrees"]) <= {"yes", "no", "n/a", "excluded"} and len(table) > 0
    assert set(table["in_interval"]) <= {"yes", "no", "zero-width", "n/a"}


def test_table_agreement_rule():
    inside = ComparisonRow("q", "s", 1.0, 1.2, 0.9, 1.3, 0.95)
    outside_close = ComparisonRow("q", "s", 1.0, 1.05, 1.01, 1.08, 0.95, tolerance=0.1)
    outside_far = ComparisonRow("q", "s", 1.0, 1.5, 1.4, 1.6, 0.95, tolerance=0.1)
    df = make_table([inside, outside_close, outside_far])
    assert list(df.columns) == COLUMNS
    assert list(df["agrees"]) == ["yes", "yes", "no"]
    assert df["rel_error"].iloc[2] == pytest.approx(0.5)


def test_small_run_writes_outputs_and_resumes(tmp_path):
    exp = get_experiment("gaussian-mixture")
    preset = GaussianMixturePreset(**SMALL)
    first = exp.run(preset, tmp_path)
    for name in ["table.csv", "table.md", "table.tex", "theory.json", "preset.json", "speciation.png",
                 "collapse.png", "entropy.png"]:
        assert (tmp_path / name).stat().st_size > 0, name
    table = pd.read_csv(tmp_path / "table.csv")
    assert list(table.columns) == COLUMNS and len(table) >= 5
    assert not any(first.cached.values())
    assert len(list((tmp_path / "raw").glob("*.npz"))) == 3
    second = exp.run(preset, tmp_path)
    assert all(second.cached.values())
    pd.testing.assert_frame_equal(first.table, second.table)
    # a changed configuration is a different cache entry
    third = exp.run(GaussianMixturePreset(**{**SMALL, "trajectories": 120}), tmp_path)
    assert third.cached == {"cloning": True, "collapse": False, "entropy": True}


def test_reproducible_with_seed():
    exp = get_experiment("gaussian-mixture")
    a = exp.run(GaussianMixturePreset(**SMALL))
    b = exp.run(GaussianMixturePreset(**SMALL))
    pd.testing.assert_frame_equal(a.table, b.table)


def test_cli_simulate_saves_raw(tmp_path, capsys):
    args = ["simulate", "gaussian-mixture", "--stage", "entropy", "--out", str(tmp_path), "--quiet"]
    args += sum(([f"--{k.replace('_', '-')}", str(v)] for k, v in SMALL.items()), [])
    assert main(args) == 0
    files = list((tmp_path / "raw").glob("entropy-*.npz"))
    assert len(files) == 1
    cfg = json.loads(files[0].with_suffix(".json").read_text())["config"]
    assert cfg["preset"]["N"] == 32 and cfg["stage"] == "entropy" and cfg["experiment"] == "gaussian-mixture"
    assert "confidence" not in cfg["preset"]  # analysis-only fields never enter a cache key


def test_default_preset_agrees(tmp_path, capsys):
    """The README's main job. Every row that allows a finite-N tolerance agrees. The four rows
    decided by a 95% interval alone are independent: at most one of them may miss (P(two or more
    miss) = 1.4% for a correct theory); its theory value must then lie inside the 99.9% interval."""
    assert main(["compare", "--out", str(tmp_path), "--quiet", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    table = pd.read_csv(tmp_path / "table.csv")
    show = table[["quantity", "theory", "measured", "ci_low", "ci_high", "agrees"]]
    with_tolerance, interval_only = table[table["tolerance"] > 0], table[table["tolerance"] == 0]
    assert (with_tolerance["agrees"] == "yes").all(), show
    assert len(interval_only) == 4 and (interval_only["agrees"] == "no").sum() <= 1, show
    assert f"{(table['agrees'] == 'yes').sum()}/{len(table)} rows agree" in out
    phi = table[table["symbol"] == "phi(t_kappa=1)"].iloc[0]
    lo, hi = binomial_interval(round(phi["measured"] * 4000), 4000, 0.999)
    assert lo <= phi["theory"] <= hi


def test_subspaces_small_run(tmp_path):
    from compare.presets import SubspacesPreset

    exp = get_experiment("subspaces")
    preset = SubspacesPreset(dims="2,5,23", P="300", normalized="both", times=10, points=40, device="cpu")
    res = exp.run(preset, tmp_path)
    table = pd.read_csv(tmp_path / "table.csv", keep_default_na=False)
    assert len(table) == 2 * (3 * 3 + 1)  # two normalisations x (three blocks x three rules + the global row)
    assert COLUMNS[:-1] == list(table.columns[:len(COLUMNS) - 1]) and table.columns[-1] == "note"
    assert {"config", "g", "P", "subspace", "rule", "closest"} <= set(table.columns)
    assert_common_schema(res.table)
    for name in ["spectra.png", "dimension.png", "phase.png", "theory.json"]:
        assert (tmp_path / name).stat().st_size > 0
    again = exp.run(preset, tmp_path)
    assert all(again.cached.values())
    assert "subspace measurements" in exp.summary_line(res.table)


def test_digits_small_run(tmp_path):
    from compare.presets import DigitsPreset

    exp = get_experiment("digits")
    preset = DigitsPreset(pairs=80, clone_steps=40, trajectories=60, steps=40, entropy_samples=200, device="cpu")
    res = exp.run(preset, tmp_path)
    assert list(pd.read_csv(tmp_path / "table.csv").columns) == COLUMNS
    assert_common_schema(res.table)
    assert {"t_S", "t_C_gaussian", "t_C_entropy"} <= set(res.theory)
    for name in ["speciation.png", "collapse.png", "entropy.png"]:
        assert (tmp_path / name).stat().st_size > 0


def test_patches_small_run(tmp_path):
    from compare.presets import PatchesPreset

    exp = get_experiment("patches")
    preset = PatchesPreset(k=4, P="300,600", trajectories=40, steps=40, entropy_samples=200, device="cpu")
    res = exp.run(preset, tmp_path)
    table = pd.read_csv(tmp_path / "table.csv")
    assert len(table) == 4 and (tmp_path / "collapse_vs_P.png").stat().st_size > 0
    assert_common_schema(res.table)
    assert set(res.theory["per_P"]) == {300, 600}


def test_linear_denoiser_regularization_networks_small_runs(tmp_path):
    from compare.presets import LinearDenoiserPreset, NetworksPreset, RegularizationPreset

    runs = {
        "linear-denoiser": LinearDenoiserPreset(n="8,16,40", repeats=40, fresh=300),
        "regularization": RegularizationPreset(c="0,0.01", tau="1e-300,0.1", trajectories=40, steps=40, device="cpu"),
        "networks": NetworksPreset(P="8", width="16", steps="60", trajectories=30, sampler_steps=30, device="cpu"),
    }
    for name, preset in runs.items():
        exp = get_experiment(name)
        res = exp.run(preset, tmp_path / name)
        assert (tmp_path / name / "table.csv").stat().st_size > 0
        assert_common_schema(res.table)
        assert len(res.figures) >= 1 and all((tmp_path / name / f"{f}.png").exists() for f in res.figures)
        assert exp.summary_line(res.table)
        again = exp.run(preset, tmp_path / name)
        assert all(again.cached.values())


@pytest.mark.gpu
def test_small_runs_on_cuda_match_the_cpu_twin_statistically(tmp_path):
    """GPU twin of test_small_run_writes_outputs_and_resumes: same preset on CUDA (different random
    streams), same table shape, theory identical, measured speciation time within 10% of the CPU run."""
    exp = get_experiment("gaussian-mixture")
    cpu = exp.run(GaussianMixturePreset(**SMALL))
    gpu = exp.run(GaussianMixturePreset(**{**SMALL, "device": "cuda"}), tmp_path)
    assert list(gpu.table.columns) == list(cpu.table.columns)
    pd.testing.assert_series_equal(gpu.table["theory"], cpu.table["theory"])
    assert gpu.table["measured"].iloc[0] == pytest.approx(cpu.table["measured"].iloc[0], rel=0.1)


def test_hmm_small_run(tmp_path):
    from compare.presets import HmmPreset

    preset = HmmPreset(N=24, alpha=0.2, configs="linear:0.5", samples=60, hessian_points=6, trajectories=12, steps=20,
                       test_points=40, scan_N="16,24", device="cpu")
    exp = get_experiment("hmm")
    res = exp.run(preset, tmp_path)
    assert_common_schema(res.table)
    assert {"hmm_basin", "hmm_test_nll", "hmm_phase"} <= set(res.figures)
    assert (tmp_path / "hmm_phase.png").exists() and exp.summary_line(res.table)
    syms = set(res.table["symbol"])
    assert {"t_c", "t_o", "t_c (this F)", "r*", "tau_g", "P(capture)", "P(escape)"} <= syms
    assert res.theory["scan"]["N"] == [16, 24]
    assert all(exp.run(preset, tmp_path).cached.values())
    with pytest.raises(ValueError, match="configs must be"):
        HmmPreset(configs="cosh:0.5").validate()
