"""table.tex: escaped text, symbols in math mode, booktabs; compiled when a LaTeX engine exists."""

import re

import numpy as np
import pytest

from compare.latex import escape_text, symbol_to_latex, tabular
from compare.table import ComparisonRow, make_table, to_latex

@pytest.mark.parametrize("plain,latex", [
    ("t_S = ln(Lambda)/2", r"$t_{S} = \ln(\Lambda)/2$"),
    ("t_C^gauss", r"$t_{C}^{\mathrm{gauss}}$"),
    ("phi(t_kappa=1)", r"$\phi(t_{\kappa=1})$"),
    ("t_gauss_rem", r"$t_{\mathrm{gauss},\mathrm{rem}}$"),  # a chained subscript: one, not a double subscript
    ("s^2[r + (1-r)d/(n-d-2)]", r"$s^{2}[r + (1-r)d/(n-d-2)]$"),
    ("lim t_C^N - theory(N)", r"$\lim t_{C}^{N} - \mathrm{theory}(N)$"),
    ("Pr(Delta > 0)", r"$\Pr(\Delta > 0)$"),
    ("r* (shifted)", r"$r^{*} (\mathrm{shifted})$"),
    ("sigma_(EDM)", r"$\sigma_{\mathrm{EDM}}$"),
    ("", ""),
])
def test_symbols_are_typeset(plain, latex):
    assert symbol_to_latex(plain) == latex


def test_text_is_escaped():
    assert escape_text("95% of a_b & c#1 {x} ~ ^ $5 \\") == (
        r"95\% of a\_b \& c\#1 \{x\} \textasciitilde{} \textasciicircum{} \$5 \textbackslash{}")


def _table():
    rows = [ComparisonRow("speciation time (top eigenvalue)", "t_S = ln(Lambda)/2", 0.77, 0.781, 0.76, 0.80, 0.95,
                          tolerance=0.03, note="100% & more", extra={"P": 1000}),
            ComparisonRow("cloning probability at kappa = 1", "phi(t_kappa=1)", 0.5, float("nan"), np.nan, np.nan,
                          0.95, extra={"config": "relu_0.5"}),
            ComparisonRow("collapse time, 50% rule", "t_C^N", 0.3, 0.29, 0.28, 0.31, 0.9, basis="post-hoc")]
    return make_table(rows)


def _strip_escapes(line: str) -> str:
    return re.sub(r"\\[%&$#{}_]", "", line)


def test_table_tex_is_well_formed():
    tex = to_latex(_table())
    lines = tex.strip().splitlines()
    assert lines[0].startswith("%") and r"\toprule" in lines and r"\bottomrule" in lines
    header = lines[lines.index(r"\toprule") + 1]
    columns = header.count("&") + 1
    body = lines[lines.index(r"\midrule") + 1:lines.index(r"\bottomrule")]
    assert len(body) == 3
    for line in lines[1:]:
        bare = _strip_escapes(line)
        assert "%" not in bare, line  # a raw % would start a comment
        assert bare.count("$") % 2 == 0, line
        assert bare.count("{") == bare.count("}"), line
    for line in [header] + body:
        assert _strip_escapes(line).count("&") == columns - 1 and line.endswith(r"\\")
    assert r"$t_{S} = \ln(\Lambda)/2$" in tex and r"95\%" in tex and "relu\\_0.5" in tex
    assert "in interval" in header and "note" not in header  # notes stay in table.md / table.csv


def test_tabular_aligns_numbers_right():
    import pandas as pd

    tex = tabular(pd.DataFrame({"name": ["a_1"], "x": [1.5]}), numeric_columns=("x",), math_columns=())
    assert r"\begin{tabular}{lr}" in tex and r"a\_1 & 1.5 \\" in tex


def test_table_tex_compiles(compile_latex):
    pdf = compile_latex(TABLE_DOCUMENT.format(table=to_latex(_table(), ["a caveat with 50% in it"])))
    assert pdf.stat().st_size > 1000


#: How a paper inputs a table.tex: booktabs is the one package it needs.
TABLE_DOCUMENT = "\\documentclass{{article}}\n\\usepackage{{booktabs}}\n\\begin{{document}}\n{table}\n\\end{{document}}\n"


