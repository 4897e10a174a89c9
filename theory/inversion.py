"""Monotone inversion over grids: the collapse condition ``F(u) = alpha`` for many ``alpha`` at once.

For a fixed spectrum, ``F(u) = (1/2N) sum_j m_j log1p(lambda_j e^{-u})`` (``u = ln tau``,
``m_j`` the multiplicity of the distinct eigenvalue ``lambda_j``) falls monotonically from
``+inf`` to 0, and ``t_C(alpha)`` is its inverse. A per-point root finder pays one full pass over
the spectrum per iteration and per ``alpha``; here the spectrum is compressed to its distinct values,
``G(u) = ln F(u)`` is interpolated once by piecewise Chebyshev polynomials on the range of ``u``
the grid needs (pieces halved until the interpolant matches ``G`` at check points between the
nodes to ``1e-14``), and every ``alpha`` is inverted on its piece by a safeguarded Newton iteration
on the polynomial. ``G`` rather than ``F``: ``F`` spans many decades over the grid and ``ln F`` turns
an absolute interpolation error into a relative one, uniform in ``alpha``.

:class:`PiecewiseChebyshev` does this for any decreasing function (the linear and nonlinear
hidden-manifold curves use it, with their own tolerances); :class:`ChebyshevInverse` is its
spectral case.

The error is checked, not assumed: each piece's largest deviation at its check points is kept, and
a result counts as converged when that bound plus the polynomial residual, carried through
``dG/du`` to ``t``, is below ``1e-12`` relative in ``t_C``.
"""

from __future__ import annotations

import numpy as np

from .result import CONVERGED, RESIDUAL_TOO_LARGE, SolverResult

__all__ = ["compress_spectrum", "softplus_sum", "PiecewiseChebyshev", "ChebyshevInverse", "u_range"]

#: Nodes per piece (Chebyshev points of the first kind).
NODES = 24
#: Largest deviation of ``ln F`` at the check points for a piece to be accepted.
PIECE_TOL = 1e-14
#: Relative error bound in ``t_C`` below which an inverted point counts as converged.
RESULT_TOL = 1e-12
# check points inside [-1, 1], between the nodes (none coincides with a node)
_CHECK = np.array([-0.987, -0.83, -0.51, -0.13, 0.21, 0.57, 0.88, 0.995])
_MAX_PIECES = 20000


