"""Tidy theory-vs-simulation tables.

One row per compared quantity with the columns ``quantity, symbol, theory, measured, ci_low,
ci_high, confidence, rel_error, tolerance, agrees, note``. A row agrees when the theory value
lies inside the measured interval, or when the relative error is within the row's stated
``tolerance`` (used where a known finite-size or criterion offset is expected; 0 means the
interval alone decides).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from .io import atomic_write_text

__all__ = ["ComparisonRow", "make_table", "write_table", "COLUMNS"]

COLUMNS = ["quantity", "symbol", "theory", "measured", "ci_low", "ci_high", "confidence",
           "rel_error", "tolerance", "agrees", "note"]


@dataclass
class ComparisonRow:
    quantity: str
    symbol: str
    theory: float
    measured: float
    ci_low: float
    ci_high: float
    confidence: float
    tolerance: float = 0.0
    note: str = ""

    @property
    def rel_error(self) -> float:
        if self.theory == 0 or not math.isfinite(self.measured):
            return float("nan")
        return (self.measured - self.theory) / abs(self.theory)

    @property
    def agrees(self) -> bool:
        inside = self.ci_low <= self.theory <= self.ci_high
        close = math.isfinite(self.rel_error) and abs(self.rel_error) <= self.tolerance
        return bool(inside or close)


def make_table(rows: list[ComparisonRow]) -> pd.DataFrame:
    records = []
    for r in rows:
        rec = asdict(r)
        rec["rel_error"] = r.rel_error
        rec["agrees"] = "yes" if r.agrees else "no"
        records.append(rec)
    return pd.DataFrame.from_records(records, columns=COLUMNS)


def _format(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in ["theory", "measured", "ci_low", "ci_high"]:
        out[col] = out[col].map(lambda v: f"{v:.4g}")
    out["rel_error"] = out["rel_error"].map(lambda v: f"{v:+.2%}" if math.isfinite(v) else "")
    out["tolerance"] = out["tolerance"].map(lambda v: f"{v:.0%}" if v else "CI")
    out["confidence"] = out["confidence"].map(lambda v: f"{v:.0%}")
    return out


def to_markdown(df: pd.DataFrame) -> str:
    return _format(df).to_markdown(index=False)


def write_table(df: pd.DataFrame, out_dir: str | Path) -> dict[str, Path]:
    """Write ``table.csv`` (full precision), ``table.md`` and ``table.tex`` atomically."""
    out_dir = Path(out_dir)
    paths = {
        "csv": atomic_write_text(out_dir / "table.csv", df.to_csv(index=False)),
        "md": atomic_write_text(out_dir / "table.md", to_markdown(df) + "\n"),
        "tex": atomic_write_text(out_dir / "table.tex", _format(df).drop(columns=["note"]).to_latex(index=False)),
    }
    return paths
