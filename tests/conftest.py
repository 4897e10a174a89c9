"""Test configuration: every cache and configuration directory points into one temporary folder.

Set before anything else is imported (matplotlib reads MPLCONFIGDIR, Ray its home folder at
import time), so that no test writes to the user's home: HOME, XDG_CACHE_HOME, MPLCONFIGDIR and
REGIMES_CACHE (the theory cache of :mod:`compare.theory_cache`); subprocesses inherit them. Hypothesis
keeps its caches there too.
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path

_SANDBOX = Path(tempfile.mkdtemp(prefix="regimes-tests-"))
for _var, _sub in (("HOME", "home"), ("XDG_CACHE_HOME", "cache"), ("MPLCONFIGDIR", "matplotlib"),
                   ("REGIMES_CACHE", "regimes-cache")):
    (_SANDBOX / _sub).mkdir()
    os.environ[_var] = str(_SANDBOX / _sub)

sys.dont_write_bytecode = True  # nothing written into the checkout (no __pycache__ from the tests)

try:  # hypothesis keeps its example database and caches in ./.hypothesis by default
    from hypothesis.configuration import set_hypothesis_home_dir
except ImportError:  # pragma: no cover - hypothesis is in the [test] extra
    pass
else:
    set_hypothesis_home_dir(_SANDBOX / "hypothesis")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def sandbox() -> Path:
    """The temporary folder that stands in for the user's home and caches."""
    return _SANDBOX


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_SANDBOX, ignore_errors=True)


#: LaTeX engines the compile tests use, the first on PATH (.ci/run installs pdflatex from Debian's packages).
LATEX_ENGINES = ("pdflatex", "lualatex", "xelatex", "tectonic")


@pytest.fixture
def compile_latex(tmp_path):
    """``compile_latex(document_text)``: compile a LaTeX document in a temporary folder and fail with
    the log's tail if it does not compile; skips (saying why) when no engine is on PATH."""
    import subprocess

    engine = next((e for e in LATEX_ENGINES if shutil.which(e)), None)
    if engine is None:
        pytest.skip("no LaTeX engine (pdflatex, lualatex, xelatex or tectonic) on PATH")

    def run(document: str, name: str = "doc") -> Path:
        folder = tmp_path / f"latex-{name}"
        folder.mkdir(exist_ok=True)
        (folder / f"{name}.tex").write_text(document)
        cmd = ([engine, f"{name}.tex"] if engine == "tectonic"
               else [engine, "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"])
        proc = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout[-3000:]
        return folder / f"{name}.pdf"

    return run