def compress_spectrum(eigenvalues: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct positive eigenvalues and their multiplicities."""
    lam = np.asarray(eigenvalues, dtype=float)
    values, counts = np.unique(lam[lam > 0], return_counts=True)
    return values, counts.astype(float)


def _log_spectrum(eigenvalues) -> tuple[np.ndarray, np.ndarray]:
    """``(ln lambda_j, m_j / 2N)`` over the distinct positive eigenvalues: ``F(u)`` is
    :func:`softplus_sum` of these."""
    values, counts = compress_spectrum(eigenvalues)
    return np.log(values), counts / (2.0 * np.asarray(eigenvalues).size)


def softplus_sum(u: np.ndarray, log_lam: np.ndarray, weights: np.ndarray, *, block: int = 1 << 22) -> np.ndarray:
    """``sum_j weights_j log(1 + e^{log_lam_j - u})`` for every ``u`` (blocks bound the temporaries)."""
    u = np.asarray(u, dtype=float)
    flat = u.ravel()
    out = np.empty_like(flat)
    step = max(1, block // max(log_lam.size, 1))
    for s in range(0, flat.size, step):
        x = log_lam[None, :] - flat[s:s + step, None]
        out[s:s + step] = np.logaddexp(0.0, x) @ weights
    return out.reshape(u.shape)


def _cheb_coefficients(values: np.ndarray) -> np.ndarray:
    """Chebyshev coefficients from values at the first-kind nodes (rows: pieces)."""
    n = values.shape[-1]
    k = np.arange(n)
    theta = np.pi * (k + 0.5) / n
    c = (2.0 / n) * values @ np.cos(np.outer(theta, k))
    c[..., 0] /= 2.0
    return c


def _clenshaw(coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``sum_k coef[i, k] T_k(x[i])`` row by row."""
    b1 = np.zeros_like(x)
    b2 = np.zeros_like(x)
    for k in range(coef.shape[1] - 1, 0, -1):
        b1, b2 = 2.0 * x * b1 - b2 + coef[:, k], b1
    return x * b1 - b2 + coef[:, 0]


def _clenshaw1(c: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``sum_k c[k] T_k(x)`` for one series and many ``x``."""
    b1 = np.zeros_like(x)
    b2 = np.zeros_like(x)
    for k in range(c.size - 1, 0, -1):
        b1, b2 = 2.0 * x * b1 - b2 + c[k], b1
    return x * b1 - b2 + c[0]


def _newton_on_piece(c, dc, y, g_a, g_b, maxiter):
    """Safeguarded Newton for ``p(x) = y`` on ``[-1, 1]`` (``p`` decreasing): ``x``, ``p(x) - y``,
    iterations."""
    lo, hi = np.full(y.size, -1.0), np.full(y.size, 1.0)
    x = np.clip(-1.0 + 2.0 * (y - g_a) / (g_b - g_a), -1.0, 1.0) if g_a != g_b else np.zeros_like(y)
    active = np.arange(y.size)
    it = 0
    for it in range(1, maxiter + 1):
        xa, ya = x[active], y[active]
        r = _clenshaw1(c, xa) - ya
        hi[active] = np.where(r < 0, xa, hi[active])  # the root lies left of xa
        lo[active] = np.where(r > 0, xa, lo[active])
        d = _clenshaw1(dc, xa)
        with np.errstate(divide="ignore", invalid="ignore"):
            new = xa - r / d
        la, ha = lo[active], hi[active]
        bad = ~np.isfinite(new) | (d >= 0) | (new < la) | (new > ha)
        new = np.where(bad, (la + ha) / 2, new)
        x[active] = new
        done = (np.abs(new - xa) <= 1e-15) | (r == 0)  # x in [-1, 1]: a few ulps
        active = active[~done]
        if active.size == 0:
            break
    return x, _clenshaw1(c, x) - y, it


def _derivative_coefficients(coef: np.ndarray) -> np.ndarray:
    """Coefficients of ``d/dx`` of each row's Chebyshev series."""
    n = coef.shape[1]
    d = np.zeros_like(coef)
    for k in range(n - 2, -1, -1):
        d[:, k] = (d[:, k + 2] if k + 2 < n else 0.0) + 2.0 * (k + 1) * coef[:, k + 1]
    d[:, 0] /= 2.0
    return d


class PiecewiseChebyshev:
    """Piecewise Chebyshev interpolant of a decreasing function ``G`` on ``[u_lo, u_hi]``, and its
    inverse.

    Pieces are halved until the interpolant matches ``G`` at check points between the nodes to
    ``tol`` (relative to ``max(1, |G|)``), or until ``max_pieces`` would be exceeded, in which case
    the pieces are kept with their measured error (which every inverted point then reports).

    Parameters
    ----------
    G : callable
        Vectorised: an array of ``u`` to the array of ``G(u)``; it may be expensive (it is called
        once for all nodes of a round of pieces, then once for their check points).
    u_lo, u_hi : float
        The range to cover (``u_lo < u_hi``).
    nodes : int
        Chebyshev points (first kind) per piece.
    tol : float
        Largest accepted deviation at the check points.
    max_pieces : int
        Most pieces.
    width : float, optional
        Width of the first pieces (default: one piece over the whole range); an expensive ``G``
        saves the rounds spent on pieces that are certain to fail.
    """

    def __init__(self, G, u_lo: float, u_hi: float, *, nodes: int = NODES, tol: float = PIECE_TOL,
                 max_pieces: int = _MAX_PIECES, width: float | None = None):
        self._G = G
        self.nodes, self.tol, self.max_pieces = int(nodes), float(tol), int(max_pieces)
        self.evaluations = 0
        count = 1 if width is None else int(min(max(np.ceil((u_hi - u_lo) / width), 1), self.max_pieces))
        self._build(np.linspace(float(u_lo), float(u_hi), count + 1))

    def G(self, u) -> np.ndarray:
        """``G(u)`` exactly (counted in :attr:`evaluations`)."""
        u = np.asarray(u, dtype=float)
        self.evaluations += u.size
        return np.asarray(self._G(u), dtype=float)

    def _build(self, edges: np.ndarray) -> None:
        nodes = np.cos(np.pi * (np.arange(self.nodes) + 0.5) / self.nodes)
        todo = list(zip(edges[:-1], edges[1:]))
        done = []
        while todo:
            a = np.array([p[0] for p in todo])
            b = np.array([p[1] for p in todo])
            mid, half = (a + b) / 2, (b - a) / 2
            g_nodes = self.G(mid[:, None] + half[:, None] * nodes[None, :])
            coef = _cheb_coefficients(g_nodes)
            g_check = self.G(mid[:, None] + half[:, None] * _CHECK[None, :])
            approx = np.stack([_clenshaw(coef, np.full(a.size, x)) for x in _CHECK], axis=1)
            err = np.max(np.abs(approx - g_check), axis=1)
            scale = np.maximum(1.0, np.max(np.abs(g_check), axis=1))
            # halve the failing pieces while the total stays within max_pieces
            failing = {i for i in range(a.size) if not (err[i] <= self.tol * scale[i] or half[i] < 1e-6)}
            room = self.max_pieces - len(done) - a.size
            todo = []
            for i in range(a.size):
                if i in failing and room > 0:
                    todo += [(a[i], mid[i]), (mid[i], b[i])]
                    room -= 1
                else:
                    done.append((a[i], b[i], coef[i], err[i]))
        done.sort(key=lambda p: p[0])
        self.edges = np.array([p[0] for p in done] + [done[-1][1]])
        self.coef = np.stack([p[2] for p in done])
        self.dcoef = _derivative_coefficients(self.coef)
        self.piece_error = np.array([p[3] for p in done])
        self.G_edges = self.G(self.edges)  # decreasing

    @property
    def pieces(self) -> int:
        """Number of polynomial pieces."""
        return self.coef.shape[0]

    def invert(self, target_G: np.ndarray, maxiter: int = 30):
        """``u`` with ``G(u) = target_G`` (each inside ``[G(u_hi), G(u_lo)]``): returns ``u``, the
        polynomial residual, the piece's verified error, ``dG/du`` at ``u`` and the most iterations
        any point used."""
        y = np.asarray(target_G, dtype=float).ravel()
        # G decreases: search the reversed edge values
        j = np.clip(self.pieces - np.searchsorted(self.G_edges[::-1], y, side="left"), 0, self.pieces - 1)
        u, residual, slope = np.empty_like(y), np.empty_like(y), np.empty_like(y)
        most = 0
        order = np.argsort(j, kind="stable")
        starts = np.searchsorted(j[order], np.arange(self.pieces + 1))
        for p in range(self.pieces):  # one piece at a time: scalar coefficients, no gathers
            idx = order[starts[p]:starts[p + 1]]
            if idx.size:
                x, r, it = _newton_on_piece(self.coef[p], self.dcoef[p], y[idx], self.G_edges[p], self.G_edges[p + 1],
                                            maxiter)
                a, b = self.edges[p], self.edges[p + 1]
                u[idx] = (a + b) / 2 + (b - a) / 2 * x
                residual[idx] = r
                slope[idx] = _clenshaw1(self.dcoef[p], x) * 2.0 / (b - a)
                most = max(most, it)
        return u, residual, self.piece_error[j], slope, most

    def times(self, alpha: np.ndarray):
        """For ``G(u) = ln alpha`` with ``u = ln tau`` (``tau = e^{2t} - 1``): the OU times
        ``t = (1/2) ln(1 + e^u)``, the polynomial residual in ``G``, the relative error bound in
        ``t`` (verified piece error plus residual, carried through ``dG/du``) and the most Newton
        iterations any point used."""
        u, resid_G, bound, slope, iters = self.invert(np.log(alpha))
        t = 0.5 * np.log1p(np.exp(u))
        # dG -> du = dG / |G'| -> dt = sigmoid(u) du / 2, relative to t
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            du = (np.abs(resid_G) + bound) / np.abs(slope)
            dt_rel = 0.5 * du / (1.0 + np.exp(-u)) / t
        return t, resid_G, dt_rel, iters



class ChebyshevInverse(PiecewiseChebyshev):
    """:class:`PiecewiseChebyshev` of ``G(u) = ln F(u)`` for a spectrum, checked to ``PIECE_TOL``.

    Parameters
    ----------
    eigenvalues : array_like
        The spectrum (``N`` values, at least one positive).
    u_lo, u_hi : float
        The range of ``u = ln tau`` to cover (``u_lo < u_hi``).
    """

    def __init__(self, eigenvalues, u_lo: float, u_hi: float):
        log_lam, weights = _log_spectrum(eigenvalues)
        self.distinct = log_lam.size
        super().__init__(lambda u: np.log(softplus_sum(u, log_lam, weights)), u_lo, u_hi)

    def collapse_result(self, alpha: np.ndarray, shape) -> SolverResult:
        """``t_C`` for every ``alpha`` (inside the covered range) as a :class:`SolverResult`."""
        a = np.asarray(alpha, dtype=float).ravel()
        t_c, resid_G, dt_rel, iters = self.times(a)
        ok = np.isfinite(t_c) & (t_c > 0) & (dt_rel <= RESULT_TOL)
        # f(t_C) = alpha - F(u) = alpha (1 - e^{G - ln alpha}) ~ -alpha * residual in G
        return SolverResult(t_c.reshape(shape), ok.reshape(shape),
                            np.where(ok, CONVERGED, RESIDUAL_TOO_LARGE).reshape(shape),
                            np.full(shape, iters), np.full(shape, self.evaluations), (-a * np.expm1(resid_G)).reshape(shape),
                            f"Chebyshev inversion of ln F ({self.pieces} pieces, {self.distinct} distinct eigenvalues, "
                            f"verified error <= {float(self.piece_error.max()):.1e})")


def _root_u(log_lam, weights, alpha: float, lo: float, hi: float) -> float:
    """Scalar bisection of ``F(u) = alpha`` on ``[lo, hi]`` to 1e-9 (the grid's range, not its values)."""
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if softplus_sum(np.array([mid]), log_lam, weights)[0] > alpha:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-9 * max(1.0, abs(mid)):
            break
    return 0.5 * (lo + hi)


def u_range(eigenvalues, alpha_min: float, alpha_max: float, lo: float, hi: float) -> tuple[float, float]:
    """The range of ``u`` holding the roots for ``alpha`` in ``[alpha_min, alpha_max]``, padded."""
    log_lam, w = _log_spectrum(eigenvalues)
    u_lo = _root_u(log_lam, w, alpha_max, lo, hi)
    u_hi = _root_u(log_lam, w, alpha_min, lo, hi)
    pad = 1e-3 * max(1.0, u_hi - u_lo)
    return u_lo - pad, u_hi + pad
