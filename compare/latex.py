"""LaTeX for tables: escaped text, symbols typeset in math mode, booktabs rules.

The tables' ``symbol`` column holds a small plain-text notation (``t_S = ln(Lambda)/2``,
``t_C^gauss``, ``phi(t_kappa=1)``, ``s^2[r + (1-r)d/(n-d-2)]``); :func:`symbol_to_latex` typesets it:
Greek letter names become ``\\Lambda``, ``\\kappa``, ...; ``ln``, ``exp``, ``lim`` become operators;
other words of two or more letters become upright text (``\\mathrm{gauss}``); a sub- or superscript
takes the next word, number or bracketed group. Everything else is text, escaped by
:func:`escape_text` (``%``, ``&``, ``_``, ``#``, ``$``, braces, ``~``, ``^``, backslash).
"""

from __future__ import annotations

import math
import re

import pandas as pd

__all__ = ["escape_text", "symbol_to_latex", "tabular"]

_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
             "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "kappa", "lambda", "mu", "nu", "xi",
          "pi", "rho", "sigma", "tau", "phi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi",
          "Sigma", "Phi", "Psi", "Omega"}
_OPERATORS = {"ln", "log", "exp", "lim", "min", "max", "sup", "inf", "Pr"}  # all defined by LaTeX itself
_MATH_SPECIALS = {"\\": r"\backslash ", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "{": r"\{", "}": r"\}",
                  "~": r"\sim "}
_TOKEN = re.compile(r"[A-Za-z]+|\d+(?:\.\d+)?|\s+|.")


def escape_text(text) -> str:
    """``text`` with LaTeX's special characters escaped (safe in a table cell)."""
    return "".join(_SPECIALS.get(ch, ch) for ch in str(text))


def _word(tok: str) -> str:
    if tok in _GREEK:
        return "\\" + tok
    if tok in _OPERATORS:
        return "\\" + tok
    if tok.isalpha() and len(tok) > 1:
        return r"\mathrm{" + tok + "}"
    return tok


def _group(tokens: list[str], i: int) -> tuple[str, int]:
    """The LaTeX of the script argument starting at ``tokens[i]`` and the index after it."""
    if i >= len(tokens):
        return "{}", i
    tok = tokens[i]
    if tok in "([":  # a bracketed group: up to its matching bracket
        close, depth, j = {"(": ")", "[": "]"}[tok], 0, i
        while j < len(tokens):
            depth += tokens[j] == tok
            depth -= tokens[j] == close
            if depth == 0:
                break
            j += 1
        return "{" + _convert(tokens[i + 1:j]) + "}", j + 1
    end = i + 1
    # a subscript condition such as t_kappa=1: the "= number" belongs to the subscript
    if end + 1 < len(tokens) and tokens[end] == "=" and tokens[end + 1][0].isdigit():
        end += 2
    # a chained subscript such as t_gauss_rem: one subscript, its parts separated by commas
    # (a second "_" would be a double subscript, an error in LaTeX)
    parts = [tokens[i:end]]
    while end + 1 < len(tokens) and tokens[end] == "_" and tokens[end + 1][0].isalnum():
        parts.append([tokens[end + 1]])
        end += 2
    return "{" + ",".join(_convert(part) for part in parts) + "}", end


def _convert(tokens: list[str]) -> str:
    out, i = [], 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in ("_", "^"):
            arg, i = _group(tokens, i + 1)
            out.append(tok + arg)
            continue
        if tok.isspace():
            out.append(" ")
        elif tok[0].isalpha():
            out.append(_word(tok))
        elif tok in _MATH_SPECIALS:
            out.append(_MATH_SPECIALS[tok])
        elif tok == "*" and out and out[-1][-1:].isalnum():  # r* is r^*
            out.append("^{*}")
        else:
            out.append(tok)
        i += 1
    return "".join(out)


def symbol_to_latex(symbol) -> str:
    """A table's plain-text symbol typeset in math mode (``$...$``); empty for an empty symbol."""
    text = str(symbol).strip()
    if not text:
        return ""
    return "$" + _convert(_TOKEN.findall(text)).strip() + "$"


def _cell(value, column: str, math_columns: tuple) -> str:
    if column in math_columns:
        return symbol_to_latex(value)
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    return escape_text(value)


def tabular(df: pd.DataFrame, *, math_columns=("symbol",), headers: dict | None = None,
            numeric_columns=()) -> str:
    """``df`` as a booktabs ``tabular`` (needs ``\\usepackage{booktabs}``): cells escaped, the
    ``math_columns`` typeset by :func:`symbol_to_latex`, ``numeric_columns`` right-aligned,
    ``headers`` renaming columns (escaped too)."""
    headers = headers or {}
    align = "".join("r" if c in numeric_columns else "l" for c in df.columns)
    lines = ["% diffusion-regimes table: needs \\usepackage{booktabs}", f"\\begin{{tabular}}{{{align}}}", r"\toprule",
             " & ".join(escape_text(headers.get(c, c)) for c in df.columns) + r" \\", r"\midrule"]
    for row in df.itertuples(index=False):
        lines.append(" & ".join(_cell(v, c, math_columns) for v, c in zip(row, df.columns)) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)
