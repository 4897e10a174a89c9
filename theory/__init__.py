"""Closed-form and numerical theory of the dynamical regimes of diffusion models.

Pure numpy / scipy / mpmath / sympy: this package never imports torch.

Conventions (docs/conventions.md): OU time ``t``, ``Delta_t = 1 - e^{-2t}``,
``alpha = ln P / N``, dimension before dataset size (``TwoClassMixture(N, P)``). See
:mod:`theory.conventions` for the converters to ``sigma_EDM``, ``tau`` and DDPM steps.

Every solver returns a :class:`SolverResult` (``value, converged, flag, iterations,
function_calls, residual, method``) and takes ``dps=`` for an mpmath solve; bad input raises
:class:`InputError` (a ``ValueError``) naming the parameter. No file I/O happens here.
"""

from .conventions import (
    DEFAULT_DDPM,
    DDPMSchedule,
    alpha,
    ddpm_step_from_t,
    delta,
    sigma_edm_to_t,
    signal_to_noise,
    t_from_ddpm_step,
    t_to_sigma_edm,
    t_to_tau,
    tau_to_t,
)
from .expectations import cloning_probability_from_kappa, expected_log_cosh
from .gaussian import (
    collapse_time,
    collapse_time_asymptotic,
    collapse_time_isotropic,
    covariance_spectrum,
    excess_entropy,
    excess_entropy_isotropic,
    largest_eigenvalue,
    speciation_time,
)
from .hmm import HiddenManifoldModel
from .hmm_linear import LinearHMM
from .hmm_phase import hidden_manifold, regime_times
from .mixture import PHI_AT_BIMODALITY, SPECIATION_CRITERIA, TwoClassMixture
from .result import GeneralizationResult, SolverResult
from .validation import InputError

__all__ = [
    "HiddenManifoldModel",
    "LinearHMM",
    "hidden_manifold",
    "regime_times",
    "DEFAULT_DDPM",
    "DDPMSchedule",
    "PHI_AT_BIMODALITY",
    "SPECIATION_CRITERIA",
    "SolverResult",
    "GeneralizationResult",
    "InputError",
    "TwoClassMixture",
    "alpha",
    "cloning_probability_from_kappa",
    "collapse_time",
    "collapse_time_asymptotic",
    "collapse_time_isotropic",
    "covariance_spectrum",
    "ddpm_step_from_t",
    "delta",
    "excess_entropy",
    "excess_entropy_isotropic",
    "expected_log_cosh",
    "largest_eigenvalue",
    "sigma_edm_to_t",
    "signal_to_noise",
    "speciation_time",
    "t_from_ddpm_step",
    "t_to_sigma_edm",
    "t_to_tau",
    "tau_to_t",
]
