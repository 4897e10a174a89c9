"""Samplers, scores and observables for simulating diffusion models (torch, CPU or GPU).

Names are imported lazily on first use, so that importing a torch-free submodule
(:mod:`simulate.io`, :mod:`simulate.stats`, :mod:`simulate.datasets`) never loads torch.
"""

from __future__ import annotations

from theory._lazy import lazy_exports

_EXPORTS = {
    "ScoreEngine": "engine",
    "Dataset": "data",
    "isotropic_gaussian": "data",
    "spectrum_gaussian": "data",
    "two_class_mixture": "data",
    "block_gaussian": "data",
    "noised": "data",
    "mixture_marginal": "data",
    "CloningResult": "observables",
    "CollapseResult": "observables",
    "EntropyEstimate": "observables",
    "cloning_experiment": "observables",
    "collapse_experiment": "observables",
    "lock_in_times_from_indices": "observables",
    "condensation_times_from_weights": "observables",
    "excess_entropy_estimate": "observables",
    "crossing_from_above": "observables",
    "sample_euler_maruyama": "samplers",
    "sample_heun": "samplers",
    "sample_heun_ve": "samplers",
    "time_grid": "samplers",
    "EmpiricalEvaluation": "scores",
    "EmpiricalScore": "scores",
    "EmpiricalScoreBase": "scores",
    "GaussianScore": "scores",
    "MixtureScore": "scores",
    "Partials": "scores",
    "ou_coefficients": "scores",
    "ShardedEmpiricalScore": "sharded",
    "binomial_interval": "stats",
    "bootstrap_interval": "stats",
    "first_crossing": "stats",
    "median_interval": "stats",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
