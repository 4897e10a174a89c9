"""The disk cache of slow theory solves (compare.theory_cache): versioned keys that include the
quadrature, damaged entries recomputed, and the location under $REGIMES_CACHE."""

import json

import pytest

from compare import theory_cache
from compare.theory_cache import cached_basin, cached_regime_times
from theory.hmm import HiddenManifoldModel, Quadrature
from theory.hmm_phase import regime_times


def test_entry_written_once_and_reused(tmp_path, monkeypatch):
    first = cached_regime_times(0.2, 0.5, "linear", cache_dir=tmp_path)
    files = list((tmp_path / "hmm").glob("times-*.json"))
    assert len(files) == 1
    entry = json.loads(files[0].read_text())
    assert entry["value"] == first and entry["config"]["version"] == theory_cache.CACHE_VERSION
    assert entry["config"]["model"]["quadrature_nodes"] == 800
    # a second call reads the file: the solver is not called again
    monkeypatch.setattr(theory_cache, "regime_times", lambda *a, **k: pytest.fail("recomputed"))
    assert cached_regime_times(0.2, 0.5, "linear", cache_dir=tmp_path) == first


def test_damaged_or_foreign_entry_is_recomputed(tmp_path):
    first = cached_regime_times(0.3, 0.5, "linear", cache_dir=tmp_path)
    path, = (tmp_path / "hmm").glob("times-*.json")
    path.write_text("{not json")
    assert cached_regime_times(0.3, 0.5, "linear", cache_dir=tmp_path) == first
    entry = json.loads(path.read_text())
    entry["config"]["version"] = -1  # an entry written under another version is not used
    entry["value"]["t_c"] = 123.0
    path.write_text(json.dumps(entry))
    assert cached_regime_times(0.3, 0.5, "linear", cache_dir=tmp_path)["t_c"] == first["t_c"]


def test_key_includes_the_quadrature(tmp_path):
    coarse = HiddenManifoldModel(0.3, "relu", Quadrature(20, 12, 8, 20))
    fine = HiddenManifoldModel(0.3, "relu")
    cached_basin(0.35, 0.3, 0.3, "relu", model=coarse, cache_dir=tmp_path)
    cached_basin(0.35, 0.3, 0.3, "relu", model=fine, cache_dir=tmp_path)
    assert len(list((tmp_path / "hmm").glob("basin-*.json"))) == 2


def test_default_location_is_regimes_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("REGIMES_CACHE", str(tmp_path))
    assert theory_cache.default_cache_dir() == tmp_path
    out = cached_regime_times(0.25, 0.5, "linear")
    assert list((tmp_path / "hmm").glob("times-*.json"))
    assert out["t_c"] == regime_times(0.25, 0.5, "linear")["t_c"]


def test_disabled_cache_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("REGIMES_CACHE", str(tmp_path))
    cached_regime_times(0.2, 0.5, "linear", cache_dir=False)
    assert not (tmp_path / "hmm").exists()


def test_an_edited_value_fails_its_checksum_and_is_named(tmp_path, capsys):
    first = cached_regime_times(0.3, 0.5, "linear", cache_dir=tmp_path)
    path, = (tmp_path / "hmm").glob("times-*.json")
    entry = json.loads(path.read_text())
    entry["value"]["t_c"] = 123.0  # same configuration, edited number
    path.write_text(json.dumps(entry))
    again = cached_regime_times(0.3, 0.5, "linear", cache_dir=tmp_path)
    assert again["t_c"] == first["t_c"]
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "checksum" in err
    assert json.loads(path.read_text())["value"]["t_c"] == first["t_c"]  # rewritten correct
    cached_regime_times(0.3, 0.5, "linear", cache_dir=tmp_path)
    assert capsys.readouterr().err == ""  # a good entry is read silently