def test_caveats_travel_with_every_output(tmp_path):
    from compare.driver import write_outputs
    from compare.table import write_table

    df = _table()
    paths = write_table(df, tmp_path, caveats=["t_g uses a reconstructed definition (50% confidence)"])
    assert "caveat: t_g uses a reconstructed definition" in paths["md"].read_text()
    tex = paths["tex"].read_text()
    assert tex.startswith("% caveat: t_g uses a reconstructed definition (50% confidence)\n")
    assert "caveat" not in paths["csv"].read_text()  # the CSV stays a data table

    from compare.driver import ExperimentResult

    result = ExperimentResult("x", {}, df, {"t_c": 1.0}, caveats=["an approximation"])
    write_outputs(tmp_path / "run", result)
    import json

    theory = json.loads((tmp_path / "run" / "theory.json").read_text())
    assert theory["caveats"] == ["an approximation"] and theory["t_c"] == 1.0


def test_experiments_declare_their_caveats():
    from compare.registry import EXPERIMENTS

    for name in ("hmm", "networks", "digits", "patches", "subspaces", "gaussian-mixture"):
        caveats = EXPERIMENTS[name].definition.caveats
        assert caveats and all(isinstance(c, str) and c for c in caveats), name
        assert any("docs/" in c for c in caveats), name  # each points at where it is explained
    assert any("reconstructed" in c for c in EXPERIMENTS["hmm"].definition.caveats)


def test_figure_checks_flag_what_a_referee_would():
    from compare.plots import figure_problems, new_figure

    fig, ax = new_figure()
    ax.plot([1, 2], [1, 2], label="a")
    ax.plot([1, 2], [2, 3], label="b")
    ax.set_xlim(1, 1.5)
    problems = figure_problems(fig)
    assert "no title" in problems and any("missing axis label" in p for p in problems)
    assert any("outside the axis limits" in p for p in problems) and any("without a legend" in p for p in problems)
    ax.set_xlim(0.5, 2.5)
    ax.set_title("t")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.axvline(2.0, label="_vertical")  # a line in axes units is not data outside the limits
    ax.legend()
    assert figure_problems(fig) == []
    # error bars must say what they are (here or in the title / axis label) ...
    bars = ax.errorbar([1.5], [1.5], yerr=[0.1], fmt="o", label="measured")
    ax.legend()
    assert figure_problems(fig) == ["t: error bars 'measured' do not state their level"]
    bars.set_label("measured (95% interval)")
    ax.legend()
    assert figure_problems(fig) == []
    # ... and no title or legend may run off the figure
    ax.set_title("a title far too long for a one-column figure of a paper, " * 3)
    assert any("is cut off by the figure's edge" in p for p in figure_problems(fig))


def test_save_figure_writes_the_format_its_suffix_names(tmp_path):
    from compare.plots import new_figure, save_figure

    fig, ax = new_figure()
    ax.plot([0, 1], [0, 1])
    assert save_figure(fig, tmp_path / "a.pdf").read_bytes().startswith(b"%PDF")
    assert save_figure(fig, tmp_path / "a.png").read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="plot file must end in .png, .pdf, .svg"):
        save_figure(fig, tmp_path / "a.jpg")


def test_compare_writes_pdf_figures_and_checks_plot_suffixes_first(tmp_path, capsys):
    from compare.cli import main

    out = tmp_path / "ld"
    assert main(["compare", "linear-denoiser", "--n", "4,12", "--repeats", "20", "--fresh", "100", "--out", str(out),
                 "--figure-format", "png+pdf", "--quiet"]) == 0
    assert (out / "variance.pdf").read_bytes().startswith(b"%PDF") and (out / "variance.png").exists()
    assert "variance.pdf" in capsys.readouterr().out
    assert main(["theory", "linear-denoiser", "--d", "10", "--T", "1", "--ell", "1", "--n", "13,20",
                 "--plot", str(tmp_path / "v.jpg")]) == 2
    assert "plot file must end in .png, .pdf, .svg" in capsys.readouterr().err
