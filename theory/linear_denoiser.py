"""A solvable generative model with a linear one-step denoiser [H24] (docs/networks.md).

Data ``x ~ N(0, s^2 I_d)``; forward OU with noise scale ``ell`` to time ``T``:
``y = e^{-T} x + sqrt(ell (1 - e^{-2T})) xi``, one noise draw per training point. An ordinary
least-squares denoiser ``x ~ beta_0 + B y`` is fitted on the ``n`` pairs; samples are
``beta_0 + B y'`` with the latent ``y' ~ N(e^{-T} xbar, c_T I)``, ``c_T = e^{-2T} s^2 + ell (1 - e^{-2T})``
the variance of the noised data (the prior of the forward process), so
``p_G = N(beta_0 + e^{-T} B xbar, c_T B B^T)``.

Derivation of the finite-n law (ours). Jointly Gaussian ``(x, y)`` give ``x = b y + e`` with
``b = e^{-T} s^2 / c_T`` and ``e ~ N(0, s^2 (1 - r) I)`` independent of ``y``, where
``r = e^{-2T} s^2 / c_T``. OLS with an intercept gives ``B = b I + E^T Y (Y^T Y)^{-1}`` (centred
design ``Y``, residuals ``E``); given ``Y``, ``E[E^T M E] = s^2 (1 - r) tr(M) I``, and
``Y^T Y ~ Wishart_d(n - 1, c_T I)`` has ``E[(Y^T Y)^{-1}] = I / (c_T (n - d - 2))``. Hence the
expected per-dimension generated variance is

    variance_n = s^2 [ r + (1 - r) d / (n - d - 2) ],   n > d + 2,

which diverges at ``n = d + 2`` and falls monotonically to the population value ``s^2 r``.
For ``n <= d`` the fitted ``B`` has rank ``< d`` and ``p_G`` is degenerate (memorisation).
The KL floor of the population limit is ``KL(p_G || p) = (d/2)(r - 1 - ln r)``.
"""

from __future__ import annotations

import math

import numpy as np

from .validation import InputError, require_int, require_nonnegative, require_positive, scalar_or_array

__all__ = ["LinearDenoiserModel"]


class LinearDenoiserModel:
    """Closed forms of the linear one-step denoiser model.

    Parameters
    ----------
    d : int
        Dimension (>= 1).
    T : float
        Forward time (> 0).
    ell : float
        Noise scale of the forward OU process (> 0).
    s : float
        Data standard deviation (> 0).
    """

    def __init__(self, d: int, T: float, ell: float, s: float = 1.0):
        self.d = require_int("d", d, 1)
        self.T = float(require_positive("T", T))
        self.ell = float(require_positive("ell", ell))
        self.s = float(require_positive("s", s))

    @property
    def latent_variance(self) -> float:
        """``c_T = e^{-2T} s^2 + ell (1 - e^{-2T})``."""
        return math.exp(-2 * self.T) * self.s**2 + self.ell * (-math.expm1(-2 * self.T))

    @property
    def r(self) -> float:
        """Population variance ratio ``e^{-2T} s^2 / c_T`` (generated variance ``s^2 r``)."""
        return math.exp(-2 * self.T) * self.s**2 / self.latent_variance

    @property
    def slope(self) -> float:
        """Population denoiser ``B = b I``, ``b = e^{-T} s^2 / c_T``."""
        return math.exp(-self.T) * self.s**2 / self.latent_variance

    @property
    def kl_floor(self) -> float:
        """``KL(p_G || p) = (d/2)(r - 1 - ln r)`` in the population limit."""
        r = self.r
        return 0.5 * self.d * (r - 1 - math.log(r))

    @property
    def n_c(self) -> int:
        """Transition size ``d + 2``: the generated variance diverges there; below ``d + 1``
        samples the generated law is degenerate."""
        return self.d + 2

    def variance_n(self, n):
        """Expected per-dimension generated variance with ``n`` training points (``n > d + 2``)."""
        n = np.asarray(n, dtype=float)
        if np.any(n <= self.d + 2):
            raise InputError(f"n must be > d + 2 = {self.d + 2} for a finite expected variance, got {n.min():g}")
        r = self.r
        out = self.s**2 * (r + (1 - r) * self.d / (n - self.d - 2))
        return scalar_or_array(out)

    def summary(self, n: int | None = None) -> dict:
        """All closed forms as one JSON-ready dict (with the finite-n variance when ``n`` is given)."""
        out = {"d": self.d, "T": self.T, "ell": self.ell, "s": self.s, "r": self.r, "kl_floor": self.kl_floor,
               "n_c": self.n_c, "latent_variance": self.latent_variance}
        if n is not None:
            out["n"] = int(require_nonnegative("n", n))
            out["variance_n"] = self.variance_n(n)
        return out

    def sample_fit(self, n: int, rng: np.random.Generator):
        """Draw one training set of size ``n`` and fit the denoiser: returns ``(beta_0, B, x)``
        with ``x`` the training points ``(n, d)``."""
        n = require_int("n", n, 2)
        x = rng.standard_normal((n, self.d)) * self.s
        y = math.exp(-self.T) * x + math.sqrt(self.ell * (-math.expm1(-2 * self.T))) * rng.standard_normal((n, self.d))
        xc, yc = x - x.mean(0), y - y.mean(0)
        B = np.linalg.lstsq(yc, xc, rcond=None)[0].T  # x_c ~ B y_c
        beta0 = x.mean(0) - B @ y.mean(0)
        return beta0, B, x

    def generated_law(self, beta0, B, x):
        """Mean and covariance of ``p_G = N(beta_0 + e^{-T} B xbar, c_T B B^T)`` for one fit."""
        return beta0 + math.exp(-self.T) * B @ x.mean(0), self.latent_variance * B @ B.T
