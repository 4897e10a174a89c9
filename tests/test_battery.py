"""The hostile batteries of issue 17 (tests/battery.py for the command line, tests/api_battery.py
for the Python API) and property-based fuzzing of both with hypothesis: no traceback, ever;
either a one-line refusal that names the parameter or an answer whose numbers are finite (or NaN
with a stated reason)."""

from __future__ import annotations

import contextlib
import io
import math
import sys
from pathlib import Path

import click
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import api_battery  # noqa: E402
import battery  # noqa: E402

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# derandomized (the same examples on every run) and no example database in the checkout
FUZZ = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

CLI_CASES = battery.cases()
# the few CLI cases whose value is legal for an experiment run its whole preset: marked slow
API_CASES = api_battery.cases()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("battery")
    battery.write_data(folder)
    return folder


def test_the_cli_battery_covers_every_command():
    commands = {c.command for c in CLI_CASES}
    leaves = {path for path, cmd in battery.leaf_commands() if battery.base_args(path) is not None
              and any(isinstance(p, click.Option) and not p.is_flag and p.opts[0] not in battery.SKIP_OPTIONS
                      for p in cmd.params)}
    assert commands == leaves and len(CLI_CASES) > 1000


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if battery.starts_a_run(c) else c
                                  for c in CLI_CASES], ids=[c.id for c in CLI_CASES])
def test_cli_case(case, workdir):
    outcome, detail = battery.run_case(case, workdir)
    assert outcome in ("refused", "answered"), detail


@pytest.mark.parametrize("case", API_CASES, ids=[c.id for c in API_CASES])
def test_api_case(case):
    outcome, detail = api_battery.run_case(case)
    assert outcome in ("refused", "answered"), detail


def test_a_bad_call_names_its_parameter():
    # the checker itself: a message without the name fails, one with it passes
    assert battery.names_option("error: alpha_D must be > 0, got -1", "--alpha-D")
    assert not battery.names_option("error: could not convert string to float: 'abc'", "--alpha-D")
    assert battery.names_option("error: P must be integers", "--P") and not battery.names_option("error: Pairs", "--P")


_text = st.one_of(st.text(max_size=12), st.sampled_from(["1e308", "1e-320", "-0", "0x10", "1_000", "nan", "2:1:3",
                                                          "1:2:3:log", "1,2,,", " 3 ", "1e400", "-1e400"]))
_THEORY = [("theory", "gaussian-mixture", ["--N", "100", "--P", "1000"], ["--N", "--P", "--mu", "--sigma"]),
           ("theory", "subspaces", ["--dims", "2,5", "--std", "1,0.3", "--P", "1000"], ["--dims", "--std", "--P"]),
           ("theory", "linear-denoiser", ["--d", "10", "--T", "1", "--ell", "2"], ["--d", "--T", "--ell", "--s", "--n"]),
           ("theory", "hmm", ["--alpha", "0.2", "--alpha-D", "0.5"], ["--alpha", "--alpha-D"])]


def _run_cli(args):
    from compare.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


@FUZZ
@given(which=st.integers(0, len(_THEORY) - 1), slot=st.integers(0, 4), value=_text)
def test_fuzz_theory_commands(which, slot, value):
    group, name, base, options = _THEORY[which]
    option = options[slot % len(options)]
    args = [group, name] + base + [option, value]
    if value.startswith("-"):  # click would read it as an option: pass it glued
        args = [group, name] + base + [f"{option}={value}"]
    code, out, err = _run_cli(args)
    assert code in (0, 2), (args, code, err)
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, err)
    else:
        assert out.strip(), args


_reals = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10 ** 30, 10 ** 30),
                   st.sampled_from([None, "1", 1j, True, [], [1.0, float("nan")]]))


@FUZZ
@given(name=st.sampled_from(["speciation_time", "t_to_sigma_edm", "sigma_edm_to_t", "t_to_tau", "tau_to_t", "delta",
                             "cloning_probability_from_kappa", "expected_log_cosh", "collapse_time_isotropic"]),
       value=_reals, dps=st.sampled_from([None, 20]))
def test_fuzz_scalar_theory(name, value, dps):
    import theory

    try:
        out = getattr(theory, name)(value, dps=dps)
    except (ValueError, TypeError) as exc:
        assert str(exc), name
        return
    if dps is not None and not hasattr(out, "flag"):  # an mpmath number: real and finite at any size
        import mpmath as mp

        assert isinstance(out, mp.mpf) and mp.isfinite(out), (name, value, out)
        return
    ok, why = api_battery._finite(out)
    assert ok, (name, value, dps, why)


@FUZZ
@given(t=st.floats(min_value=1e-6, max_value=20), scale=st.sampled_from([1e-3, 1.0, 1e2, 1e4]),
       shift=st.sampled_from([0.0, 1e3]))
def test_fuzz_the_engine_never_returns_nan(t, scale, shift):
    import torch

    from simulate import ScoreEngine

    g = torch.Generator().manual_seed(0)
    data = (scale * torch.randn(64, 6, generator=g) + shift).float()
    x = math.exp(-t) * data[:8] + math.sqrt(-math.expm1(-2 * t)) * torch.randn(8, 6, generator=g)
    ev = ScoreEngine(data).evaluate(x, t)
    assert torch.isfinite(ev.score).all() and torch.isfinite(ev.log_density).all()
