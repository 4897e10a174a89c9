"""Experiments: theory prediction + simulation + reconciliation into a tidy table."""
