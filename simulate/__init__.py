"""Samplers, scores and observables for simulating diffusion models (torch, CPU or GPU)."""

from .engine import ScoreEngine
from .data import Dataset, isotropic_gaussian, spectrum_gaussian, two_class_mixture
from .observables import (
    CloningResult,
    CollapseResult,
    EntropyEstimate,
    cloning_experiment,
    collapse_experiment,
    collapse_times_from_indices,
    condensation_times_from_weights,
    excess_entropy_estimate,
    interpolated_crossing,
)
from .samplers import sample_euler_maruyama, sample_heun, time_grid
from .scores import EmpiricalEvaluation, EmpiricalScore, GaussianScore, MixtureScore, ou_coefficients
from .stats import binomial_interval, bootstrap_interval, median_interval

__all__ = [
    "CloningResult",
    "CollapseResult",
    "Dataset",
    "EmpiricalEvaluation",
    "EmpiricalScore",
    "EntropyEstimate",
    "ScoreEngine",
    "GaussianScore",
    "MixtureScore",
    "binomial_interval",
    "bootstrap_interval",
    "cloning_experiment",
    "collapse_experiment",
    "collapse_times_from_indices",
    "condensation_times_from_weights",
    "excess_entropy_estimate",
    "interpolated_crossing",
    "isotropic_gaussian",
    "median_interval",
    "ou_coefficients",
    "sample_euler_maruyama",
    "sample_heun",
    "spectrum_gaussian",
    "time_grid",
    "two_class_mixture",
]
