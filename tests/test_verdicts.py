"""Verdict semantics of every table: interval and tolerance apart, post-hoc and straddling rows
shown but not counted, zero-width intervals flagged."""

import pandas as pd
import pytest

from compare.driver import agreement_summary
from compare.table import ComparisonRow, make_table


def test_interval_and_tolerance_are_separate_columns():
    rows = [ComparisonRow("inside", "s", 1.0, 1.2, 0.9, 1.3, 0.95),
            ComparisonRow("close", "s", 1.0, 1.05, 1.01, 1.08, 0.95, tolerance=0.1),
            ComparisonRow("far", "s", 1.0, 1.5, 1.4, 1.6, 0.95, tolerance=0.1),
            ComparisonRow("far, no tolerance", "s", 1.0, 1.5, 1.4, 1.6, 0.95)]
    df = make_table(rows)
    assert list(df["in_interval"]) == ["yes", "no", "no", "no"]
    assert list(df["within_tolerance"]) == ["n/a", "yes", "no", "n/a"]
    assert list(df["agrees"]) == ["yes", "yes", "no", "no"]
    assert agreement_summary(df) == "2/4 rows agree (1 inside the interval, 1 within a stated tolerance only)"


def test_zero_width_interval_is_flagged_and_not_inside():
    row = ComparisonRow("degenerate", "s", 1.0, 1.0, 1.0, 1.0, 0.95)
    assert row.in_interval == "zero-width" and row.verdict == "no"
    close = ComparisonRow("degenerate", "s", 1.0, 1.02, 1.02, 1.02, 0.95, tolerance=0.05)
    assert close.in_interval == "zero-width" and close.verdict == "yes"
    assert "2 zero-width intervals flagged" in agreement_summary(make_table([row, close]))


def test_post_hoc_rows_are_shown_but_never_counted():
    row = ComparisonRow("shifted", "s", 1.0, 1.0, 0.9, 1.1, 0.95, tolerance=0.25, basis="post-hoc")
    df = make_table([row, ComparisonRow("q", "s", 1.0, 1.0, 0.9, 1.1, 0.95)])
    assert list(df["agrees"]) == ["excluded", "yes"]
    assert "adjusted after seeing the measurement" in df["note"].iloc[0]
    assert agreement_summary(df).startswith("1/1 rows agree") and "1 shown but not counted" in agreement_summary(df)
    with pytest.raises(ValueError, match="basis"):
        ComparisonRow("q", "s", 1.0, 1.0, 0.9, 1.1, 0.95, basis="guess")


@pytest.mark.parametrize("low,high,verdict", [(0.6, 0.9, "yes"), (0.3, 0.7, "excluded"), (0.1, 0.4, "no")])
def test_threshold_rows_count_only_when_the_interval_is_on_one_side(low, high, verdict):
    row = ComparisonRow("P(capture)", "P", 1.0, (low + high) / 2, low, high, 0.95, threshold=0.5)
    assert row.verdict == verdict
    if verdict == "excluded":
        assert "straddles the threshold 0.5" in make_table([row])["note"].iloc[0]


def test_missing_measurements_are_counted_apart():
    df = make_table([ComparisonRow("q", "s", 1.0, float("nan"), float("nan"), float("nan"), 0.95)])
    assert agreement_summary(df) == ("0/0 rows agree (0 inside the interval, 0 within a stated tolerance only); "
                                     "1 without a measurement")


def test_hmm_shows_its_shifted_and_capture_rows_without_counting_them_wrongly():
    """The hmm experiment's basin rows with a theory moved by the measured onset gap are excluded;
    its capture/escape rows test the side of 1/2 and count only when the interval is on one side."""
    from compare import get_experiment

    from test_driver import TINY

    spec = get_experiment("hmm")
    table = spec.run(spec.preset(**TINY["hmm"])).table
    shifted = table[table["symbol"] == "r* (shifted)"]
    assert len(shifted) == 2 and set(shifted["agrees"]) <= {"excluded", "n/a"}
    capture = table[table["symbol"].isin(["P(capture)", "P(escape)"])]
    assert len(capture) == 2
    for _, r in capture.iterrows():
        straddles = r["ci_low"] <= 0.5 <= r["ci_high"]
        assert r["agrees"] == ("excluded" if straddles else ("yes" if r["ci_low"] > 0.5 else "no"))
    assert "shown but not counted" in spec.summary_line(table)
