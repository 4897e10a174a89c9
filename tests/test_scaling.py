"""The size-scan layer: units, resumption, the scaled table and its CLI."""

import math

import numpy as np
import pandas as pd
import pytest

from compare.cli import main
from compare.presets import HmmScalingPreset, MixtureScalingPreset, SubspacesScalingPreset
from compare.scaling import SCALING_STUDIES, get_study, run_scaling, scaling_summary, unit_seed
from compare.table import COLUMNS
from theory.validation import InputError

TINY = {
    "gaussian-mixture": dict(sizes="24,32", seeds=2, alpha=0.2, trajectories=40, steps=30, pairs=100, clone_steps=20,
                             entropy_samples=100, device="cpu"),
    "hmm": dict(sizes="16,20", seeds=2, alpha=0.2, configs="linear:0.5", samples=20, device="cpu"),
    "subspaces": dict(sizes="20,30", seeds=2, alpha=0.18, points=20, times=8, device="cpu"),
}


def _preset(name, **kw):
    study = get_study(name)
    return study, study.preset_type(**{**TINY[name], **kw})


def test_two_size_scan_of_the_mixture(tmp_path):
    study, preset = _preset("gaussian-mixture")
    res = run_scaling(study, preset, tmp_path)
    table = res.table
    assert list(table.columns[:len(COLUMNS) - 1]) == COLUMNS[:-1] and table.columns[-1] == "note"
    quantities = study.quantities(preset)
    per_size = [q for q in quantities if q.mode == "per-size"]
    assert len(table) == len(quantities) * 2 + len(quantities) - len(per_size)
    limit = table[table["N"] == "inf"]
    assert len(limit) == 4 and set(limit["fit"]) <= {"1/N", "ln(N)/N"}
    assert (limit["tolerance"] == 0).all()  # no hand-set tolerance in a scaled verdict
    # the difference mode holds measured - t_S(N) against 0; per-size rows against the exact phi
    spec = table[table["quantity"].str.startswith("speciation")]
    assert (spec["theory"] == 0).all() and len(spec) == 3
    phi = table[table["symbol"] == "phi(t_kappa=1)"]
    assert list(phi["N"]) == ["24", "32"] and np.allclose(phi["theory"], 0.7752, atol=1e-4)
    # every unit measured, per-size means are the means of the units
    assert res.computed == 4 and res.reused == 0 and len(res.units) == 4
    lock = table[(table["symbol"] == "t_C") & (table["N"] == "24") & table["quantity"].str.contains("lock-in")]
    assert lock["measured"].iloc[0] == pytest.approx(np.mean([res.units[(24, k)]["lock_in"][0] for k in (0, 1)]))
    for name in ["table.csv", "table.md", "table.tex", "scaling.json", "preset.json", "scaling-lock_in.png"]:
        assert (tmp_path / name).stat().st_size > 0, name
    assert scaling_summary(table).startswith("N -> inf: ")
    # the extrapolated row is the intercept of the chosen fit of the per-size means
    ex = res.extrapolations["lock_in"]
    assert limit[limit["quantity"].str.contains("lock-in")]["measured"].iloc[0] == pytest.approx(ex.intercept)
    # the collapse trajectories stop at the study's end time, not the one-N experiment's 0.05
    (collapse,) = (tmp_path / "units" / "N24-seed0" / "raw").glob("collapse-*.npz")
    assert np.load(collapse)["times"][-1] == pytest.approx(study.COLLAPSE_END)


def test_each_seed_draws_its_own_disorder():
    study, preset = _preset("hmm")
    seeds = {unit_seed(preset.seed, k) for k in range(8)}
    assert len(seeds) == 8
    units = [study.unit_preset(preset, 16, unit_seed(preset.seed, k)) for k in range(2)]
    assert units[0].seed != units[1].seed and units[0].P == round(math.exp(0.2 * 16))


