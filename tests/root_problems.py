"""A shared collection of scalar root-finding problems with known roots (scipy style, after the
Alefeld-Potra-Shi test families): each root is exact (1, ln 2, 0.1, e^5) or was computed with
mpmath's Illinois ``findroot`` at 40 digits (``test_roots.py::test_collection_roots_are_roots``
checks every one of them again at 50 digits).

Every problem: a numpy function ``f``, an mpmath twin ``f_mp`` (same formula), the derivative
``df``, a bracket ``[a, b]`` with a sign change, a start ``x0`` for the unbracketed solvers, and
the root.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import mpmath as mp
import numpy as np


@dataclass(frozen=True)
class RootProblem:
    name: str
    f: Callable
    f_mp: Callable
    df: Callable
    bracket: tuple[float, float]
    x0: float
    root_digits: str

    @property
    def root(self) -> float:
        """The root in float64."""
        return float(self.root_digits)

    @property
    def root_mp(self):
        """The root at the working mpmath precision."""
        return mp.mpf(self.root_digits)


def _lib(x):
    return mp if isinstance(x, mp.mpf) else np


PROBLEMS = [
    # APS #1: sin x - x/2 on [pi/2, pi]; root from mpmath at 60 digits
    RootProblem("sin(x) - x/2", lambda x: _lib(x).sin(x) - x / 2, lambda x: mp.sin(x) - x / 2,
                lambda x: math.cos(x) - 0.5, (math.pi / 2, math.pi), 2.0, "1.895494267033980947144035738093602"),
    # polynomial with a simple root at 1 among others: (x - 1)(x^2 + 1)
    RootProblem("(x-1)(x^2+1)", lambda x: (x - 1) * (x * x + 1), lambda x: (x - 1) * (x * x + 1),
                lambda x: 3 * x * x - 2 * x + 1, (-2.0, 3.0), 1.8, "1"),
    # exponential, root ln 2
    RootProblem("e^x - 2", lambda x: _lib(x).exp(x) - 2, lambda x: mp.exp(x) - 2, lambda x: math.exp(x),
                (-1.0, 3.0), 1.0, "0.6931471805599453094172321214581766"),
    # steep: x^9 - 1e-9 ... APS #5 style high-order root of a shifted power, root 0.1
    RootProblem("x^9 - 1e-9", lambda x: x ** 9 - 1e-9, lambda x: x ** 9 - mp.mpf("1e-9"), lambda x: 9 * x ** 8,
                (0.0, 1.0), 0.3, "0.1"),
    # APS #3 family: a x e^{b x} with a = -40, b = -1, shifted: -40 x e^{-x} + 1 on [0, 1]
    RootProblem("1 - 40 x e^{-x}", lambda x: 1 - 40 * x * _lib(x).exp(-x), lambda x: 1 - 40 * x * mp.exp(-x),
                lambda x: -40 * math.exp(-x) * (1 - x), (0.0, 1.0), 0.0, "0.02564953281690728488352480274458689"),
    # log with large scale: ln(x) - 5 (root e^5), wide bracket
    RootProblem("ln(x) - 5", lambda x: _lib(x).log(x) - 5, lambda x: mp.log(x) - 5, lambda x: 1 / x,
                (1.0, 1000.0), 100.0, "148.4131591025766034211155800405523"),
    # cubic with a tiny root: x^3 + 1e-4 x - 1e-10, root ~ 1e-6
    RootProblem("x^3 + 1e-4 x - 1e-10", lambda x: x ** 3 + 1e-4 * x - 1e-10,
                lambda x: x ** 3 + mp.mpf("1e-4") * x - mp.mpf("1e-10"), lambda x: 3 * x * x + 1e-4, (-1.0, 1.0),
                0.5, "9.9999999000000029999998800000055e-7"),
    # the kind of equation the project solves, (1/2N) sum log1p(lam e^{-u}) = alpha in u = ln tau;
    # root -ln((e^{0.4} - 1)/50)
    RootProblem("collapse in ln tau", lambda x: 0.5 * _lib(x).log1p(50 * _lib(x).exp(-x)) - 0.2,
                lambda x: mp.log1p(50 * mp.exp(-x)) / 2 - mp.mpf("0.2"),
                lambda x: -0.5 * 50 * math.exp(-x) / (1 + 50 * math.exp(-x)), (-10.0, 20.0), 0.0,
                "4.621655937017074133023205154116274099439"),
]

#: Problems without a root on the bracket (both ends of one sign).
NO_ROOT = [("x^2 + 1", lambda x: x * x + 1, (-1.0, 1.0))]
#: A sign change at a jump (no root): the bracket shrinks onto the discontinuity.
DISCONTINUOUS = ("1/(x - 1/2)", lambda x: 1.0 / (x - 0.5), (0.0, 2.0))
