"""Tidy theory-vs-simulation tables: one schema for every experiment.

One row per compared quantity with the columns ``quantity, symbol, theory, measured, ci_low,
ci_high, confidence, rel_error, tolerance, in_interval, within_tolerance, agrees`` then any
experiment-specific columns (its context: ``P``, ``config``, ``rule``, ...) and ``note`` last.

Verdicts keep their two kinds of evidence apart (docs/verdicts.md):

* ``in_interval``: the prediction lies inside the measured interval (``yes``/``no``); a
  zero-width interval is flagged ``zero-width`` and never counts as inside;
* ``within_tolerance``: ``|rel_error| <= tolerance``, a stated allowance for a known finite-size or
  criterion offset (``n/a`` where the row states none, ``tolerance = 0``);
* ``agrees``: ``yes`` when either holds, ``no`` otherwise, ``n/a`` without a finite pair, and
  ``excluded`` for rows shown but never counted: a prediction adjusted after seeing the
  measurement (``basis="post-hoc"``) and a row testing the side of a ``threshold`` whose interval
  straddles it. A threshold row (``threshold`` set) agrees when its whole interval lies on the
  prediction's side of the threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .io import atomic_write_text
from .latex import tabular

__all__ = ["ComparisonRow", "make_table", "write_table", "to_markdown", "to_latex", "caveat_lines", "COLUMNS"]

COLUMNS = ["quantity", "symbol", "theory", "measured", "ci_low", "ci_high", "confidence",
           "rel_error", "tolerance", "in_interval", "within_tolerance", "agrees", "note"]
#: What a row's prediction is: made before the measurement, or adjusted after seeing it.
BASES = ("prediction", "post-hoc")


@dataclass
class ComparisonRow:
    """One compared quantity: a prediction (``theory``), a measurement with its interval at
    ``confidence``, the ``tolerance`` allowed on the relative error, a ``note``, ``extra``
    context columns, the ``basis`` of the prediction (``"prediction"`` or ``"post-hoc"``) and,
    for a row that tests on which side of a value the measurement lies, that ``threshold``."""

    quantity: str
    symbol: str
    theory: float
    measured: float
    ci_low: float
    ci_high: float
    confidence: float
    tolerance: float = 0.0
    note: str = ""
    extra: dict = field(default_factory=dict)
    basis: str = "prediction"
    threshold: float | None = None

    def __post_init__(self):
        if self.basis not in BASES:
            raise ValueError(f"basis must be one of {BASES}, got {self.basis!r}")

    @property
    def rel_error(self) -> float:
        """``(measured - theory) / |theory|`` (NaN without a finite pair)."""
        if not (math.isfinite(self.theory) and math.isfinite(self.measured)) or self.theory == 0:
            return float("nan")
        return (self.measured - self.theory) / abs(self.theory)

    def _finite(self) -> bool:
        return math.isfinite(self.theory) and math.isfinite(self.measured)

    @property
    def in_interval(self) -> str:
        """``"yes"``/``"no"``: the prediction inside ``[ci_low, ci_high]``; ``"zero-width"`` for a
        degenerate interval (flagged, never counted as inside); ``"n/a"`` without a finite pair."""
        if not (self._finite() and math.isfinite(self.ci_low) and math.isfinite(self.ci_high)):
            return "n/a"
        if self.ci_low == self.ci_high:
            return "zero-width"
        return "yes" if self.ci_low <= self.theory <= self.ci_high else "no"

    @property
    def within_tolerance(self) -> str:
        """``"yes"``/``"no"``: ``|rel_error| <= tolerance``; ``"n/a"`` where no tolerance is stated."""
        if self.tolerance <= 0 or not math.isfinite(self.rel_error):
            return "n/a"
        return "yes" if abs(self.rel_error) <= self.tolerance else "no"

    @property
    def straddles(self) -> bool:
        """True for a threshold row whose interval contains the threshold."""
        return self.threshold is not None and self.ci_low <= self.threshold <= self.ci_high

    @property
    def verdict(self) -> str:
        """``"yes"``, ``"no"``, ``"n/a"`` or ``"excluded"`` (see the module docstring)."""
        if not self._finite():
            return "n/a"
        if self.basis != "prediction" or self.straddles:
            return "excluded"
        if self.threshold is not None:  # not straddling: the whole interval is on one side
            return "yes" if (self.ci_low > self.threshold) == (self.theory > self.threshold) else "no"
        return "yes" if "yes" in (self.in_interval, self.within_tolerance) else "no"

    @property
    def exclusion_reason(self) -> str:
        """Why an ``excluded`` row is not counted (empty otherwise)."""
        if self.verdict != "excluded":
            return ""
        if self.basis == "post-hoc":
            return "not counted: the prediction was adjusted after seeing the measurement"
        return f"not counted: the interval straddles the threshold {self.threshold:g} it tests"

    @property
    def agrees(self) -> bool:
        """True when the verdict is ``"yes"``."""
        return self.verdict == "yes"


def make_table(rows: list[ComparisonRow]) -> pd.DataFrame:
    """The tidy DataFrame: the common columns, then the rows' extra columns (first-seen order),
    then ``note``."""
    extras: list[str] = []
    for r in rows:
        extras += [k for k in r.extra if k not in extras and k not in COLUMNS]
    columns = COLUMNS[:-1] + extras + ["note"]
    records = []
    for r in rows:
        rec = {c: getattr(r, c) for c in ("quantity", "symbol", "theory", "measured", "ci_low", "ci_high",
                                          "confidence", "tolerance", "note")}
        reason = r.exclusion_reason
        if reason:
            rec["note"] = f"{rec['note']}; {reason}" if rec["note"] else reason
        rec.update(rel_error=r.rel_error, in_interval=r.in_interval, within_tolerance=r.within_tolerance,
                   agrees=r.verdict, **r.extra)
        records.append(rec)
    df = pd.DataFrame.from_records(records, columns=columns)
    for col in ("theory", "measured", "ci_low", "ci_high", "confidence", "rel_error", "tolerance"):
        df[col] = df[col].astype(float)
    return df


def _number(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else ""
    return str(v)


def _format(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy().astype(object)
    for col in ["theory", "measured", "ci_low", "ci_high"]:
        out[col] = df[col].map(_number)
    out["rel_error"] = df["rel_error"].map(lambda v: f"{v:+.2%}" if math.isfinite(v) else "")
    out["tolerance"] = df["tolerance"].map(lambda v: f"{v:.0%}" if v else "none")
    out["confidence"] = df["confidence"].map(lambda v: f"{v:.0%}")
    for col in df.columns:
        if col not in COLUMNS:
            out[col] = df[col].map(_number)
    return out


def to_markdown(df: pd.DataFrame) -> str:
    """The table as Markdown (4 significant digits, errors in percent)."""
    return _format(df).to_markdown(index=False)


#: Column headings of ``table.tex``.
TEX_HEADERS = {"ci_low": "CI low", "ci_high": "CI high", "rel_error": "rel. error", "in_interval": "in interval",
               "within_tolerance": "within tolerance"}


def to_latex(df: pd.DataFrame, caveats=()) -> str:
    """The table as a booktabs ``tabular`` (no notes; symbols in math mode, text escaped), ready
    for ``\\input`` in a document that loads ``booktabs``; ``caveats`` as comment lines above it."""
    numeric = ("theory", "measured", "ci_low", "ci_high", "confidence", "rel_error", "tolerance")
    head = "".join(f"% caveat: {' '.join(str(c).split())}\n" for c in caveats)
    return head + tabular(_format(df).drop(columns=["note"]), headers=TEX_HEADERS, numeric_columns=numeric)


def caveat_lines(caveats) -> str:
    """``caveats`` as Markdown/terminal lines (empty without any)."""
    return "".join(f"caveat: {c}\n" for c in caveats)


def write_table(df: pd.DataFrame, out_dir: str | Path, *, caveats=()) -> dict[str, Path]:
    """Write ``table.csv`` (full precision; per-row caveats are in its ``note`` column),
    ``table.md`` (caveats below the table) and ``table.tex`` (caveats as comments) atomically."""
    out_dir = Path(out_dir)
    md = to_markdown(df) + "\n" + ("\n" + caveat_lines(caveats) if caveats else "")
    return {
        "csv": atomic_write_text(out_dir / "table.csv", df.to_csv(index=False)),
        "md": atomic_write_text(out_dir / "table.md", md),
        "tex": atomic_write_text(out_dir / "table.tex", to_latex(df, caveats)),
    }
