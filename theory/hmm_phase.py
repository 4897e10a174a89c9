"""Hidden-manifold model: one front door for linear and nonlinear ``phi``, the test cross-entropy
of the kernel estimate, and the phase diagrams (docs/hmm.md).

``hidden_manifold(alpha_D, phi, spectrum)`` returns a :class:`~theory.hmm_linear.LinearHMM` for
linear ``phi`` (exact spectral formulas) and a :class:`~theory.hmm.HiddenManifoldModel` otherwise;
both answer ``collapse_time``, ``onset_time``, ``basin``, ``generalization``, ``free_entropy``,
``mutual_information`` and ``asymptotic_collapse_time``.
"""

from __future__ import annotations

import numpy as np

from .hmm import HiddenManifoldModel
from .hmm_linear import LinearHMM
from .validation import InputError, require_positive

__all__ = ["hidden_manifold", "gaussian_equivalent", "kernel_cross_entropy", "regime_times", "regime_times_line",
           "regime_times_grid", "phase_diagram_alpha_t", "phase_boundaries_alpha_D", "T_G_CAVEAT"]

#: What every output of t_g (and tau_g) must say (docs/hmm.md, section 3).
T_G_CAVEAT = ("t_g and tau_g use a reconstructed definition: the minimiser of the kernel estimate's test "
              "cross-entropy (docs/hmm.md, section 3; medium-low confidence)")


def hidden_manifold(alpha_D: float, phi="linear", spectrum="mp"):
    """The hidden-manifold model at ``alpha_D`` (``spectrum`` applies to linear ``phi`` only)."""
    if isinstance(phi, str) and phi == "linear":
        return LinearHMM(alpha_D, spectrum)
    if isinstance(spectrum, str) and spectrum != "mp":
        raise InputError(f"spectrum={spectrum!r} needs phi='linear' (nonlinear phi uses Gaussian F, the 'mp' case)")
    return HiddenManifoldModel(alpha_D, phi)


def gaussian_equivalent(phi, eigenvalues) -> LinearHMM:
    """The Gaussian-equivalence model ``phi~(h) -> mu_1 h + mu_* noise`` for the spectrum
    ``eigenvalues`` of ``F F^T / D``: covariance ``mu_1^2 C + (1 - mu_1^2) I``,
    ``mu_1 = E[h phi~(h)]``. docs/hmm.md explains why it is wrong for this large-deviation question
    (it makes the data full rank); it is here so that simulations can show it."""
    from .activations import activation, gaussian_rule

    act = activation(phi)
    h, w = gaussian_rule(200, act.kinks)
    mu1 = float(w @ (h * act(h)))
    eig = np.asarray(eigenvalues, dtype=float)
    # alpha_D is irrelevant for an explicit spectrum
    return LinearHMM(1.0, np.clip(mu1 ** 2 * eig + (1 - mu1 ** 2), 0.0, None))


def kernel_cross_entropy(model, tau, alpha, *, tau_g: float | None = None, g_star: float | None = None):
    """Per-component test cross-entropy ``-(1/N) E ln Q_tau(xi)`` of the Gaussian kernel estimate
    ``Q_tau = (1/P) sum_mu N(xi^mu, tau I)`` on fresh data (the KL up to the data entropy)::

        tau >= 1/g*:  (1/2) ln(2 pi tau) - Phi_0(1/tau)                  (liquid)
        tau <  1/g*:  (1/2) ln(2 pi tau) + alpha + tau_g/(2 tau)          (condensed)

    minimal at ``tau = tau_g``. Vectorised over ``tau``. ``tau_g`` and ``g_star`` (e.g. from
    :func:`regime_times`) skip the generalisation solve when both are given."""
    tau = np.atleast_1d(require_positive("tau", tau)).astype(float)
    if tau_g is None or g_star is None:
        gen = model.generalization(alpha)
        tau_g, g_star = gen.tau_g, gen.g_star
    out = np.empty_like(tau)
    for i, tv in enumerate(tau):
        if tv * g_star >= 1:
            out[i] = 0.5 * np.log(2 * np.pi * tv) - model.free_entropy(1 / tv, 0.0)
        else:
            out[i] = 0.5 * np.log(2 * np.pi * tv) + alpha + tau_g / (2 * tv)
    return out


def regime_times(alpha: float, alpha_D: float, phi="linear", *, spectrum="mp", model=None) -> dict:
    """``t_c``, ``t_o``, ``t_g`` (and their ``g`` and ``tau`` equivalents) as one JSON-ready dict,
    with ``converged`` and each quantity's solver ``flags``.

    Nonlinear solves take seconds: pass ``model`` to reuse its warm starts, or use the on-disk
    cache of :mod:`compare.theory_cache` (the theory package does no file I/O)."""
    alpha = float(require_positive("alpha", alpha))
    return regime_times_line([alpha], alpha_D, phi, spectrum=spectrum, model=model)[0]


