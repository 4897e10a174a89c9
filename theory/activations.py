"""Standardised pointwise nonlinearities of the hidden-manifold model, and Gaussian quadrature
rules that respect their kinks.

``phi~ = (phi - E phi)/sd(phi)`` under ``h ~ N(0, 1)`` (docs/hmm.md: the mean never matters,
the variance rescales the signal-to-noise). ``kappa = E[phi~'(h)^2]`` sets the ``alpha_D -> 0`` limit.
Kinks (points where ``phi`` is not smooth) split every quadrature into panels so that Gauss–Legendre
keeps its exponential convergence on piecewise-smooth integrands.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import numpy as np

from .validation import InputError

__all__ = ["Activation", "activation", "gaussian_rule", "panel_edges", "ACTIVATIONS", "PIECEWISE_LINEAR", "TRUNCATION"]

TRUNCATION = 10.0  # |h| beyond 10 standard deviations carries < 1e-22 of the Gaussian mass


def _relu(z):
    return np.maximum(z, 0.0)


def _relu_prime(z):
    return (np.asarray(z) > 0).astype(float)


_RAW = {
    "linear": (lambda z: np.asarray(z, dtype=float), lambda z: np.ones_like(np.asarray(z, dtype=float)), ()),
    "tanh": (np.tanh, lambda z: 1.0 / np.cosh(z) ** 2, ()),
    "relu": (_relu, _relu_prime, (0.0,)),
    # sign has no derivative in the function sense: kappa is infinite (no alpha_D -> 0 fast path)
    "sign": (np.sign, lambda z: np.zeros_like(np.asarray(z, dtype=float)), (0.0,)),
}
ACTIVATIONS = tuple(_RAW)
#: Named nonlinearities that are linear between their kinks.
PIECEWISE_LINEAR = ("linear", "relu", "sign")


@lru_cache(maxsize=None)
def _legendre(n: int):
    return np.polynomial.legendre.leggauss(n)


@lru_cache(maxsize=None)
def _hermite(n: int):
    x, w = np.polynomial.hermite_e.hermegauss(n)
    return x, w / np.sqrt(2 * np.pi)


def panel_edges(panels: int, kinks=()) -> np.ndarray:
    """Edges of ``panels`` equal panels on ``[-10, 10]``, refined at the kinks."""
    edges = np.union1d(np.linspace(-TRUNCATION, TRUNCATION, panels + 1), np.clip(kinks, -TRUNCATION, TRUNCATION))
    return edges


def gaussian_rule(n: int, kinks=(), panels: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for ``E f(h)``, ``h ~ N(0, 1)``: Gauss–Hermite for one panel without kinks,
    otherwise Gauss–Legendre with ``n`` nodes per panel on ``[-10, 10]`` split at the kinks.

    Panels matter for functions with complex singularities near the real axis (``tanh`` has poles
    at ``i pi/2``): Gauss–Hermite then converges only like ``exp(-c sqrt(n))``."""
    if not kinks and panels == 1:
        return _hermite(n)
    edges = panel_edges(panels, kinks)
    x, w = _legendre(n)
    a, b = edges[:-1, None], edges[1:, None]
    nodes = (a + (b - a) * (x + 1) / 2).ravel()
    weights = ((b - a) / 2 * w).ravel() * np.exp(-nodes ** 2 / 2) / np.sqrt(2 * np.pi)
    return nodes, weights


@dataclass(frozen=True)
class Activation:
    """A standardised nonlinearity: ``self(z) = (raw(z) - mean)/sd``.

    Attributes
    ----------
    name : str
    raw, raw_derivative : callable
        The unstandardised function and its derivative (used only for ``kappa``).
    kinks : tuple of float
        Points where ``raw`` is not smooth.
    mean, sd, kappa : float
        ``E raw(h)``, ``sd raw(h)`` and ``E[phi~'(h)^2]`` for ``h ~ N(0, 1)``.
    """

    name: str
    raw: Callable = field(repr=False)
    raw_derivative: Callable = field(repr=False)
    kinks: tuple = ()
    mean: float = 0.0
    sd: float = 1.0
    kappa: float = 1.0

    def __call__(self, z):
        """The standardised ``phi~(z)`` (vectorised)."""
        return (self.raw(z) - self.mean) / self.sd

    @property
    def is_linear(self) -> bool:
        """True for the linear nonlinearity (the spectral formulas apply)."""
        return self.name == "linear"

    @property
    def linear_pieces(self) -> tuple | None:
        """``((lo, hi, a, b), ...)`` with ``phi~(z) = a z + b`` on ``(lo, hi)`` for the named
        piecewise-linear nonlinearities (linear, relu, sign), ``None`` otherwise: Gaussian integrals
        of ``exp(-(g/2)(y - phi~)^2)`` then have closed forms."""
        if self.name not in PIECEWISE_LINEAR:
            return None
        edges = (-np.inf,) + tuple(self.kinks) + (np.inf,)
        pieces = []
        for lo, hi in zip(edges[:-1], edges[1:]):
            # two interior points of the piece (finite even when an end is infinite)
            p1 = lo + 1.0 if np.isfinite(lo) else (hi - 2.0 if np.isfinite(hi) else -1.0)
            p2 = p1 + 0.5
            f1, f2 = float(self(np.array(p1))), float(self(np.array(p2)))
            a = (f2 - f1) / (p2 - p1)
            pieces.append((float(lo), float(hi), a, f1 - a * p1))
        return tuple(pieces)


def activation(phi="linear", *, kinks=(), derivative=None) -> Activation:
    """Build a standardised :class:`Activation` from a name in :data:`ACTIVATIONS` or a callable.

    A user callable must be vectorised over numpy arrays; list its non-smooth points in ``kinks``
    and optionally give its ``derivative`` (otherwise ``kappa`` uses a central difference).
    """
    if isinstance(phi, Activation):
        return phi
    if isinstance(phi, str):
        if phi not in _RAW:
            raise InputError(f"phi must be one of {ACTIVATIONS} or a callable, got {phi!r}")
        raw, deriv, kinks = _RAW[phi]
        name = phi
    elif callable(phi):
        raw, name = phi, getattr(phi, "__name__", "custom")
        kinks = tuple(float(k) for k in kinks)
        deriv = derivative or (lambda z: (raw(np.asarray(z) + 1e-6) - raw(np.asarray(z) - 1e-6)) / 2e-6)
    else:
        raise InputError(f"phi must be one of {ACTIVATIONS} or a callable, got {phi!r}")
    h, w = gaussian_rule(200, kinks)
    values = np.asarray(raw(h), dtype=float)
    if values.shape != h.shape or not np.all(np.isfinite(values)):
        raise InputError("phi must map a float array to a finite float array of the same shape")
    mean = float(w @ values)
    var = float(w @ (values - mean) ** 2)
    if not var > 1e-12:
        raise InputError("phi must not be constant under a standard Gaussian argument (its variance is 0)")
    sd = np.sqrt(var)
    kappa = np.inf if name == "sign" else float(w @ np.asarray(deriv(h), dtype=float) ** 2) / var
    if name == "linear":
        mean, sd, kappa = 0.0, 1.0, 1.0  # exact, so that linear checks hold to rounding
    return Activation(name, raw, deriv, tuple(kinks), mean, float(sd), kappa)
