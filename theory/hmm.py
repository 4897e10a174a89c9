"""Hidden-manifold model with any nonlinearity: replica-symmetric REM free entropy and the collapse,
onset, basin and generalisation times built on it (docs/hmm.md, [AALMV25] framework).

Data ``xi = phi~(F z / sqrt(D))``, ``D = alpha_D N``. At signal-to-noise ``g = 1/(e^{2t} - 1)`` and
noise fraction ``r`` the planted free entropy of the rest of the training set is

    Phi(1; g, r) = extr_{m, q, Q} { alpha_D s(m, q, Q) + Psi(m, q, Q) },
    s = (1/2) [ln(Q - q) + (q - m^2)/(Q - q)] - Q/2 + 1/2,
    Psi = E_{h, u, eta} ln E_w exp( -(g/2) (phi(h) + sqrt(r/g) eta - phi(m h + sqrt(q - m^2) u + sqrt(Q - q) w))^2 ),

``h, u, eta, w`` iid ``N(0, 1)`` (``m``: overlap with the planted latent, ``q``: between replicas,
``Q``: self-overlap). The extremum is followed continuously from the Nishimori point
(``m = q``, ``Q = 1`` at ``r = 1``, where it is a maximum over ``q``; other stationary points are
spurious). Then, with ``Phi_0(g) = Phi(1; g, 0)``:

    mutual information   i(g) = -1/2 - Phi(1; g, 1)          collapse  alpha = i(g_c)
    onset                alpha + Phi_0(g_o) = 0
    basin                alpha + Phi(1; g, r*) + r*/2 = 0
    generalisation       alpha = g* Phi_0'(g*) - Phi_0(g*),  tau_g = Gamma_g = -2 Phi_0'(g*)

(the last is the condensation of the fresh-point REM: ``Phi_0(2 lambda)`` is the cumulant generating
function of the squared distance between a fresh point and a training point). Derivatives in ``g``
and ``r`` use the envelope theorem (the explicit dependence of ``Psi`` at the stationary point).

The float64 quadrature (Gauss–Hermite, or Gauss–Legendre panels split at the kinks of ``phi``)
reproduces the linear model to ~1e-11; its error is estimated by a run at doubled order
(:meth:`HiddenManifoldModel.quadrature_error`). There is no mpmath path for the nonlinear
functional (a four-dimensional nested integral); the linear and orthogonal cases have one in
:mod:`theory.hmm_linear`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import TRUNCATION, Activation, _hermite, _legendre, activation, gaussian_rule
from .result import GeneralizationResult, SolverResult
from .roots import newton, secant
from .validation import InputError, require_nonnegative, require_positive

__all__ = ["HiddenManifoldModel", "Quadrature", "Overlaps"]

_FD_STEP = 1e-4
_WARM_START_LOG_G = 0.25  # |ln(g/g_cached)| below which a cached stationary point seeds Newton


@dataclass(frozen=True)
class Quadrature:
    """Orders of the rules for the teacher field ``h``, the replica noise ``u``, the observation
    noise ``eta`` and the student field ``w`` (per panel where ``phi`` has kinks)."""

    n_h: int = 40
    n_u: int = 24
    n_eta: int = 12
    n_w: int = 40
    panels: int = 1

    def doubled(self) -> "Quadrature":
        """The same rules at twice the order (the quadrature's error estimate)."""
        return Quadrature(2 * self.n_h, 2 * self.n_u, 2 * self.n_eta, 2 * self.n_w, self.panels)

    @staticmethod
    def default_for(act: "Activation") -> "Quadrature":
        """Piecewise-polynomial ``phi`` (linear, relu, sign): one Gauss rule per smooth piece.
        Anything else (tanh, callables): 6 panels of 10 nodes (measured: ~5e-9 on the
        functional for tanh against 10 panels of 12)."""
        if act.name in ("linear", "relu", "sign"):
            return Quadrature(30, 16, 12, 30, 1)
        return Quadrature(10, 10, 12, 10, 6)


@dataclass(frozen=True)
class Overlaps:
    """A stationary point ``(m, q, Q)`` and the free entropy there."""

    m: float
    q: float
    Q: float
    value: float
    iterations: int
    converged: bool


def _log_mean_exp(expo: np.ndarray, logwt: np.ndarray) -> np.ndarray:
    """``ln sum_w exp(expo + logwt)`` over the last axis (exponents <= 0: shift by the max)."""
    shift = expo.max(axis=-1, keepdims=True)
    if logwt.ndim == 1:  # shared weights: one BLAS product
        total = np.exp(expo - shift) @ np.exp(logwt)
    else:
        total = np.einsum("...k,...k->...", np.exp(expo - shift), np.exp(logwt))
    return shift[..., 0] + np.log(total)


def _prior(theta) -> float:
    m, q, Q = theta
    V = Q - q
    return 0.5 * (np.log(V) + (q - m * m) / V) - 0.5 * Q + 0.5


class HiddenManifoldModel:
    """Replica-symmetric hidden-manifold model at ``alpha_D`` for a standardised ``phi``.

    Parameters
    ----------
    alpha_D : float
        ``D/N`` (> 0).
    phi : str, callable or Activation
        ``"linear"``, ``"tanh"``, ``"relu"``, ``"sign"`` or a vectorised callable (see
        :func:`theory.activations.activation`).
    quadrature : Quadrature
        Orders of the Gaussian rules.
    """

    def __init__(self, alpha_D: float, phi="tanh", quadrature: Quadrature | None = None, *, kinks=()):
        self.alpha_D = float(require_positive("alpha_D", alpha_D))
        self.activation: Activation = activation(phi, kinks=kinks)
        self.quadrature = quadrature or Quadrature.default_for(self.activation)
        qd = self.quadrature
        self._h, self._wh = gaussian_rule(qd.n_h, self.activation.kinks, qd.panels)
        self._phi_h = self.activation(self._h)
        self._u, self._wu = gaussian_rule(qd.n_u, (), qd.panels)
        self._eta, self._weta = _hermite(qd.n_eta)
        self._cache: dict = {}   # solved times
        self._points: dict = {}  # stationary points keyed by (g, r)

    @property
    def phi(self) -> str:
        """Name of the nonlinearity."""
        return self.activation.name

    # ----------------------------------------------------------------------------- functional
    def _inner_nodes(self, omega: np.ndarray, V: float):
        """Nodes ``z = omega + sqrt(V) w`` and log weights of ``E_w`` for each ``omega``."""
        n, panels = self.quadrature.n_w, self.quadrature.panels
        kinks = self.activation.kinks
        sV = np.sqrt(V)
        if not kinks:
            w, wt = gaussian_rule(n, (), panels)
            return omega[..., None] + sV * w, np.log(wt)
        x, wl = _legendre(n)
        # the kinks of phi(omega + sqrt(V) w) move with omega: per-omega breakpoints in w
        brk = np.clip((np.asarray(kinks)[None, :] - omega.reshape(-1, 1)) / sV, -TRUNCATION, TRUNCATION)
        fixed = np.broadcast_to(np.linspace(-TRUNCATION, TRUNCATION, panels + 1), (omega.size, panels + 1))
        edges = np.sort(np.concatenate([fixed, brk], axis=1), axis=1)
        a, b = edges[:, :-1, None], edges[:, 1:, None]
        w = (a + (b - a) * (x + 1) / 2).reshape(omega.size, -1)
        with np.errstate(divide="ignore"):
            logwt = (np.log((b - a) / 2 * wl)).reshape(omega.size, -1) - w ** 2 / 2 - 0.5 * np.log(2 * np.pi)
        shape = omega.shape + (w.shape[-1],)
        return (omega.reshape(-1, 1) + sV * w).reshape(shape), logwt.reshape(shape)

    def channel(self, theta, g: float, r: float) -> float:
        """``Psi(m, q, Q)`` at signal-to-noise ``g`` and noise fraction ``r`` (quadrature)."""
        m, q, Q = theta
        s = np.sqrt(r / g)
        omega = m * self._h[:, None] + np.sqrt(max(q - m * m, 0.0)) * self._u[None, :]   # (n_h, n_u)
        z, logwt = self._inner_nodes(omega, Q - q)                                         # (n_h, n_u, n_w)
        phi_z = self.activation(z)
        if s > 0:
            y = self._phi_h[:, None, None] + s * self._eta[None, None, :]                  # (n_h, 1, n_eta)
            expo = (-0.5 * g) * (y[..., None] - phi_z[:, :, None, :]) ** 2                # (n_h, n_u, n_eta, n_w)
            if logwt.ndim == 3:
                logwt = logwt[:, :, None, :]
            inner = _log_mean_exp(expo, logwt) @ self._weta                               # (n_h, n_u)
        else:
            expo = (-0.5 * g) * (self._phi_h[:, None, None] - phi_z) ** 2
            inner = _log_mean_exp(expo, logwt)
        return float(self._wh @ (inner @ self._wu))

    def functional(self, theta, g: float, r: float) -> float:
        """``alpha_D s(m, q, Q) + Psi(m, q, Q)``."""
        return self.alpha_D * _prior(theta) + self.channel(theta, g, r)

    # ------------------------------------------------------------------------- stationary points
    def _nishimori(self, g: float, q0: float | None = None) -> Overlaps:
        """Maximum over ``q`` of the functional at ``m = q``, ``Q = 1``, ``r = 1``: a coarse grid
        when cold (the global maximum), then Newton with finite differences."""
        f = lambda q: self.functional((q, q, 1.0), g, 1.0)
        if q0 is None:
            grid = np.linspace(0.0, 0.96, 13)
            q = float(grid[int(np.argmax([f(v) for v in grid]))])
        else:
            q = q0
        h = _FD_STEP
        its, converged = 0, False
        for its in range(1, 60):
            if q - h < 0:  # one-sided at the boundary q = 0
                f0, f1, f2 = f(0.0), f(h), f(2 * h)
                d1, d2 = (-3 * f0 + 4 * f1 - f2) / (2 * h), (f0 - 2 * f1 + f2) / h ** 2
                q = 0.0
            else:
                fm, f0, fp = f(q - h), f(q), f(q + h)
                d1, d2 = (fp - fm) / (2 * h), (fp - 2 * f0 + fm) / h ** 2
            if q == 0.0 and d1 <= 0:
                converged = True  # boundary maximum
                break
            step = -d1 / d2 if d2 < 0 else 0.1 * np.sign(d1)
            new = float(np.clip(q + step, 0.0, 1 - 4 * h))
            while abs(new - q) > 1e-3 and not f(new) > f0:  # damp steps that do not climb
                new = 0.5 * (new + q)
            if abs(new - q) < 1e-10:
                q, converged = new, True
                break
            q = new
        return Overlaps(q, q, 1.0, f(q), its, converged)

    def _stationary(self, g: float, r: float, start: Overlaps) -> Overlaps:
        """Newton on the gradient of the functional in ``(m, q, Q)`` (central differences), kept
        inside ``m^2 <= q < Q``."""
        x = np.array([start.m, start.q, start.Q])
        F = lambda th: self.functional(th, g, r)
        h = _FD_STEP
        E = np.eye(3) * h
        converged, its = False, 0
        for its in range(1, 30):
            f0 = F(x)
            grad, hess = np.zeros(3), np.zeros((3, 3))
            fp = [F(x + E[i]) for i in range(3)]
            fm = [F(x - E[i]) for i in range(3)]
            for i in range(3):
                grad[i] = (fp[i] - fm[i]) / (2 * h)
                hess[i, i] = (fp[i] - 2 * f0 + fm[i]) / h ** 2
                for j in range(i + 1, 3):
                    hess[i, j] = hess[j, i] = (F(x + E[i] + E[j]) - F(x + E[i] - E[j]) - F(x - E[i] + E[j])
                                               + F(x - E[i] - E[j])) / (4 * h * h)
            step = -np.linalg.solve(hess, grad)
            lam = 1.0
            while lam > 1e-3:
                new = x + lam * step
                if new[0] ** 2 <= new[1] + 1e-15 and 0 <= new[1] < new[2] - 1e-12:
                    break
                lam /= 2
            x = x + lam * step
            if np.max(np.abs(lam * step)) < 1e-9:
                converged = True
                break
        return Overlaps(float(x[0]), float(x[1]), float(x[2]), F(x), its, converged)

    def _nearest(self, g: float, r: float) -> Overlaps | None:
        """The cached stationary point at this ``r`` with the closest ``ln g`` (a warm start)."""
        cands = [(abs(np.log(gg / g)), p) for (gg, rr), p in self._points.items() if rr == r]
        best = min(cands, key=lambda c: c[0]) if cands else None
        # Newton from a far-away g can land on a spurious stationary point: then restart at Nishimori
        return best[1] if best is not None and best[0] < _WARM_START_LOG_G else None

    def free_entropy(self, g, r, *, overlaps: bool = False):
        """``Phi(1; g, r)``: the stationary point continued from the Nishimori point (``r = 1``),
        warm-started from the nearest solved ``g`` at the same ``r``."""
        g = float(require_positive("g", g))
        r = float(require_nonnegative("r", r))
        key = (g, r)
        if key not in self._points:
            warm = self._nearest(g, r)
            if r == 1.0:
                point = self._nishimori(g, None if warm is None else warm.q)
            else:
                if warm is None:
                    warm = self.free_entropy(g, 1.0, overlaps=True)
                    # continuation in r: Newton from the Nishimori point in steps of at most 1/2
                    for target in np.linspace(1.0, r, int(np.ceil(abs(1.0 - r) / 0.5)) + 1)[1:-1]:
                        warm = self._stationary(g, float(target), warm)
                point = self._stationary(g, r, warm)
            self._points[key] = point
        point = self._points[key]
        return point if overlaps else point.value

    def _dPhi_dg(self, g: float, r: float, point: Overlaps) -> float:
        """Envelope theorem: explicit ``g`` derivative of ``Psi`` at the stationary point."""
        th, h = (point.m, point.q, point.Q), 1e-5 * g
        return (self.channel(th, g + h, r) - self.channel(th, g - h, r)) / (2 * h)

    def mutual_information(self, g) -> float:
        """``i(g) = -1/2 - Phi(1; g, 1)`` (replica symmetric)."""
        return -0.5 - self.free_entropy(g, 1.0)

    def B(self, g) -> float:
        """``B(g) = 1 + 2 dPhi(1; g, r)/dr`` at ``r = 1``: the linear model's ``(1/N) sum g c/(1 + g c)``."""
        g = float(require_positive("g", g))
        point = self.free_entropy(g, 1.0, overlaps=True)
        th, h = (point.m, point.q, point.Q), 1e-5
        dr = (self.channel(th, g, 1 + h) - self.channel(th, g, 1 - h)) / (2 * h)
        return 1 + 2 * dr

    # ------------------------------------------------------------------------- times
    @staticmethod
    def _no_mpmath(dps) -> None:
        if dps is not None:
            raise InputError("dps: the replica-symmetric functional of a nonlinear phi has no mpmath path "
                             "(a four-dimensional nested integral); use phi='linear' for arbitrary precision")

    def _solve_in_log_g(self, residual, start: float, what: str) -> SolverResult:
        """Secant in ``ln g`` on a monotone residual (steps capped at 2), reported as ``t``."""
        res = secant(lambda u: residual(np.exp(u)), np.log(start), np.log(start) + 0.05, xtol=1e-11, ftol=1e-12,
                     max_step=2.0, method=f"secant in ln g ({what}, RS quadrature)")
        return res.with_value(0.5 * np.log1p(np.exp(-res.value)))

    def collapse_time(self, alpha, *, dps: int | None = None) -> SolverResult:
        """``t_c``: ``alpha = i(g_c)`` (scalar ``alpha``; no mpmath path)."""
        self._no_mpmath(dps)
        a = float(require_positive("alpha", alpha))
        key = ("t_c", a)
        if key not in self._cache:
            start = self.alpha_D * np.expm1(2 * a / self.alpha_D)  # orthogonal-F guess
            self._cache[key] = self._solve_in_log_g(lambda g: self.mutual_information(g) - a, start, "collapse")
        return self._cache[key]

    def onset_time(self, alpha, *, dps: int | None = None) -> SolverResult:
        """``t_o``: ``alpha + Phi(1; g_o, 0) = 0`` (a trap at the noiseless centre)."""
        self._no_mpmath(dps)
        a = float(require_positive("alpha", alpha))
        key = ("t_o", a)
        if key not in self._cache:
            g_c = 1 / np.expm1(2 * self.collapse_time(a).value)
            self._cache[key] = self._solve_in_log_g(lambda g: a + self.free_entropy(g, 0.0), 0.45 * g_c, "onset")
        return self._cache[key]

    def _dPhi_dr(self, g: float, r: float, point: Overlaps) -> float:
        th, h = (point.m, point.q, point.Q), 1e-5
        return (self.channel(th, g, r + h) - self.channel(th, g, max(r - h, 0.0))) / (r + h - max(r - h, 0.0))

    def basin(self, t, alpha, *, dps: int | None = None) -> SolverResult:
        """``r*(t)``: ``alpha + Phi(1; g, r*) + r*/2 = 0``; the basin radius^2 is ``N r* Delta_t``.

        Newton in ``r`` with the envelope derivative, started from the linear interpolation between
        ``r = 0`` and ``r = 1`` (``Phi`` is nearly linear in ``r``, exactly so for linear phi).
        Above the onset time there is no trap: ``value`` is NaN with a flag saying so."""
        self._no_mpmath(dps)
        t = float(require_positive("t", t))
        a = float(require_positive("alpha", alpha))
        g = 1 / np.expm1(2 * t)
        f0, f1 = a + self.free_entropy(g, 0.0), a + self.free_entropy(g, 1.0) + 0.5
        if f0 > 0:
            return SolverResult(float("nan"), True, "no trap: t is above the onset time", 0, 2, f0,
                                "replica symmetric")
        residual = lambda r: a + self.free_entropy(g, r) + r / 2
        slope = lambda r: self._dPhi_dr(g, r, self.free_entropy(g, r, overlaps=True)) + 0.5
        return newton(residual, slope, -f0 / (f1 - f0), bounds=(0.0, 5.0), xtol=1e-10, ftol=1e-10,
                      method="newton in r (RS quadrature, envelope derivative)")

    def generalization(self, alpha, *, dps: int | None = None) -> GeneralizationResult:
        """Fresh-point REM condensation: ``alpha = g* Phi_0'(g*) - Phi_0(g*)``,
        ``tau_g = -2 Phi_0'(g*)``, ``t_g = (1/2) ln(1 + tau_g)`` (``value``)."""
        self._no_mpmath(dps)
        a = float(require_positive("alpha", alpha))
        key = ("t_g", a)
        if key not in self._cache:
            def residual(g):
                p = self.free_entropy(g, 0.0, overlaps=True)
                return g * self._dPhi_dg(g, 0.0, p) - p.value - a
            g_o = 1 / np.expm1(2 * self.onset_time(a).value)
            res = self._solve_in_log_g(residual, 2 * g_o, "generalisation")
            g_star = 1 / np.expm1(2 * res.value)
            tau = -2 * self._dPhi_dg(g_star, 0.0, self.free_entropy(g_star, 0.0, overlaps=True))
            self._cache[key] = GeneralizationResult(**{**res.__dict__, "value": 0.5 * np.log1p(tau)}, tau_g=tau,
                                                    g_star=g_star)
        return self._cache[key]

    def asymptotic_collapse_time(self, alpha) -> SolverResult:
        """``alpha_D -> 0`` fast path: ``alpha = (alpha_D/2) ln(1 + kappa g/alpha_D)`` solved exactly,
        ``t_c ~ (kappa/(2 alpha_D)) e^{-2 alpha/alpha_D}`` at leading order."""
        a = require_positive("alpha", alpha)
        g = self.alpha_D / self.activation.kappa * np.expm1(2 * a / self.alpha_D)
        return SolverResult.closed_form(float(0.5 * np.log1p(1 / g)) if np.ndim(g) == 0 else 0.5 * np.log1p(1 / g),
                                        "asymptotic (alpha_D -> 0)")

    def quadrature_error(self, alpha) -> dict:
        """``|t(doubled orders) - t|`` for ``t_c`` and ``t_o``: the quadrature's error estimate."""
        fine = HiddenManifoldModel(self.alpha_D, self.activation, self.quadrature.doubled())
        return {"t_c": abs(fine.collapse_time(alpha).value - self.collapse_time(alpha).value),
                "t_o": abs(fine.onset_time(alpha).value - self.onset_time(alpha).value)}