def regime_times_line(alphas, alpha_D: float, phi="linear", *, spectrum="mp", model=None) -> list[dict]:
    """:func:`regime_times` for every ``alpha`` of a line at fixed ``alpha_D``, each quantity
    solved along the line at once (for nonlinear ``phi``, 6 or more distinct alphas are read off one
    interpolated curve, :meth:`~theory.hmm.HiddenManifoldModel.collapse_time`)."""
    alphas = np.atleast_1d(np.asarray(require_positive("alpha", alphas), dtype=float))
    model = model if model is not None else hidden_manifold(alpha_D, phi, spectrum)
    tc, to, gen = model.collapse_time(alphas), model.onset_time(alphas), model.generalization(alphas)
    col = lambda v: np.broadcast_to(np.asarray(v), alphas.shape)
    flags = {q: col(r.flag) for q, r in (("t_c", tc), ("t_o", to), ("t_g", gen))}
    ok = col(tc.converged) & col(to.converged) & col(gen.converged)
    rows = []
    for k, a in enumerate(alphas):
        t_c, t_o = float(col(tc.value)[k]), float(col(to.value)[k])
        rows.append({"phi": phi if isinstance(phi, str) else "custom", "alpha": float(a), "alpha_D": float(alpha_D),
                     "t_c": t_c, "t_o": t_o, "t_g": float(col(gen.value)[k]),
                     "tau_c": float(np.expm1(2 * t_c)), "tau_o": float(np.expm1(2 * t_o)),
                     "tau_g": float(col(gen.tau_g)[k]), "g_star": float(col(gen.g_star)[k]),
                     "g_c": float(1 / np.expm1(2 * t_c)), "g_o": float(1 / np.expm1(2 * t_o)),
                     "converged": bool(ok[k]), "flags": {q: str(f[k]) for q, f in flags.items()}})
    return rows


def regime_times_grid(alphas, alpha_Ds, phi="linear", *, spectrum="mp", quantities=("t_c", "t_o", "t_g"),
                      callback=None) -> dict:
    """``t_c``, ``t_o``, ``t_g`` over the plane ``alpha x alpha_D``: one model per ``alpha_D``, each
    quantity solved along its line of ``alpha`` at once (for nonlinear ``phi`` by inverting one
    interpolated curve per line, :meth:`~theory.hmm.HiddenManifoldModel.collapse_time`).

    Returns ``{"alpha": (n_a,), "alpha_D": (n_D,), q: (n_D, n_a), "converged_" + q: (n_D, n_a), "method_" + q:
    [n_D strings]}`` for each ``q`` in ``quantities``. ``callback(alpha_D)`` is called after each line
    (a progress bar)."""
    alphas = np.atleast_1d(np.asarray(require_positive("alpha", alphas), dtype=float))
    aDs = np.atleast_1d(np.asarray(require_positive("alpha_D", alpha_Ds), dtype=float))
    unknown = set(quantities) - {"t_c", "t_o", "t_g"}
    if unknown or not quantities:
        raise InputError(f"quantities must be a non-empty subset of ('t_c', 't_o', 't_g'), got {tuple(quantities)}")
    out = {"alpha": alphas, "alpha_D": aDs}
    for q in quantities:
        out[q] = np.empty((aDs.size, alphas.size))
        out["converged_" + q] = np.zeros((aDs.size, alphas.size), dtype=bool)
        out["method_" + q] = []
    for i, aD in enumerate(aDs):
        model = hidden_manifold(float(aD), phi, spectrum)
        solvers = {"t_c": model.collapse_time, "t_o": model.onset_time, "t_g": model.generalization}
        for q in quantities:
            res = solvers[q](alphas)
            out[q][i] = res.value
            out["converged_" + q][i] = res.converged
            out["method_" + q].append(res.method)
        if callback is not None:
            callback(float(aD))
    return out


def phase_diagram_alpha_t(alpha_D: float, alphas, phi="linear", *, spectrum="mp", times=regime_times) -> dict:
    """The three curves ``t_o(alpha) > t_c(alpha) > t_g(alpha)`` at fixed ``alpha_D``.

    ``times(alpha, alpha_D, phi, spectrum=...)`` computes one point (default :func:`regime_times`;
    :func:`compare.theory_cache.cached_regime_times` reads and writes the disk cache)."""
    rows = [times(a, alpha_D, phi, spectrum=spectrum) for a in np.atleast_1d(alphas)]
    return {k: np.array([r[k] for r in rows]) for k in ("alpha", "t_c", "t_o", "t_g")}


def phase_boundaries_alpha_D(t: float, alpha_Ds, phi="linear", *, spectrum="mp") -> dict:
    """At fixed ``t``: the collapse boundary ``alpha = i(g)`` and the onset boundary
    ``alpha = -Phi_0(g)`` (``= i + B/2`` for linear phi) as functions of ``alpha_D``, with the
    curse-of-dimensionality limits: isotropic ``(1/2) ln(1 + g)`` and
    ``alpha_D -> 0``: ``(alpha_D/2) ln(1 + kappa g/alpha_D)``."""
    g = 1 / np.expm1(2 * float(require_positive("t", t)))
    aDs = np.atleast_1d(np.asarray(alpha_Ds, dtype=float))
    collapse, onset, small = [], [], []
    for aD in aDs:
        model = hidden_manifold(aD, phi, spectrum)
        collapse.append(model.mutual_information(g))
        onset.append(-model.free_entropy(g, 0.0))
        kappa = 1.0 if isinstance(model, LinearHMM) else model.activation.kappa
        small.append(0.5 * aD * np.log1p(kappa * g / aD))
    return {"alpha_D": aDs, "collapse": np.array(collapse), "onset": np.array(onset),
            "small_alpha_D": np.array(small), "isotropic": 0.5 * np.log1p(g)}
