import numpy as np
import pytest
import sympy as sp

from theory import TwoClassMixture, collapse_time, collapse_time_isotropic, excess_entropy
from theory import symbolic as S


def test_collapse_time_derivation_matches_numeric_root():
    d = S.collapse_time_isotropic()
    f = sp.lambdify((S.alpha, S.sigma), d.solution, "numpy")
    for a in [1e-3, 0.05, 0.7, 3.0]:
        for sigma in [0.5, 1.0, 2.0]:
            numeric = collapse_time(np.full(16, sigma**2), a).value
            assert f(a, sigma) == pytest.approx(numeric, rel=1e-12)
            assert f(a, sigma) == pytest.approx(collapse_time_isotropic(a, sigma**2).value, rel=1e-12)
    # the closed form of docs/gaussian-mixture.md, symbolically
    target = sp.log(1 + S.sigma**2 / (sp.exp(2 * S.alpha) - 1)) / 2
    assert sp.simplify(sp.exp(2 * d.solution) - sp.exp(2 * target)) == 0


def test_excess_entropy_derivation_matches_numeric():
    d = S.excess_entropy_gaussian_direction()
    f = sp.lambdify((S.alpha, S.SYMBOLS["lambda"], S.t), d.solution, "numpy")
    for t in [0.1, 1.0, 3.0]:
        assert f(0.2, 3.0, t) == pytest.approx(excess_entropy(t, [3.0], 0.2), rel=1e-13)


@pytest.mark.parametrize("criterion,derivation", [
    ("bimodality", S.speciation_time_hessian),
    ("curvature", S.speciation_time_curvature),
])
def test_speciation_derivations_match_theory(criterion, derivation):
    f = sp.lambdify((S.N, S.mu, S.sigma), derivation().solution, "numpy")
    for N, mu, sigma in [(256, 1.0, 1.0), (100, 0.7, 0.5), (1000, 1.2, 1.6)]:
        m = TwoClassMixture(N, 1000, mu=mu, sigma=sigma)
        assert f(N, mu, sigma) == pytest.approx(m.speciation_time(criterion), rel=1e-13)


def test_speciation_hessian_root_is_cloning_level():
    f = sp.lambdify((S.N, S.mu, S.sigma), S.speciation_time_hessian().solution, "numpy")
    m = TwoClassMixture(256, 1000)
    assert m.cloning_probability(f(256, 1.0, 1.0)) == pytest.approx(0.7752002454, abs=1e-10)


def test_eigenvalue_derivation():
    d = S.speciation_time_eigenvalue()
    assert sp.simplify(d.solution - sp.log(sp.Symbol("Lambda", positive=True)) / 2) == 0


def test_latex_export():
    tex = S.latex_report()
    assert tex.startswith("\\begin{align*}") and tex.rstrip().endswith("\\end{align*}")
    for d in S.all_derivations():
        assert d.name in tex
        assert "\\Rightarrow" in d.latex


def test_display_forms_are_checked_and_sourced():
    for d in S.all_derivations():
        assert d.source and d.where, d.name
        if d.display is not None:
            f = sp.lambdify(sorted(d.solution.free_symbols, key=lambda x: x.name), d.solution - d.display)
            assert abs(f(*[0.7 + 0.3 * k for k in range(len(d.solution.free_symbols))])) < 1e-12, d.name
    # a display form that is not the solution is refused
    with pytest.raises(RuntimeError, match="display form differs"):
        S.Derivation("x", sp.Eq(S.t, 1), S.t, sp.Integer(1), display=sp.Integer(2))
    iso = S.collapse_time_isotropic().latex
    assert r"\ln{\left(\frac{\sigma^{2}}{e^{2 \alpha} - 1} + 1 \right)}" in iso and "log" not in iso
    assert r"\ln P" in S.critical_tau_block().latex and " L " not in S.critical_tau_block().latex + " "


def test_tex_and_markdown_reports():
    tex = S.latex_report("tex")
    assert tex.count("\\label{eq:") == len(S.all_derivations()) and tex.rstrip().endswith("\\end{document}")
    assert tex.count("{") - tex.count("\\{") == tex.count("}") - tex.count("\\}")
    md = S.latex_report("md")
    assert md.count("$$") == 2 * len(S.all_derivations()) and "Source: docs/" in md
    with pytest.raises(ValueError, match="fmt"):
        S.latex_report("html")


def test_tex_report_compiles(compile_latex):
    compile_latex(S.latex_report("tex"), "derivations")  # skips, saying so, where no LaTeX engine is on PATH


def test_docs_derivations_page_is_current():
    from pathlib import Path

    page = Path(__file__).resolve().parents[1] / "docs" / "derivations.md"
    assert page.read_text() == S.latex_report("md"), "regenerate: regimes theory latex --format md --out docs/derivations.md"
