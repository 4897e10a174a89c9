"""Tidy theory-vs-simulation tables: one schema for every experiment.

One row per compared quantity with the columns ``quantity, symbol, theory, measured, ci_low,
ci_high, confidence, rel_error, tolerance, agrees`` then any experiment-specific columns (its
context: ``P``, ``config``, ``rule``, ...) and ``note`` last. A row agrees when the theory value
lies inside the measured interval, or when the relative error is within the row's stated
``tolerance`` (used where a known finite-size or criterion offset is expected; 0 means the
interval alone decides). ``agrees`` is ``"yes"``, ``"no"`` or ``"n/a"`` (no finite measurement
or no finite prediction to hold it against).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .io import atomic_write_text

__all__ = ["ComparisonRow", "make_table", "write_table", "to_markdown", "COLUMNS"]

COLUMNS = ["quantity", "symbol", "theory", "measured", "ci_low", "ci_high", "confidence",
           "rel_error", "tolerance", "agrees", "note"]


@dataclass
class ComparisonRow:
    """One compared quantity: a prediction (``theory``), a measurement with its interval at
    ``confidence``, the ``tolerance`` allowed on the relative error, a ``note``, and ``extra``
    context columns."""

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

    @property
    def rel_error(self) -> float:
        """``(measured - theory) / |theory|`` (NaN without a finite pair)."""
        if not (math.isfinite(self.theory) and math.isfinite(self.measured)) or self.theory == 0:
            return float("nan")
        return (self.measured - self.theory) / abs(self.theory)

    @property
    def verdict(self) -> str:
        """``"yes"``, ``"no"`` or ``"n/a"`` (see the module docstring)."""
        if not (math.isfinite(self.theory) and math.isfinite(self.measured)):
            return "n/a"
        inside = self.ci_low <= self.theory <= self.ci_high
        close = math.isfinite(self.rel_error) and abs(self.rel_error) <= self.tolerance
        return "yes" if (inside or close) else "no"

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
        rec.update(rel_error=r.rel_error, agrees=r.verdict, **r.extra)
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
    out["tolerance"] = df["tolerance"].map(lambda v: f"{v:.0%}" if v else "CI")
    out["confidence"] = df["confidence"].map(lambda v: f"{v:.0%}")
    for col in df.columns:
        if col not in COLUMNS:
            out[col] = df[col].map(_number)
    return out


def to_markdown(df: pd.DataFrame) -> str:
    """The table as Markdown (4 significant digits, errors in percent)."""
    return _format(df).to_markdown(index=False)


def write_table(df: pd.DataFrame, out_dir: str | Path) -> dict[str, Path]:
    """Write ``table.csv`` (full precision), ``table.md`` and ``table.tex`` atomically."""
    out_dir = Path(out_dir)
    return {
        "csv": atomic_write_text(out_dir / "table.csv", df.to_csv(index=False)),
        "md": atomic_write_text(out_dir / "table.md", to_markdown(df) + "\n"),
        "tex": atomic_write_text(out_dir / "table.tex", _format(df).drop(columns=["note"]).to_latex(index=False)),
    }
