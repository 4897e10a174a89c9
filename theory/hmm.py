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

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy.special import log_ndtr

from .activations import TRUNCATION, Activation, _hermite, _legendre, activation, gaussian_rule
from .result import NO_TRAP, GeneralizationResult, SolverResult
from .roots import newton, secant
from .validation import InputError, require_nonnegative, require_positive, require_dps

__all__ = ["HiddenManifoldModel", "Quadrature", "Overlaps"]

_FD_STEP = 1e-4
_WARM_START_LOG_G = 0.25  # |ln(g/g_cached)| below which a cached stationary point seeds Newton
_WARM_NISHIMORI_LOG_G = 1.0
_WALK_LOG_G = 1.0  # continuation in g from a solved point at most this far in ln g, in warm-start steps
_LINE_MIN = 6  # distinct alphas from which t_c, t_o are read off one interpolated curve
_LINE_NODES = 16  # Chebyshev nodes per piece of that curve
_LINE_TOL = 1e-11  # accepted deviation of ln alpha(g) at the check points
_LINE_TOL_REM, _LINE_RESULT_TOL_REM = 1e-9, 1e-8  # the same for the generalisation curve (see _curve)
_LINE_MAX_PIECES = 12
_LINE_WIDTH = 2.0  # first pieces' width in ln tau (measured: narrower wastes nodes, wider fails a round)
_LINE_RESULT_TOL = 1e-9  # relative error bound in t below which a point of the curve is converged
_NEWTON_OUTER = 15  # Newton steps in ln g before the secant takes over
_NEWTON_STOP = 1e-7  # Newton step below which a stationary point is accepted (value error ~ step^3)
_MAX_THREADS = 8
_PARALLEL_MIN = 200_000  # quadrature elements per evaluation above which blocks go to threads
_FACTOR_LIMIT = 700.0  # g (max|y| + max|phi|)^2 below which exp(-(g/2)(y - phi)^2) is factorised
_BLOCK = 60_000  # elements per block (measured: ~4x faster than one pass over the whole array)


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