def test_resume_after_a_kill_recomputes_nothing_finished(tmp_path, monkeypatch, capsys):
    import compare.scaling as scaling

    study, preset = _preset("gaussian-mixture")
    real = scaling.measure_unit
    calls = []

    def dies_on_the_third(*args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt  # the user's Ctrl-C in the middle of the scan
        calls.append(args[2:4])
        return real(*args, **kwargs)

    monkeypatch.setattr(scaling, "measure_unit", dies_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        run_scaling(study, preset, tmp_path)
    monkeypatch.setattr(scaling, "measure_unit", real)
    resumed = run_scaling(study, preset, tmp_path)
    assert (resumed.computed, resumed.reused) == (2, 2)
    fresh = run_scaling(study, preset, tmp_path / "fresh")
    pd.testing.assert_frame_equal(resumed.table, fresh.table)
    # a damaged unit file is recomputed, with a message
    victim = sorted((tmp_path / "units").glob("N24-seed0-*.npz"))[0]
    victim.write_bytes(victim.read_bytes()[:50])
    again = run_scaling(study, preset, tmp_path)
    warning = capsys.readouterr().err
    assert (again.computed, again.reused) == (1, 3) and str(victim) in warning and "recomputing" in warning
    pd.testing.assert_frame_equal(again.table, fresh.table)


@pytest.mark.parametrize("name", ["hmm", "subspaces"])
def test_other_studies_run_two_sizes(name, tmp_path):
    study, preset = _preset(name)
    res = run_scaling(study, preset, None)
    limit = res.table[res.table["N"] == "inf"]
    assert len(limit) == len(study.quantities(preset)) and len(res.units) == 4
    assert limit["agrees"].isin(["yes", "no", "n/a"]).all()
    if name == "hmm":  # linear phi: the theory for each seed's own F beside the measurement
        sized = res.table[res.table["N"] != "inf"]
        assert np.isfinite(sized["theory"]).all()


def test_subspace_dimensions_keep_their_fractions():
    p = SubspacesScalingPreset()
    for n in p.size_list():
        dims = p.dims_at(n)
        assert sum(dims) == n and all(abs(d / n - f) <= 0.5 / n + 1e-12 for d, f in zip(dims[:-1], p.fraction_list()))
    assert SubspacesScalingPreset(sizes="30,60").dims_at(60) == [4, 10, 46]


def test_presets_validate_and_the_gpu_preset_reaches_a_million_points():
    large = get_study("gaussian-mixture").large_preset
    assert large.P_of(large.size_list()[-1]) > 9e5 and large.device == "cuda"
    for name in ("hmm", "subspaces"):  # every study has a GPU preset beyond the CPU's reach
        study = get_study(name)
        big, small = study.large_preset, study.preset_type()
        assert big.device == "cuda" and max(big.size_list()) > max(small.size_list())
        assert big.P_of(max(big.size_list())) > 10 * small.P_of(max(small.size_list()))
    for cls in (MixtureScalingPreset, HmmScalingPreset, SubspacesScalingPreset):
        p = cls()
        assert max(p.size_list()) / min(p.size_list()) >= 3  # the sizes span a factor 3 in N
        with pytest.raises(InputError, match="sizes"):
            cls(sizes="64")
        with pytest.raises(InputError, match="seeds"):
            cls(seeds=1)
        with pytest.raises(InputError, match="alpha"):
            cls(alpha=5.0)
    with pytest.raises(InputError, match="alpha_D N must be an integer"):  # alpha_D would zigzag with N
        HmmScalingPreset(sizes="32,48")
    with pytest.raises(InputError, match="scaling study"):
        get_study("digits")
    assert set(SCALING_STUDIES) == {"gaussian-mixture", "hmm", "subspaces"}
    from compare.cli import _scaling_presets  # the CLI's import-free copy of the registry

    assert {n: get_study(n).preset_type for n in SCALING_STUDIES} == _scaling_presets()


def test_cli_scale(tmp_path, capsys):
    args = ["scale", "gaussian-mixture", "--out", str(tmp_path), "--quiet"]
    args += sum(([f"--{k.replace('_', '-')}", str(v)] for k, v in TINY["gaussian-mixture"].items()), [])
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "N -> inf:" in out and "4 units run" in out
    assert main(args) == 0 and "0 units run, 4 reused" in capsys.readouterr().out
    assert main(["scale", "gaussian-mixture", "--sizes", "32", "--quiet"]) == 2
    assert "sizes must hold at least 2" in capsys.readouterr().err
    assert main(["scale", "hmm", "--seeds", "1", "--quiet"]) == 2


def test_cli_large_preset_needs_cuda(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA present: the GPU preset would run")
    assert main(["scale", "gaussian-mixture", "--large", "--quiet"]) == 2
    assert "--large needs CUDA" in capsys.readouterr().err


@pytest.mark.slow  # a minute for Ray to start; run_on_ray itself is covered by the sweep's Ray test
def test_ray_and_in_process_units_agree(tmp_path):
    ray = pytest.importorskip("ray")
    study, preset = _preset("gaussian-mixture")
    local = run_scaling(study, preset, tmp_path / "local")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = run_scaling(study, preset, tmp_path / "ray", ray_address="local")
    finally:
        ray.shutdown()
    assert on_ray.computed == 4
    for key, values in local.units.items():
        for name, pair in values.items():
            assert on_ray.units[key][name] == pytest.approx(pair, rel=1e-5, nan_ok=True), (key, name)


def test_summary_counts_untrusted_extrapolations_apart():
    from compare.table import ComparisonRow, make_table

    def row(measured, note, N="inf"):
        return ComparisonRow("q", "t", 1.0, measured, measured - 0.1, measured + 0.1, 0.95, note=note,
                             extra={"N": N, "P": "", "seeds": 4, "fit": "1/N"})

    table = make_table([row(1.0, "fits"), row(1.05, "every ansatz is rejected; NOT TO BE TRUSTED"),
                        row(2.0, "fits"), row(1.0, "per size", N="32")])
    assert scaling_summary(table) == ("N -> inf: 2/3 extrapolations agree (1 from fits that every ansatz fails: "
                                      "not to be trusted); per size (finite-N theory): 1/1 rows agree")
