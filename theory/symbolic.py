"""Symbolic derivations (sympy) of the closed forms used in :mod:`theory.gaussian` and
:mod:`theory.mixture`, with LaTeX export.

Each function starts from the defining equation, solves it with sympy, and returns a
:class:`Derivation` holding the equation, the solved expression and its LaTeX. The tests
lambdify the solutions and compare them with the numeric roots.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

__all__ = [
    "Derivation",
    "SYMBOLS",
    "excess_entropy_gaussian_direction",
    "collapse_time_isotropic",
    "speciation_time_hessian",
    "speciation_time_curvature",
    "speciation_time_eigenvalue",
    "critical_tau_gauss_rem",
    "hmm_collapse_orthogonal",
    "hmm_collapse_small_alpha_D",
    "critical_tau_block",
    "all_derivations",
    "latex_report",
]

t, alpha, sigma, mu, N, lam = sp.symbols("t alpha sigma mu N lambda", positive=True)
y = sp.Symbol("y", positive=True)  # y = e^{-2t}
q = sp.Symbol("q", real=True)
SYMBOLS = {"t": t, "alpha": alpha, "sigma": sigma, "mu": mu, "N": N, "lambda": lam}


#: How symbols print: ``L`` (``ln P`` in the subspace rules) prints as ``\ln P``.
_LATEX_NAMES = {sp.Symbol("L", positive=True): r"\ln P"}


@dataclass(frozen=True)
class Derivation:
    """A solved defining equation. ``solution`` is sympy's expression for ``variable``;
    ``display`` is the form a paper would print, checked equal to ``solution`` (symbolically, or at
    random points where simplification cannot decide); ``source`` says where the equation is
    derived or cited; ``where`` defines its symbols."""

    name: str
    equation: sp.Eq
    variable: sp.Symbol
    solution: sp.Expr
    display: sp.Expr | None = None
    source: str = ""
    where: str = ""

    def __post_init__(self):
        if self.display is not None and not _same(self.display, self.solution):
            raise RuntimeError(f"{self.name}: the display form differs from the solution")

    def _tex(self, expr) -> str:
        return sp.latex(expr, ln_notation=True, symbol_names=_LATEX_NAMES)

    @property
    def latex_parts(self) -> tuple[str, str]:
        """The defining equation and ``variable = display`` in LaTeX (``ln`` for the natural log)."""
        shown = self.display if self.display is not None else self.solution
        return self._tex(self.equation), f"{self._tex(self.variable)} = {self._tex(shown)}"

    @property
    def latex(self) -> str:
        """``equation => variable = display`` in LaTeX, on one line."""
        lhs, rhs = self.latex_parts
        return f"{lhs} \\;\\Rightarrow\\; {rhs}"

    @property
    def label(self) -> str:
        """A LaTeX label: the name in lower case, words joined by hyphens."""
        return "eq:" + "-".join("".join(c if c.isalnum() else " " for c in self.name.lower()).split())

    def lambdify(self, *args: sp.Symbol):
        """A numpy function of ``args`` (default: the free symbols sorted by name)."""
        syms = args or tuple(sorted(self.solution.free_symbols, key=lambda s: s.name))
        return sp.lambdify(syms, self.solution, "numpy")


def _same(a: sp.Expr, b: sp.Expr) -> bool:
    """``a == b`` as functions: ``simplify(a - b) == 0``, or agreement to 1e-12 at 20 random points
    of the positive orthant (where simplify cannot decide; the symbols are positive)."""
    if sp.simplify(a - b) == 0:
        return True
    import random

    rng = random.Random(0)
    syms = sorted((a - b).free_symbols, key=lambda x: x.name)
    for _ in range(20):
        point = {x: sp.Float(rng.uniform(0.1, 3.0), 30) for x in syms}
        va, vb = complex(a.subs(point).evalf(30)), complex(b.subs(point).evalf(30))
        if abs(va - vb) > 1e-12 * max(1.0, abs(vb)):
            return False
    return True


def _delta(tt):
    return 1 - sp.exp(-2 * tt)


def _solve_for_t(equation: sp.Expr) -> sp.Expr:
    """Solve ``equation(t) = 0`` via ``y = e^{-2t}`` and return the positive root ``t = -ln(y)/2``."""
    in_y = sp.simplify(equation.subs(sp.exp(-2 * t), y).subs(sp.exp(2 * t), 1 / y))
    sample = {alpha: sp.Rational(3, 10), sigma: sp.Rational(3, 5), mu: 1, N: 7, lam: 2}
    roots = [r for r in sp.solve(sp.Eq(in_y, 0), y) if r.is_positive is not False and r.subs(sample).evalf() > 0]
    if len(roots) != 1:
        raise RuntimeError(f"expected one positive root, got {roots}")
    # Rationalise 1/y so that removable singularities (e.g. sigma = 1) disappear.
    inverse = sp.simplify(sp.radsimp(1 / roots[0]))
    return sp.log(inverse) / 2


@lru_cache(maxsize=None)
def excess_entropy_gaussian_direction() -> Derivation:
    """Excess entropy of one Gaussian direction of variance ``lambda``.

    ``f = alpha + (1/2) ln(2 pi e Delta_t) - (1/2) ln(2 pi e (lambda e^{-2t} + Delta_t))``.
    """
    f = sp.Symbol("f")
    defining = alpha + sp.log(2 * sp.pi * sp.E * _delta(t)) / 2 - sp.log(
        2 * sp.pi * sp.E * (lam * sp.exp(-2 * t) + _delta(t))
    ) / 2
    # The 2 pi e factors cancel inside one logarithm; write the ratio of variances in y = e^{-2t}.
    ratio = sp.logcombine(sp.expand_log(defining - alpha, force=True), force=True)
    ratio = sp.simplify(sp.exp(-2 * ratio).subs(sp.exp(-2 * t), y))
    if sp.simplify(ratio.subs(y, sp.exp(-2 * t)) - (1 + lam / (sp.exp(2 * t) - 1))) != 0:
        raise RuntimeError("excess-entropy simplification failed")
    solution = alpha - sp.log(1 + lam / (sp.exp(2 * t) - 1)) / 2
    return Derivation("excess entropy per Gaussian direction", sp.Eq(f, defining), f, solution,
                      source="docs/gaussian-mixture.md, Collapse (entropy of a Gaussian direction) [BBBM24]",
                      where="lambda: the direction's variance; alpha = ln P / N")


@lru_cache(maxsize=None)
def collapse_time_isotropic() -> Derivation:
    """``f(t_C) = 0`` for isotropic variance ``sigma^2``: ``t_C = (1/2) ln(1 + sigma^2/(e^{2 alpha} - 1))``."""
    f = excess_entropy_gaussian_direction().solution.subs(lam, sigma**2)
    # f = 0  <=>  exp(2 (alpha - f)) = exp(2 alpha), an algebraic equation in y = e^{-2t}.
    sol = _solve_for_t(sp.exp(2 * (alpha - f)) - sp.exp(2 * alpha))
    sol = sp.simplify(sp.log(sp.simplify(sp.exp(2 * sol))) / 2)
    display = sp.log(1 + sigma**2 / (sp.exp(2 * alpha) - 1)) / 2
    return Derivation("collapse time, isotropic", sp.Eq(f, 0), t, sol, display,
                      source="docs/gaussian-mixture.md, Collapse [BBBM24]", where="sigma^2: the variance of every direction")


@lru_cache(maxsize=None)
def speciation_time_hessian() -> Derivation:
    """Hessian of ``log P_t`` at the origin along ``m`` vanishes (bimodality, ``kappa = 1``).

    Along ``m`` the mixture density is ``N(0, Gamma) e^{-M^2 e^{-2t}/(2 Gamma)} cosh(q M e^{-t}/Gamma)``
    with ``M^2 = mu^2 N`` and ``Gamma = Delta_t + sigma^2 e^{-2t}``.
    """
    gamma = _delta(t) + sigma**2 * sp.exp(-2 * t)
    m = mu * sp.sqrt(N)
    log_p = -(q**2) / (2 * gamma) + sp.log(sp.cosh(q * m * sp.exp(-t) / gamma))
    hessian = sp.simplify(sp.diff(log_p, q, 2).subs(q, 0))
    sol = _solve_for_t(sp.numer(sp.together(hessian)))
    return Derivation("speciation time, Hessian (bimodality)", sp.Eq(sp.Symbol("H_{mm}(0)"), hessian), t, sol,
                      sp.log(N * mu**2 + 1 - sigma**2) / 2,
                      source="docs/gaussian-mixture.md, Speciation (bimodality of P_t along m)",
                      where="|m|^2 = mu^2 N: the class means' squared norm; sigma: the within-class standard deviation")


@lru_cache(maxsize=None)
def speciation_time_curvature() -> Derivation:
    """The backward drift ``x + 2 S(x)`` along ``m`` changes stability at the origin (sigma = 1 in
    docs/gaussian-mixture.md; general ``sigma`` here)."""
    gamma = _delta(t) + sigma**2 * sp.exp(-2 * t)
    m = mu * sp.sqrt(N)
    score_par = -q / gamma + m * sp.exp(-t) / gamma * sp.tanh(q * m * sp.exp(-t) / gamma)
    slope = sp.simplify(sp.diff(q + 2 * score_par, q).subs(q, 0))
    sol = _solve_for_t(sp.numer(sp.together(slope)))
    display = sp.log(N * mu**2 + sp.sqrt(N**2 * mu**4 + (1 - sigma**2) ** 2)) / 2
    return Derivation("speciation time, drift curvature", sp.Eq(sp.Symbol("V''(0)"), -slope), t, sol, display,
                      source="docs/gaussian-mixture.md, Speciation (stability of the backward drift at the origin)",
                      where="|m|^2 = mu^2 N; sigma: the within-class standard deviation")


@lru_cache(maxsize=None)
def speciation_time_eigenvalue() -> Derivation:
    """Leading order: signal ``Lambda e^{-2t}`` equals one unit of noise -> ``t_S = (1/2) ln Lambda``."""
    Lambda = sp.Symbol("Lambda", positive=True)
    sol = sp.solve(sp.Eq(Lambda * sp.exp(-2 * t), 1), t)[0]
    return Derivation("speciation time, top eigenvalue", sp.Eq(Lambda * sp.exp(-2 * t), 1), t, sp.simplify(sol),
                      sp.log(Lambda) / 2, source="docs/gaussian-mixture.md, Speciation [BBBM24]",
                      where="Lambda: the largest eigenvalue of the data covariance")


@lru_cache(maxsize=None)
def critical_tau_gauss_rem() -> Derivation:
    """Per-direction Gaussian REM [AVS+24]: energy variance ``v = tau s + g S2/2`` condenses at
    ``beta_c = sqrt(2 ln P / v)``; at ``beta = 1/tau`` this is ``2 ln P tau^2 - s tau - g S2/2 = 0``."""
    tau, s, g, S2, L = sp.symbols("tau s g S_2 L", positive=True)  # L = ln P
    v = tau * s + g * S2 / 2
    beta_c = sp.sqrt(2 * L / v)
    equation = sp.Eq(1 / tau, beta_c)
    # Both sides are positive, so squaring is an equivalence: v = 2 ln P tau^2.
    roots = sp.solve(sp.Eq(1 / tau**2, beta_c**2), tau)
    positive = [r for r in roots if r.subs({s: 1, g: 1, S2: 2, L: 3}).evalf() > 0]
    if len(positive) != 1:
        raise RuntimeError(f"expected one positive root, got {roots}")
    display = (s + sp.sqrt(s**2 + 4 * L * g * S2)) / (4 * L)
    return Derivation("critical noise, per-direction Gaussian REM", equation, tau, sp.simplify(positive[0]), display,
                      source="docs/subspaces.md, The two rules [AVS+24]",
                      where="s: the direction's variance; S_2: the sum of squared variances; g = 1 (g = 0 for "
                            "sphere-projected data); tau: the noise variance")


@lru_cache(maxsize=None)
def critical_tau_block() -> Derivation:
    """Exact annealed per-block rule: ``ln P = (d/2) ln(1 + s/tau)``."""
    tau, s, d, L = sp.symbols("tau s d L", positive=True)  # L = ln P
    equation = sp.Eq(L, d / 2 * sp.log(1 + s / tau))
    (root,) = sp.solve(equation, tau)
    return Derivation("critical noise, exact per-block rule", equation, tau, sp.simplify(root),
                      s / (sp.exp(2 * L / d) - 1), source="docs/subspaces.md, The two rules (annealed per block)",
                      where="d, s: the block's dimension and variance; tau: the noise variance")


@lru_cache(maxsize=None)
def hmm_collapse_orthogonal() -> Derivation:
    """Orthogonal-column ``F``: ``alpha = (alpha_D/2) ln(1 + g/alpha_D)`` (``D`` eigenvalues
    ``1/alpha_D`` of ``C``) gives ``g_c = alpha_D (e^{2 alpha/alpha_D} - 1)``."""
    g, aD = sp.symbols("g alpha_D", positive=True)
    # i(g) = (1/2N) sum_k ln(1 + g c_k) with D = alpha_D N eigenvalues equal to 1/alpha_D
    i_of_g = sp.Rational(1, 2) * aD * sp.log(1 + g / aD)
    equation = sp.Eq(alpha, i_of_g)
    (root,) = sp.solve(equation, g)
    return Derivation("collapse signal-to-noise, hidden manifold with orthogonal F", equation, g, sp.simplify(root),
                      aD * (sp.exp(2 * alpha / aD) - 1), source="docs/hmm.md, 2. Collapse, onset, basin",
                      where="g = 1/(e^{2t} - 1): the signal-to-noise ratio; alpha_D = D/N")


@lru_cache(maxsize=None)
def hmm_collapse_small_alpha_D() -> Derivation:
    """``alpha_D -> 0``: ``alpha = (alpha_D/2) ln(1 + kappa g/alpha_D)`` solved for ``t``."""
    aD, kappa, g = sp.symbols("alpha_D kappa g", positive=True)
    equation = sp.Eq(alpha, aD / 2 * sp.log(1 + kappa * g / aD))
    (g_c,) = sp.solve(equation, g)
    sol = sp.log(1 + 1 / g_c) / 2  # t = (1/2) ln(1 + 1/g)
    equation = equation.subs(g, 1 / (sp.exp(2 * t) - 1))
    display = sp.log(1 + kappa / (aD * (sp.exp(2 * alpha / aD) - 1))) / 2
    return Derivation("collapse time, hidden manifold, alpha_D -> 0", equation, t, sp.simplify(sol), display,
                      source="docs/hmm.md, 2. Collapse, onset, basin (the alpha_D -> 0 limit)",
                      where="kappa = E[phi~'(h)^2]; alpha_D = D/N")


def all_derivations() -> list[Derivation]:
    """Every derivation, in the order of the report."""
    return [
        excess_entropy_gaussian_direction(),
        collapse_time_isotropic(),
        speciation_time_eigenvalue(),
        speciation_time_hessian(),
        speciation_time_curvature(),
        critical_tau_gauss_rem(),
        critical_tau_block(),
        hmm_collapse_orthogonal(),
        hmm_collapse_small_alpha_D(),
    ]


def latex_report(fmt: str = "align") -> str:
    """All derivations: ``"align"`` (one ``align*`` block, each line's name as a comment),
    ``"tex"`` (a complete document, one labelled equation per derivation with its source and
    symbols) or ``"md"`` (Markdown with ``$$...$$``)."""
    if fmt == "align":
        lines = ["\\begin{align*}"]
        for d in all_derivations():
            lines.append(f"% {d.name}")
            lines.append(f"&{d.latex} \\\\")
        lines.append("\\end{align*}")
        return "\n".join(lines)
    if fmt == "tex":
        out = ["\\documentclass{article}", "\\usepackage{amsmath}", "\\usepackage[margin=2cm]{geometry}",
               "\\begin{document}", "\\section*{diffusion-regimes: closed forms (sympy derivations)}"]
        for d in all_derivations():
            lhs, rhs = d.latex_parts
            out += [f"\\paragraph{{{_tex_text(d.name)}.}} {_tex_text(d.source)}. Symbols: {_tex_text(d.where)}.",
                    "\\begin{equation}", f"\\label{{{d.label}}}", "\\begin{aligned}", f"& {lhs} \\\\",
                    f"\\Rightarrow\\; & {rhs}", "\\end{aligned}", "\\end{equation}"]
        out.append("\\end{document}")
        return "\n".join(out) + "\n"
    if fmt == "md":
        out = ["# Closed forms (sympy derivations)", "",
               "Generated by `regimes theory latex --format md`; each equation is solved by sympy from its "
               "defining equation (left) and the printed form is checked equal to sympy's solution.", ""]
        for d in all_derivations():
            out += [f"## {d.name}", "", f"Source: {d.source}. Symbols: {d.where}.", "", f"$$ {d.latex} $$", ""]
        return "\n".join(out)
    raise ValueError(f"fmt must be 'align', 'tex' or 'md', got {fmt!r}")


def _tex_text(text: str) -> str:
    """Plain text for a LaTeX paragraph: specials escaped, ``x_y`` and ``x^2`` kept as text."""
    out = []
    for ch in text:
        out.append({"_": "\\_", "^": "\\^{}", "%": "\\%", "&": "\\&", "#": "\\#", "~": "\\~{}",
                    "$": "\\$"}.get(ch, ch))
    return "".join(out)
