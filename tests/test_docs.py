"""The runnable examples of the documentation run as written and give the numbers they claim."""

import os
import re
from pathlib import Path

import pandas as pd

DOCS = Path(__file__).parents[1] / "docs"


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def test_custom_experiment_example(tmp_path, monkeypatch, capsys):
    block, = _python_blocks(DOCS / "experiments.md")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "docs_example"}
    exec(compile(block, "docs/experiments.md", "exec"), namespace)
    result = namespace["result"]
    assert list(result.table["agrees"]) == ["yes"] and result.cached == {"collapse": False}
    table = pd.read_csv(tmp_path / "regimes-out" / "isotropic-collapse" / "table.csv")
    assert table["theory"].iloc[0] == result.theory["t_C"]
    # the claims below the example: rerun -> cached; another confidence -> still cached
    experiment, preset_type = namespace["IsotropicCollapse"](), namespace["IsotropicPreset"]
    again = namespace["run_experiment"](experiment, preset_type(confidence=0.9), "regimes-out/isotropic-collapse")
    assert again.cached == {"collapse": True}
    fresh = namespace["run_experiment"](experiment, preset_type(trajectories=100), "regimes-out/isotropic-collapse")
    assert fresh.cached == {"collapse": False}
    assert os.listdir(tmp_path) == ["regimes-out"]


def test_readme_python_example(capsys):
    """The README's "From Python" block runs as written; its collapse measurement agrees with the
    theory it prints next to it (within the 10% finite-N tolerance of the default table)."""
    block, = _python_blocks(DOCS.parent / "README.md")
    namespace = {"__name__": "readme_example"}
    exec(compile(block, "README.md", "exec"), namespace)
    median, t_c = namespace["res"].median_condensation_time()[0], namespace["t_C"]
    assert abs(median - t_c) / t_c < 0.10


def test_your_data_worked_example(tmp_path, monkeypatch, capsys):
    """docs/your-data.md's end-to-end example (a PNG folder, a diffusers UNet, regimes' measure) runs
    as written; the theory numbers it prints are the ones the page shows."""
    import pytest

    pytest.importorskip("diffusers")
    block, = _python_blocks(DOCS / "your-data.md")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "your_data_example"}
    exec(compile(block, "docs/your-data.md", "exec"), namespace)
    result, ds = namespace["result"], namespace["ds"]
    assert (ds.P, ds.N, ds.preprocessing["convention"], ds.preprocessing["format"]) == (360, 64, "unit", "folder")
    theory = result.table.set_index("symbol")["theory"]
    assert abs(theory["t_S"] - 1.657445) < 1e-6 and abs(theory["t_C^gauss"] - 0.631225) < 1e-6
    assert abs(theory["t_C^entropy"] - 0.511874) < 0.02 * 0.511874  # a Monte Carlo estimate, seeded
    page = (DOCS / "your-data.md").read_text()
    assert "t_S 1.657445" in page and "t_C^gauss 0.631225" in page
    assert 0.0 <= result.theory["measured"]["memorized_fraction"] <= 1.0
    assert any("memorises 0%" in c or "memorises" in c for c in result.caveats) or \
        result.theory["measured"]["memorized_fraction"] >= 0.5
