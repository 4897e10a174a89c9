"""Parameter ranges for ``regimes theory``: ``0.01:1:200`` (200 values, linear), ``1e3:1e7:50:log``
(50 values, geometric), ``1,2,5`` (a list) or one value; and the theory evaluated over the grid
they span, as a tidy table, with a bad value reported with its position.
"""

from __future__ import annotations

import decimal
import itertools
import math
from typing import Callable

import numpy as np
import pandas as pd

from theory.validation import InputError

__all__ = ["parse_range", "evaluate_grid", "MAX_GRID"]

#: Largest number of grid points one call evaluates.
MAX_GRID = 100_000
#: Most decimal digits of an integer parameter (P = 10^400 is legal; a million digits is not).
MAX_DIGITS = 10_000


#: Largest dimension-like integer (N, d, n): exactly representable in float64 (only dataset sizes
#: P go beyond, in ln P).
MAX_DIMENSION = 10 ** 15


def parse_range(name: str, text, *, integer: bool = False, max_value: int | None = None) -> np.ndarray:
    """The values ``text`` names, as a float (or integer) array.

    ``"a:b:n"``: ``n`` values from ``a`` to ``b`` inclusive, evenly spaced; ``"a:b:n:log"``: evenly
    spaced in ``ln`` (``a, b > 0``); ``"v1,v2,..."``: those values; ``"v"``: one value. Integer
    parameters (``--N``, ``--P``) round a range's values and drop repeats; a listed value must
    already be an integer. ``max_value``: the largest integer allowed (dimensions: :data:`MAX_DIMENSION`).
    """
    values = _parse_range(name, text, integer)
    if max_value is not None and any(v > max_value for v in values):
        raise InputError(f"{name} must be at most 10^{len(str(max_value)) - 1}, got {_short(max(values))}")
    return values


def _short(v) -> str:
    """An integer of any size, readable: ``123456`` or ``1.2e+400``-style for long ones."""
    digits = str(v)
    return digits if len(digits) <= 16 else f"{digits[0]}.{digits[1:4]}e+{len(digits) - 1}"


def _parse_range(name: str, text, integer: bool) -> np.ndarray:
    s = str(text).strip()
    if ":" in s:
        parts = s.split(":")
        if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3] not in ("log", "lin")):
            raise InputError(f"{name} must be START:STOP:COUNT or START:STOP:COUNT:log, got {s!r}")
        try:
            a, b = float(parts[0]), float(parts[1])
            n = int(parts[2])
        except ValueError:
            raise InputError(f"{name} must be START:STOP:COUNT[:log] with numbers, got {s!r}") from None
        if not (math.isfinite(a) and math.isfinite(b)):
            raise InputError(f"{name} range ends must be finite, got {s!r}")
        if not 1 <= n <= MAX_GRID:
            raise InputError(f"{name} COUNT must be between 1 and {MAX_GRID}, got {n}")
        if len(parts) == 4 and parts[3] == "log":
            if a <= 0 or b <= 0:
                raise InputError(f"{name} log range needs START > 0 and STOP > 0, got {s!r}")
            values = np.geomspace(a, b, n)
        else:
            values = np.linspace(a, b, n)
        if integer:
            values = np.unique(np.round(values)).astype(float)
    else:
        tokens = [v.strip() for v in s.split(",") if v.strip()]
        if not tokens:
            raise InputError(f"{name} must not be empty")
        if integer:
            # exact: 10^400 and 1e400 are legal dataset sizes (the theory works in ln P), beyond float64
            exact = []
            for k, tok in enumerate(tokens):
                try:
                    d = decimal.Decimal(tok)
                except decimal.InvalidOperation:
                    raise InputError(f"{name} must be a number, a list a,b,c or a range START:STOP:COUNT[:log], "
                                     f"got {s!r}") from None
                if not d.is_finite() or d != d.to_integral_value() or d.adjusted() > MAX_DIGITS:
                    raise InputError(f"{name} must be integers below 10^{MAX_DIGITS}, got {tok!r} "
                                     f"(value {k + 1} of {len(tokens)})")
                exact.append(int(d))
            return np.array(exact, dtype=object)
        try:
            values = np.array([float(v) for v in tokens])
        except ValueError:
            raise InputError(f"{name} must be a number, a list a,b,c or a range START:STOP:COUNT[:log], "
                             f"got {s!r}") from None
    if integer:
        return np.array([int(v) for v in values], dtype=object)  # exact Python ints (P may exceed 2^63)
    return values


def evaluate_grid(params: dict, point: Callable[..., dict]) -> pd.DataFrame:
    """``point(**values)`` over the Cartesian product of ``params`` (name -> values), one row each.

    A bad value anywhere raises one :class:`InputError` naming the value and its position.
    """
    names = list(params)
    total = math.prod(len(v) for v in params.values())
    if total > MAX_GRID:
        raise InputError(f"the grid has {total} points; at most {MAX_GRID}")
    rows = []
    for k, combo in enumerate(itertools.product(*params.values())):
        values = dict(zip(names, combo))
        try:
            out = point(**values)
        except InputError as exc:
            where = ", ".join(f"{n} = {v}" for n, v in values.items() if len(params[n]) > 1) or "the point"
            raise InputError(f"at {where} (grid point {k + 1} of {total}): {exc}") from None
        rows.append({**values, **out})
    return pd.DataFrame(rows)
