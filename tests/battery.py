"""The hostile battery of issue 17, generated from the command line itself: every leaf command of
``regimes``, every option that takes a value, and a set of bad or extreme values per option type,
each appended to a minimal valid invocation of that command.

Each case ends in exactly one of:

* ``refused``: exit 2 and one line ``error: ...`` on stderr that names the option (its flag, or its
  name with ``-`` read as ``_``; a one-letter name must stand as a word);
* ``answered``: exit 0 with a non-empty answer on stdout (a legal extreme value, e.g. P = 1e400).

Anything else (a traceback, another exit status, a message that does not name the option, an
empty answer, a run past the time limit) is a failure. ``python tests/battery.py`` prints the
counts per command group; tests/test_battery.py asserts that every case passes.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import click

#: Bad or extreme values per click parameter type. Values that a command may legally accept (a
#: huge integer P, 1e400 as an exact dataset size) are here on purpose: they must be answered.
VALUES = {
    "integer": ["-1", "abc", "", "1.5", "99999999999999999999999"],
    "float": ["nan", "inf", "-inf", "-1", "abc", "1e400", ""],
    "text": ["abc", "", "nan", "inf", "-1", "0", "1:0:3", "1e400", ",", "1,,2", "1:2:0"],
    "choice": ["bogus"],
}
#: Options that are not numbers in disguise: devices, dtypes, stage patterns, a Ray address, the
#: sweep's NAME=VALUE forms; each gets its own bad values.
SPECIAL = {
    "--device": ["tpu", "cuda:99", ""],
    "--dtype": ["float16", ""],
    "--stage": ["no-such-stage"],
    "--ray": ["127.0.0.1:1", "nowhere", "", "ray://127.0.0.1:99999"],
    "--grid": ["N", "N=", "nosuchfield=1,2", "N=abc", "N=-1"],
    "--set": ["N", "nosuchfield=1", "N=abc"],
    "--configs": ["linear:abc", "bogus:1", ""],
    "--classes": ["abc", "99", ""],
    "--phi": ["bogus"],
}
#: Minimal valid invocations; {out} is a fresh folder, {data} a small .npy data file, {labelled} a
#: small labelled .npz of 8-bit images (two classes), {model} a module:function returning a model.
BASE = {
    "compare data": ["{labelled}", "--out", "{out}", "--quiet"],
    "measure": ["{model}", "--data", "{labelled}", "--out", "{out}", "--quiet"],
    "simulate data": ["{labelled}", "--out", "{out}", "--quiet"],
    "theory gaussian-mixture": ["--N", "100", "--P", "1000"],
    "theory subspaces": ["--dims", "2,5", "--std", "1,0.3", "--P", "1000"],
    "theory linear-denoiser": ["--d", "10", "--T", "1", "--ell", "2"],
    "theory hmm": ["--alpha", "0.2", "--alpha-D", "0.5"],
    "theory data": ["{data}", "--samples", "50"],
    "theory latex": [],
    "convert": ["--t", "1"],
    "sweep": ["linear-denoiser", "--grid", "repeats=20", "--out", "{out}", "--quiet"],
    "gallery": ["--docs", "{out}/docs", "--work", "{out}/work", "--quiet"],
}
SKIP_OPTIONS = {"--out", "--plot", "--figure-format", "--format"}  # paths: tests/test_hostile.py
TIME_LIMIT_S = 60


def leaf_commands(group=None, path=()):
    """``("theory", "hmm"), command`` for every leaf command of the ``regimes`` CLI."""
    from compare.cli import cli

    group = cli if group is None else group
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from leaf_commands(cmd, path + (name,))
        else:
            yield path + (name,), cmd


def base_args(path: tuple) -> list[str] | None:
    key = " ".join(path)
    if key in BASE:
        return list(BASE[key])
    if path[0] in ("compare", "simulate", "scale"):
        return ["--out", "{out}", "--quiet"]
    return None


@dataclass(frozen=True)
class Case:
    command: tuple
    option: str
    value: str

    @property
    def args(self) -> list[str]:
        base = base_args(self.command)
        cmd = list(self.command[:1]) if self.command[0] == "sweep" else list(self.command)
        return cmd + base + [self.option, self.value]

    @property
    def id(self) -> str:
        return f"{' '.join(self.command)} {self.option}={self.value!r}"


def cases() -> list[Case]:
    out = []
    for path, cmd in leaf_commands():
        if base_args(path) is None:
            continue
        for param in cmd.params:
            if not isinstance(param, click.Option) or param.is_flag or param.opts[0] in SKIP_OPTIONS:
                continue
            flag = param.opts[0]
            values = SPECIAL.get(flag, VALUES.get(param.type.name, []))
            if flag == "--seed":
                values = ["-1", "abc", "1.5"]  # 0 and huge seeds are legal
            out += [Case(path, flag, v) for v in values]
    return out


def starts_a_run(case: Case) -> bool:
    """Whether the case's value is legal for a compare/simulate/scale run, which then runs its
    whole default preset (seconds to minutes): such cases are marked slow in tests/test_battery.py."""
    if case.command[0] not in ("compare", "simulate", "scale") or case.option == "--device":
        return False  # a device is checked when the run resolves it, before any work
    from compare.registry import get_experiment
    from theory.validation import InputError

    cmd = dict(leaf_commands())[case.command]
    param = next(p for p in cmd.params if isinstance(p, click.Option) and p.opts[0] == case.option)
    if param.name not in {f for f in _preset_fields(case)}:
        return False
    try:
        value = param.type.convert(case.value, param, None)
    except click.BadParameter:
        return False
    try:
        if case.command[0] == "scale":
            from compare.scaling import get_study

            get_study(case.command[1]).preset_type(**{param.name: value})
        else:
            get_experiment(case.command[1]).preset(**{param.name: value})
    except (InputError, TypeError):
        return False
    return True


def _preset_fields(case: Case) -> list[str]:
    import dataclasses

    from compare.registry import get_experiment

    if case.command[0] == "scale":
        from compare.scaling import get_study

        cls = get_study(case.command[1]).preset_type
    else:
        cls = get_experiment(case.command[1]).preset
    return [f.name for f in dataclasses.fields(cls)]


def _names(flag: str) -> list[str]:
    bare = flag.lstrip("-")
    return sorted({flag.lower(), bare.lower(), bare.replace("-", "_").lower()})


def names_option(message: str, flag: str) -> bool:
    """Whether a one-line error message names the option ``flag`` (see the module docstring)."""
    msg = message.lower()
    for name in _names(flag):
        if len(name) <= 2:
            if re.search(rf"(?<![a-z0-9_]){re.escape(name)}(?![a-z0-9_])", msg):
                return True
        elif name in msg:
            return True
    return False


class _TimeLimit(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: int):
    def handler(signum, frame):
        raise _TimeLimit()

    old = signal.signal(signal.SIGALRM, handler)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def run_case(case: Case, workdir: Path) -> tuple[str, str]:
    """``(outcome, detail)``: outcome is ``refused`` or ``answered`` for a pass, else ``fail``."""
    from compare.cli import main

    out = workdir / f"out-{abs(hash(case.id)) % 10**12}"
    args = [a.replace("{out}", str(out)).replace("{data}", str(workdir / "data.npy"))
            .replace("{labelled}", str(workdir / "labelled.npz"))
            .replace("{model}", f"{workdir / 'model.py'}:make") for a in case.args]
    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        with _time_limit(TIME_LIMIT_S), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(args)
    except _TimeLimit:
        return "fail", f"still running after {TIME_LIMIT_S} s"
    except BaseException as exc:  # noqa: BLE001 - the battery records, it does not stop
        return "fail", f"{type(exc).__name__}: {exc}"
    err = stderr.getvalue()
    if code == 2:
        lines = [ln for ln in err.splitlines() if ln.startswith("error: ")]
        if len(lines) != 1 or not err.rstrip("\n").endswith(lines[0]):
            return "fail", f"exit 2 without exactly one closing error line: {err!r}"
        if not names_option(lines[0], case.option):
            return "fail", f"the message does not name {case.option}: {lines[0]!r}"
        return "refused", lines[0]
    if code == 0:
        if not stdout.getvalue().strip():
            return "fail", "exit 0 with nothing on stdout"
        return "answered", stdout.getvalue().strip().splitlines()[-1][:120]
    return "fail", f"exit {code}: {err!r}"


def write_data(workdir: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    np.save(workdir / "data.npy", rng.standard_normal((200, 8)))
    np.savez(workdir / "labelled.npz", data=rng.integers(0, 256, (60, 4, 4), dtype=np.uint8),
             labels=np.repeat([0, 1], 30))
    (workdir / "model.py").write_text("from simulate.external import CallableModel\n\n\ndef make():\n"
                                      "    return CallableModel(lambda x, t: 0 * x, 'ou-denoiser', name='zero')\n")


def main(argv=None) -> int:  # pragma: no cover - the report for the closing note
    import sys
    import tempfile
    import time

    argv = sys.argv[1:] if argv is None else argv
    report = open(argv[0], "w") if argv else sys.__stdout__
    counts, failures = Counter(), []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        # run as a script the battery has no conftest: its caches go to the temporary folder too
        previous = os.environ.get("REGIMES_CACHE")
        os.environ["REGIMES_CACHE"] = str(workdir / "cache")
        write_data(workdir)
        for case in cases():
            t0 = time.perf_counter()
            outcome, detail = run_case(case, workdir)
            print(f"{time.perf_counter() - t0:7.2f} s {outcome:9s} {case.id}: {detail}", file=report, flush=True)
            counts[(case.command[0], outcome)] += 1
            if outcome == "fail":
                failures.append((case.id, detail))
        if previous is None:
            os.environ.pop("REGIMES_CACHE", None)
        else:
            os.environ["REGIMES_CACHE"] = previous
    for (group, outcome), n in sorted(counts.items()):
        print(f"{group:10s} {outcome:9s} {n}", file=report)
    print(f"total {sum(counts.values())}, failures {len(failures)}", file=report)
    for cid, detail in failures:
        print(f"FAIL {cid}: {detail}", file=report, flush=True)
    return 1 if failures else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