def _log_ndtr_diff(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """``ln(Phi(hi) - Phi(lo))`` for ``hi >= lo`` (either may be infinite), from the tail that keeps
    its digits: above zero ``Phi(hi) - Phi(lo) = Phi(-lo) - Phi(-hi)``."""
    flip = lo > 0
    top = np.where(flip, -lo, hi)
    bottom = np.where(flip, -hi, lo)
    log_top = log_ndtr(top)
    with np.errstate(divide="ignore"):
        return log_top + np.log1p(-np.exp(log_ndtr(bottom) - log_top))


def _threads() -> int:
    try:
        return max(1, min(_MAX_THREADS, len(os.sched_getaffinity(0))))
    except AttributeError:  # not on Linux
        return max(1, min(_MAX_THREADS, os.cpu_count() or 1))


_POOL: ThreadPoolExecutor | None = None
_POOL_PID: int | None = None


def _map_blocks(work, count: int, block: int, parallel: bool) -> None:
    """``work(start, stop)`` over ``range(count)`` in blocks, on a thread pool when ``parallel``
    (numpy's ufuncs release the GIL; blocks keep the temporaries in cache)."""
    global _POOL, _POOL_PID
    starts = range(0, count, block)
    if not parallel or _threads() == 1:
        for b in starts:
            work(b, min(b + block, count))
        return
    if _POOL is None or _POOL_PID != os.getpid():  # a forked child inherits the pool but not its threads
        _POOL, _POOL_PID = ThreadPoolExecutor(_threads(), thread_name_prefix="hmm-quadrature"), os.getpid()
    for f in [_POOL.submit(work, b, min(b + block, count)) for b in starts]:
        f.result()


class _NoStationaryPoint(Exception):
    """Newton found no interior stationary point at this ``g`` (internal: ends an outer solve)."""

    def __init__(self, g: float):
        super().__init__(g)
        self.g = g


def _without_start(cls, upstream: str, result, method: str):
    """A time that starts from another one which has no value: NaN, not converged, saying why."""
    return cls(float("nan"), False, f"no {upstream} time to start from ({result.flag})", 0, 0, float("nan"), method)


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
        self._pieces = self.activation.linear_pieces
        self._cache: dict = {}   # solved times
        self._points: dict = {}  # stationary points keyed by (g, r)
        self._coarse_model: "HiddenManifoldModel | None" = None
        self._is_coarse = False

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
        """``Psi(m, q, Q)`` at signal-to-noise ``g`` and noise fraction ``r`` (quadrature over
        ``h, u, eta``; the inner ``E_w`` in closed form for piecewise-linear ``phi``)."""
        m, q, Q = theta
        s = np.sqrt(r / g)
        omega = m * self._h[:, None] + np.sqrt(max(q - m * m, 0.0)) * self._u[None, :]   # (n_h, n_u)
        # observations y = phi(h) + s eta: (n_h, n_eta), or (n_h, 1) without noise
        y = self._phi_h[:, None] + s * self._eta[None, :] if s > 0 else self._phi_h[:, None]
        if self._pieces is not None:
            inner = self._inner_closed(omega, Q - q, y, g)
        else:
            inner = self._inner_quadrature(omega, Q - q, y, g)
        inner = inner @ self._weta if s > 0 else inner[..., 0]                             # (n_h, n_u)
        return float(self._wh @ (inner @ self._wu))

    def _inner_closed(self, omega: np.ndarray, V: float, y: np.ndarray, g: float) -> np.ndarray:
        """``ln E_w exp(-(g/2)(y - phi(omega + sqrt(V) w))^2)`` for piecewise-linear ``phi``: on a
        piece ``phi = a z + b`` the Gaussian integral over its range of ``w`` is exact
        (``A = 1 + g a^2 V``, ``B = y - b - a omega``, completed square centred at
        ``mu = g a sqrt(V) B / A``). Shape ``(n_h, n_u, n_y)``."""
        sV = np.sqrt(V)
        om = omega[:, :, None]
        total = None
        for lo, hi, a, b in self._pieces:
            B = y[:, None, :] - b - a * om
            if a == 0.0:
                # a constant piece: no completed square, and its mass does not depend on y
                term = (-0.5 * g) * B * B + self._log_mass(lo, hi, om, sV, 0.0, 1.0)
            else:
                c = a * sV
                A = 1.0 + g * c * c
                term = (-0.5 * g / A) * B * B - 0.5 * np.log(A) + self._log_mass(lo, hi, om, sV, (g * c / A) * B,
                                                                                 np.sqrt(A))
            total = term if total is None else np.logaddexp(total, term)
        return total

    @staticmethod
    def _log_mass(lo: float, hi: float, om: np.ndarray, sV: float, mu, sA: float):
        """``ln`` of the ``N(mu, 1/A)`` mass of the range of ``w`` on which ``omega + sqrt(V) w``
        lies in ``(lo, hi)`` (one tail where an end is infinite)."""
        if not np.isfinite(lo) and not np.isfinite(hi):
            return 0.0
        if not np.isfinite(lo):
            return log_ndtr(sA * ((hi - om) / sV - mu))
        if not np.isfinite(hi):
            return log_ndtr(sA * (mu - (lo - om) / sV))
        return _log_ndtr_diff(sA * ((hi - om) / sV - mu), sA * ((lo - om) / sV - mu))

    def _inner_quadrature(self, omega: np.ndarray, V: float, y: np.ndarray, g: float) -> np.ndarray:
        """``ln E_w exp(-(g/2)(y - phi(z))^2)`` by quadrature in ``w`` (log-sum-exp over the nodes),
        blocked over ``h`` and spread over threads. Shape ``(n_h, n_u, n_y)``."""
        z, logwt = self._inner_nodes(omega, V)                       # (n_h, n_u, n_w), (n_w,) or (n_h, n_u, n_w)
        phi_z = self.activation(z)
        shared = logwt.ndim == 1
        wt = np.exp(logwt) if shared else None
        n_h, n_u, n_w = phi_z.shape
        out = np.empty((n_h, n_u, y.shape[1]))

        # exp(-(g/2)(y - phi)^2) = exp(-(g/2) y^2) exp(g y phi) exp(-(g/2) phi^2): only the middle
        # factor is four-dimensional, three passes over it instead of seven; safe from overflow and
        # underflow while g (max|y| + max|phi|)^2 < 700, otherwise the shifted log-sum-exp below
        bound = float(np.max(np.abs(y))) + float(np.max(np.abs(phi_z)))
        factored = shared and g * bound * bound < _FACTOR_LIMIT
        if factored:
            gy = g * y
            weight = wt * np.exp((-0.5 * g) * phi_z * phi_z)                 # (n_h, n_u, n_w)
            y_term = (-0.5 * g) * y * y                                       # (n_h, n_y)

        def work(lo: int, hi: int) -> None:
            if factored:
                e = gy[lo:hi, None, :, None] * phi_z[lo:hi, :, None, :]      # (block, n_u, n_y, n_w)
                np.exp(e, out=e)
                total = np.matmul(e, weight[lo:hi, :, :, None])[..., 0]
                out[lo:hi] = y_term[lo:hi, None, :] + np.log(total)
                return
            d = y[lo:hi, None, :, None] - phi_z[lo:hi, :, None, :]
            np.square(d, out=d)
            d *= -0.5 * g
            if not shared:
                d += logwt[lo:hi, :, None, :]
            shift = d.max(axis=-1)
            d -= shift[..., None]
            np.exp(d, out=d)
            total = d @ wt if shared else d.sum(axis=-1)
            out[lo:hi] = shift + np.log(total)

        per_h = n_u * n_w * y.shape[1]
        _map_blocks(work, n_h, max(1, _BLOCK // per_h), n_h * per_h >= _PARALLEL_MIN)
        return out

    def functional(self, theta, g: float, r: float) -> float:
        """``alpha_D s(m, q, Q) + Psi(m, q, Q)``."""
        return self.alpha_D * _prior(theta) + self.channel(theta, g, r)

    # ------------------------------------------------------------------------- stationary points
    def _nishimori(self, g: float, q0: float | None = None) -> Overlaps:
        """Maximum over ``q`` of the functional at ``m = q``, ``Q = 1``, ``r = 1``: a grid scan when
        cold (the global maximum; on the half-order rules, which only need to rank 13 points), then
        Newton with finite differences.

        Newton stops once its step is below ``_NEWTON_STOP``: the value is then the quadratic
        model's maximum ``f0 - d1^2/(2 d2)``, whose error is of order ``step^3`` (the function is
        stationary there, so a step of 1e-7 leaves ~1e-21 in the value)."""
        f = lambda q: self.functional((q, q, 1.0), g, 1.0)
        if q0 is None:
            scan = self._coarse()
            grid = np.linspace(0.0, 0.96, 13)
            q = float(grid[int(np.argmax([scan.functional((v, v, 1.0), g, 1.0) for v in grid]))])
        else:
            q = q0
        h = _FD_STEP
        its, converged, value = 0, False, None
        for its in range(1, 60):
            if q - h < 0:  # one-sided at the boundary q = 0
                f0, f1, f2 = f(0.0), f(h), f(2 * h)
                d1, d2 = (-3 * f0 + 4 * f1 - f2) / (2 * h), (f0 - 2 * f1 + f2) / h ** 2
                q = 0.0
            else:
                fm, f0, fp = f(q - h), f(q), f(q + h)
                d1, d2 = (fp - fm) / (2 * h), (fp - 2 * f0 + fm) / h ** 2
            if q == 0.0 and d1 <= 0:
                converged, value = True, f0  # boundary maximum
                break
            step = -d1 / d2 if d2 < 0 else 0.1 * np.sign(d1)
            if d2 < 0 and abs(step) < _NEWTON_STOP and 0.0 <= q + step <= 1 - 4 * h:
                q, converged, value = q + step, True, f0 + 0.5 * d1 * step
                break
            new = float(np.clip(q + step, 0.0, 1 - 4 * h))
            # damp steps that do not climb (a short Newton step on a concave function always does)
            while abs(new - q) > (0.02 if d2 < 0 else 1e-3) and not f(new) > f0:
                new = 0.5 * (new + q)
            if abs(new - q) < 1e-10:
                q, converged = new, True
                break
            q = new
        return Overlaps(q, q, 1.0, f(q) if value is None else value, its, converged)

    def _coarse(self) -> "HiddenManifoldModel":
        """The same model on half-order rules (for ranking the cold scan's points only)."""
        if self._coarse_model is None:
            qd = self.quadrature
            half = Quadrature(max(qd.n_h // 2, 4), max(qd.n_u // 2, 4), max(qd.n_eta // 2, 4), max(qd.n_w // 2, 4),
                              qd.panels)
            self._coarse_model = HiddenManifoldModel(self.alpha_D, self.activation, half)
            self._coarse_model._is_coarse = True
        return self._coarse_model

    def _stationary(self, g: float, r: float, start: Overlaps) -> Overlaps:
        """Newton on the gradient of the functional in ``(m, q, Q)`` (central differences), kept
        inside ``m^2 <= q < Q``.

        The Hessian (12 extra evaluations) is computed at the first iterate and again only when an
        iteration on the old one contracts the step by less than 4; the others cost the gradient
        alone (7 evaluations). Stops on a step below ``_NEWTON_STOP`` with the quadratic model's
        value ``f0 + grad . step / 2`` (error of order ``step^3``)."""
        x = np.array([start.m, start.q, start.Q])
        F = lambda th: self.functional(th, g, r)
        h = _FD_STEP
        E = np.eye(3) * h
        converged, its, value, hess, last, sizes = False, 0, None, None, np.inf, []
        for its in range(1, 30):
            f0 = F(x)
            fp = np.array([F(x + E[i]) for i in range(3)])
            fm = np.array([F(x - E[i]) for i in range(3)])
            grad = (fp - fm) / (2 * h)
            if hess is None:
                hess = np.diag((fp - 2 * f0 + fm) / h ** 2)
                for i in range(3):
                    for j in range(i + 1, 3):
                        hess[i, j] = hess[j, i] = (F(x + E[i] + E[j]) - F(x + E[i] - E[j]) - F(x - E[i] + E[j])
                                                   + F(x - E[i] - E[j])) / (4 * h * h)
            step = -np.linalg.solve(hess, grad)
            size = np.max(np.abs(step))
            if size < _NEWTON_STOP:
                new = x + step
                if new[0] ** 2 <= new[1] + 1e-15 and 0 <= new[1] < new[2] - 1e-12:
                    x, converged, value = new, True, f0 + 0.5 * float(grad @ step)
                    break
            if size > 0.25 * last:
                hess = None  # the old Hessian no longer contracts fast: recompute it next time
            last = size
            sizes.append(size)
            if len(sizes) >= 8 and size > 0.5 * sizes[-4]:
                break  # stagnating: no interior stationary point nearby (e.g. q -> m^2), not converged
            lam = 1.0
            while lam > 1e-3:
                new = x + lam * step
                if new[0] ** 2 <= new[1] + 1e-15 and 0 <= new[1] < new[2] - 1e-12:
                    break
                lam /= 2
            x = x + lam * step
            if np.max(np.abs(lam * step)) < 1e-10:
                converged = True
                break
        return Overlaps(float(x[0]), float(x[1]), float(x[2]), F(x) if value is None else value, its, converged)

    def _closest(self, g: float, r: float) -> tuple[float, float] | None:
        """``(|ln(g'/g)|, g')`` for the solved stationary point ``g'`` at this ``r`` closest to ``g``."""
        cands = [(abs(np.log(gg / g)), gg) for (gg, rr) in self._points if rr == r]
        return min(cands) if cands else None

    def _nearest(self, g: float, r: float) -> Overlaps | None:
        """The cached stationary point at this ``r`` with the closest ``ln g``, if it lies within
        ``_WARM_START_LOG_G`` in ``ln g`` (``_WARM_NISHIMORI_LOG_G`` at ``r = 1``, where the solve is
        a damped one-dimensional maximisation): a warm start."""
        within = _WARM_NISHIMORI_LOG_G if r == 1.0 else _WARM_START_LOG_G
        closest = self._closest(g, r)
        # Newton from a far-away g can land on a spurious stationary point: then walk or restart
        return self._points[(closest[1], r)] if closest is not None and closest[0] < within else None

    def _walk(self, g: float, r: float) -> Overlaps | None:
        """Continuation in ``g`` at fixed ``r`` from the nearest solved point within
        ``_WALK_LOG_G``, in steps of at most ``_WARM_START_LOG_G`` in ``ln g`` (each step a warm
        Newton solve, cached); ``None`` when no solved point is that close."""
        closest = self._closest(g, r)
        if closest is None or closest[0] >= _WALK_LOG_G:
            return None
        dist, g0 = closest
        steps = int(np.ceil(dist / (0.8 * _WARM_START_LOG_G)))
        for lg in np.linspace(np.log(g0), np.log(g), steps + 1)[1:-1]:
            self.free_entropy(float(np.exp(lg)), r)
        return self._nearest(g, r)

    def free_entropy(self, g, r, *, overlaps: bool = False):
        """``Phi(1; g, r)``: the stationary point continued from the Nishimori point (``r = 1``),
        warm-started from the nearest solved ``g`` at the same ``r`` (walking to it in small
        steps of ``ln g`` when it is at most ``_WALK_LOG_G`` away)."""
        g = float(require_positive("g", g))
        r = float(require_nonnegative("r", r))
        key = (g, r)
        if key not in self._points:
            warm = self._nearest(g, r) or self._walk(g, r)
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

    def _dPhi_dg(self, g: float, r: float, point: Overlaps, *, fourth_order: bool = True) -> float:
        """Envelope theorem: explicit ``g`` derivative of ``Psi`` at the stationary point.

        Fourth-order central difference with ``h = 1e-3 g``: truncation ~``h^4``, rounding
        ~``eps/h``, both near 1e-13 (the second-order stencil's best is ~``eps^(2/3)`` = 4e-11, too
        noisy for the 1e-12 residual tolerance of the roots built on it)."""
        th = (point.m, point.q, point.Q)
        if not fourth_order:  # a Newton slope: ~1e-10 is plenty, at half the evaluations
            h = 1e-5 * g
            return (self.channel(th, g + h, r) - self.channel(th, g - h, r)) / (2 * h)
        h = 1e-3 * g
        f = lambda k: self.channel(th, g + k * h, r)
        return (8 * (f(1) - f(-1)) - (f(2) - f(-2))) / (12 * h)

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
        if require_dps(dps) is not None:
            raise InputError("dps: the replica-symmetric functional of a nonlinear phi has no mpmath path "
                             "(a four-dimensional nested integral); use phi='linear' for arbitrary precision")

    def _solve_in_log_g(self, residual, start: float, what: str) -> SolverResult:
        """Secant in ``ln g`` on a monotone residual (steps capped at 2), reported as ``t``."""
        res = secant(lambda u: residual(np.exp(u)), np.log(start), np.log(start) + 0.05, xtol=1e-11, ftol=1e-12,
                     max_step=2.0, method=f"secant in ln g ({what}, RS quadrature)")
        return res.with_value(0.5 * np.log1p(np.exp(-res.value)))

    def _newton_in_log_g(self, residual, r: float, start: float, what: str) -> SolverResult:
        """Newton in ``ln g`` on ``residual(g)`` of the form ``const - Phi(1; g, r)``, with the
        envelope derivative ``d Phi/d ln g = g dPsi/dg`` at the stationary point (two channel
        evaluations; steps capped at 2), reported as ``t``.

        Where Newton does not converge in ``_NEWTON_OUTER`` steps the secant iteration takes over.
        An iterate whose stationary point does not converge (the envelope derivative and the value
        need one) ends the solve: NaN, not converged, the flag naming ``g``."""
        def slope(u):
            g = float(np.exp(u))
            return -g * self._dPhi_dg(g, r, self.free_entropy(g, r, overlaps=True), fourth_order=False)

        def checked(u):
            g = float(np.exp(u))
            self._stationary_checked(g, r)
            return residual(g)

        try:
            res = newton(checked, slope, np.log(start), xtol=1e-10, ftol=1e-12, max_step=2.0, maxiter=_NEWTON_OUTER,
                         method=f"newton in ln g ({what}, RS quadrature, envelope derivative)")
            if not res.converged:
                res = secant(checked, np.log(start), np.log(start) + 0.05, xtol=1e-11, ftol=1e-12, max_step=2.0,
                             method=f"secant in ln g ({what}, RS quadrature; Newton failed)")
        except _NoStationaryPoint as exc:
            # the replica-symmetric saddle leaves the interior m^2 < q < Q (it happens at extreme
            # alpha / alpha_D, where q -> m^2): no value to report
            return SolverResult(float("nan"), False, f"no interior stationary point at r = {r:g}, g = {exc.g:.6g}", 0,
                                0, float("nan"), f"newton in ln g ({what}, RS quadrature)")
        return res.with_value(0.5 * np.log1p(np.exp(-res.value)))

    def collapse_time(self, alpha, *, dps: int | None = None) -> SolverResult:
        """``t_c``: ``alpha = i(g_c)``. Vectorised in ``alpha``: an array of at least
        ``_LINE_MIN`` distinct values is solved as one curve (:meth:`_curve`); no mpmath path."""
        self._no_mpmath(dps)
        if np.ndim(alpha):
            return self._over_alphas(alpha, "collapse")
        a = float(require_positive("alpha", alpha))
        key = ("t_c", a)
        if key not in self._cache:
            start = self.alpha_D * np.expm1(2 * a / self.alpha_D)  # orthogonal-F guess
            if self._pieces is None and not self._is_coarse and not self._points:
                # cold, with a quadrature in w: the half-order twin's root (about a tenth of the
                # cost per evaluation) is a start within its quadrature error, and its stationary
                # point seeds the first full solve; two full Newton steps then finish
                rough = self._coarse().collapse_time(a)
                if rough.converged:
                    start = 1 / np.expm1(2 * rough.value)
                    seed = self._coarse().free_entropy(start, 1.0, overlaps=True)
                    self._points[(start, 1.0)] = self._nishimori(start, seed.q)
            # i(g) - alpha = -1/2 - Phi(1; g, 1) - alpha
            self._cache[key] = self._newton_in_log_g(lambda g: self.mutual_information(g) - a, 1.0, start, "collapse")
        return self._cache[key]

    def onset_time(self, alpha, *, dps: int | None = None) -> SolverResult:
        """``t_o``: ``alpha + Phi(1; g_o, 0) = 0`` (a trap at the noiseless centre). Vectorised in
        ``alpha`` like :meth:`collapse_time`."""
        self._no_mpmath(dps)
        if np.ndim(alpha):
            return self._over_alphas(alpha, "onset")
        a = float(require_positive("alpha", alpha))
        key = ("t_o", a)
        if key not in self._cache:
            collapse = self.collapse_time(a)
            if not np.isfinite(collapse.value):
                self._cache[key] = _without_start(SolverResult, "collapse", collapse, "newton in ln g (onset)")
                return self._cache[key]
            g_c = 1 / np.expm1(2 * collapse.value)
            # -(alpha + Phi_0(g)) has the sign convention of the collapse residual
            self._cache[key] = self._newton_in_log_g(lambda g: -(a + self.free_entropy(g, 0.0)), 0.0, 0.45 * g_c,
                                                     "onset")
        return self._cache[key]

    # the increasing curves alpha(g) whose inverses give t_c, t_o and g*: (noise fraction r, alpha at g)
    _CURVES = {"collapse": (1.0, lambda self, g: self.mutual_information(g)),
               "onset": (0.0, lambda self, g: -self.free_entropy(g, 0.0)),
               "generalisation": (0.0, lambda self, g: self._rem_alpha(g))}

    def _tau_g(self, g_star: float, point: Overlaps) -> float:
        """``tau_g = -2 Phi_0'(g*)``: the nearest-neighbour squared distance per component."""
        return -2 * self._dPhi_dg(g_star, 0.0, point)

    def _rem_alpha(self, g: float) -> float:
        """``g Phi_0'(g) - Phi_0(g)``: the ``alpha`` at which the fresh-point REM condenses at ``g``."""
        p = self.free_entropy(g, 0.0, overlaps=True)
        return g * self._dPhi_dg(g, 0.0, p) - p.value

    def _scalar(self, kind: str):
        return {"collapse": self.collapse_time, "onset": self.onset_time, "generalisation": self.generalization}[kind]

    def _over_alphas(self, alpha, kind: str) -> SolverResult:
        """``t_c``, ``t_o`` or ``t_g`` over an array of ``alpha`` (any shape)."""
        a = np.asarray(require_positive("alpha", alpha), dtype=float)
        distinct, where = np.unique(a.ravel(), return_inverse=True)
        res = self._curve(distinct, kind) if distinct.size >= _LINE_MIN else None
        if res is None:  # few values, or the curve could not be built: point by point
            rows = [self._scalar(kind)(float(x)) for x in distinct]
            fields = {k: np.array([getattr(r, k) for r in rows])
                      for k in ("value", "converged", "flag", "iterations", "function_calls", "residual")}
            if kind == "generalisation":
                fields.update(tau_g=np.array([r.tau_g for r in rows]), g_star=np.array([r.g_star for r in rows]))
            res = (GeneralizationResult if kind == "generalisation" else SolverResult)(**fields, method=rows[0].method)
        pick = lambda v: np.asarray(v)[where].reshape(a.shape)
        fields = {k: pick(getattr(res, k)) for k in ("value", "converged", "flag", "iterations", "function_calls",
                                                     "residual")}
        if kind == "generalisation":
            return GeneralizationResult(**fields, method=res.method, tau_g=pick(res.tau_g), g_star=pick(res.g_star))
        return SolverResult(**fields, method=res.method)

    def _curve(self, alphas: np.ndarray, kind: str) -> SolverResult | None:
        """``t`` for sorted distinct ``alphas`` from one interpolant of the increasing curve
        ``alpha(g)`` (:data:`_CURVES`), as ``G(u) = ln alpha(e^{-u})`` in ``u = ln tau``
        (:class:`~theory.inversion.PiecewiseChebyshev`, nodes solved in order of ``g`` so that each
        stationary point warm-starts the next). For ``"generalisation"`` the inverse is ``g*`` and
        ``tau_g = -2 Phi_0'(g*)`` follows at each point.

        The two end values are solved point by point (they fix the range). A point counts as
        converged when the interpolant's verified error, carried to ``t``, is below
        ``_LINE_RESULT_TOL`` relative; the others are solved point by point. ``None`` when an end or
        a node has no converged stationary point (the caller then solves every point alone)."""
        from .inversion import PiecewiseChebyshev

        r, curve = self._CURVES[kind]
        scalar = self._scalar(kind)
        ends = [scalar(float(alphas[-1])), scalar(float(alphas[0]))]
        if not all(e.converged for e in ends):
            return None
        # the ends in u = ln tau = -ln g (for t_g: of the condensation point g*, not of tau_g)
        u_lo, u_hi = (float(-np.log(e.g_star)) if kind == "generalisation" else float(np.log(np.expm1(2 * e.value)))
                      for e in ends)
        pad = 1e-3 * max(1.0, u_hi - u_lo)

        def G(u: np.ndarray) -> np.ndarray:
            flat, out = u.ravel(), np.empty(u.size)
            for k in np.argsort(flat)[::-1]:  # increasing g
                g = float(np.exp(-flat[k]))
                self._stationary_checked(g, r)
                out[k] = np.log(curve(self, g))
            return out.reshape(u.shape)

        try:
            # alpha(g*) = g Phi_0' - Phi_0 cancels to O(g^2) at small g: its node values carry ~1e-11
            # relative noise from the difference quotient, so its curve is checked more loosely
            tol, result_tol = (_LINE_TOL_REM, _LINE_RESULT_TOL_REM) if kind == "generalisation" else (
                _LINE_TOL, _LINE_RESULT_TOL)
            inv = PiecewiseChebyshev(G, u_lo - pad, u_hi + pad, nodes=_LINE_NODES, tol=tol,
                                     max_pieces=_LINE_MAX_PIECES, width=_LINE_WIDTH)
            t, resid_G, dt_rel, iters = inv.times(alphas)
            fields = {}
            if kind == "generalisation":
                g_star = 1.0 / np.expm1(2 * t)
                tau = np.array([self._tau_g(float(g), self._stationary_checked(float(g), 0.0))
                                for g in g_star])
                fields = {"g_star": g_star, "tau_g": tau}
                t = 0.5 * np.log1p(tau)
        except _NoStationaryPoint:
            return None
        ok = np.isfinite(t) & (dt_rel <= result_tol)
        method = (f"Chebyshev inversion of ln alpha(g) ({kind}, {inv.pieces} pieces, {inv.evaluations} "
                  f"stationary points)")
        res = (GeneralizationResult if kind == "generalisation" else SolverResult)(
            t, ok, np.where(ok, "converged", "interpolation error above tolerance").astype(object),
            np.full(t.shape, iters), np.full(t.shape, inv.evaluations), alphas * np.expm1(resid_G), method, **fields)
        # where the curve is not smooth to the tolerance (the quadrature's own error grows at large g),
        # those alphas are solved point by point
        redo = np.flatnonzero(~ok)
        for k in redo:
            one = scalar(float(alphas[k]))
            for name in ("value", "converged", "flag", "iterations", "function_calls", "residual") + tuple(fields):
                getattr(res, name)[k] = getattr(one, name)
        if redo.size:
            res = res.with_value(res.value, method=method + f"; {redo.size} of {t.size} alphas point by point")
        return res

    def _stationary_checked(self, g: float, r: float) -> Overlaps:
        point = self.free_entropy(g, r, overlaps=True)
        if not point.converged:
            raise _NoStationaryPoint(g)
        return point

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
        if f0 > 1e-10:  # (at t_o itself f0 is the onset solve's residual, of either sign)
            return SolverResult(float("nan"), True, NO_TRAP, 0, 2, f0,
                                "replica symmetric")
        residual = lambda r: a + self.free_entropy(g, r) + r / 2
        slope = lambda r: self._dPhi_dr(g, r, self.free_entropy(g, r, overlaps=True)) + 0.5
        return newton(residual, slope, -f0 / (f1 - f0), bounds=(0.0, 5.0), xtol=1e-10, ftol=1e-10,
                      method="newton in r (RS quadrature, envelope derivative)")

    def generalization(self, alpha, *, dps: int | None = None) -> GeneralizationResult:
        """Fresh-point REM condensation: ``alpha = g* Phi_0'(g*) - Phi_0(g*)``,
        ``tau_g = -2 Phi_0'(g*)``, ``t_g = (1/2) ln(1 + tau_g)`` (``value``). Vectorised in
        ``alpha`` like :meth:`collapse_time` (the curve gives ``g*``, then ``tau_g`` at each)."""
        self._no_mpmath(dps)
        if np.ndim(alpha):
            return self._over_alphas(alpha, "generalisation")
        a = float(require_positive("alpha", alpha))
        key = ("t_g", a)
        if key not in self._cache:
            onset = self.onset_time(a)
            if not np.isfinite(onset.value):
                self._cache[key] = _without_start(GeneralizationResult, "onset", onset, "secant in ln g (generalisation)")
                return self._cache[key]
            g_o = 1 / np.expm1(2 * onset.value)
            res = self._solve_in_log_g(lambda g: self._rem_alpha(g) - a, 2 * g_o, "generalisation")
            g_star = 1 / np.expm1(2 * res.value)
            tau = self._tau_g(g_star, self.free_entropy(g_star, 0.0, overlaps=True))
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
