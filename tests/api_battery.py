"""The hostile battery of the public Python API (issue 17): for every public function of
:mod:`theory` and :mod:`simulate` (and the score classes' methods), a valid call and, per argument,
bad or extreme values substituted one at a time; theory functions with ``dps=`` run both paths.

A call passes when it is

* ``refused``: a ``ValueError`` or ``TypeError`` whose message names the argument (a one-letter
  name must stand as a word);
* ``answered``: a result whose numbers are finite and real, or NaN only where the result says why
  (a :class:`~theory.SolverResult` / result with a ``flag`` other than "converged").

Anything else (another exception, a silent NaN, inf or complex number, a message that does not name
the argument) is a failure. ``python tests/api_battery.py`` prints the counts; tests/test_battery.py
asserts that every case passes.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

NAN, INF = float("nan"), float("inf")
BAD_REAL = [-1.0, 0.0, NAN, INF, -INF, "abc", None, 1 + 1j, True]
BAD_COUNT = [0, -1, 1.5, NAN, "3", None, True, 2 ** 64]
BAD_DPS = [0, -1, 1.5, "30", True]


def _gen():
    import torch

    return torch.Generator().manual_seed(0)


def _t(*shape, dtype="float64"):
    import torch

    return torch.randn(*shape, generator=_gen(), dtype=getattr(torch, dtype))


def _bad_points(n_cols: int):
    """Bad (B, N) tensors for an argument that takes points with ``n_cols`` columns."""
    import torch

    good = _t(6, n_cols)
    nan = good.clone()
    nan[0, 0] = NAN
    return [good[0], good.long(), good[:0], good.numpy(), nan, _t(6, n_cols + 1), good.to(torch.float16), "x", None]


@dataclass
class ApiCase:
    function: str
    argument: str
    value: Any
    call: Callable[[], Any]

    @property
    def id(self) -> str:
        v = self.value
        shown = f"tensor{tuple(v.shape)}:{str(v.dtype).split('.')[-1]}" if hasattr(v, "shape") else repr(v)[:30]
        return f"{self.function}({self.argument}={shown})"


def _cases_for(name: str, func: Callable, valid: dict, bad: dict) -> list[ApiCase]:
    out = []
    for arg, values in bad.items():
        for v in values:
            kwargs = dict(valid, **{arg: v})
            out.append(ApiCase(name, arg, v, lambda f=func, k=kwargs: f(**k)))
    return out


def cases() -> list[ApiCase]:
    import theory
    import simulate
    from theory.hmm_linear import LinearHMM

    out: list[ApiCase] = []
    # -- theory: scalar closed forms, both the float64 and the mpmath path
    scalar = {
        "speciation_time": ({"Lambda": 4.0}, ["Lambda"]),
        "delta": ({"t": 0.5}, ["t"]),
        "t_to_sigma_edm": ({"t": 0.5}, ["t"]),
        "sigma_edm_to_t": ({"sigma_edm": 0.5}, ["sigma_edm"]),
        "t_to_tau": ({"t": 0.5}, ["t"]),
        "tau_to_t": ({"tau": 0.5}, ["tau"]),
        "cloning_probability_from_kappa": ({"kappa": 1.0}, ["kappa"]),
        "expected_log_cosh": ({"kappa": 1.0}, ["kappa"]),
        "collapse_time_isotropic": ({"alpha": 0.2}, ["alpha", "sigma2"]),
    }
    for fname, (valid, args) in scalar.items():
        f = getattr(theory, fname)
        for dps in (None, 30):
            v = dict(valid, dps=dps)
            out += _cases_for(f"{fname}[dps={dps}]", f, v, {a: BAD_REAL for a in args})
        out += _cases_for(fname, f, valid, {"dps": BAD_DPS})
    eig = np.array([3.0, 1.0, 0.5])
    for dps in (None, 30):
        out += _cases_for(f"collapse_time[dps={dps}]", theory.collapse_time, {"eigenvalues": eig, "alpha": 0.2, "dps": dps},
                          {"alpha": BAD_REAL, "eigenvalues": [np.array([]), np.array([1.0, -1.0]),
                                                              np.array([1.0, NAN]), np.ones((2, 2)), "abc", None]})
        out += _cases_for(f"excess_entropy[dps={dps}]", theory.excess_entropy,
                          {"t": 0.5, "eigenvalues": eig, "alpha": 0.2, "dps": dps},
                          {"t": BAD_REAL, "alpha": BAD_REAL, "eigenvalues": [np.array([]), np.array([-1.0])]})
    out += _cases_for("excess_entropy_isotropic", theory.excess_entropy_isotropic, {"t": 0.5, "alpha": 0.2},
                      {"t": BAD_REAL, "alpha": BAD_REAL, "sigma2": BAD_REAL})
    out += _cases_for("collapse_time_asymptotic", theory.collapse_time_asymptotic, {"alpha": 0.2, "regime": "small"},
                      {"alpha": BAD_REAL, "regime": ["bogus", None]})
    out += _cases_for("signal_to_noise", theory.signal_to_noise, {"t": 0.5}, {"t": BAD_REAL})
    out += _cases_for("alpha", theory.alpha, {"N": 10, "P": 100}, {"N": BAD_COUNT, "P": BAD_COUNT})
    out += _cases_for("ddpm_step_from_t", theory.ddpm_step_from_t, {"t": 0.5}, {"t": BAD_REAL})
    out += _cases_for("t_from_ddpm_step", theory.t_from_ddpm_step, {"step": 10}, {"step": BAD_REAL + [5000]})
    data = np.random.default_rng(0).standard_normal((20, 3))
    bad_data = [np.ones(5), np.ones((1, 3)), np.array([["a", "b"], ["c", "d"]]), np.full((4, 3), NAN), None]
    out += _cases_for("largest_eigenvalue", theory.largest_eigenvalue, {"data": data}, {"data": bad_data})
    out += _cases_for("covariance_spectrum", theory.covariance_spectrum, {"data": data}, {"data": bad_data})
    out += _cases_for("TwoClassMixture", theory.TwoClassMixture, {"N": 50, "P": 1000},
                      {"N": BAD_COUNT, "P": BAD_COUNT, "mu": BAD_REAL, "sigma": BAD_REAL})
    out += _cases_for("regime_times", theory.regime_times, {"alpha": 0.2, "alpha_D": 0.5},
                      {"alpha": BAD_REAL, "alpha_D": BAD_REAL, "phi": ["bogus", None], "spectrum": ["bogus"]})
    for method in ("collapse_time", "onset_time", "generalization"):
        m = LinearHMM(0.5)
        out += _cases_for(f"LinearHMM.{method}", getattr(m, method), {"alpha": 0.2}, {"alpha": BAD_REAL})
    out += _cases_for("LinearHMM.basin", LinearHMM(0.5).basin, {"t": 0.5, "alpha": 0.2},
                      {"t": BAD_REAL, "alpha": BAD_REAL})
    out += _cases_for("LinearHMM", LinearHMM, {"alpha_D": 0.5}, {"alpha_D": BAD_REAL})

    # -- simulate: data, scores, samplers, statistics
    g = _gen
    out += _cases_for("noised", simulate.noised, {"data": _t(20, 4), "t": 0.5, "n": 5, "generator": g()},
                      {"data": _bad_points(4)[:5] + [_bad_points(4)[4]], "t": BAD_REAL, "n": BAD_COUNT,
                       "generator": [None, 3]})
    for fname in ("two_class_mixture", "isotropic_gaussian"):
        out += _cases_for(fname, getattr(simulate, fname), {"N": 4, "P": 10, "generator": g()},
                          {"N": BAD_COUNT, "P": BAD_COUNT, "generator": [None]})
    out += _cases_for("time_grid", simulate.time_grid, {"t_start": 2.0, "t_end": 0.1, "steps": 10},
                      {"t_start": BAD_REAL, "t_end": BAD_REAL, "steps": BAD_COUNT, "spacing": ["bogus"]})
    out += _cases_for("EmpiricalScore", simulate.EmpiricalScore, {"data": _t(20, 4)},
                      {"data": _bad_points(4)[:6], "memory_budget_bytes": BAD_COUNT})
    score = simulate.EmpiricalScore(_t(20, 4))
    out += _cases_for("EmpiricalScore.evaluate", score.evaluate, {"x": _t(6, 4), "t": 0.5},
                      {"x": _bad_points(4), "t": BAD_REAL, "need": ["bogus", ["score", "x"]],
                       "exclude": [np.zeros(6, dtype=np.int64), _t(6, 1)[:, 0], __import__("torch").full((6,), 20),
                                   __import__("torch").full((6,), -1), __import__("torch").zeros(5, dtype=__import__("torch").long)]})
    engine = simulate.ScoreEngine(_t(20, 4, dtype="float32"))
    out += _cases_for("ScoreEngine.evaluate", engine.evaluate, {"x": _t(6, 4), "t": 0.5},
                      {"x": _bad_points(4)[:6], "t": BAD_REAL})
    out += _cases_for("ScoreEngine", simulate.ScoreEngine, {"data": _t(20, 4)},
                      {"mode": ["bogus"], "gemm": ["bogus"], "candidates": [-1, 1.5]})
    mix = simulate.MixtureScore(_t(4))
    out += _cases_for("MixtureScore.__call__", mix, {"x": _t(6, 4), "t": 0.5}, {"x": _bad_points(4), "t": BAD_REAL})
    out += _cases_for("MixtureScore", simulate.MixtureScore, {"mean": _t(4)}, {"mean": [_t(2, 2), None, np.ones(4)],
                                                                               "sigma": BAD_REAL})
    gs = simulate.GaussianScore(_t(4).abs() + 0.1)
    out += _cases_for("GaussianScore.__call__", gs, {"x": _t(6, 4), "t": 0.5}, {"x": _bad_points(4), "t": BAD_REAL})
    times = simulate.time_grid(2.0, 0.1, 10)
    for fname in ("sample_euler_maruyama", "sample_heun"):
        kw = {"score": mix, "x": _t(6, 4), "times": times, "disable": True}
        if fname == "sample_euler_maruyama":
            kw["generator"] = g()
        out += _cases_for(fname, getattr(simulate, fname), kw,
                          {"x": _bad_points(4)[:5], "times": [np.array([]), np.array([1.0]), np.array([0.1, 2.0]),
                                                               np.array([2.0, NAN]), np.array([2.0, -0.1]), "abc"],
                           "score": [None, 3]})
    out += _cases_for("binomial_interval", simulate.binomial_interval, {"successes": 3, "trials": 10},
                      {"successes": [-1, 11, 1.5, NAN], "trials": BAD_COUNT, "confidence": BAD_REAL + [1.5],
                       "method": ["bogus"]})
    out += _cases_for("median_interval", simulate.median_interval, {"values": np.arange(20.0)},
                      {"values": [np.array([]), np.array([1.0, NAN]), "abc", np.ones((2, 2))],
                       "confidence": BAD_REAL + [1.5]})
    out += _cases_for("first_crossing", simulate.first_crossing,
                      {"grid": np.arange(5.0), "values": np.arange(5.0) - 2, "rising": True},
                      {"grid": [np.array([]), np.array([0.0, 1.0]), np.array([0, 1, NAN, 3, 4.0])],
                       "values": [np.array([NAN] * 5), np.arange(4.0)], "level": [NAN, "x"], "at_start": ["bogus"]})
    out += _cases_for("crossing_from_above", simulate.crossing_from_above,
                      {"times": np.arange(5.0), "values": 2 - np.arange(5.0), "level": 0.5},
                      {"times": [np.array([]), np.arange(4.0)], "values": [np.array([NAN] * 5)], "level": [NAN, "x"]})
    return out


def _names(argument: str) -> list[str]:
    return [argument.lower()]


def names_argument(message: str, argument: str) -> bool:
    msg = message.lower()
    name = argument.lower()
    if len(name) <= 2:
        return re.search(rf"(?<![a-z0-9_]){re.escape(name)}(?![a-z0-9_])", msg) is not None
    return name in msg


def _finite(value) -> tuple[bool, str]:
    """Whether a result's numbers are finite and real, NaN allowed only with a reason (``flag``)."""
    import torch

    flag = getattr(value, "flag", None)
    if hasattr(value, "value") and flag is not None:  # a SolverResult
        v = np.asarray(value.value, dtype=complex if np.iscomplexobj(value.value) else float)
        flags = np.broadcast_to(np.asarray(flag, dtype=object), v.shape)
        if np.iscomplexobj(v):
            return False, "complex value"
        bad = ~np.isfinite(v) & (flags == "converged")
        return (not bad.any(), "non-finite value flagged converged" if bad.any() else "")
    if isinstance(value, torch.Tensor):
        if value.is_complex() or (value.is_floating_point() and not bool(torch.isfinite(value).all())):
            return False, "non-finite tensor"
        return True, ""
    if isinstance(value, (complex, np.complexfloating)):
        return False, "complex number"
    if isinstance(value, (float, np.floating, int, np.integer)) and not isinstance(value, bool):
        return (math.isfinite(float(value)), "non-finite number" if not math.isfinite(float(value)) else "")
    if isinstance(value, np.ndarray):
        if np.iscomplexobj(value):
            return False, "complex array"
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            return False, "non-finite array"
        return True, ""
    if isinstance(value, (tuple, list)):
        for item in value:
            ok, why = _finite(item)
            if not ok:
                return ok, why
        return True, ""
    if hasattr(value, "__dataclass_fields__") or hasattr(value, "__dict__"):
        for key, item in vars(value).items():
            if isinstance(item, (float, np.ndarray, tuple, list)) or hasattr(item, "shape"):
                ok, why = _finite(item)
                if not ok and "nan" not in key:
                    return ok, f"{key}: {why}"
        return True, ""
    return True, ""


#: Results that are NaN by documented definition (the value is undefined there, and the docs say
#: so): first_crossing's ``at_start="nan"`` default and a curve that never crosses.
NAN_BY_DEFINITION = {"first_crossing", "crossing_from_above"}


def run_case(case: ApiCase) -> tuple[str, str]:
    try:
        value = case.call()
    except (ValueError, TypeError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if names_argument(msg, case.argument):
            return "refused", msg
        return "fail", f"{type(exc).__name__} does not name {case.argument}: {msg!r}"
    except Exception as exc:  # noqa: BLE001 - recorded, not raised
        return "fail", f"{type(exc).__name__}: {exc}"
    if case.function.split("[")[0] in NAN_BY_DEFINITION and isinstance(value, float) and math.isnan(value):
        return "answered", "nan (never crosses: documented)"
    ok, why = _finite(value)
    return ("answered", repr(value)[:80]) if ok else ("fail", why)


def main() -> int:  # pragma: no cover - the report for the closing note
    counts, failures = Counter(), []
    for case in cases():
        outcome, detail = run_case(case)
        counts[(case.function.split("[")[0].split(".")[0], outcome)] += 1
        if outcome == "fail":
            failures.append((case.id, detail))
    for (fn, outcome), n in sorted(counts.items()):
        print(f"{fn:32s} {outcome:9s} {n}")
    print(f"total {sum(counts.values())}, failures {len(failures)}")
    for cid, detail in failures:
        print(f"FAIL {cid}: {detail}")
    return 1 if failures else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
